"""The HTML report of every result kind: the rich display in Jupyter and a standalone page.

Self-contained (inline CSS, no JavaScript, no external fonts or images). Every piece of text
that comes from an image is escaped.

>>> from reprokit.model import ImageInfo, LayerDiff
>>> from reprokit.result import Result
>>> img = ImageInfo("<b>a</b>", "sha256:1", [])
>>> out = fragment(Result("identical", "same", (img, img)))
>>> "rk-identical" in out, "<b>a</b>" in out, "&lt;b&gt;a&lt;/<wbr>b&gt;" in out
(True, False, True)
"""

from __future__ import annotations

import html
import re
from typing import Any

from ..text import clean
from .view import NONE, BuildsView, Document, FileRow, View, build, document

#: The root element of every display: scoped styles hang off ``.reprokit``; pandas' classes
#: keep MathJax off (``$SOURCE_DATE_EPOCH`` in a fix is not math).
ROOT = "reprokit reprokit-report tex2jax_ignore mathjax_ignore"

#: Styles scoped to the root, built on JupyterLab's theme variables (with fallbacks for a
#: standalone page), so light, dark and high-contrast themes read. What legibility needs
#: (alignment, badge colours, banner) is also inline, so an untrusted notebook, which drops
#: ``<style>``, still reads.
CSS = """
.reprokit{--rk-fg:var(--jp-content-font-color1,#1d1d1f);--rk-fg0:var(--jp-ui-font-color0,#000);
 --rk-muted:var(--jp-content-font-color2,#4a4a4a);--rk-bg:var(--jp-layout-color0,#fff);
 --rk-head:var(--jp-layout-color2,#ececec);--rk-line:var(--jp-border-color2,#d0d0d0);
 --rk-alt:var(--jp-layout-color1,#fafafa);
 font-family:var(--jp-ui-font-family,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);
 font-size:13px;line-height:1.45;color:var(--rk-fg);background:var(--rk-bg);padding:4px 2px;
 max-width:100%;box-sizing:border-box;text-align:left}
.reprokit h3{font-size:14px;margin:14px 0 4px;color:var(--rk-fg0)}
.reprokit p,.reprokit ul,.reprokit ol{margin:4px 0}
.reprokit table{border-collapse:collapse;margin:4px 0;font-size:12px;max-width:100%;
 table-layout:auto;color:var(--rk-fg);background:var(--rk-bg)}
.reprokit th,.reprokit td{border:1px solid var(--rk-line);padding:2px 6px;text-align:left;
 vertical-align:top;overflow-wrap:normal;word-break:normal;hyphens:none;color:var(--rk-fg)}
.reprokit th{background:var(--rk-head);color:var(--rk-fg0);font-weight:600}
.reprokit tbody tr:nth-child(even) td{background:var(--rk-alt)}
.reprokit td.num,.reprokit th.num{text-align:right;white-space:nowrap}
.reprokit code,.reprokit pre{font-family:var(--jp-code-font-family,ui-monospace,Menlo,Consolas,
 monospace);font-size:12px;background:transparent;color:inherit;padding:0}
.reprokit pre{margin:0;white-space:pre-wrap;overflow-wrap:normal;word-break:normal;
 max-width:42em;overflow-x:auto}
.reprokit .rk-banner{padding:8px 12px;border-radius:4px;font-size:15px}
.reprokit .rk-banner b{letter-spacing:.05em}
.reprokit .rk-badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;
 font-weight:600;white-space:nowrap}
.reprokit .rk-note{color:var(--rk-muted);font-style:italic}
.reprokit .rk-diffcell{outline:2px solid #b3261e;outline-offset:-2px}
.reprokit details{margin:6px 0}
.reprokit summary{cursor:pointer;font-weight:600;color:var(--rk-fg0)}
.reprokit img{max-width:100%;margin:4px 0;background:#fff}
.reprokit ol.rk-fixes li{margin:2px 0}
"""

