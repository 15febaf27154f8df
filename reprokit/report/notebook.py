"""A generated Jupyter notebook (nbformat v4) documenting a result of any kind.

The notebook reloads its data with ``reprokit.load()`` from the JSON report saved beside it,
so it re-runs anywhere without a Docker Engine. Its code cells come with their outputs
already filled in, so it reads well before anyone runs it (on GitHub, in a pull request).

>>> from reprokit.model import ImageInfo
>>> from reprokit.result import Result
>>> img = ImageInfo("a", "sha256:1", [])
>>> nb = build(Result("identical", "same", (img, img)), "r.json")
>>> nb.nbformat, nb.cells[1].source.splitlines()[1]
(4, "result = reprokit.load('r.json')")
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .html import fragment
from .markdown import (
    _files,
    _table,
    builds_section,
    document_head,
    parity_section,
    table_lines,
    unexplained_section,
)
from .markdown import esc as md_esc
from .view import build as build_view
from .view import document

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from ..result import Result

HEAD_ROWS = 50
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _output(count: int, data: dict[str, Any]) -> Any:
    from nbformat import v4

    return v4.new_output("execute_result", data=data, execution_count=count)


def _frame_output(count: int, frame: Any) -> Any:
    html = frame.to_html(max_rows=HEAD_ROWS)  # escapes markup, not control characters
    return _output(count, {"text/html": _controls(html), "text/plain": _controls(repr(frame))})


def _controls(text: str) -> str:
    """Control characters (ESC, BEL, …; not newlines or tabs) shown as escapes."""
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def build(result: Any, json_name: str) -> NotebookNode:
    """The notebook for a result of any kind, reading its data from ``json_name`` (relative)."""
    if result.kind != "comparison":
        return build_document(result, json_name)
    return build_comparison(result, json_name)


def build_document(result: Any, json_name: str) -> NotebookNode:
    """The notebook of a result of another kind than a comparison: its title and facts, the
    reloaded result with its rich display, then each table in Markdown followed by the
    DataFrame that holds every row."""
    from nbformat import v4

    d = document(result)
    cells = [v4.new_markdown_cell("\n".join(document_head(d, "#")).rstrip())]
    count = 1
    cells.append(
        v4.new_code_cell(
            f"import reprokit\nresult = reprokit.load({json_name!r})\nresult",
            outputs=[_output(count, {"text/html": fragment(result), "text/plain": repr(result)})],
            execution_count=count,
        )
    )
    for t in d.tables:
        cells.append(v4.new_markdown_cell("\n".join(table_lines(t, "##")).rstrip()))
        if t.frame is None or not t.rows:
            continue
        frame = getattr(result, t.frame)
        source = f"result.{t.frame}"
        if len(frame) > HEAD_ROWS:
            frame, source = frame.head(HEAD_ROWS), f"result.{t.frame}.head({HEAD_ROWS})"
        count += 1
        cells.append(
            v4.new_code_cell(source, outputs=[_frame_output(count, frame)], execution_count=count)
        )
    return _notebook(cells)


def _notebook(cells: list[Any]) -> NotebookNode:
    from nbformat import v4

    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def build_comparison(result: Result, json_name: str) -> NotebookNode:
    """The notebook of a comparison: layers, steps, top files, config, packages, parity,
    builds, plots and fixes."""
    from nbformat import v4

    from .plots import KINDS, plot, png

    a, b = result.images
    view = build_view(result)
    cells = []
    title = [
        f"# reprokit report: {result.verdict.upper()}",
        "",
        f"**{md_esc(result.reason, 400)}**",
        "",
        md_esc(view.headline, 600),
        "",
        f"- A: `{md_esc(a.ref, 200)}` ({md_esc(a.id[:19])})",
        f"- B: `{md_esc(b.ref, 200)}` ({md_esc(b.id[:19])})",
    ]
    if view.unexplained:
        title += ["", *unexplained_section(view, "##")]
    if result.spec:
        spec = json.dumps(result.spec, indent=2, default=str)
        title += ["", "Build spec:", "", "```json", spec.replace("```", "'''"), "```"]
    cells.append(v4.new_markdown_cell("\n".join(title)))

    count = 0

    def code(source: str, *outputs: Any) -> None:
        cells.append(v4.new_code_cell(source, outputs=list(outputs), execution_count=count))

    count += 1
    code(
        f"import reprokit\nresult = reprokit.load({json_name!r})\nresult",
        _output(count, {"text/html": fragment(result), "text/plain": repr(result)}),
    )
    cells.append(v4.new_markdown_cell("## Layers"))
    count += 1
    code("result.layers", _frame_output(count, result.layers))
    if result.step_records:
        cells.append(v4.new_markdown_cell("## Steps: causes and fixes per Dockerfile step"))
        count += 1
        code("result.steps", _frame_output(count, result.steps))
    if view.top:
        top = [f"## Top differing files ({view.files_label})", ""]
        top += _table(["path", "layer", "fields", "cause", "fix", "evidence"], _files(view.top))
        cells.append(v4.new_markdown_cell("\n".join(top).rstrip()))
    cells.append(v4.new_markdown_cell("## Differing files"))
    frame_name = "files" if result.file_records or not result.merged_records else "merged"
    frame = getattr(result, frame_name)
    count += 1
    code(f"result.{frame_name}.head({HEAD_ROWS})", _frame_output(count, frame.head(HEAD_ROWS)))
    if result.config_records:
        cells.append(v4.new_markdown_cell("## Config fields that differ"))
        count += 1
        code("result.config", _frame_output(count, result.config))
    if result.package_records:
        total = len(result.package_records)
        counts = md_esc(view.package_counts)
        cells.append(v4.new_markdown_cell(f"## Packages\n\n{total} differ: {counts}"))
        count += 1
        code(
            f"result.packages.head({HEAD_ROWS})" if total > HEAD_ROWS else "result.packages",
            _frame_output(count, result.packages.head(HEAD_ROWS)),
        )
    if view.parity:
        cells.append(v4.new_markdown_cell("\n".join(parity_section(view, "##")).rstrip()))
    if view.build:
        cells.append(v4.new_markdown_cell("\n".join(builds_section(view.build, "##")).rstrip()))
    cells.append(v4.new_markdown_cell("## Plots"))
    for kind in KINDS:
        count += 1
        fig = plot(result, kind)
        code(
            f"result.plot({kind!r})",
            _output(
                count,
                {
                    "image/png": base64.b64encode(png(fig)).decode("ascii"),
                    "text/plain": repr(fig),
                },
            ),
        )
    if view.fixes:
        fixes = [f"- {md_esc(f.fix, 400)} ({md_esc(f.causes)})" for f in view.fixes]
        cells.append(v4.new_markdown_cell("## Fixes\n\n" + "\n".join(fixes)))
    return _notebook(cells)


def write(result: Any, path: Path) -> Path:
    """Write the notebook to ``path`` and its JSON report beside it (``.json``); returns the
    JSON path. Both files are written atomically, the JSON first."""
    import nbformat

    from .json import write_atomic

    if path.suffix.lower() != ".ipynb":
        raise UsageError(f"{path}: a notebook's name ends in .ipynb")
    json_path = path.with_suffix(".json")
    result.to_json(json_path, show_secrets=True)
    nb = build(result, json_path.name)
    sign(nb)
    write_atomic(path, nbformat.writes(nb))
    return json_path


def sign(nb: NotebookNode) -> None:
    """Sign ``nb`` as trusted for the user who made it (nbformat's notary, the same key and
    database Jupyter uses), so its HTML outputs keep their styles when opened; a notary that
    cannot write (a read-only home) leaves the notebook untrusted, still readable."""
    from nbformat.sign import NotebookNotary

    with contextlib.suppress(Exception):  # a courtesy: the notebook is complete without
        NotebookNotary().sign(nb)


def execute(source: Path, target: Path, cwd: Path | None = None, timeout: int = 900) -> Any:
    """Execute the notebook ``source`` (nbclient, kernel ``python3``, in ``cwd``), keep its
    outputs, sign it as trusted and write it to ``target``; returns the notebook. What the
    docs notebooks and their tests use."""
    import nbformat
    from nbclient import NotebookClient

    from .json import write_atomic

    nb = nbformat.read(source, as_version=4)
    workdir = cwd or target.parent
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    ).execute()
    for cell in nb.cells:  # outputs stay; run-specific metadata does not
        cell.metadata.pop("execution", None)
    sign(nb)
    write_atomic(target, nbformat.writes(nb))
    return nb
