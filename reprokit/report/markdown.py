"""The Markdown report of every result kind, for pull-request comments and docs: tables, no
images unless asked.

Untrusted text is escaped for Markdown and for the HTML that Markdown renderers let through.

>>> from reprokit.model import ImageInfo
>>> from reprokit.result import Result
>>> img = ImageInfo("a|<b>", "sha256:1", [])
>>> md = render(Result("identical", "same", (img, img)))
>>> md.splitlines()[0]
'## reprokit: IDENTICAL'
>>> "a\\\\|&lt;b&gt;" in md
True
"""

from __future__ import annotations

import html
import re
from typing import Any

from ..text import clean
from .view import NONE, BuildsView, Document, FileRow, Table, View, build, document

#: Characters that could start emphasis, code, a link or a table cell (brackets are escaped,
#: so ``(``, ``!`` and the like cannot form a link or an image).
_SPECIAL = re.compile(r"([\\`*_{}\[\]|~$])")
ICONS = {"identical": "🟢", "equivalent": "🔵", "different": "🔴"}


def esc(value: object, limit: int | None = None) -> str:
    """Untrusted text as inert Markdown on one line (a table cell, a title): control characters
    shown as escapes, HTML escaped, and what could start emphasis, code, a link, a cell or
    math (``$``, which Jupyter would typeset) backslashed; shortened to ``limit`` characters
    when given.

    >>> print(esc("a|b <i> `c` [x](y)"))
    a\\|b &lt;i&gt; \\`c\\` \\[x\\](y)
    """
    text = html.escape(clean(value, limit), quote=False)
    return _SPECIAL.sub(r"\\\1", text)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return [*out, ""]


def _hidden(count: int, what: str) -> list[str]:
    if not count:
        return []
    return [f"_… {count} more {what} not shown (all are in the JSON report)_", ""]


def _files(rows: list[FileRow]) -> list[list[str]]:
    return [
        [
            esc(r.path, 120) + (" (ignored)" if r.ignored else ""),
            esc(r.layer),
            esc(r.fields),
            esc(r.cause),
            esc(r.fix, 200),
            esc(" / ".join(r.evidence.splitlines()[:3]), 160) if r.evidence != NONE else NONE,
        ]
        for r in rows
    ]


def _details(title: str, lines: list[str]) -> list[str]:
    """Lines shown on demand (``<details>``: GitHub and Jupyter render it)."""
    return [f"<details><summary>{title}</summary>", "", *lines, "</details>", ""]


