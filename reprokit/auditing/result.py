"""The result of an audit or a drift check: records, DataFrames, JSON, text and HTML.

JSON is the ``reprokit/v1`` schema with ``kind: "audit"`` (or ``"drift"``) and ``findings``
(and ``drift``); :func:`reprokit.load` reads it back into an :class:`AuditResult`.

>>> from reprokit.auditing.model import Finding
>>> r = AuditResult("audit", "busybox:1", [Finding("root-user", "medium", "config", None,
...     "config.User", "the image runs as root", "add USER")])
>>> r.fails("high"), r.fails("medium"), list(r.findings.columns)[:3]
(False, True, ['rule', 'severity', 'where'])
>>> AuditResult.from_dict(r.to_dict()).finding_records == r.finding_records
True
"""

from __future__ import annotations

import html
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ReportError, UsageError
from ..text import clean
from ..version import __version__
from .model import DriftEntry, Finding
from .rules import RULES, SEVERITIES, at_least

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
#: Characters that could start emphasis, code, a link or a table cell in Markdown.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")


@dataclass
class AuditResult:
    """Findings about one image (``kind="audit"``) or the drift of a container from its image
    (``kind="drift"``). Records: ``finding_records``, ``drift_records``; DataFrames:
    :attr:`findings`, :attr:`drift`."""

    kind: str
    subject: str
    finding_records: list[Finding] = field(default_factory=list)
    drift_records: list[DriftEntry] = field(default_factory=list)
    image: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)
    duration_s: float | None = None

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

    def fails(self, fail_on: str = "high") -> bool:
        """Whether a finding reaches ``fail_on`` (or, for drift, anything but runtime state
        drifted)."""
        if fail_on not in SEVERITIES:
            raise UsageError(f"--fail-on takes high, medium or low, not {fail_on!r}")
        if self.kind == "drift":
            return any(d.counts for d in self.drift_records)
        return any(at_least(f.severity, fail_on) for f in self.finding_records)

    @cached_property
    def findings(self) -> pd.DataFrame:
        """One row per finding (columns: :data:`FINDING_COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame([f.to_dict() for f in self.finding_records], columns=FINDING_COLUMNS)

    @cached_property
    def drift(self) -> pd.DataFrame:
        """One row per drifted path or config field (columns: :data:`DRIFT_COLUMNS`)."""
        import pandas as pd

        rows = [{**d.to_dict(), "fields": ",".join(d.fields)} for d in self.drift_records]
        return pd.DataFrame(rows, columns=DRIFT_COLUMNS)

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
        }
        if self.kind == "drift":
            out["drift"] = [d.to_dict() for d in self.drift_records]
        return out

    def to_json(self, path: str | Path | None = None) -> str | None:
        """The JSON report: returned as text, or written to ``path`` atomically and None."""
        from ..report.json import document

        return document(self.to_dict(), path)

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
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReportError(f"malformed {SCHEMA} {data.get('kind')} report: {err}") from None

    def headline(self) -> str:
        """One line: what was audited and what was found."""
        s = self.summary
        if self.kind == "drift":
            state = "DRIFTED" if self.fails() else "NO DRIFT"
            return (
                f"reprokit drift: {state} — {clean(self.subject, 60)}: {s['drifted']} change(s), "
                f"{s['drifted_failing']} outside runtime state"
            )
        counts = ", ".join(f"{s[k]} {k}" for k in SEVERITIES)
        extra = ""
        if "efficiency" in self.stats:
            extra = f"; efficiency {self.stats['efficiency']:.1%}"
        found = f"{s['findings']} finding(s) ({counts}){extra}"
        return f"reprokit audit: {clean(self.subject, 60)} — {found}"

    def text(self, top: int = 30, per_rule: int = 5) -> str:
        """The human summary the CLI prints: findings grouped by rule, each rule's fix once,
        at most ``per_rule`` findings a rule and about ``top`` in all (untrusted text
        escaped)."""
        lines = [self.headline()]
        groups: dict[str, list[Finding]] = {}
        for f in self.finding_records:  # already ordered by severity
            groups.setdefault(f.rule, []).append(f)
        shown = 0
        for rule, found in groups.items():
            title = RULES[rule].title if rule in RULES else rule
            lines.append(f"{found[0].severity.upper():<6} {rule} ({len(found)}): {title}")
            listed = found[: max(1, min(per_rule, top - shown))]
            for f in listed:
                where = f.where if f.layer is None else f"{f.where} #{f.layer}"
                if f.removed_in is not None:
                    where += f"→#{f.removed_in}"
                lines.append(f"  {where}  {clean(f.path or '', 70)}")
                wrapped = textwrap.wrap(clean(f.message), 104, max_lines=3, placeholder=" …")
                lines.extend(f"      {line}" for line in wrapped)
                if f.evidence:
                    lines.append(f"      evidence: {clean(f.evidence, 94)}")
            shown += len(listed)
            if len(found) > len(listed):
                lines.append(f"  … and {len(found) - len(listed)} more")
            lines.append(f"  fix: {clean(found[0].fix, 116)}")
        for d in self.drift_records[:top]:
            fields = f" [{', '.join(d.fields)}]" if d.fields else ""
            detail = f"  {clean(d.detail, 60)}" if d.detail else ""
            lines.append(f"  {d.change:<8} {d.cls:<14} {clean(d.path, 70)}{fields}{detail}")
        if len(self.drift_records) > top:
            lines.append(f"  … and {len(self.drift_records) - top} more (see the JSON report)")
        return "\n".join(lines)

    def _tables(self) -> list[tuple[list[str], list[list[str]]]]:
        """The findings (and drift) tables as columns and rows of text cells, for presenters."""
        tables = [(FINDING_COLUMNS, [f.to_dict() for f in self.finding_records])]
        if self.kind == "drift":
            tables.append((DRIFT_COLUMNS, [d.to_dict() for d in self.drift_records]))
        return [
            (columns, [["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows])
            for columns, rows in tables
            if rows
        ]

    def to_html(self) -> str:
        """A self-contained HTML fragment: the headline and the findings/drift tables, escaped."""
        esc = html.escape
        parts = [f"<div class='reprokit-audit'><p><b>{esc(self.headline())}</b></p>"]
        for columns, rows in self._tables():
            parts.append("<table><thead><tr>")
            parts.extend(f"<th>{esc(c)}</th>" for c in columns)
            parts.append("</tr></thead><tbody>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
            parts.append("</tbody></table>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_markdown(self) -> str:
        """The headline and the findings/drift tables in Markdown (cells escaped)."""
        lines = [f"**{md_escape(self.headline())}**", ""]
        for columns, rows in self._tables():
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + " --- |" * len(columns))
            lines.extend("| " + " | ".join(md_escape(v) for v in row) + " |" for row in rows)
            lines.append("")
        return "\n".join(lines)

    def to_notebook(self, path: str | Path) -> Path:
        """Write a Jupyter notebook to ``path`` (``.ipynb``) and the JSON report beside it (same
        name, ``.json``), from which the notebook reloads its data; returns the JSON path."""
        from .notebook import write

        return write(self, Path(path))

    def write_report(self, path: str | Path) -> None:
        """Write a report in the format the extension names, atomically: a notebook
        (``.ipynb``, with its JSON beside it), HTML (``.html``), Markdown (``.md``) or JSON."""
        from ..report.json import write_atomic

        suffix = Path(path).suffix.lower()
        if suffix == ".ipynb":
            self.to_notebook(path)
            return
        if suffix == ".json":
            self.to_json(path)
            return
        if suffix in (".html", ".htm"):
            title = html.escape(self.headline())
            text = (
                f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                f"</head><body>{self.to_html()}</body></html>\n"
            )
        elif suffix == ".md":
            text = self.to_markdown()
        else:
            raise UsageError(f"{path}: write .ipynb, .html, .md or .json")
        write_atomic(Path(path), text)

    def __repr__(self) -> str:
        return f"<reprokit.AuditResult {self.headline()}>"


def md_escape(text: object, limit: int | None = None) -> str:
    """Untrusted text as inert Markdown on one line (a table cell, a title): control characters
    shown as escapes, HTML escaped, and what could start emphasis, code, a link or a cell
    backslashed; shortened to ``limit`` characters when given.

    >>> print(md_escape("a|b <i> `c` [x](y)"))
    a\\|b &lt;i&gt; \\`c\\` \\[x\\](y)
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(clean(text, limit), quote=False))
