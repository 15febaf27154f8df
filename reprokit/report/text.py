"""The short human summary printed by the CLI (and ``Result.text()``).

Paths and commands come from images and are untrusted: control characters are escaped so a
hostile file name cannot rewrite the terminal.

>>> clean("a\\x1b[2Jb")
'a\\\\x1b[2Jb'
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Outcome, ParityEntry
    from ..result import Result

WIDTH = 72


def clean(text: object, limit: int | None = None) -> str:
    """One printable line: control characters shown as escapes, optionally shortened."""
    out = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def human_size(n: int | None) -> str:
    """``1536`` → ``1.5 KB``."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def short_step(created_by: str | None) -> str:
    """A Dockerfile-like rendering of a history ``created_by``."""
    if not created_by:
        return "(no history)"
    text = created_by.strip()
    if text.startswith("/bin/sh -c #(nop) "):
        return text[len("/bin/sh -c #(nop) ") :].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c ") :]
    return text


def render(result: Result, top: int = 10) -> str:
    """The summary: verdict, images, layers, config fields, top differing paths."""
    a, b = result.images
    s = result.summary
    lines = [f"reprokit: {result.verdict.upper()} — {clean(result.reason)}"]
    for name, image in (("A", a), ("B", b)):
        lines.append(
            f"  {name}  {clean(image.ref, 48)}  {image.id[:19]}  "
            f"{len(image.diff_ids)} layer(s)  {human_size(image.size)}"
        )
    lines.append(f"layers: {s['layers']}, differing: {s['layers_differing']}")
    fields_by_layer: dict[int | None, Counter[str]] = defaultdict(Counter)
    for d in result.file_diffs:
        fields_by_layer[d.layer].update(d.fields)
    for layer in result.layer_diffs:
        state = "same   " if layer.same else "DIFFERS"
        count = "" if layer.same else f"  {layer.files_differing} file(s)"
        counts = fields_by_layer[layer.index]
        detail = f" [{', '.join(k for k, _ in counts.most_common(4))}]" if counts else ""
        lines.append(
            f"  #{layer.index:<2} {state} {clean(short_step(layer.created_by), 56)}{count}{detail}"
        )
    if result.config_diffs:
        names = [c.field for c in result.config_diffs]
        shown = ", ".join(names[:6]) + (f", … (+{len(names) - 6})" if len(names) > 6 else "")
        lines.append(f"config: {len(names)} field(s) differ: {clean(shown)}")
    diffs = result.merged_diffs or result.file_diffs
    if diffs:
        label = "merged view" if result.merged_diffs else "layers"
        lines.append(f"top differing paths ({label}, {len(diffs)} in all):")
        ranked = sorted(diffs, key=lambda d: (d.fields == ["mtime"], d.path))
        for d in ranked[:top]:
            fields = ", ".join(d.fields) if d.fields else d.change
            where = f"#{d.layer} " if d.layer is not None else ""
            lines.append(f"  {d.change:<8} {where}{clean(d.path, 60)}  {fields}")
        if len(diffs) > top:
            lines.append(f"  … and {len(diffs) - top} more (see the JSON report)")
    if result.kept_images:
        lines.append(f"kept images: {', '.join(result.kept_images)}")
    lines += packages_and_parity(result, top)
    return "\n".join(lines)


def packages_and_parity(result: Result, top: int = 10) -> list[str]:
    """The package diff and the parity outcomes, when the result has them."""
    lines = []
    if result.package_diffs:
        changes = Counter(p.change for p in result.package_diffs)
        counts = ", ".join(f"{n} {c}" for c, n in sorted(changes.items()))
        lines.append(f"packages: {len(result.package_diffs)} differ ({counts})")
        for p in result.package_diffs[:top]:
            versions = f"{p.a or '-'} → {p.b or '-'}"
            lines.append(
                f"  {p.change:<8} {p.manager:<6} {clean(p.name, 40)}  {clean(versions, 60)}"
            )
        if len(result.package_diffs) > top:
            lines.append(f"  … and {len(result.package_diffs) - top} more (see the JSON report)")
    if result.parity:
        agree = sum(1 for e in result.parity if e.good)
        lines.append(f"parity: {agree}/{len(result.parity)} checks agree")
        lines += render_parity(result.parity)
    return lines


def outcome_text(outcome: Outcome) -> str:
    """One side of a parity check as shown: its value (JSON), or its status and message."""
    if outcome.status == "ok":
        return clean(json.dumps(outcome.value, sort_keys=True, default=str), 200)
    if outcome.message:
        return clean(f"{outcome.status}: {outcome.message}", 200)
    return outcome.status


def render_parity(entries: list[ParityEntry], width: int = 36, what: str = "check") -> list[str]:
    """Table lines for parity entries: differing ones first, then the agreeing ones."""
    lines = [f"  {'':4} {what:<{width}} {'A':<{width}} B"]
    ranked = sorted(entries, key=lambda e: e.good)
    for e in ranked:
        mark = "same" if e.good else "DIFF" if not e.same else "FAIL"
        if "error" in (e.a.status, e.b.status):
            mark = "ERR "
        shown_a, shown_b = _differing_part(e.a), _differing_part(e.b)
        va, vb = e.a.value, e.b.value
        if e.a.status == e.b.status == "ok" and isinstance(va, dict) and isinstance(vb, dict):
            keys = {k for k in va.keys() | vb.keys() if va.get(k) != vb.get(k)}
            if keys:
                shown_a, shown_b = _differing_part(e.a, keys), _differing_part(e.b, keys)
        lines.append(
            f"  {mark:<4} {clean(e.name, width):<{width}} "
            f"{clean(shown_a, width):<{width}} {clean(shown_b, 2 * width)}"
        )
    return lines


def _differing_part(outcome: Outcome, keys: set[str] | None = None) -> str:
    """An outcome as shown in the table; with ``keys``, only those keys of a dict value."""
    if keys is None or not isinstance(outcome.value, dict):
        return outcome_text(outcome)
    part = {k: outcome.value.get(k) for k in sorted(keys)}
    return clean(json.dumps(part, default=str), 200)