def render_view(v: View, images: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps plot names to URLs (or data URIs) to show.
    The same order as the HTML: verdict, what differs beyond timestamps, timestamp-only
    differences per layer, what to change; layers, config and images on demand."""
    icon = ICONS.get(v.verdict, "")
    out = [f"## reprokit: {v.verdict.upper()}", "", f"{icon} **{esc(v.reason, 400)}**", ""]
    out += [esc(v.headline, 600), ""]
    s = v.summary
    beyond = len(v.changes) + v.hidden_changes
    stamps = sum(t.count for t in v.timestamps)
    out += [
        f"{s['layers_differing']} of {s['layers']} layers differ · **{beyond}** difference(s) "
        f"beyond timestamps, {stamps} timestamp-only · {s['merged_differing']} in the final "
        f"filesystem · {s['config_differing']} config field(s)",
        "",
    ]
    if v.changes:
        out += [f"### What differs beyond timestamps ({beyond})", ""]
        out += _table(
            ["path", "layer", "fields", "cause", "evidence"],
            [row[:4] + row[5:] for row in _files(v.changes)],
        )
        out += _hidden(v.hidden_changes, "differences beyond timestamps")
    if v.timestamps:
        numbers = {f.fix: i for i, f in enumerate(v.step_fixes, 1)}
        out += [f"### Timestamp-only differences ({stamps})", ""]
        out += _table(
            ["step", "instruction", "files", "mtime B − A", "fix"],
            [
                [
                    esc(t.layer),
                    esc(t.step, 80),
                    str(t.count),
                    esc(t.deltas),
                    f"fix {numbers[t.fix]} below" if t.fix in numbers else esc(t.fix, 200),
                ]
                for t in v.timestamps
            ],
        )
    if v.step_fixes:
        out += ["### What to change", ""]
        out += [
            f"{i}. {esc(f.fix, 600)} — _{esc(f.steps, 200)}: {esc(f.causes)}_"
            for i, f in enumerate(v.step_fixes, 1)
        ]
        out += [""]
    if v.layers:
        differ = sum(not r.same for r in v.layers)
        out += _details(
            f"Layers ({len(v.layers) + v.hidden_layers}, {differ} differ)",
            _table(
                ["#", "instruction", "", "files differing", "causes"],
                [
                    [
                        esc(r.index),
                        esc(r.instruction, 100),
                        "same" if r.same else "**differs**",
                        "" if r.same else esc(r.files_differing),
                        esc(r.causes),
                    ]
                    for r in v.layers
                ],
            )
            + _hidden(v.hidden_layers, "layers"),
        )
    if v.config:
        out += _details(
            f"Config fields that differ ({len(v.config) + v.hidden_config})",
            _table(
                ["field", "A", "B", "cause"],
                [[esc(f), esc(a, 80), esc(b, 80), esc(c)] for f, a, b, c in v.config],
            )
            + _hidden(v.hidden_config, "config fields"),
        )
    out += _details(
        "Images",
        _table(
            ["", "ref", "id", "layers", "size"],
            [[i.name, esc(i.ref, 100), esc(i.id[:19]), str(i.layers), i.size] for i in v.images],
        ),
    )
    if v.top:
        total = len(v.top) + len(v.details) + v.hidden_files
        out += _details(
            f"Every differing path ({total})",
            [
                f"### Top differing files ({v.files_label})",
                "",
                *_table(["path", "layer", "fields", "cause", "fix", "evidence"], _files(v.top)),
                *_hidden(len(v.details) + v.hidden_files, "differing files"),
            ],
        )
    out += packages_section(v)
    out += parity_section(v)
    if v.build:
        out += builds_section(v.build)
    for kind, url in (images or {}).items():
        out += [f"![{kind}]({url})", ""]
    return "\n".join(out)


def unexplained_section(v: View, level: str = "###") -> list[str]:
    """The differences without a known cause, listed before anything else ([] when none)."""
    if not v.unexplained:
        return []
    n = len(v.unexplained) + v.hidden_unexplained
    out = [f"{level} Differences without a known cause ({n})", ""]
    out += _table(["path", "layer", "fields", "cause", "fix", "evidence"], _files(v.unexplained))
    return out + _hidden(v.hidden_unexplained, "differences without a known cause")


def packages_section(v: View, level: str = "###") -> list[str]:
    """The package diff as lines of Markdown (none when no package differs)."""
    if not v.packages:
        return []
    total = len(v.packages) + v.hidden_packages
    out = [f"{level} Packages ({total} differ: {esc(v.package_counts)})", ""]
    out += _table(
        ["change", "manager", "package", "A", "B"],
        [
            [esc(p.change), esc(p.manager), esc(p.name, 100), esc(p.a, 60), esc(p.b, 60)]
            for p in v.packages
        ],
    )
    return out + _hidden(v.hidden_packages, "packages")


def parity_section(v: View, level: str = "###") -> list[str]:
    """The parity outcomes side by side, those that differ first (none when not run)."""
    if not v.parity:
        return []
    agree, total = v.parity_agree
    out = [f"{level} Parity ({agree}/{total} checks agree)", ""]
    out += _table(
        ["", "check", "A", "B"],
        [
            [
                "same" if e.mark == "same" else f"**{e.mark}**",
                esc(e.name, 100),
                esc(e.a, 120),
                esc(e.b, 120),
            ]
            for e in v.parity
        ],
    )
    return out + _hidden(v.hidden_parity, "checks")


def builds_section(b: BuildsView, level: str = "###") -> list[str]:
    """Builder, builds, runs, culprit search and suggestions as lines of Markdown."""
    out = [f"{level} Builds", ""]
    if b.builder:
        version = f" {esc(b.version, 120)}" if b.version else ""
        engine = f" on {esc(b.engine, 120)}" if b.engine else ""
        out += [f"builder: **{esc(b.builder)}**{version}{engine}", ""]
    if b.detailed:
        out += _table(
            ["build", "variations", "image", "duration"],
            [[esc(r.name), esc(r.variations, 200), esc(r.image_id), r.duration] for r in b.builds],
        )
    elif b.builds:
        listed = ", ".join(f"{r.name} ({r.image_id}, {r.duration})" for r in b.builds)
        out += [f"builds: {esc(listed)}", ""]
    if b.notes:
        out += [f"- note: {esc(n, 400)}" for n in b.notes] + [""]
    if b.runs:
        out += ["runs (each against the first):", ""]
        out += _table(
            ["runs", "verdict", "variations", "role"],
            [
                [f"{esc(r.a)} vs {esc(r.b)}", esc(r.verdict), esc(r.variations, 120), esc(r.role)]
                for r in b.runs
            ],
        )
        out += _hidden(b.hidden_runs, "runs")
    if b.same_image:
        out += [f"same image: {esc(b.same_image, 400)}", ""]
    if b.conclusion is not None:
        out += [f"**culprits:** {esc(b.conclusion, 400)}", ""]
    if b.culprits:
        out += _table(
            ["variation", "", "verdict", "files", "config", "why"],
            [
                [
                    esc(c.variation, 100),
                    "**BREAKS**" if c.breaks else "ok",
                    esc(c.verdict),
                    esc(c.files or NONE, 400),
                    esc(c.config or NONE, 200),
                    esc(c.explanation or NONE, 400),
                ]
                for c in b.culprits
            ],
        )
        out += _hidden(b.hidden_culprits, "variations")
    if b.suggestions:
        out += ["suggestions:", ""] + [f"- {esc(s, 800)}" for s in b.suggestions] + [""]
        out += _hidden(b.hidden_suggestions, "suggestions")
    return out


def table_lines(t: Table, level: str = "###") -> list[str]:
    """One table of a document as lines of Markdown: heading, table (or its empty text) and
    how many rows are left out."""
    out = [f"{level} {esc(t.title)}", ""]
    if not t.rows:
        return [*out, esc(t.empty), ""]
    out += _table([esc(h) for h in t.headers], [[esc(c, 300) for c in row] for row in t.rows])
    return out + _hidden(t.hidden, t.what)


def document_head(d: Document, level: str = "##") -> list[str]:
    """The title, banner line and facts of a document."""
    out = [f"{level} {esc(d.title, 200)}", "", f"**{esc(d.state)}** — {esc(d.headline, 400)}", ""]
    if d.facts:
        out += [f"- {esc(f, 400)}" for f in d.facts] + [""]
    return out


def render_document(d: Document) -> str:
    """A result of another kind than a comparison as Markdown."""
    out = document_head(d)
    for t in d.tables:
        out += table_lines(t)
    return "\n".join(out)


def render(result: Any, images: bool = False) -> str:
    """Markdown for a result of any kind; with ``images`` a comparison's plots are inlined as
    PNG data URIs."""
    if result.kind != "comparison":
        return render_document(document(result))
    urls = None
    if images:
        from .plots import KINDS, data_uri, plot

        urls = {kind: data_uri(plot(result, kind)) for kind in KINDS}
    return render_view(build(result, {"details": 0}), urls)
