"""The short human summary printed by the CLI (and ``Result.text()``).

Paths and commands come from images and are untrusted: every string goes through
:func:`reprokit.text.clean`.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from ..text import clean, human_size, middle, one_line, short_step, terminal_width

if TYPE_CHECKING:
    from ..model import FileDiff, Outcome, ParityEntry
    from ..result import Result

WIDTH = 72


def _rank(d: FileDiff) -> tuple[int, str]:
    """Unexplained first, then other real causes, then timestamps; ignored ones last."""
    if d.ignored:
        return 4, d.path
    if d.cause == "unexplained":
        return 0, d.path
    if d.cause is None:
        return (2 if d.fields == ["mtime"] else 1), d.path
    return (3 if d.cause in ("timestamp",) else 1), d.path


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


def render(result: Result, top: int = 10) -> str:
    """The summary: verdict, images, layers by step and cause, config, top paths, fixes."""
    a, b = result.images
    s = result.summary
    lines = [f"reprokit: {result.verdict.upper()} — {clean(result.reason)}"]
    for name, image in (("A", a), ("B", b)):
        lines.append(
            f"  {name}  {clean(image.ref, 48)}  {image.id[:19]}  "
            f"{len(image.diff_ids)} layer(s)  {human_size(image.size)}"
        )
    counted = [d for d in (*result.file_records, *result.merged_records) if not d.ignored]
    if result.explained is not None:
        unexplained = {d.path for d in counted if d.cause == "unexplained"}
        unexplained |= {c.field for c in result.config_records if c.cause == "unexplained"}
        lines.append(
            "explained: every difference has a known cause"
            if result.explained
            else f"explained: NO — {len(unexplained)} difference(s) have no known cause"
        )
    ignored = result.ignored_count
    if ignored:
        lines.append(f"ignored: {ignored} difference(s), reported but not counted")
    lines.append(f"layers: {s['layers']}, differing: {s['layers_differing']}")
    steps = {st.layer: st for st in result.step_records}
    causes_by_layer: dict[int | None, Counter[str]] = defaultdict(Counter)
    for d in result.file_records:
        causes_by_layer[d.layer].update([d.cause] if d.cause else d.fields)
    for layer in result.layer_records:
        state = "same   " if layer.same else "DIFFERS"
        step = steps.get(layer.index)
        name = step.instruction if step else short_step(layer.created_by)
        line = f" (line {step.dockerfile_line})" if step and step.dockerfile_line else ""
        count = "" if layer.same else f"  {layer.files_differing} file(s)"
        counts = causes_by_layer[layer.index]
        detail = f" [{_counts(counts)}]" if counts else ""
        lines.append(f"  #{layer.index:<2} {state} {clean(name, 52)}{line}{count}{detail}")
    if result.config_records:
        by_cause = Counter(c.cause for c in result.config_records if c.cause)
        names = [c.field for c in result.config_records]
        if by_cause:
            shown = _counts(by_cause)
        else:
            shown = ", ".join(names[:6]) + (f", … (+{len(names) - 6})" if len(names) > 6 else "")
        lines.append(f"config: {len(names)} field(s) differ: {clean(shown)}")
        for c in result.config_records:
            if c.cause == "unexplained" and not c.ignored:
                lines.append(f"  {clean(c.field, 40)}: {one_line(c.evidence)}")
    diffs = result.merged_records or result.file_records
    if diffs:
        label = "merged view" if result.merged_records else "layers"
        lines.append(f"top differing paths ({label}, {len(diffs)} in all):")
        for d in sorted(diffs, key=_rank)[:top]:
            what = d.cause or (", ".join(d.fields) if d.fields else d.change)
            if d.ignored:
                what += " (ignored)"
            where = f"#{d.layer} " if d.layer is not None else ""
            room = max(40, terminal_width() - 14 - len(where) - len(what))
            lines.append(f"  {d.change:<8} {where}{middle(d.path, room)}  {what}")
            if d.evidence and d.cause not in (None, "timestamp"):
                lines.append(f"           {one_line(d.evidence, terminal_width() - 12)}")
        if len(diffs) > top:
            lines.append(f"  … and {len(diffs) - top} more (see the JSON report)")
    if result.step_records:
        lines.append("fixes, by step:")
        for st in result.step_records:
            line = f" (Dockerfile line {st.dockerfile_line})" if st.dockerfile_line else ""
            lines.append(f"  #{st.layer}{line} {clean(st.instruction, 60)}")
            if st.causes:
                lines.append(f"     causes: {_counts(Counter(st.causes))}")
            lines.extend(
                textwrap.wrap(
                    clean(st.fix),
                    WIDTH + 28,
                    initial_indent="     fix: ",
                    subsequent_indent="          ",
                    break_on_hyphens=False,
                )
            )
    if result.kept_images:
        lines.append(f"kept images: {', '.join(result.kept_images)}")
    lines += packages_and_parity(result, top)
    lines += render_builds(result)
    return "\n".join(lines)


def render_builds(result: Result) -> list[str]:
    """The builder line; then, when there is more to say than two plain builds: each build's
    variations, the builders' notes, runs, culprits and suggestions."""
    lines: list[str] = []
    builds = result.builds
    plain = len(builds) <= 2 and not any(b.variations or b.notes for b in builds)
    if builds:
        first = builds[0]
        where = f" on {clean(first.engine)}" if first.engine else ""
        version = f" {clean(first.version)}" if first.version else ""
        lines.append(f"builder: {clean(first.builder)}{version}{where}")
    if builds and not (plain and not result.culprits and not result.suggestions):
        for b in builds:
            varied = ", ".join(b.variations) if b.variations else "no variation"
            engine = f" on {clean(b.engine)}" if b.engine and b.engine != first.engine else ""
            lines.append(
                f"  build {clean(b.name)}: {varied}{engine}  {clean(b.image_id)[:19]}  "
                f"{round(b.duration_s, 3):.1f} s"  # as the JSON report keeps it
            )
        for note in dict.fromkeys(n for b in builds for n in b.notes):
            lines.append(f"  note: {clean(note)}")
    if len(result.runs) > 1:
        lines.append("runs (each against the first):")
        for r in result.runs:
            varied = f" [{', '.join(r.variations)}]" if r.variations else ""
            lines.append(f"  {r.a} vs {r.b}: {r.verdict}{varied}")
        groups: dict[str, list[str]] = {}
        for b in builds:
            groups.setdefault(b.image_id, []).append(b.name)
        if len(builds) > 2:
            agree = "; ".join("=".join(names) for names in groups.values())
            lines.append(f"  same image: {agree}")
    search = result.culprits
    if search:
        lines.append(f"culprits: {clean(search.conclusion)}")
        for c in search.culprits:
            state = "BREAKS" if c.breaks else "ok    "
            lines.append(f"  {state} {clean(c.variation)}: {c.verdict}")
            if c.breaks:
                touched = ", ".join(
                    f"{clean(f['path'], 60)} ({', '.join(f['fields'])})" for f in c.files[:5]
                )
                if touched:
                    more = f" … (+{len(c.files) - 5})" if len(c.files) > 5 else ""
                    lines.append(f"         files: {touched}{more}")
                if c.config:
                    lines.append(f"         config: {clean(', '.join(c.config[:6]))}")
                if c.explanation:
                    lines.append(f"         why: {clean(c.explanation)}")
    for suggestion in result.suggestions:
        lines.append(f"suggestion: {clean(suggestion)}")
    return lines


