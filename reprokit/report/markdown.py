"""The Markdown report, for pull-request comments and docs: tables, no images unless asked.

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
from typing import TYPE_CHECKING

from .text import clean
from .view import NONE, FileRow, View, build

if TYPE_CHECKING:
    from ..result import Result

#: Characters that could start emphasis, code, a link or a table cell (brackets are escaped,
#: so ``(``, ``!`` and the like cannot form a link or an image).
_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
ICONS = {"identical": "🟢", "equivalent": "🔵", "different": "🔴"}


def esc(value: object, limit: int | None = None) -> str:
    """Untrusted text as one inert Markdown table cell."""
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


def render_view(v: View, images: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``images`` maps plot names to URLs (or data URIs) to show."""
    icon = ICONS.get(v.verdict, "")
    out = [f"## reprokit: {v.verdict.upper()}", "", f"{icon} **{esc(v.reason, 400)}**", ""]
    out += _table(
        ["", "ref", "id", "layers", "size"],
        [[i.name, esc(i.ref, 100), esc(i.id[:19]), str(i.layers), i.size] for i in v.images],
    )
    s = v.summary
    out += [
        f"{s['layers_differing']} of {s['layers']} layers differ · "
        f"{s['files_differing']} file differences in layers · "
        f"{s['merged_differing']} in the final filesystem · {s['config_differing']} config fields",
        "",
    ]
    if v.layers:
        out += ["### Layers", ""]
        out += _table(
            ["#", "instruction", "", "files differing", "causes"],
            [
                [
                    str(r.index),
                    esc(r.instruction, 100),
                    "same" if r.same else "**differs**",
                    "" if r.same else str(r.files_differing),
                    esc(r.causes),
                ]
                for r in v.layers
            ],
        )
        out += _hidden(v.hidden_layers, "layers")
    if v.config:
        out += ["### Config fields that differ", ""]
        out += _table(
            ["field", "A", "B", "cause"],
            [[esc(f), esc(a, 80), esc(b, 80), esc(c)] for f, a, b, c in v.config],
        )
        out += _hidden(v.hidden_config, "config fields")
    if v.top:
        out += [f"### Top differing files ({v.files_label})", ""]
        out += _table(["path", "layer", "fields", "cause", "fix", "evidence"], _files(v.top))
        out += _hidden(len(v.details) + v.hidden_files, "differing files")
    if v.fixes:
        out += ["### Fixes", ""]
        out += [f"- {esc(f.fix, 400)} ({esc(f.causes)})" for f in v.fixes]
        out += [""]
    for kind, url in (images or {}).items():
        out += [f"![{kind}]({url})", ""]
    return "\n".join(out)


def render(result: Result, images: bool = False) -> str:
    """Markdown for ``result``; with ``images`` the plots are inlined as PNG data URIs."""
    urls = None
    if images:
        from .plots import KINDS, data_uri, plot

        urls = {kind: data_uri(plot(result, kind)) for kind in KINDS}
    return render_view(build(result, {"details": 0}), urls)
