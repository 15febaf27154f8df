"""The HTML report of every result kind: the rich display in Jupyter and a standalone page.

Self-contained (inline CSS, no JavaScript, no external fonts or images). Every piece of text
that comes from an image is escaped.

>>> from reprokit.model import ImageInfo, LayerDiff
>>> from reprokit.result import Result
>>> img = ImageInfo("<b>a</b>", "sha256:1", [])
>>> out = fragment(Result("identical", "same", (img, img)))
>>> "rk-identical" in out, "<b>a</b>" in out, "&lt;b&gt;a&lt;/b&gt;" in out
(True, False, True)
"""

from __future__ import annotations

import html
from typing import Any

from ..text import clean
from .view import NONE, BuildsView, Document, FileRow, View, build, document

CSS = """
.reprokit-report{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 font-size:13px;line-height:1.4;color:#1d1d1f;background:#fff;padding:4px;max-width:1200px}
.reprokit-report h3{font-size:14px;margin:14px 0 4px}
.reprokit-report table{border-collapse:collapse;margin:4px 0;font-size:12px}
.reprokit-report th,.reprokit-report td{border:1px solid #d0d0d0;padding:2px 6px;
 text-align:left;vertical-align:top}
.reprokit-report td{max-width:480px;overflow-wrap:anywhere}
.reprokit-report th{background:#f2f2f2}
.reprokit-report td.num{text-align:right}
.reprokit-report code,.reprokit-report pre{font-family:ui-monospace,Menlo,Consolas,monospace;
 font-size:12px}
.reprokit-report pre{margin:0;white-space:pre-wrap;max-width:480px}
.reprokit-report .rk-banner{padding:8px 12px;border-radius:4px;font-size:15px}
.reprokit-report .rk-banner b{letter-spacing:.05em}
.reprokit-report .rk-same{color:#1b7f3b}
.reprokit-report .rk-differs{color:#b3261e;font-weight:600}
.reprokit-report .rk-ignored{color:#777}
.reprokit-report .rk-note{color:#555;font-style:italic}
.reprokit-report details{margin:6px 0}
.reprokit-report summary{cursor:pointer}
.reprokit-report img{max-width:100%;margin:4px 0}
"""


def esc(value: object, limit: int | None = None) -> str:
    """Untrusted text as safe HTML: control characters shown as escapes, markup escaped."""
    return html.escape(clean(value, limit), quote=True)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """``rows`` hold HTML already escaped."""
    numeric = numeric or set()
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _hidden(count: int, what: str, where: str = "the DataFrames and the JSON report") -> str:
    if not count:
        return ""
    return f'<p class="rk-note">… {count} more {what} not shown (every row is in {where})</p>'


def _evidence(text: str) -> str:
    return NONE if text == NONE else f"<pre>{esc_block(text, 600)}</pre>"


def esc_block(text: str, limit: int) -> str:
    """Multi-line untrusted text (evidence): each line cleaned and escaped, bounded."""
    lines = [clean(line, 200) for line in text.splitlines()[:12]]
    out = "\n".join(lines)
    if len(out) > limit:
        out = out[: limit - 1] + "…"
    return html.escape(out, quote=True)


def _file_rows(rows: list[FileRow]) -> list[list[str]]:
    return [
        [
            f"<code>{esc(r.path, 160)}</code>"
            + (' <span class="rk-ignored">(ignored)</span>' if r.ignored else ""),
            esc(r.layer),
            esc(r.change),
            esc(r.fields),
            esc(r.cause),
            esc(r.fix, 300),
            _evidence(r.evidence),
        ]
        for r in rows
    ]


FILE_HEADERS = ["path", "layer", "change", "fields", "cause", "fix", "evidence"]