#: Badge colours (background, text): white on a dark colour reads on every theme.
BADGES = {
    "same": ("#1b7f3b", "#ffffff"),
    "ok": ("#1b7f3b", "#ffffff"),
    "differs": ("#b3261e", "#ffffff"),
    "DIFF": ("#b3261e", "#ffffff"),
    "FAIL": ("#b3261e", "#ffffff"),
    "ERR": ("#7a1d16", "#ffffff"),
    "BREAKS": ("#b3261e", "#ffffff"),
    "high": ("#b3261e", "#ffffff"),
    "medium": ("#8a4b00", "#ffffff"),
    "low": ("#1f5fa8", "#ffffff"),
    "ignored": ("#5f5f5f", "#ffffff"),
}
LEFT, RIGHT = "text-align:left", "text-align:right;white-space:nowrap"


def esc(value: object, limit: int | None = None) -> str:
    """Untrusted text as safe HTML: control characters shown as escapes, markup escaped."""
    return html.escape(clean(value, limit), quote=True)


def badge(word: str, key: str | None = None) -> str:
    """A word on a coloured badge (inline colours: readable untrusted and on every theme)."""
    bg, fg = BADGES.get(key or word, ("#5f5f5f", "#ffffff"))
    return (
        f'<span class="rk-badge rk-{esc(key or word)}" '
        f'style="background:{bg};color:{fg};padding:0 6px;border-radius:3px">{esc(word)}</span>'
    )


def path(value: object, limit: int = 160) -> str:
    """A path in ``<code>``, allowed to wrap only after a ``/``.

    >>> path("/usr/lib/x")
    '<code>/<wbr>usr/<wbr>lib/<wbr>x</code>'
    """
    text = clean(value, limit)
    parts = [
        _value_html(seg) if len(seg) > LONG_WORD else html.escape(seg, quote=True)
        for seg in text.split("/")
    ]
    return "<code>" + "/<wbr>".join(parts) + "</code>"


def digest(value: object, keep: int = 19) -> str:
    """A digest shortened to ``keep`` characters, the full value on hover and when copied
    (``title``).

    >>> digest("sha256:" + "a" * 64)[:40]
    '<code title="sha256:aaaaaaaaaaaaaaaaaaaa'
    """
    full = esc(value)
    short = esc(str(value)[:keep]) + ("…" if len(str(value)) > keep else "")
    return f'<code title="{full}">{short}</code>'


#: A hex digest inside a value (a sha256 in a parity outcome, a replayed fact): 32+ hex digits.
_HEX = re.compile(r"\b((?:sha256:)?[0-9a-f]{12})([0-9a-f]{20,})\b")


def value(text: object, limit: int | None = None) -> str:
    """A value as safe HTML with every hex digest in it shortened to 12 digits, the full digest
    on hover (``title``): a 64-digit word cannot wrap and would push a table past 1024 px.

    >>> value('{"sha256": "' + "ab" * 32 + '"}')[:50]
    '{&quot;sha256&quot;: &quot;<span title="ababababab'
    >>> value("sha256:" + "0" * 64).endswith('">000000000000…</span>')
    True
    >>> value("org.opencontainers.image.source=$URL")
    'org.<wbr>opencontainers.<wbr>image.<wbr>source=<wbr>$URL'
    """
    return _value_html(clean(text, limit))


def _value_html(text: str) -> str:
    out = []
    for part in _SPACE.split(text):
        if len(part) > LONG_WORD and not part.isspace():  # may wrap after / . = , : & _ -
            out.append("<wbr>".join(html.escape(p, quote=True) for p in _BREAK.split(part)))
        elif "…" in part:  # a redacted or cut word ("AKIA…(20 chars)") stays on one line
            out.append(f'<span style="white-space:nowrap">{html.escape(part, quote=True)}</span>')
        else:
            out.append(html.escape(part, quote=True))
    return _HEX.sub(lambda m: f'<span title="{m.group(0)}">{m.group(1)}…</span>', "".join(out))


#: a word longer than this may wrap after punctuation (a label, a command line, a key path)
LONG_WORD = 20
_SPACE = re.compile(r"(\s+)")
_BREAK = re.compile(r"(?<=[/.=,:&_-])(?=.)")