def packages_and_parity(result: Result, top: int = 10) -> list[str]:
    """The package diff and the parity outcomes, when the result has them."""
    lines = []
    if result.package_records:
        changes = Counter(p.change for p in result.package_records)
        counts = ", ".join(f"{n} {c}" for c, n in sorted(changes.items()))
        lines.append(f"packages: {len(result.package_records)} differ ({counts})")
        for p in result.package_records[:top]:
            versions = f"{p.a or '-'} → {p.b or '-'}"
            lines.append(
                f"  {p.change:<8} {p.manager:<6} {clean(p.name, 40)}  {clean(versions, 60)}"
            )
        if len(result.package_records) > top:
            lines.append(f"  … and {len(result.package_records) - top} more (see the JSON report)")
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
    for e in ranked_parity(entries):
        mark, shown_a, shown_b = parity_cells(e)
        lines.append(
            f"  {mark:<4} {clean(e.name, width):<{width}} "
            f"{clean(shown_a, width):<{width}} {clean(shown_b, 2 * width)}"
        )
    return lines


def ranked_parity(entries: list[ParityEntry]) -> list[ParityEntry]:
    """Parity entries as every presenter lists them: those that differ or fail first."""
    return sorted(entries, key=lambda e: e.good)


def parity_cells(entry: ParityEntry) -> tuple[str, str, str]:
    """One parity entry as shown: its mark (``same``, ``DIFF``, ``FAIL``, ``ERR``) and each
    side's outcome; of two dict values, only the keys whose values differ.

    >>> from reprokit.model import Outcome, ParityEntry
    >>> a, b = Outcome("ok", {"uid": 1, "gid": 2}), Outcome("ok", {"uid": 3, "gid": 2})
    >>> parity_cells(ParityEntry("user app", a, b))
    ('DIFF', '{"uid": 1}', '{"uid": 3}')
    """
    e = entry
    mark = "same" if e.good else "DIFF" if not e.same else "FAIL"
    if "error" in (e.a.status, e.b.status):
        mark = "ERR"
    shown_a, shown_b = _differing_part(e.a), _differing_part(e.b)
    va, vb = e.a.value, e.b.value
    if e.a.status == e.b.status == "ok" and isinstance(va, dict) and isinstance(vb, dict):
        keys = {k for k in va.keys() | vb.keys() if va.get(k) != vb.get(k)}
        if keys:
            shown_a, shown_b = _differing_part(e.a, keys), _differing_part(e.b, keys)
    return mark, shown_a, shown_b


def _differing_part(outcome: Outcome, keys: set[str] | None = None) -> str:
    """An outcome as shown in the table; with ``keys``, only those keys of a dict value."""
    if keys is None or not isinstance(outcome.value, dict):
        return outcome_text(outcome)
    part = {k: outcome.value.get(k) for k in sorted(keys)}
    return clean(json.dumps(part, default=str), 200)
