"""The short human summary printed by the CLI (``text()`` of every result kind).

Paths and commands come from images and are untrusted: every string goes through
:func:`reprokit.text.clean`. Selection and order come from :mod:`reprokit.report.view`.
"""

from __future__ import annotations

import textwrap
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from ..layer_history import display
from ..text import clean, human_size, middle, one_line, terminal_width
from .view import (
    EXTRA,
    differences,
    headline,
    outcome_text,
    parity_cells,
    ranked_parity,
    shown_value,
    top_differences,
)

if TYPE_CHECKING:
    from ..auditing.images import ImagesResult
    from ..auditing.model import Finding
    from ..auditing.result import AuditResult
    from ..baseline import ReplayResult
    from ..behaviour.result import ParityResult
    from ..fixing import FixResult
    from ..model import ParityEntry
    from ..packages.model import Inventory
    from ..result import Result

__all__ = ["headline", "outcome_text", "parity_cells", "render", "render_parity"]

WIDTH = 72


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


#: how many entries each kind lists when ``top`` is not given
TOP = {
    "comparison": 10,
    "parity": 0,
    "audit": 30,
    "drift": 50,
    "inventory": 50,
    "replay": 30,
    "images": 0,
    "fix": 0,
}


def render(result: Any, top: int | None = None) -> str:
    """The summary of a result of any kind (``top``: the longest list's length; 0 = all)."""
    kind = result.kind
    renderers = {
        "comparison": render_comparison,
        "parity": render_parity_result,
        "audit": render_audit,
        "drift": render_audit,
        "inventory": render_inventory,
        "replay": render_replay,
        "images": render_images,
        "fix": render_fix,
    }
    if kind in EXTRA:
        return EXTRA[kind].text(result, top)  # type: ignore[no-any-return]
    if kind not in renderers:
        raise ValueError(f"no text presenter for results of kind {kind!r}")
    return renderers[kind](result, TOP[kind] if top is None else top)


def render_comparison(result: Result, top: int = 10) -> str:
    """The summary: verdict, images, layers by step and cause, config, top paths, fixes."""
    a, b = result.images
    s = result.summary
    lines = [f"reprokit: {result.verdict.upper()} — {clean(result.reason)}"]
    lines.append(clean(headline(result)))
    for name, image in (("A", a), ("B", b)):
        lines.append(
            f"  {name}  {clean(image.ref, 48)}  {image.id[:19]}  "
            f"{len(image.diff_ids)} layer(s)  {human_size(image.size)}"
        )
        lines.extend(f"     note: {clean(note, 160)}" for note in image.notes)
    counted = [d for d in (*result.file_records, *result.merged_records) if not d.ignored]
    if result.explained is not None:
        unknown = ("unexplained", "unexamined")
        unexplained = {d.path for d in counted if d.cause in unknown}
        unexplained |= {c.field for c in result.config_records if c.cause in unknown}
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
        name = step.instruction if step else display(layer.created_by)
        line = f" (line {clean(step.dockerfile_line)})" if step and step.dockerfile_line else ""
        count = "" if layer.same else f"  {layer.files_differing} file(s)"
        counts = causes_by_layer[layer.index]
        detail = f" [{_counts(counts)}]" if counts else ""
        lines.append(f"  #{clean(layer.index):<2} {state} {clean(name, 52)}{line}{count}{detail}")
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
    label, diffs = differences(result)
    if diffs:
        lines.append(f"top differing paths ({label}, {len(diffs)} in all):")
        for d in top_differences(result, top):
            what = d.cause or (", ".join(d.fields) if d.fields else d.change)
            if d.ignored:
                what += " (ignored)"
            where = f"#{clean(d.layer)} " if d.layer is not None else ""
            room = max(40, terminal_width() - 14 - len(where) - len(what))
            lines.append(f"  {clean(d.change):<8} {where}{middle(d.path, room)}  {clean(what, 80)}")
            if d.evidence and d.cause not in (None, "timestamp"):
                lines.append(f"           {one_line(d.evidence, terminal_width() - 12)}")
        if len(diffs) > top:
            lines.append(f"  … and {len(diffs) - top} more (see the JSON report)")
    if result.step_records:
        lines.append("fixes, by step:")
        for st in result.step_records:
            line = f" (Dockerfile line {clean(st.dockerfile_line)})" if st.dockerfile_line else ""
            lines.append(f"  #{clean(st.layer)}{line} {clean(st.instruction, 60)}")
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
    if result.parity_records:
        agree = sum(1 for e in result.parity_records if e.good)
        lines.append(f"parity: {agree}/{len(result.parity_records)} checks agree")
        lines += render_parity(result.parity_records)
    return lines