#: Cells whose text is a number, a size or a duration: right-aligned.
_NUMERIC = re.compile(r"^[-+]?[\d.,]+( ?(%|[KMGT]?i?B|s|ms))?$")


def _td(cell: str, numeric: bool) -> str:
    if numeric:
        return f'<td class="num" style="{RIGHT}">{cell}</td>'
    return f'<td style="{LEFT}">{cell}</td>'


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """``rows`` hold HTML already escaped; columns in ``numeric`` (and cells that are plain
    numbers) are right-aligned, every other cell left-aligned (inline, so JupyterLab's
    right-aligned tables and an untrusted notebook do not change it)."""
    numeric = {
        i
        for i in numeric or set()
        if (cells := [_TAG.sub("", row[i]) for row in rows if i < len(row) and row[i]])
        and all(_NUMERIC.match(cell) for cell in cells)
    }  # a column right-aligned holds numbers, and only numbers (a "?" or "—" keeps it left)

    def is_num(i: int, cell: str) -> bool:
        return i in numeric or bool(_NUMERIC.match(cell))

    head = "".join(
        f'<th class="num" style="{RIGHT}">{h}</th>'
        if i in numeric
        else f'<th style="{LEFT}">{h}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>" + "".join(_td(cell, is_num(i, cell)) for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{32,}$")
_TAG = re.compile(r"<[^>]+>")


def _value(text: str) -> str:
    """A config value: a digest shortened (full on hover), anything else escaped."""
    return digest(text) if _DIGEST.match(text) else esc(text, 160)


def _open(kind: str, extra: str = "") -> str:
    """The root element and its scoped style."""
    return (
        f'<div class="{ROOT} rk-{esc(kind)}{extra}" '
        f'style="text-align:left;max-width:100%;overflow-x:auto"><style>{CSS}</style>'
    )


def _section(title: str, body: str, open_: bool = False) -> str:
    """A section shown on demand: ``<details>`` with the count in its summary."""
    return f"<details{' open' if open_ else ''}><summary>{title}</summary>{body}</details>"


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


def _file_rows(rows: list[FileRow], fix: bool = True) -> list[list[str]]:
    return [
        [
            path(r.path) + (" " + badge("ignored") if r.ignored else ""),
            esc(r.layer),
            esc(r.fields),
            esc(r.cause),
            *([esc(r.fix, 300)] if fix else []),
            _evidence(r.evidence),
        ]
        for r in rows
    ]


FILE_HEADERS = ["path", "layer", "fields", "cause", "fix", "evidence"]
CHANGE_HEADERS = ["path", "layer", "fields", "cause", "evidence"]


def _summary_line(v: View) -> str:
    s = v.summary
    beyond = len(v.changes) + v.hidden_changes
    stamps = sum(t.count for t in v.timestamps)
    return (
        f"<p>{s['layers_differing']} of {s['layers']} layers differ · "
        f"<b>{beyond}</b> difference(s) beyond timestamps, {stamps} timestamp-only · "
        f"{s['merged_differing']} in the final filesystem · "
        f"{s['config_differing']} config field(s)</p>"
    )


def fixes_section(v: View) -> str:
    """Each fix once, numbered, with the steps (and Dockerfile lines) it applies to."""
    if not v.step_fixes:
        return ""
    items = "".join(
        f"<li>{esc(f.fix, 600)} <span class='rk-note'>— {esc(f.steps, 200)}: "
        f"{esc(f.causes)}</span></li>"
        for f in v.step_fixes
    )
    return f'<h3>What to change</h3><ol class="rk-fixes">{items}</ol>'


def _fix_number(v: View, fix: str) -> str:
    for i, f in enumerate(v.step_fixes, 1):
        if f.fix == fix:
            return f"fix {i} below"
    return esc(fix, 300)


def timestamps_section(v: View) -> str:
    """Timestamp-only differences: one row per layer (count, range of deltas, the fix)."""
    if not v.timestamps:
        return ""
    total = sum(t.count for t in v.timestamps)
    rows = [
        [
            esc(t.layer),
            f"<code>{esc(t.step, 90)}</code>",
            str(t.count),
            esc(t.deltas),
            _fix_number(v, t.fix) if t.fix != NONE else NONE,
        ]
        for t in v.timestamps
    ]
    return f"<h3>Timestamp-only differences ({total})</h3>" + _table(
        ["step", "instruction", "files", "mtime B − A", "fix"], rows, {2}
    )


def render_view(v: View, plots: dict[str, str] | None = None) -> str:
    """The report as an HTML fragment (a ``<div>`` with its own ``<style>``). The first screen
    answers: is it reproducible, what differs beyond timestamps, what to change; the rest
    (layers, config, images, every path, builds) opens on demand."""
    bg, fg = v.colour
    parts = [_open("comparison")]
    parts.append(
        f'<div class="rk-banner rk-{esc(v.verdict)}" style="background:{bg};color:{fg};'
        f'padding:8px 12px;border-radius:4px">'
        f"<b>{esc(v.verdict.upper())}</b> — {esc(v.reason, 400)}</div>"
    )
    parts.append(f"<p><b>{esc(v.headline, 600)}</b></p>")
    if v.explained is not None:
        state = "every difference has a cause" if v.explained else "some differences unexplained"
        parts.append(f'<p class="rk-note">{state}</p>')
    parts.append(_summary_line(v))
    beyond = len(v.changes) + v.hidden_changes
    if v.changes:
        parts.append(f"<h3>What differs beyond timestamps ({beyond})</h3>")
        parts.append(_table(CHANGE_HEADERS, _file_rows(v.changes, fix=False)))
        parts.append(_hidden(v.hidden_changes, "differences beyond timestamps"))
    parts.append(timestamps_section(v))
    parts.append(fixes_section(v))
    if v.layers:
        rows = [
            [
                esc(r.index),
                f"<code>{esc(r.instruction, 120)}</code>",
                badge("same") if r.same else badge("differs"),
                "" if r.same else esc(r.files_differing),
                esc(r.causes),
                esc(r.size_a),
                esc(r.size_b),
            ]
            for r in v.layers
        ]
        headers = ["#", "instruction", "", "files", "causes", "size A", "size B"]
        differ = sum(not r.same for r in v.layers)
        parts.append(
            _section(
                f"Layers ({len(v.layers) + v.hidden_layers}, {differ} differ)",
                _table(headers, rows, {0, 3, 5, 6}) + _hidden(v.hidden_layers, "layers"),
            )
        )
    if v.config:
        rows = [[f"<code>{esc(f)}</code>", _value(a), _value(b), esc(c)] for f, a, b, c in v.config]
        parts.append(
            _section(
                f"Config fields that differ ({len(v.config) + v.hidden_config})",
                _table(["field", "A", "B", "cause"], rows)
                + _hidden(v.hidden_config, "config fields"),
            )
        )
    images = _table(
        ["", "ref", "id", "layers", "size", "platform", "created"],
        [
            [
                f"<b>{i.name}</b>",
                path(i.ref, 120),
                digest(i.id),
                str(i.layers),
                esc(i.size),
                esc(i.platform),
                esc(i.created),
            ]
            for i in v.images
        ],
        {3, 4},
    )
    if v.spec:
        spec = ", ".join(f"{k}={v.spec[k]}" for k in sorted(v.spec) if v.spec[k] not in (None, {}))
        images += f'<p class="rk-note">spec: <code>{esc(spec, 600)}</code></p>'
    parts.append(_section("Images", images))
    listed = v.top + v.details
    if listed:
        total = len(listed) + v.hidden_files
        parts.append(
            _section(
                f"Every differing path ({total}, {esc(v.files_label)})",
                _table(FILE_HEADERS, _file_rows(listed))
                + _hidden(v.hidden_files, "differing files"),
            )
        )
    parts.append(packages_section(v))
    parts.append(parity_section(v))
    if v.build:
        parts.append(_section("Builds", builds_section(v.build)))
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


def parity_section(v: View) -> str:
    """The parity outcomes side by side, those that differ first ('' when none)."""
    if not v.parity:
        return ""
    agree, total = v.parity_agree
    rows = [parity_row(e.mark, e.name, e.a, e.b) for e in v.parity]
    return (
        f"<h3>Parity ({agree}/{total} checks agree)</h3>"
        + _table(["", "check", "A", "B"], rows)
        + _hidden(v.hidden_parity, "checks", JSON_ONLY)
    )


#: how many characters of a parity outcome a cell shows, A and B alike
PARITY_WIDTH = 200


def parity_row(mark: str, name: str, a: str, b: str) -> list[str]:
    """One parity check side by side: its mark on a badge, A and B truncated alike, the
    outcomes highlighted when they differ."""
    cells = [f"<code>{value(x, PARITY_WIDTH)}</code>" for x in (a, b)]
    if mark != "same":
        cells = [
            f'<span class="rk-diffcell" style="outline:2px solid #b3261e;outline-offset:1px">'
            f"{c}</span>"
            for c in cells
        ]
    return [badge(mark), f"<code>{esc(name, 120)}</code>", *cells]


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
                digest(r.image_id),
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
                badge("BREAKS") if c.breaks else badge("ok"),
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


#: A document's table with more rows than this opens on demand (``<details>``, with its count).
OPEN_ROWS = 15
#: How a document's column is shown, by header: badges, paths, digests.
_BADGE_COLUMNS = {"severity", ""}
_PATH_COLUMNS = {"path"}
_DIGEST_COLUMNS = {"id", "image"}


def _doc_cell(header: str, cell: str) -> str:
    if cell == NONE:
        return NONE
    if header in _BADGE_COLUMNS:
        return badge(cell)
    if header in _PATH_COLUMNS:
        return path(cell, 300)
    if header in _DIGEST_COLUMNS:
        return digest(cell)
    return value(cell, 400)


def render_document(d: Document) -> str:
    """A result of another kind than a comparison as an HTML fragment: banner, facts, tables
    (long ones on demand, with their counts)."""
    bg, fg = d.colour
    parts = [_open(d.kind)]
    parts.append(
        f'<div class="rk-banner rk-{esc(d.tone)}" style="background:{bg};color:{fg};'
        f'padding:8px 12px;border-radius:4px">'
        f"<b>{esc(d.state)}</b> — {esc(d.headline, 400)}</div>"
    )
    if d.facts:
        parts.append("<ul>" + "".join(f"<li>{esc(f, 400)}</li>" for f in d.facts) + "</ul>")
    for t in d.tables:
        total = len(t.rows) + t.hidden
        if not t.rows:
            parts.append(f"<h3>{esc(t.title)}</h3>")
            parts.append(f'<p class="rk-note">{esc(t.empty)}</p>')
            continue
        # a column empty in every row is left out (it only takes width)
        keep = [i for i in range(len(t.headers)) if any(r[i] not in (NONE, "") for r in t.rows)]
        headers = [t.headers[i] for i in keep]
        plain = [[r[i] for i in keep] for r in t.rows]
        if d.kind == "parity" and len(t.headers) == 4:
            rows = [parity_row(*row) for row in t.rows]
            headers, plain = t.headers, t.rows
        else:
            rows = [
                [_doc_cell(h, cell) for h, cell in zip(headers, row, strict=False)] for row in plain
            ]
        numeric = {
            i
            for i in range(len(headers))
            if all(_NUMERIC.match(r[i]) for r in plain if r[i] != NONE)
            and any(r[i] != NONE for r in plain)
        }
        where = f"<code>result.{t.frame}</code> and the JSON report" if t.frame else JSON_ONLY
        body = _table([esc(h) for h in headers], rows, numeric) + _hidden(
            t.hidden, esc(t.what), where
        )
        if len(t.rows) > OPEN_ROWS:
            parts.append(_section(f"{esc(t.title)} ({total} {esc(t.what)})", body))
        else:
            parts.append(f"<h3>{esc(t.title)}</h3>{body}")
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