def render_view(v: View, plots: dict[str, str] | None = None) -> str:
    """The report as an HTML fragment (a ``<div>`` with its own ``<style>``)."""
    bg, fg = v.colour
    parts = [f'<div class="reprokit-report"><style>{CSS}</style>']
    parts.append(
        f'<div class="rk-banner rk-{esc(v.verdict)}" style="background:{bg};color:{fg}">'
        f"<b>{esc(v.verdict.upper())}</b> — {esc(v.reason, 400)}</div>"
    )
    if v.explained is not None:
        state = "every difference has a cause" if v.explained else "some differences unexplained"
        parts.append(f'<p class="rk-note">{state}</p>')
    parts.append("<h3>Images</h3>")
    parts.append(
        _table(
            ["", "ref", "id", "layers", "size", "platform", "created"],
            [
                [
                    f"<b>{i.name}</b>",
                    f"<code>{esc(i.ref, 120)}</code>",
                    f"<code>{esc(i.id[:19])}</code>",
                    str(i.layers),
                    esc(i.size),
                    esc(i.platform),
                    esc(i.created),
                ]
                for i in v.images
            ],
            {3},
        )
    )
    s = v.summary
    parts.append(
        f"<p>{s['layers_differing']} of {s['layers']} layers differ · "
        f"{s['files_differing']} file differences in layers · "
        f"{s['merged_differing']} in the final filesystem · "
        f"{s['config_differing']} config fields</p>"
    )
    if v.spec:
        spec = ", ".join(f"{k}={v.spec[k]}" for k in sorted(v.spec) if v.spec[k] not in (None, {}))
        parts.append(f'<p class="rk-note">spec: <code>{esc(spec, 600)}</code></p>')
    if v.layers:
        parts.append("<h3>Layers</h3>")
        rows = [
            [
                esc(r.index),
                f"<code>{esc(r.instruction, 160)}</code>",
                '<span class="rk-same">same</span>'
                if r.same
                else '<span class="rk-differs">differs</span>',
                "" if r.same else esc(r.files_differing),
                esc(r.causes),
                esc(r.size_a),
                esc(r.size_b),
            ]
            for r in v.layers
        ]
        headers = ["#", "instruction", "", "files differing", "causes", "size A", "size B"]
        parts.append(_table(headers, rows, {0, 3, 5, 6}))
        parts.append(_hidden(v.hidden_layers, "layers"))
    if v.config:
        parts.append("<h3>Config fields that differ</h3>")
        parts.append(
            _table(
                ["field", "A", "B", "cause"],
                [
                    [f"<code>{esc(f)}</code>", esc(a, 200), esc(b, 200), esc(c)]
                    for f, a, b, c in v.config
                ],
            )
        )
        parts.append(_hidden(v.hidden_config, "config fields"))
    if v.top:
        parts.append(f"<h3>Top differing files ({esc(v.files_label)})</h3>")
        parts.append(_table(FILE_HEADERS, _file_rows(v.top)))
    if v.details:
        parts.append(
            f"<details><summary>{len(v.details)} more differing files</summary>"
            + _table(FILE_HEADERS, _file_rows(v.details))
            + "</details>"
        )
    parts.append(_hidden(v.hidden_files, "differing files"))
    if v.fixes:
        parts.append("<h3>Fixes</h3><ul>")
        parts.extend(
            f"<li>{esc(f.fix, 400)} <span class='rk-note'>({esc(f.causes)})</span></li>"
            for f in v.fixes
        )
        parts.append("</ul>")
    parts.append(packages_section(v))
    parts.append(parity_section(v))
    if v.build:
        parts.append(builds_section(v.build))
    if plots:
        parts.append("<h3>Plots</h3>")
        parts.extend(f'<img alt="{esc(kind)} plot" src="{uri}">' for kind, uri in plots.items())
    parts.append("</div>")
    return "".join(parts)


def packages_section(v: View) -> str:
    """The package diff: added, removed, changed, with both versions ('' when none)."""
    if not v.packages:
        return ""
    total = len(v.packages) + v.hidden_packages
    rows = [
        [
            esc(p.change),
            esc(p.manager),
            f"<code>{esc(p.name, 120)}</code>",
            esc(p.a, 80),
            esc(p.b, 80),
        ]
        for p in v.packages
    ]
    return (
        f"<h3>Packages ({total} differ: {esc(v.package_counts)})</h3>"
        + _table(["change", "manager", "package", "A", "B"], rows)
        + _hidden(v.hidden_packages, "packages")
    )


#: where the rows a table leaves out are, when there is no DataFrame of them
JSON_ONLY = "the JSON report"
MARKS = {"same": "rk-same", "DIFF": "rk-differs", "FAIL": "rk-differs", "ERR": "rk-differs"}


def parity_section(v: View) -> str:
    """The parity outcomes side by side, those that differ first ('' when none)."""
    if not v.parity:
        return ""
    agree, total = v.parity_agree
    rows = [
        [
            f'<span class="{MARKS.get(e.mark, "")}">{esc(e.mark)}</span>',
            f"<code>{esc(e.name, 120)}</code>",
            f"<code>{esc(e.a, 200)}</code>",
            f"<code>{esc(e.b, 200)}</code>",
        ]
        for e in v.parity
    ]
    return (
        f"<h3>Parity ({agree}/{total} checks agree)</h3>"
        + _table(["", "check", "A", "B"], rows)
        + _hidden(v.hidden_parity, "checks", JSON_ONLY)
    )