def render_parity(entries: list[ParityEntry], width: int = 36, what: str = "check") -> list[str]:
    """Table lines for parity entries: differing ones first, then the agreeing ones."""
    lines = [f"  {'':4} {what:<{width}} {'A':<{width}} B"]
    for e in ranked_parity(entries):
        mark, shown_a, shown_b = parity_cells(e)
        a, b = side_by_side(clean(shown_a), clean(shown_b), width)
        lines.append(f"  {mark:<4} {clean(e.name, width):<{width}} {a:<{width}} {b}")
    return lines


def side_by_side(a: str, b: str, width: int) -> tuple[str, str]:
    """Two outcomes cut alike to ``width``, around where they first differ, so the part that
    differs shows on both sides.

    >>> side_by_side("x" * 50 + "A", "x" * 50 + "B", 12)
    ('…xxxxxxxxxA', '…xxxxxxxxxB')
    >>> side_by_side("short", "also short", 36)
    ('short', 'also short')
    """
    if len(a) <= width and len(b) <= width:
        return a, b
    pairs = enumerate(zip(a, b, strict=False))
    first = next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
    start = max(0, first - (width - 3)) if first >= width - 2 else 0

    def cut(text: str) -> str:
        part = text[start:]
        head = "…" if start else ""
        room = width - len(head)
        return head + (part if len(part) <= room else part[: room - 1] + "…")

    return cut(a), cut(b)


def render_parity_result(result: ParityResult, top: int = 0, width: int = 36) -> str:
    """A side-by-side table: each check, its outcome on A and on B, and whether they agree."""
    lines = [
        clean(headline(result)),
        f"  A  {clean(result.images[0], 60)}",
        f"  B  {clean(result.images[1], 60)}",
    ]
    entries = ranked_parity(result.parity_records)
    shown = entries[:top] if top else entries
    lines += render_parity(shown, width, "test" if result.what == "tests" else "check")
    if len(shown) < len(entries):
        lines.append(f"  … and {len(entries) - len(shown)} more (see the JSON report)")
    return "\n".join(lines)


def render_audit(result: AuditResult, top: int = 30, per_rule: int = 5) -> str:
    """Findings grouped by rule, each rule's fix once, at most ``per_rule`` findings a rule and
    about ``top`` in all; then the drifted paths."""
    from ..auditing.rules import RULES

    lines = [clean(headline(result))]
    groups: dict[str, list[Finding]] = {}
    for f in result.finding_records:  # already ordered by severity
        groups.setdefault(f.rule, []).append(f)
    shown = 0
    for rule, found in groups.items():
        title = RULES[rule].title if rule in RULES else rule
        lines.append(f"{found[0].severity.upper():<6} {clean(rule)} ({len(found)}): {clean(title)}")
        listed = found[: max(1, min(per_rule, top - shown))]
        for f in listed:
            where = f.where if f.layer is None else f"{f.where} #{clean(f.layer)}"
            if f.removed_in is not None:
                where += f"→#{clean(f.removed_in)}"
            lines.append(f"  {clean(where)}  {clean(f.path or '', 70)}")
            wrapped = textwrap.wrap(clean(f.message), 104, max_lines=3, placeholder=" …")
            lines.extend(f"      {line}" for line in wrapped)
            if f.evidence:
                lines.append(f"      evidence: {clean(f.evidence, 94)}")
        shown += len(listed)
        if len(found) > len(listed):
            lines.append(f"  … and {len(found) - len(listed)} more")
        lines.append(f"  fix: {clean(found[0].fix, 116)}")
    for d in result.drift_records[:top]:
        fields = f" [{', '.join(d.fields)}]" if d.fields else ""
        detail = f"  {clean(d.detail, 60)}" if d.detail else ""
        lines.append(f"  {d.change:<8} {d.cls:<14} {clean(d.path, 70)}{clean(fields)}{detail}")
    if len(result.drift_records) > top:
        lines.append(f"  … and {len(result.drift_records) - top} more (see the JSON report)")
    return "\n".join(lines)


