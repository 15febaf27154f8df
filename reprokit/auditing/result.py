"""The result of an audit or a drift check: records and DataFrames.

JSON is the ``reprokit/v1`` schema with ``kind: "audit"`` (or ``"drift"``) and ``findings``
(and ``drift``); :func:`reprokit.load` reads it back into an :class:`AuditResult`. Text,
HTML, Markdown and notebooks come from :mod:`reprokit.report`
(:class:`~reprokit.protocol.Reported`).

>>> from reprokit.auditing.model import Finding
>>> r = AuditResult("audit", "busybox:1", [Finding("root-user", "medium", "config", None,
...     "config.User", "the image runs as root", "add USER")])
>>> r.ok, AuditResult("audit", "busybox:1", r.finding_records, fail_on="medium").ok
(True, False)
>>> list(r.findings.columns)[:3]
['rule', 'severity', 'where']
>>> AuditResult.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ReportError, UsageError
from ..protocol import Reported, shown_frame
from ..version import __version__
from .model import DriftEntry, Finding
from .rules import SEVERITIES, at_least

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = "reprokit/v1"
FINDING_COLUMNS = [
    "rule",
    "severity",
    "where",
    "layer",
    "removed_in",
    "path",
    "message",
    "fix",
    "evidence",
]
DRIFT_COLUMNS = ["path", "change", "class", "fields", "sha256", "detail"]


@dataclass(frozen=True, repr=False)
class AuditResult(Reported):
    """Findings about one image (``kind="audit"``) or the drift of a container from its image
    (``kind="drift"``). Records: ``finding_records``, ``drift_records``; DataFrames:
    :attr:`findings`, :attr:`drift`. ``ok`` when no finding is at ``fail_on`` or graver (a
    drift: when nothing outside runtime state drifted)."""

    kind: str
    subject: str
    finding_records: list[Finding] = field(default_factory=list)
    drift_records: list[DriftEntry] = field(default_factory=list)
    image: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)
    duration_s: float | None = None
    #: the gravest severity that passes is the one below this (``--fail-on``)
    fail_on: str = "high"

    def __post_init__(self) -> None:
        if self.kind not in ("audit", "drift"):
            raise UsageError(f"an AuditResult is an audit or a drift, not {self.kind!r}")
        if self.fail_on not in SEVERITIES:
            raise UsageError(f"--fail-on takes high, medium or low, not {self.fail_on!r}")

    @property
    def ok(self) -> bool:
        """No finding at ``fail_on`` or graver; for a drift, nothing that counts drifted."""
        if self.kind == "drift":
            return not any(d.counts for d in self.drift_records)
        return not any(at_least(f.severity, self.fail_on) for f in self.finding_records)

    @property
    def summary(self) -> dict[str, int]:
        """Finding counts per severity, and drift counts (all, and those that fail)."""
        counts = Counter(f.severity for f in self.finding_records)
        out = {s: counts.get(s, 0) for s in SEVERITIES}
        out["findings"] = len(self.finding_records)
        if self.kind == "drift":
            out["drifted"] = len(self.drift_records)
            out["drifted_failing"] = sum(1 for d in self.drift_records if d.counts)
        return out

    @shown_frame
    def findings(self) -> pd.DataFrame:
        """One row per finding (columns: :data:`FINDING_COLUMNS`)."""
        from ..frames import frame

        return frame(
            [f.to_dict() for f in self.finding_records],
            FINDING_COLUMNS,
            categories={"severity": SEVERITIES[::-1], "where": None, "rule": None},
            ints=["layer", "removed_in"],
        )

    @shown_frame
    def drift(self) -> pd.DataFrame:
        """One row per drifted path or config field (columns: :data:`DRIFT_COLUMNS`)."""
        from ..frames import frame

        rows = [{**d.to_dict(), "fields": ",".join(d.fields)} for d in self.drift_records]
        return frame(rows, DRIFT_COLUMNS, categories=["change", "class"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON report as a dict."""
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "reprokit_version": __version__,
            "kind": self.kind,
            "subject": self.subject,
            "image": dict(self.image),
            "summary": self.summary,
            "stats": dict(self.stats),
            "disabled": list(self.disabled),
            "findings": [f.to_dict() for f in self.finding_records],
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "fail_on": self.fail_on,
            "ok": self.ok,
        }
        if self.kind == "drift":
            out["drift"] = [d.to_dict() for d in self.drift_records]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditResult:
        """Rebuild from a report dict (:class:`ReportError` when it is not an audit report)."""
        if not isinstance(data, dict) or data.get("kind") not in ("audit", "drift"):
            raise ReportError("not a reprokit audit or drift report")
        if data.get("schema") != SCHEMA:
            raise ReportError(f"not a {SCHEMA} report (schema: {data.get('schema')!r})")
        try:
            return cls(
                kind=data["kind"],
                subject=data.get("subject", ""),
                finding_records=[Finding.from_dict(f) for f in data.get("findings") or []],
                drift_records=[DriftEntry.from_dict(d) for d in data.get("drift") or []],
                image=dict(data.get("image") or {}),
                stats=dict(data.get("stats") or {}),
                disabled=list(data.get("disabled") or []),
                duration_s=data.get("duration_s"),
                fail_on=data.get("fail_on") or "high",
            )
        except (KeyError, TypeError, ValueError, UsageError) as err:
            raise ReportError(f"malformed {SCHEMA} {data.get('kind')} report: {err}") from None
