"""A generated Jupyter notebook (nbformat v4) documenting an audit or a drift check.

Like the comparison notebooks (:mod:`reprokit.report.notebook`) it reloads its data with
``reprokit.load()`` from the JSON report saved beside it, so it re-runs anywhere without a
Docker Engine, and its code cells come with their outputs already filled in. Everything in it
comes from the result's records, whose evidence is redacted when found: no secret gets in.

>>> from reprokit.auditing.model import Finding
>>> from reprokit.auditing.result import AuditResult
>>> r = AuditResult("audit", "img:1", [Finding("root-user", "medium", "config", None,
...     "config.User", "the image runs as root", "add USER")])
>>> nb = build(r, "audit.json")
>>> nb.nbformat, nb.cells[1].source.splitlines()[1]
(4, "result = reprokit.load('audit.json')")
>>> print(nb.cells[2].source.splitlines()[4])
| medium | root-user | config |  | config.User | the image runs as root |  |
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..report.notebook import HEAD_ROWS, KERNELSPEC
from ..text import human_size
from .model import DRIFT_CLASSES
from .result import md_escape as esc
from .rules import RULES, SEVERITIES

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .model import Finding
    from .result import AuditResult

#: Rows of a Markdown table in the notebook; every row is in the JSON and the DataFrame.
TABLE_ROWS = 200


def _output(count: int, data: dict[str, Any]) -> Any:
    from nbformat import v4

    return v4.new_output("execute_result", data=data, execution_count=count)


def _frame_output(count: int, frame: Any) -> Any:
    html = frame.to_html(max_rows=HEAD_ROWS)
    return _output(count, {"text/html": html, "text/plain": repr(frame)})


def _table(headers: list[str], rows: list[list[str]], what: str) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    out.extend("| " + " | ".join(row) + " |" for row in rows[:TABLE_ROWS])
    if len(rows) > TABLE_ROWS:
        out += ["", f"_… {len(rows) - TABLE_ROWS} more {what} not shown (all are in the JSON)_"]
    return out


def _title(result: AuditResult) -> list[str]:
    what = "drift" if result.kind == "drift" else "audit"
    lines = [f"# reprokit {what}: {esc(result.subject, 200)}", "", f"**{esc(result.headline())}**"]
    image, stats = result.image, result.stats
    facts = []
    if image.get("id"):
        facts.append(f"- image: `{esc(image['id'][:19])}`")
    if image.get("repo_tags"):
        facts.append("- tags: " + ", ".join(esc(t, 120) for t in image["repo_tags"][:10]))
    if image.get("container"):
        facts.append(f"- container: `{esc(image['container'][:12])}`")
    for key in ("platform", "created"):
        if image.get(key):
            facts.append(f"- {key}: {esc(image[key], 80)}")
    if "efficiency" in stats:
        facts.append(
            f"- efficiency {stats['efficiency']:.1%}, "
            f"{human_size(stats.get('wasted_bytes'))} wasted by later layers"
        )
    if "layers" in stats:
        facts.append(f"- {stats['layers']} layer(s), {stats.get('files_scanned', 0)} files scanned")
    if stats.get("runtime"):
        facts.append(f"- read-only run: {esc(stats['runtime'], 300)}")
    if result.disabled:
        facts.append("- rules disabled: " + ", ".join(esc(r) for r in result.disabled))
    if facts:
        lines += ["", *facts]
    lines += ["", "## Summary", ""]
    summary = result.summary
    if result.kind == "drift":
        classes = Counter(d.cls for d in result.drift_records)
        failing = Counter(d.cls for d in result.drift_records if d.counts)
        rows = [[c, str(classes[c]), str(failing[c])] for c in DRIFT_CLASSES if classes[c]]
        rows.append(["**all**", str(summary["drifted"]), str(summary["drifted_failing"])])
        lines += _table(["class", "drifted", "counting"], rows, "classes")
    else:
        rows = [[s, str(summary[s])] for s in SEVERITIES]
        rows.append(["**all**", str(summary["findings"])])
        lines += _table(["severity", "findings"], rows, "severities")
    return lines


def _where(f: Finding) -> str:
    if f.layer is None:
        return ""
    return f"{f.layer}→{f.removed_in}" if f.removed_in is not None else str(f.layer)


def _findings_table(result: AuditResult) -> list[str]:
    if not result.finding_records:
        return ["## Findings", "", "No findings."]
    rows = [
        [
            esc(f.severity),
            esc(f.rule),
            esc(f.where),
            _where(f),
            esc(f.path or "", 200),
            esc(f.message, 400),
            esc(f.evidence, 200),
        ]
        for f in result.finding_records
    ]
    headers = ["severity", "rule", "where", "layer", "path", "message", "evidence"]
    return ["## Findings", "", *_table(headers, rows, "findings")]


def _drift_table(result: AuditResult) -> list[str]:
    if not result.drift_records:
        return ["## Drift", "", "Nothing drifted."]
    rows = [
        [
            esc(d.path, 200),
            esc(d.change),
            esc(d.cls),
            esc(", ".join(d.fields)),
            "yes" if d.counts else "no",
            esc(d.detail, 200),
        ]
        for d in result.drift_records
    ]
    headers = ["path", "change", "class", "fields", "counts", "detail"]
    return ["## Drift", "", *_table(headers, rows, "drifted paths")]


def _fixes(result: AuditResult) -> list[str]:
    groups: dict[str, list[Finding]] = {}
    for f in result.finding_records:
        groups.setdefault(f.rule, []).append(f)
    lines = []
    for rule, found in groups.items():
        title = RULES[rule].title if rule in RULES else ""
        head = f"- **{esc(rule)}** ({esc(found[0].severity)}, {len(found)} finding(s))"
        if title:
            head += f": {esc(title, 200)}"
        lines.append(head)
        lines.append(f"  - fix: {esc(found[0].fix, 600)}")
    return ["## Fixes per rule", "", *lines] if lines else []


def build(result: AuditResult, json_name: str) -> NotebookNode:
    """The notebook for ``result``, reading its data from ``json_name`` (a relative path)."""
    from nbformat import v4

    cells = [v4.new_markdown_cell("\n".join(_title(result)))]
    count = 0

    def code(source: str, *outputs: Any) -> None:
        cells.append(v4.new_code_cell(source, outputs=list(outputs), execution_count=count))

    count += 1
    code(
        f"import reprokit\nresult = reprokit.load({json_name!r})\nresult",
        _output(count, {"text/html": result.to_html(), "text/plain": repr(result)}),
    )
    frames = [("findings", _findings_table(result))]
    if result.kind == "drift":
        frames.insert(0, ("drift", _drift_table(result)))
        if not result.finding_records:
            frames.pop()
    for name, table in frames:
        cells.append(v4.new_markdown_cell("\n".join(table)))
        frame = getattr(result, name)
        source = f"result.{name}"
        if len(frame) > HEAD_ROWS:
            frame, source = frame.head(HEAD_ROWS), f"result.{name}.head({HEAD_ROWS})"
        count += 1
        code(source, _frame_output(count, frame))
    fixes = _fixes(result)
    if fixes:
        cells.append(v4.new_markdown_cell("\n".join(fixes)))
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(result: AuditResult, path: Path) -> Path:
    """Write the notebook to ``path`` and its JSON report beside it (``.json``); returns the
    JSON path. Both files are written atomically, the JSON first."""
    import nbformat

    from ..report.json import write_atomic

    if path.suffix.lower() != ".ipynb":
        raise UsageError(f"{path}: a notebook's name ends in .ipynb")
    json_path = path.with_suffix(".json")
    result.to_json(json_path)
    write_atomic(path, nbformat.writes(build(result, json_path.name)))
    return json_path
