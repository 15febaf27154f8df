"""The fleet's result: one row per target (:class:`TargetRow`) in a :class:`SurveyResult`,
which follows the result protocol (kind ``survey``).

>>> row = TargetRow("web", "context", "different", False, causes={"content": 2, "timestamp": 5},
...                 unexplained=1, top_fix="pin the clock")
>>> r = SurveyResult([row, TargetRow("db", "context", "equivalent", True)], executor="local")
>>> r.kind, r.ok, r.summary["ok"], list(r.targets.columns[:4])
('survey', False, 1, ['target', 'kind', 'verdict', 'ok'])
>>> SurveyResult.from_dict(r.to_dict()).target_records == r.target_records
True
>>> r.targets["cause:content"].tolist()
[2, 0]
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ReportError
from ..model import flat_from_dict, flat_to_dict
from ..protocol import Reported, shown_frame
from ..report import fleet as _presenters  # noqa: F401  (registers the survey presenter)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

SCHEMA = "reprokit/v1"
TARGET_COLUMNS = [
    "target",
    "kind",
    "verdict",
    "ok",
    "require",
    "unexplained",
    "ignored",
    "top_fix",
    "builder",
    "engine",
    "worker",
    "duration_s",
    "error",
    "what",
    "fingerprint",
    "image_a",
    "image_b",
    "report",
]
#: the verdict of a target that could not be checked (build failed, image missing, …)
ERROR = "error"


@dataclass
class TargetRow:
    """One target's outcome: its verdict, whether it meets its requirement, its differences
    counted by cause, the first fix, where and how long it ran, or the error that stopped it."""

    target: str
    kind: str
    verdict: str
    ok: bool
    require: str = "equivalent"
    causes: dict[str, int] = field(default_factory=dict)
    unexplained: int = 0
    ignored: int = 0
    top_fix: str | None = None
    builder: str | None = None
    engine: str | None = None
    worker: str | None = None
    duration_s: float | None = None
    error: str | None = None
    #: the context (or ``A = B`` of a pair)
    what: str | None = None
    #: the spec's fingerprint (reprokit.spec.BuildSpec.fingerprint) and its parts
    fingerprint: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    image_a: str | None = None
    image_b: str | None = None
    #: the file name (no extension) of the target's full report beside the survey's
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return flat_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetRow:
        return flat_from_dict(cls, data)


def report_name(target: str) -> str:
    """A file name for a target's report.

    >>> report_name("services/api")
    'services_api'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", target).strip("._") or "target"


@dataclass(repr=False)
class SurveyResult(Reported):
    """Many targets checked in one run. Records: ``target_records``; DataFrame: :attr:`targets`
    (columns :data:`TARGET_COLUMNS`, then one ``cause:NAME`` count column per cause seen).
    ``ok`` when every target meets its requirement. ``reports`` holds each target's full
    result (not in the JSON: :meth:`write` puts them beside the survey's report)."""

    kind: ClassVar[str] = "survey"
    target_records: list[TargetRow] = field(default_factory=list)
    executor: str = "local"
    concurrency: int | None = None
    scheduler: str | None = None
    dashboard: str | None = None
    started: str | None = None
    duration_s: float | None = None
    run_id: str | None = None
    reports: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.target_records)

    @property
    def summary(self) -> dict[str, int]:
        verdicts = Counter(r.verdict for r in self.target_records)
        return {
            "targets": len(self.target_records),
            "ok": sum(r.ok for r in self.target_records),
            "failing": sum(not r.ok for r in self.target_records),
            **{v: verdicts[v] for v in ("identical", "equivalent", "different", ERROR)},
        }

    @property
    def causes(self) -> list[str]:
        """Every cause seen, most frequent first."""
        total: Counter[str] = Counter()
        for r in self.target_records:
            total.update(r.causes)
        return [c for c, _ in total.most_common()]

    @shown_frame
    def targets(self) -> pd.DataFrame:
        """One row per target (:data:`TARGET_COLUMNS`, then ``cause:NAME`` counts)."""
        from ..frames import frame

        causes = self.causes
        rows = []
        for r in self.target_records:
            row = {k: v for k, v in r.to_dict().items() if k in TARGET_COLUMNS}
            row.update({f"cause:{c}": int(r.causes.get(c, 0)) for c in causes})
            rows.append(row)
        return frame(
            rows,
            TARGET_COLUMNS + [f"cause:{c}" for c in causes],
            categories=["kind", "verdict", "require", "builder"],
        )

    def row(self, target: str) -> TargetRow:
        for r in self.target_records:
            if r.target == target:
                return r
        raise KeyError(target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "ok": self.ok,
            "summary": self.summary,
            "executor": self.executor,
            "concurrency": self.concurrency,
            "scheduler": self.scheduler,
            "dashboard": self.dashboard,
            "started": self.started,
            "duration_s": self.duration_s,
            "run_id": self.run_id,
            "targets": [r.to_dict() for r in self.target_records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SurveyResult:
        if not isinstance(data, dict) or data.get("kind") != "survey":
            raise ReportError("not a survey report")
        try:
            return cls(
                target_records=[TargetRow.from_dict(t) for t in data.get("targets") or []],
                executor=data.get("executor") or "local",
                concurrency=data.get("concurrency"),
                scheduler=data.get("scheduler"),
                dashboard=data.get("dashboard"),
                started=data.get("started"),
                duration_s=data.get("duration_s"),
                run_id=data.get("run_id"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReportError(f"malformed survey report: {type(err).__name__} {err}") from None

    def write(self, path: str | Path) -> None:
        """Write the survey's report (format by extension) and, beside it in ``targets/``, each
        target's full report in the same format (when this result holds them)."""
        super().write(path)
        path = Path(path)
        if not self.reports:
            return
        folder = path.parent / "targets"
        folder.mkdir(exist_ok=True)
        for r in self.target_records:
            report = self.reports.get(r.target)
            if report is not None and r.report:
                report.write(folder / f"{r.report}{path.suffix}")

    def plot(self, kind: str = "causes") -> Figure:
        """A matplotlib Figure: ``causes`` (differences per cause, stacked, per target) or
        ``durations`` (seconds per target)."""
        from ..report.fleet import survey_plot

        return survey_plot(self, kind)

    __repr__ = Reported.__repr__