def render_replay(result: ReplayResult, top: int = 30) -> str:
    """The facts that differ: expected and found."""
    lines = [clean(headline(result))]
    for m in result.mismatch_records[:top]:
        lines.append(
            f"  {clean(m.fact, 40):<40} expected {clean(shown_value(m.expected), 40):<40} "
            f"found {clean(shown_value(m.actual), 40)}"
        )
    if len(result.mismatch_records) > top:
        lines.append(f"  … and {len(result.mismatch_records) - top} more (see --json)")
    return "\n".join(lines)


def render_inventory(result: Inventory, top: int = 50) -> str:
    """The summary ``reprokit inventory`` prints (image content escaped)."""
    r = result
    os_name = r.os.get("PRETTY_NAME") or r.os.get("ID") or "unknown (no os-release)"
    counts = ", ".join(f"{n} {m}" for m, n in sorted(r.managers.items())) or "none found"
    users = ", ".join(str(u.get("name")) for u in r.user_records) or "-"
    lines = [
        f"inventory of {clean(r.ref, 60)}  {r.id[:19]}",
        f"  os:          {clean(os_name, 60)}",
        f"  platform:    {clean(r.platform or '?')}",
        f"  packages:    {counts}",
        f"  users:       {clean(users, 100)}",
        f"  groups:      {len(r.group_records)}",
        f"  entrypoint:  {clean(r.entrypoint, 80)}",
        f"  cmd:         {clean(r.cmd, 80)}",
        f"  user:        {clean(r.user or '(root)', 40)}",
        f"  workdir:     {clean(r.workdir or '/', 60)}",
        f"  ports:       {clean(', '.join(r.exposed_ports) or '-')}",
        f"  env:         {len(r.env)} variable(s)",
        f"  labels:      {len(r.labels)}",
    ]
    if r.package_records:
        lines.append(f"packages ({len(r.package_records)}):")
        for p in r.package_records[:top]:
            lines.append(f"  {p.manager:<7} {clean(p.name, 40):<40} {clean(p.version, 40)}")
        if len(r.package_records) > top:
            lines.append(f"  … and {len(r.package_records) - top} more (see --json)")
    return "\n".join(lines)


def render_images(result: ImagesResult, top: int = 0) -> str:
    """The engine's images, one a line: id, size, age, use, dangling state and tags."""
    lines = [f"{'IMAGE ID':<19} {'SIZE':>9} {'AGE':>8} {'USED':>4} {'DANGLING':<8} TAGS"]
    records = result.image_records[:top] if top else result.image_records
    for r in records:
        tags = ", ".join(r.get("tags") or []) or "<none>"
        used = f"{r.get('containers', 0)}" + ("*" if r.get("running") else "")
        lines.append(
            f"{clean(r.get('id', ''))[:19]:<19} {human_size(r.get('size')):>9} "
            f"{r.get('age_days')!s:>7}d {used:>4} {'yes' if r.get('dangling') else 'no':<8} "
            f"{clean(tags, 80)}"
        )
    if len(records) < len(result.image_records):
        lines.append(f"… and {len(result.image_records) - len(records)} more (see --json)")
    return "\n".join(lines)


def render_fix(result: FixResult, top: int = 0) -> str:
    """What ``reprokit fix`` prints: the verdict before, each round's edits and verdict, the
    verdict after, the patch, what is left and why, and whether the requirement is met."""
    b = result.before
    lines = [f"before: {b.verdict.upper()} — {clean(b.reason)}"]
    for r in result.round_records:
        what = r.describe()
        outcome = f" → {r.verdict.upper()}" if r.verdict else " (not verified)"
        lines.append(f"round {r.number}: {clean(what)}{outcome}")
    if result.after is not None:
        lines.append(f"after: {result.after.verdict.upper()} — {clean(result.after.reason)}")
    patch = result.patch
    if patch:
        lines.append(f"patched Dockerfile: {clean(str(result.dockerfile))}")
        lines += ["  " + clean(line) for line in patch.splitlines()]
    else:
        lines.append("no change to the Dockerfile")
    for u in result.unfixed_records:
        where = f"line {u.line} " if u.line else ""
        lines.append(f"not fixed: {where}{clean(u.cause)} ({u.count}): {clean(u.why)}")
    state = "reached" if result.ok else "NOT reached"
    lines.append(f"required verdict {result.require}: {state} ({result.duration_s:.0f} s)")
    return "\n".join(lines)