def builds_section(b: BuildsView) -> str:
    """Builder, builds, runs, culprit search and suggestions."""
    parts = ["<h3>Builds</h3>"]
    if b.builder:
        version = f" {esc(b.version, 120)}" if b.version else ""
        engine = f" on <code>{esc(b.engine, 120)}</code>" if b.engine else ""
        parts.append(f"<p>builder: <b>{esc(b.builder)}</b>{version}{engine}</p>")
    if b.detailed:
        rows = [
            [
                esc(r.name),
                esc(r.variations, 300),
                f"<code>{esc(r.image_id)}</code>",
                esc(r.duration),
            ]
            for r in b.builds
        ]
        parts.append(_table(["build", "variations", "image", "duration"], rows, {3}))
    elif b.builds:
        listed = ", ".join(f"{r.name} ({r.image_id}, {r.duration})" for r in b.builds)
        parts.append(f'<p class="rk-note">builds: {esc(listed)}</p>')
    if b.notes:
        parts.append("<ul>" + "".join(f"<li>note: {esc(n, 400)}</li>" for n in b.notes) + "</ul>")
    if b.runs:
        rows = [
            [f"{esc(r.a)} vs {esc(r.b)}", esc(r.verdict), esc(r.variations, 200), esc(r.role)]
            for r in b.runs
        ]
        parts.append("<p>runs (each against the first):</p>")
        parts.append(_table(["runs", "verdict", "variations", "role"], rows))
        parts.append(_hidden(b.hidden_runs, "runs", JSON_ONLY))
    if b.same_image:
        parts.append(f"<p>same image: {esc(b.same_image, 400)}</p>")
    if b.conclusion is not None:
        parts.append(f"<p><b>culprits:</b> {esc(b.conclusion, 400)}</p>")
    if b.culprits:
        rows = [
            [
                f"<code>{esc(c.variation, 120)}</code>",
                '<span class="rk-differs">BREAKS</span>'
                if c.breaks
                else '<span class="rk-same">ok</span>',
                esc(c.verdict),
                esc(c.files or NONE, 600),
                esc(c.config or NONE, 300),
                esc(c.explanation or NONE, 600),
            ]
            for c in b.culprits
        ]
        headers = ["variation", "", "verdict", "files", "config", "why"]
        parts.append(_table(headers, rows))
        parts.append(_hidden(b.hidden_culprits, "variations", JSON_ONLY))
    if b.suggestions:
        items = "".join(f"<li>{esc(s, 800)}</li>" for s in b.suggestions)
        parts.append(f"<p>suggestions:</p><ul>{items}</ul>")
        parts.append(_hidden(b.hidden_suggestions, "suggestions", JSON_ONLY))
    return "".join(parts)


def render_document(d: Document) -> str:
    """A result of another kind than a comparison as an HTML fragment: banner, facts, tables."""
    bg, fg = d.colour
    parts = [f'<div class="reprokit-report rk-{esc(d.kind)}"><style>{CSS}</style>']
    parts.append(
        f'<div class="rk-banner" style="background:{bg};color:{fg}">'
        f"<b>{esc(d.state)}</b> — {esc(d.headline, 400)}</div>"
    )
    if d.facts:
        parts.append("<ul>" + "".join(f"<li>{esc(f, 400)}</li>" for f in d.facts) + "</ul>")
    for t in d.tables:
        parts.append(f"<h3>{esc(t.title)}</h3>")
        if not t.rows:
            parts.append(f'<p class="rk-note">{esc(t.empty)}</p>')
            continue
        rows = [[esc(cell, 400) for cell in row] for row in t.rows]
        parts.append(_table([esc(h) for h in t.headers], rows))
        where = f"<code>result.{t.frame}</code> and the JSON report" if t.frame else JSON_ONLY
        parts.append(_hidden(t.hidden, esc(t.what), where))
    parts.append("</div>")
    return "".join(parts)


def fragment(result: Any, plots: bool = False) -> str:
    """The rich display of a result of any kind (``_repr_html_``); a comparison's plots only
    when asked."""
    if result.kind != "comparison":
        return render_document(document(result))
    uris = None
    if plots:
        from .plots import KINDS, data_uri, plot

        uris = {kind: data_uri(plot(result, kind)) for kind in KINDS}
    return render_view(build(result), uris)


def page(result: Any, plots: bool = True) -> str:
    """A standalone HTML page: the same content as the rich display, with plots embedded."""
    if result.kind == "comparison":
        a, b = result.images
        title = esc(f"reprokit: {result.verdict} — {a.ref} vs {b.ref}", 200)
    else:
        title = esc(document(result).title, 200)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>\n<body>\n"
        + fragment(result, plots=plots)
        + "\n</body></html>\n"
    )
