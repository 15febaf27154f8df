"""What a report shows, computed once and rendered by every presenter (text, HTML, Markdown,
notebook).

The view decides selection, ranking and truncation; presenters only format. Nothing here
escapes text: each presenter escapes for its own format. A comparison gets a :class:`View`
(:func:`build`); every other kind a :class:`Document` of facts and tables (:func:`document`).
The one ranking of differing paths is :func:`rank`, listed by :func:`top_differences`.

>>> from reprokit.model import ImageInfo, LayerDiff, FileDiff
>>> from reprokit.result import Result
>>> img = ImageInfo("a", "sha256:1", ["sha256:x"])
>>> r = Result("different", "content differs", (img, img),
...     layer_records=[LayerDiff(0, "sha256:x", "sha256:y", False, "RUN make", 1)],
...     file_records=[FileDiff("/app/x", "modified", ["content"], layer=0, cause="timestamp")])
>>> v = build(r)
>>> v.layers[0].causes, v.top[0].path, v.hidden_files
('timestamp 1', '/app/x', 0)
>>> v.packages, v.parity, v.build  # nothing to show: no section
([], [], None)
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..explain.causes import CAUSES, NOT_EXPLAINED, TIME_ONLY
from ..layer_history import display
from ..text import clean, human_size

if TYPE_CHECKING:
    from ..auditing.images import ImagesResult
    from ..auditing.model import Finding
    from ..auditing.result import AuditResult
    from ..baseline import ReplayResult
    from ..behaviour.result import ParityResult
    from ..fixing import FixResult
    from ..model import (
        BuildInfo,
        ConfigDiff,
        Culprit,
        FileDiff,
        Outcome,
        PackageDiff,
        ParityEntry,
        StepExplanation,
    )
    from ..packages.model import Inventory
    from ..result import Result

#: Banner colour (background, text) per verdict.
COLOURS = {
    "identical": ("#1b7f3b", "#ffffff"),
    "equivalent": ("#1f5fa8", "#ffffff"),
    "different": ("#b3261e", "#ffffff"),
}
NONE = "—"
#: How many rows each table shows at most; the DataFrames keep everything.
LIMITS = {
    "layers": 200,
    "config": 50,
    "top": 20,
    "details": 500,
    "fixes": 20,
    "packages": 50,
    "parity": 50,
    "runs": 50,
    "culprits": 50,
    "suggestions": 20,
    "unexplained": 50,
}
#: How many of a culprit's files and config fields are named.
CULPRIT_FILES, CULPRIT_CONFIG = 5, 6


@dataclass
class ImageRow:
    name: str
    ref: str
    id: str
    layers: int
    size: str
    platform: str
    created: str


@dataclass
class LayerRow:
    index: int
    instruction: str
    same: bool
    files_differing: int
    causes: str
    size_a: str
    size_b: str


@dataclass
class FileRow:
    path: str
    layer: str
    change: str
    fields: str
    cause: str
    fix: str
    evidence: str
    ignored: bool


@dataclass
class FixRow:
    fix: str
    causes: str
    count: int


@dataclass
class TimestampRow:
    """Every timestamp-only difference of one layer, as one row."""

    layer: str
    #: the layer's Dockerfile step (``#1 RUN … (line 3)``), or its instruction
    step: str
    count: int
    #: the range of ``mtime`` deltas B − A (``+1 s … +2 s``)
    deltas: str
    fix: str


@dataclass
class StepFixRow:
    """One fix, once, with the steps (and Dockerfile lines) it applies to."""

    fix: str
    #: ``#1 (line 3), #3 (line 5)``
    steps: str
    causes: str
    count: int


@dataclass
class PackageRow:
    change: str
    manager: str
    name: str
    a: str
    b: str


@dataclass
class ParityRow:
    #: ``same``, ``DIFF``, ``FAIL`` (same failure on both) or ``ERR``
    mark: str
    name: str
    a: str
    b: str


@dataclass
class BuildRow:
    name: str
    #: the variations applied (``no variation``), and the engine when not the first build's
    variations: str
    image_id: str
    duration: str


@dataclass
class RunRow:
    a: str
    b: str
    verdict: str
    variations: str
    role: str


@dataclass
class CulpritRow:
    variation: str
    breaks: bool
    verdict: str
    #: only for a variation that breaks: what it changed and why
    files: str
    config: str
    explanation: str


@dataclass
class BuildsView:
    """The builds of a check: builder, builds, runs, culprit search, suggestions."""

    builder: str
    version: str
    engine: str
    builds: list[BuildRow]
    #: more than two builds, variations or notes: each build gets a row (else one line)
    detailed: bool
    notes: list[str]
    runs: list[RunRow]
    hidden_runs: int
    #: which builds made the same image (``a=b; c``), when there were more than two
    same_image: str
    conclusion: str | None
    culprits: list[CulpritRow]
    hidden_culprits: int
    suggestions: list[str]
    hidden_suggestions: int


@dataclass
class View:
    """Everything a report page shows, already selected and truncated."""

    verdict: str
    reason: str
    colour: tuple[str, str]
    explained: bool | None
    images: list[ImageRow]
    summary: dict[str, int]
    layers: list[LayerRow]
    hidden_layers: int
    config: list[tuple[str, str, str, str]]
    hidden_config: int
    top: list[FileRow]
    details: list[FileRow]
    hidden_files: int
    files_label: str
    fixes: list[FixRow]
    causes: list[tuple[str, int]]
    spec: dict[str, Any] | None
    packages: list[PackageRow] = field(default_factory=list)
    hidden_packages: int = 0
    #: ``3 changed, 1 removed``
    package_counts: str = ""
    parity: list[ParityRow] = field(default_factory=list)
    hidden_parity: int = 0
    #: (checks that agree, checks)
    parity_agree: tuple[int, int] = (0, 0)
    build: BuildsView | None = None
    #: what stands between this verdict and the next (:func:`headline`)
    headline: str = ""
    #: the differences without a known cause (unexplained, unexamined), listed first in
    #: every format, each with its evidence or why its content was not read
    unexplained: list[FileRow] = field(default_factory=list)
    hidden_unexplained: int = 0
    #: the differences beyond timestamps (what the first screen lists), in rank order
    changes: list[FileRow] = field(default_factory=list)
    hidden_changes: int = 0
    #: timestamp-only differences, one row per layer
    timestamps: list[TimestampRow] = field(default_factory=list)
    #: each fix once, labelled with its steps and Dockerfile lines
    step_fixes: list[StepFixRow] = field(default_factory=list)


def _text(value: Any) -> str:
    return NONE if value is None or value == "" else str(value)


def rank(d: FileDiff) -> tuple[bool, int, str, str]:
    """The one order of differing paths in every report: those that count before ignored ones;
    among them unexplained (and unexamined) first, then other causes (and undiagnosed content
    changes), then undiagnosed mtime-only changes, then timestamps; then by path and layer.

    >>> from reprokit.model import FileDiff
    >>> diffs = [FileDiff("/a", "modified", ["mtime"], cause="timestamp"),
    ...          FileDiff("/b", "modified", ["content"], cause="unexplained"),
    ...          FileDiff("/c", "modified", ["content"], cause="build-id", ignored=True)]
    >>> [d.path for d in sorted(diffs, key=rank)]
    ['/b', '/a', '/c']
    """
    if d.cause in NOT_EXPLAINED:
        tier = 0
    elif d.cause is None:
        tier = 2 if d.fields == ["mtime"] else 1
    else:
        tier = 3 if d.cause == "timestamp" else 1
    return (d.ignored, tier, d.path, "" if d.layer is None else f"{d.layer:09d}")


def differences(result: Result) -> tuple[str, list[FileDiff]]:
    """The differing paths every report lists: per layer, or the merged view when there are
    no per-layer ones; with their label (``per-layer`` or ``merged view``)."""
    if result.file_records:
        return "per-layer", result.file_records
    return "merged view", result.merged_records


def top_differences(result: Result, n: int) -> list[FileDiff]:
    """The ``n`` first differing paths in :func:`rank` order (what every presenter lists)."""
    return heapq.nsmallest(n, differences(result)[1], key=rank)


def unexplained_differences(result: Result) -> list[FileDiff]:
    """The differences that count and have no known cause (``unexplained``, ``unexamined``)."""
    return [d for d in differences(result)[1] if d.cause in NOT_EXPLAINED and not d.ignored]


#: causes ``reprokit fix`` removes with a Dockerfile edit (a cleanup, a flag, an ARG)
PATCHABLE = frozenset(
    {"log-file", "package-manager-cache", "ldconfig-cache", "identity", "vcs-metadata",
     "python-bytecode", "embedded-timestamp"}
)  # fmt: skip


def outlook(result: Result) -> tuple[str, str]:
    """``(what, next)``: what keeps a comparison from the next better verdict, and what would
    get it there (see :func:`headline`).

    >>> from reprokit.model import ImageInfo, FileDiff, StepExplanation
    >>> from reprokit.result import Result
    >>> img = ImageInfo("a", "sha256:1", [])
    >>> pyc = [FileDiff(f"/x/{i}.pyc", "modified", ["content"], 7, cause="python-bytecode")
    ...        for i in range(3)]
    >>> step = StepExplanation(7, "RUN pip install x", 12, {"python-bytecode": 3}, "…")
    >>> what, nxt = outlook(Result("different", "", (img, img), file_records=pyc,
    ...     step_records=[step]))
    >>> what[:30], nxt
    ('3 python-bytecode differences ', '`reprokit fix` can patch step #7 (line 12)')
    """
    counted = [d for d in differences(result)[1] if not d.ignored]
    config = [c for c in result.config_records if not c.ignored]
    if result.verdict == "identical":
        return "the images are the same bit for bit", "nothing to fix"
    unknown = [d for d in counted if d.cause in NOT_EXPLAINED]
    unknown_config = [c for c in config if c.cause in NOT_EXPLAINED]
    if unknown or unknown_config:
        unread = sum(1 for d in unknown if d.cause == "unexamined")
        n = len(unknown) + len(unknown_config)
        what = f"{n} difference(s) have no known cause"
        if unread:
            what += f" ({unread} not read: past an evidence limit)"
        nxt = "read them first (listed first below)"
        if unread:
            nxt += "; raise the evidence limits (reprokit.toml) to have them examined"
        return what, nxt + ", then add a rule or an ignore"
    if result.verdict == "equivalent":
        causes = Counter(d.cause or "unexplained" for d in counted)
        causes.update(c.cause or "unexplained" for c in config)
        ignored = sum(1 for d in differences(result)[1] if d.ignored)
        what = (
            "only timestamps differ" if set(causes) <= TIME_ONLY else "only tolerated fields differ"
        )
        if ignored:
            what += f" ({ignored} ignored difference(s))"
        advice = next((s for s in result.suggestions if s.startswith("file times: ")), None)
        advice = advice or next((s for s in result.suggestions), None)
        if advice:
            return what, f"for identical: {advice.removeprefix('file times: ')}"
        return what, "for identical: a builder that clamps file times (`--source-date-epoch 0`)"
    causes = Counter(d.cause for d in counted if d.cause and d.cause not in TIME_ONLY)
    causes.update(c.cause for c in config if c.cause and c.cause not in TIME_ONLY)
    if not causes:
        return clean(result.reason, 200), "see the differences below"
    cause, n = causes.most_common(1)[0]
    summary = CAUSES[cause].summary if cause in CAUSES else ""
    what = f"{n} {cause} difference(s)" if n != 1 else f"1 {cause} difference"
    what = (what.replace("(s)", "s") if n != 1 else what) + (f" ({summary})" if summary else "")
    steps = [s for s in result.step_records if s.causes.get(cause)]
    steps.sort(key=lambda s: -s.causes.get(cause, 0))
    if steps:
        where = f"step #{steps[0].layer}" + (
            f" (line {steps[0].dockerfile_line})" if steps[0].dockerfile_line else ""
        )
        if cause in PATCHABLE and steps[0].dockerfile_line:
            return what, f"`reprokit fix` can patch {where}"
        return what, f"see the fix of {where}"
    fix = CAUSES[cause].fix if cause in CAUSES else "see the fixes below"
    return what, fix


def _row(d: FileDiff) -> FileRow:
    return FileRow(
        path=d.path,
        layer=NONE if d.layer is None else f"#{d.layer}",
        change=d.change,
        fields=", ".join(d.fields) or d.change,
        cause=_text(d.cause),
        fix=_text(d.fix),
        evidence=_text(d.evidence),
        ignored=d.ignored,
    )


def _counts(counter: Counter[str] | dict[str, int]) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v}" for k, v in items) if items else NONE


def cause_counts(result: Result) -> Counter[str]:
    """How many differences (files, or merged paths when there are no per-layer ones, and
    config fields) each cause explains; ``unexplained`` for those without a cause."""
    counts: Counter[str] = Counter()
    for d in result.file_records or result.merged_records:
        counts[d.cause or "unexplained"] += 1
    for c in result.config_records:
        counts[c.cause or "unexplained"] += 1
    return counts


def _package(p: PackageDiff) -> PackageRow:
    return PackageRow(p.change, p.manager, p.name, _text(p.a), _text(p.b))


def _parity(e: ParityEntry) -> ParityRow:
    mark, a, b = parity_cells(e)
    return ParityRow(mark, e.name, a, b)


def _duration(b: BuildInfo) -> str:
    return f"{round(b.duration_s, 3):.1f} s"  # as the JSON report keeps it


def _culprit(c: Culprit) -> CulpritRow:
    files = config = explanation = ""
    if c.breaks:
        files = ", ".join(
            f"{f.get('path', '?')} ({', '.join(f.get('fields') or [])})"
            for f in c.files[:CULPRIT_FILES]
        )
        if len(c.files) > CULPRIT_FILES:
            files += f" … (+{len(c.files) - CULPRIT_FILES})"
        config = ", ".join(c.config[:CULPRIT_CONFIG])
        if len(c.config) > CULPRIT_CONFIG:
            config += f" … (+{len(c.config) - CULPRIT_CONFIG})"
        explanation = c.explanation
    return CulpritRow(c.variation, c.breaks, c.verdict, files, config, explanation)


def builds_view(result: Result, limits: dict[str, int] | None = None) -> BuildsView | None:
    """What the Builds section shows (as ``render_builds`` in the text summary); None when
    the result has no builds, runs, culprit search or suggestions."""
    lim = {**LIMITS, **(limits or {})}
    builds, runs, search = result.builds, result.runs, result.culprits
    if not builds and len(runs) <= 1 and not search and not result.suggestions:
        return None
    first = builds[0] if builds else None
    rows = []
    for b in builds:
        varied = ", ".join(b.variations) if b.variations else "no variation"
        if first and b.engine and b.engine != first.engine:
            varied += f" on {b.engine}"
        rows.append(BuildRow(b.name, varied, b.image_id[:19], _duration(b)))
    groups: dict[str, list[str]] = {}
    for b in builds:
        groups.setdefault(b.image_id, []).append(b.name)
    shown_runs = runs if len(runs) > 1 else []
    culprits = search.culprits if search else []
    return BuildsView(
        builder=first.builder if first else "",
        version=(first.version or "") if first else "",
        engine=(first.engine or "") if first else "",
        builds=rows,
        detailed=len(builds) > 2 or any(b.variations or b.notes for b in builds),
        notes=list(dict.fromkeys(n for b in builds for n in b.notes)),
        runs=[
            RunRow(r.a, r.b, r.verdict, ", ".join(r.variations) or NONE, r.role)
            for r in shown_runs[: lim["runs"]]
        ],
        hidden_runs=max(0, len(shown_runs) - lim["runs"]),
        same_image="; ".join("=".join(n) for n in groups.values()) if len(builds) > 2 else "",
        conclusion=search.conclusion if search else None,
        culprits=[_culprit(c) for c in culprits[: lim["culprits"]]],
        hidden_culprits=max(0, len(culprits) - lim["culprits"]),
        suggestions=result.suggestions[: lim["suggestions"]],
        hidden_suggestions=max(0, len(result.suggestions) - lim["suggestions"]),
    )


def timestamp_only(d: FileDiff) -> bool:
    """Whether a difference is only a timestamp: explained as one, or an undiagnosed
    ``mtime``-only change.

    >>> from reprokit.model import FileDiff
    >>> timestamp_only(FileDiff("/a", "modified", ["mtime"])), timestamp_only(
    ...     FileDiff("/b", "modified", ["content"], cause="embedded-timestamp"))
    (True, False)
    """
    return d.cause == "timestamp" or (d.cause is None and d.fields == ["mtime"])


def seconds(delta: float) -> str:
    """A signed duration, short: ``+1 s``, ``-3 min``, ``+2 h``, ``+5 d``.

    >>> seconds(1), seconds(-190), seconds(7200.4), seconds(0)
    ('+1 s', '-3 min', '+2 h', '0 s')
    """
    if not delta:
        return "0 s"
    sign = "+" if delta > 0 else "-"
    size = abs(delta)
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if size >= span:
            return f"{sign}{size / span:.0f} {unit}"
    return f"{sign}{size:.0f} s"


def _step_label(layer: int | None, steps: dict[int, StepExplanation]) -> str:
    if layer is None:
        return "final filesystem"
    step = steps.get(layer)
    if step is None:
        return f"#{layer}"
    line = f" (line {step.dockerfile_line})" if step.dockerfile_line else ""
    return f"#{layer}{line}"


def timestamp_rows(result: Result) -> list[TimestampRow]:
    """Timestamp-only differences, one row per layer: count, range of deltas, the fix."""
    _, diffs = differences(result)
    steps = {s.layer: s for s in result.step_records}
    layers = {layer.index: layer for layer in result.layer_records}
    groups: dict[int | None, list[FileDiff]] = defaultdict(list)
    for d in diffs:
        if timestamp_only(d) and not d.ignored:
            groups[d.layer].append(d)
    rows = []
    for layer, found in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        deltas = sorted(d.b.mtime - d.a.mtime for d in found if d.a and d.b)
        span = NONE
        if deltas:
            low, high = seconds(deltas[0]), seconds(deltas[-1])
            span = low if low == high else f"{low} … {high}"
        step = steps.get(layer) if layer is not None else None
        instruction = (
            step.instruction
            if step
            else display(layers[layer].created_by)
            if layer in layers
            else ""
        )
        fix = next((d.fix for d in found if d.fix), None)
        rows.append(
            TimestampRow(_step_label(layer, steps), instruction, len(found), span, _text(fix))
        )
    return rows


def step_fixes(result: Result) -> list[StepFixRow]:
    """Each fix once (the fix of every difference that counts, and of config fields), with the
    steps it applies to and how many differences it fixes; those fixing most first."""
    _, diffs = differences(result)
    steps = {s.layer: s for s in result.step_records}
    where: dict[str, dict[str, None]] = defaultdict(dict)
    causes: dict[str, Counter[str]] = defaultdict(Counter)
    for d in diffs:
        if d.fix and not d.ignored:
            where[d.fix][_step_label(d.layer, steps)] = None
            causes[d.fix][d.cause or "unexplained"] += 1
    for c in result.config_records:
        if c.fix and not c.ignored:
            where[c.fix]["image config"] = None
            causes[c.fix][c.cause or "unexplained"] += 1
    rows = [
        StepFixRow(fix, ", ".join(where[fix]), _counts(counter), sum(counter.values()))
        for fix, counter in causes.items()
    ]
    return sorted(rows, key=lambda f: (-f.count, f.fix))


def build(result: Result, limits: dict[str, int] | None = None) -> View:
    """The view of ``result``; ``limits`` overrides :data:`LIMITS` entries."""
    lim = {**LIMITS, **(limits or {})}
    a, b = result.images
    images = [
        ImageRow(
            name,
            image.ref,
            image.id,
            len(image.diff_ids),
            human_size(image.size),
            _text(image.platform),
            _text(image.created),
        )
        for name, image in (("A", a), ("B", b))
    ]
    per_layer: dict[int | None, Counter[str]] = defaultdict(Counter)
    for d in result.file_records:
        if d.cause:
            per_layer[d.layer][d.cause] += 1
    steps = {s.layer: s for s in result.step_records}
    layers = []
    for layer in result.layer_records[: lim["layers"]]:
        step = steps.get(layer.index)
        causes = step.causes if step and step.causes else per_layer.get(layer.index, Counter())
        layers.append(
            LayerRow(
                index=layer.index,
                instruction=step.instruction if step else display(layer.created_by),
                same=layer.same,
                files_differing=layer.files_differing,
                causes="" if layer.same else _counts(causes),
                size_a=human_size(layer.size_a),
                size_b=human_size(layer.size_b),
            )
        )
    config = [
        (c.field, _text(c.a), _text(c.b), _text(c.cause))
        for c in result.config_records[: lim["config"]]
    ]
    label, diffs = differences(result)
    shown = top_differences(result, lim["top"] + lim["details"])
    top, details = shown[: lim["top"]], shown[lim["top"] :]
    fixes: dict[str, FixRow] = {}
    for s in result.step_records:
        if s.fix:
            row = fixes.setdefault(s.fix, FixRow(s.fix, _counts(s.causes), 0))
            row.count += sum(s.causes.values()) or 1
    if not fixes:
        fix_causes: dict[str, Counter[str]] = defaultdict(Counter)
        explained: list[FileDiff | ConfigDiff] = [*diffs, *result.config_records]
        for e in explained:
            if e.fix and not e.ignored:
                fix_causes[e.fix][e.cause or "unexplained"] += 1
        for fix, counter in fix_causes.items():
            fixes[fix] = FixRow(fix, _counts(counter), sum(counter.values()))
    fix_rows = sorted(fixes.values(), key=lambda f: (-f.count, f.fix))[: lim["fixes"]]
    package_changes = Counter(p.change for p in result.package_records)
    changes = sorted((d for d in diffs if not timestamp_only(d)), key=rank)
    unknown = sorted(unexplained_differences(result), key=rank)
    parity = ranked_parity(result.parity_records)[: lim["parity"]]
    return View(
        verdict=result.verdict,
        reason=result.reason,
        colour=COLOURS.get(result.verdict, ("#555555", "#ffffff")),
        explained=result.explained,
        images=images,
        summary=result.summary,
        layers=layers,
        hidden_layers=max(0, len(result.layer_records) - lim["layers"]),
        config=config,
        hidden_config=max(0, len(result.config_records) - lim["config"]),
        top=[_row(d) for d in top],
        details=[_row(d) for d in details],
        hidden_files=max(0, len(diffs) - len(shown)),
        files_label=label,
        fixes=fix_rows,
        causes=sorted(cause_counts(result).items(), key=lambda kv: (-kv[1], kv[0])),
        spec=result.spec,
        packages=[_package(p) for p in result.package_records[: lim["packages"]]],
        hidden_packages=max(0, len(result.package_records) - lim["packages"]),
        package_counts=", ".join(f"{n} {c}" for c, n in sorted(package_changes.items())),
        parity=[_parity(e) for e in parity],
        hidden_parity=max(0, len(result.parity_records) - lim["parity"]),
        parity_agree=(
            sum(1 for e in result.parity_records if e.good),
            len(result.parity_records),
        ),
        build=builds_view(result, lim),
        headline=headline(result),
        unexplained=[_row(d) for d in unknown[: lim["unexplained"]]],
        hidden_unexplained=max(0, len(unknown) - lim["unexplained"]),
        changes=[_row(d) for d in changes[: lim["top"]]],
        hidden_changes=max(0, len(changes) - lim["top"]),
        timestamps=timestamp_rows(result),
        step_fixes=step_fixes(result)[: lim["fixes"]],
    )


def outcome_text(outcome: Outcome) -> str:
    """One side of a parity check as shown: its value (JSON), or its status and message."""
    if outcome.status == "ok":
        return clean(json.dumps(outcome.value, sort_keys=True, default=str), 200)
    if outcome.message:
        return clean(f"{outcome.status}: {outcome.message}", 200)
    return outcome.status


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


# --- every other kind: a document of facts and tables ----------------------------------------

#: Rows of a table in a report of another kind; every row is in the JSON and the DataFrame.
TABLE_ROWS = 200
#: Banner colours: passes, fails, and a kind that states facts (inventory, images).
STATE_COLOURS = {
    "ok": COLOURS["identical"],
    "fail": COLOURS["different"],
    "facts": COLOURS["equivalent"],
}


#: presenters of kinds defined outside this module, by kind: an object with ``state(result)``,
#: ``headline(result)``, ``document(result)`` and ``text(result, top)`` (reprokit.report.fleet
#: registers ``survey`` and ``history`` when imported by their result modules)
EXTRA: dict[str, Any] = {}


@dataclass
class Table:
    """One table of a document: plain text cells (each presenter escapes them)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    #: rows not shown (all are in the JSON and in ``frame``)
    hidden: int = 0
    #: the result's DataFrame that holds every row, when there is one
    frame: str | None = None
    #: what a row is, for "… 3 more findings not shown"
    what: str = "rows"
    #: the text shown instead of an empty table
    empty: str = "None."


@dataclass
class Document:
    """What a report of a kind other than a comparison shows, already selected."""

    kind: str
    title: str
    #: one line: what was looked at and what was found
    headline: str
    #: the word on the banner (``HOLDS``, ``DRIFTED``, …) and its colour key (STATE_COLOURS)
    state: str
    tone: str
    facts: list[str]
    tables: list[Table]

    @property
    def colour(self) -> tuple[str, str]:
        return STATE_COLOURS[self.tone]


def shown_value(value: Any) -> str:
    """A fact's value as shown: ``(absent)`` for None, strings as they are, the rest as JSON.

    >>> shown_value(None), shown_value("x"), shown_value({"b": 1, "a": [2]})
    ('(absent)', 'x', '{"a": [2], "b": 1}')
    """
    if value is None:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return NONE
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or NONE
    return str(value)


def _table(
    title: str,
    headers: list[str],
    rows: list[list[Any]],
    frame: str | None,
    what: str,
    empty: str = "None.",
    limit: int = TABLE_ROWS,
) -> Table:
    cells = [[_cell(v) for v in row] for row in rows[:limit]]
    return Table(title, headers, cells, max(0, len(rows) - limit), frame, what, empty)


def state(result: Any) -> tuple[str, str]:
    """The banner word of a result of any kind and its tone (``ok``, ``fail``, ``facts``)."""
    kind = result.kind
    if kind in EXTRA:
        return EXTRA[kind].state(result)  # type: ignore[no-any-return]
    if kind == "comparison":
        return result.verdict.upper(), "ok" if result.ok else "fail"
    if kind == "parity":
        word = "HOLDS" if result.ok else "ERROR" if result.errors else "BROKEN"
        return word, "ok" if result.ok else "fail"
    if kind == "drift":
        return ("NO DRIFT", "ok") if result.ok else ("DRIFTED", "fail")
    if kind == "audit":
        return ("PASSES", "ok") if result.ok else (f"FAILS (--fail-on {result.fail_on})", "fail")
    if kind == "replay":
        return ("MATCHES", "ok") if result.ok else ("DIFFERS", "fail")
    if kind == "fix":
        return ("REACHED", "ok") if result.ok else ("NOT REACHED", "fail")
    return kind.upper(), "facts"


def headline(result: Any) -> str:
    """One line about a result of any kind (not escaped: presenters escape it).

    >>> from reprokit.baseline import ReplayResult
    >>> headline(ReplayResult("app:2", "sha256:2", "app:1", checked=4))
    'replay: MATCHES — 4/4 facts of app:1 hold on app:2'
    """
    kind = result.kind
    if kind in EXTRA:
        return EXTRA[kind].headline(result)  # type: ignore[no-any-return]
    word = state(result)[0]
    if kind == "comparison":
        what, nxt = outlook(result)
        return f"{result.verdict}: {what} — {nxt}"
    if kind == "parity":
        s = result.summary
        return (
            f"parity: {word} — {s['same']}/{s['checks']} {result.what} agree"
            + (f", {s['failed']} failed" if s["failed"] else "")
            + (f", {s['errors']} error(s)" if s["errors"] else "")
        )
    if kind in ("audit", "drift"):
        return _audit_headline(result)
    if kind == "replay":
        held = result.checked - len(result.mismatch_records)
        return (
            f"replay: {word} — {held}/{result.checked} facts of {clean(result.spec_image, 50)} "
            f"hold on {clean(result.image, 50)}"
        )
    if kind == "inventory":
        managers = result.managers
        counts = ", ".join(f"{n} {m}" for m, n in sorted(managers.items())) or "no packages"
        return f"inventory of {clean(result.ref, 60)} {result.id[:19]}: {counts}"
    if kind == "fix":
        after = result.after.verdict if result.after else None
        rounds = len(result.round_records)
        path = f"{result.before.verdict} → {after}" if after else result.before.verdict
        proof = "" if result.verified else ", not verified"
        return (
            f"fix: {word} {result.require} — {path} in {rounds} round(s){proof}, "
            f"{len(result.unfixed_records)} cause(s) left, {result.duration_s:.0f} s"
        )
    if kind == "images":
        records = result.image_records
        dangling = sum(1 for r in records if r.get("dangling"))
        total = human_size(sum(int(r.get("size") or 0) for r in records))
        return f"images: {len(records)} image(s), {dangling} dangling, {total}"
    raise ValueError(f"no presenter for results of kind {kind!r}")


def _audit_headline(result: AuditResult) -> str:
    from ..auditing.rules import SEVERITIES

    s = result.summary
    if result.kind == "drift":
        word = "NO DRIFT" if result.ok else "DRIFTED"
        return (
            f"reprokit drift: {word} — {clean(result.subject, 60)}: {s['drifted']} change(s), "
            f"{s['drifted_failing']} outside runtime state"
        )
    counts = ", ".join(f"{s[k]} {k}" for k in SEVERITIES)
    extra = ""
    if "efficiency" in result.stats:
        extra = f"; efficiency {result.stats['efficiency']:.1%}"
    found = f"{s['findings']} finding(s) ({counts}){extra}"
    return f"reprokit audit: {clean(result.subject, 60)} — {found}"


def document(result: Any) -> Document:
    """The document of a result of any kind but ``comparison`` (which has :func:`build`)."""
    makers = {
        "parity": _parity_document,
        "audit": _audit_document,
        "drift": _audit_document,
        "replay": _replay_document,
        "inventory": _inventory_document,
        "images": _images_document,
        "fix": _fix_document,
    }
    if result.kind in EXTRA:
        return EXTRA[result.kind].document(result)  # type: ignore[no-any-return]
    if result.kind not in makers:
        raise ValueError(f"no document for results of kind {result.kind!r}")
    return makers[result.kind](result)


def _doc(result: Any, title: str, facts: list[str], tables: list[Table]) -> Document:
    word, tone = state(result)
    return Document(result.kind, title, headline(result), word, tone, facts, tables)


def _parity_document(result: ParityResult) -> Document:
    facts = [
        f"{side}: {ref} ({(image_id or '?')[:19]})"
        for side, ref, image_id in zip("AB", result.images, result.image_ids, strict=True)
    ]
    if result.duration_s is not None:
        facts.append(f"took {result.duration_s:.1f} s")
    name = "test" if result.what == "tests" else "check"
    rows = [[r.mark, r.name, r.a, r.b] for r in map(_parity, ranked_parity(result.parity_records))]
    table = _table(
        "Parity", ["", name, "A", "B"], rows, "parity", f"{result.what}", "No checks ran."
    )
    return _doc(
        result, f"reprokit parity: {result.images[0]} vs {result.images[1]}", facts, [table]
    )


def _where(f: Finding) -> str:
    """Where a finding is, in one cell: ``final``, ``buried layer 2→4``, ``config``…"""
    if f.layer is None:
        return f.where
    layer = f"{f.layer}→{f.removed_in}" if f.removed_in is not None else str(f.layer)
    return f"{f.where} layer {layer}"


def _audit_document(result: AuditResult) -> Document:
    from ..auditing.model import DRIFT_CLASSES
    from ..auditing.rules import RULES, SEVERITIES

    image, stats = result.image, result.stats
    facts = []
    if image.get("id"):
        facts.append(f"image: {image['id'][:19]}")
    if image.get("repo_tags"):
        facts.append("tags: " + ", ".join(clean(t, 120) for t in image["repo_tags"][:10]))
    if image.get("container"):
        facts.append(f"container: {image['container'][:12]}")
    for key in ("platform", "created"):
        if image.get(key):
            facts.append(f"{key}: {clean(image[key], 80)}")
    if "efficiency" in stats:
        facts.append(
            f"efficiency {stats['efficiency']:.1%}, "
            f"{human_size(stats.get('wasted_bytes'))} wasted by later layers"
        )
    if "layers" in stats:
        facts.append(f"{stats['layers']} layer(s), {stats.get('files_scanned', 0)} files scanned")
    if stats.get("runtime"):
        facts.append(f"read-only run: {clean(stats['runtime'], 300)}")
    if result.disabled:
        facts.append("rules disabled: " + ", ".join(result.disabled))
    summary = result.summary
    tables = []
    if result.kind == "drift":
        classes = Counter(d.cls for d in result.drift_records)
        failing = Counter(d.cls for d in result.drift_records if d.counts)
        rows = [[c, classes[c], failing[c]] for c in DRIFT_CLASSES if classes[c]]
        rows.append(["all", summary["drifted"], summary["drifted_failing"]])
        tables.append(_table("Summary", ["class", "drifted", "counting"], rows, None, "classes"))
        drift_rows = [
            [d.path, d.change, d.cls, d.fields, "yes" if d.counts else "no", d.detail]
            for d in result.drift_records
        ]
        tables.append(
            _table(
                "Drift",
                ["path", "change", "class", "fields", "counts", "detail"],
                drift_rows,
                "drift",
                "drifted paths",
                "Nothing drifted.",
            )
        )
    else:
        rows = [[s, summary[s]] for s in SEVERITIES] + [["all", summary["findings"]]]
        tables.append(_table("Summary", ["severity", "findings"], rows, None, "severities"))
    if result.kind == "audit" or result.finding_records:
        finding_rows = [
            [f.severity, f.rule, _where(f), f.path, f.message, f.evidence]
            for f in result.finding_records
        ]
        tables.append(
            _table(
                "Findings",
                ["severity", "rule", "where", "path", "message", "evidence"],
                finding_rows,
                "findings",
                "findings",
                "No findings.",
            )
        )
    groups: dict[str, list[Finding]] = {}
    for f in result.finding_records:
        groups.setdefault(f.rule, []).append(f)
    fixes = [
        [
            rule,
            found[0].severity,
            len(found),
            RULES[rule].title if rule in RULES else "",
            found[0].fix,
        ]
        for rule, found in groups.items()
    ]
    if fixes:
        tables.append(
            _table(
                "Fixes per rule",
                ["rule", "severity", "findings", "title", "fix"],
                fixes,
                None,
                "rules",
            )
        )
    what = "drift" if result.kind == "drift" else "audit"
    return _doc(result, f"reprokit {what}: {result.subject}", facts, tables)


def _replay_document(result: ReplayResult) -> Document:
    facts = [
        f"image: {result.image} ({result.image_id[:19]})",
        f"spec captured from: {result.spec_image}",
        f"facts checked: {result.checked}, differing: {len(result.mismatch_records)}",
    ]
    rows = [
        [m.fact, shown_value(m.expected), shown_value(m.actual)] for m in result.mismatch_records
    ]
    table = _table(
        "Mismatches",
        ["fact", "expected", "found"],
        rows,
        "mismatches",
        "mismatches",
        "Every fact holds.",
    )
    return _doc(result, f"reprokit replay: {result.image}", facts, [table])


def _inventory_document(result: Inventory) -> Document:
    os_name = result.os.get("PRETTY_NAME") or result.os.get("ID") or "unknown (no os-release)"
    counts = ", ".join(f"{n} {m}" for m, n in sorted(result.managers.items())) or "none found"
    facts = [
        f"image: {result.ref} ({result.id[:19]})",
        f"os: {os_name}",
        f"platform: {result.platform or '?'}",
        f"packages: {counts}",
        f"entrypoint: {_cell(result.entrypoint)}",
        f"cmd: {_cell(result.cmd)}",
        f"user: {result.user or '(root)'}",
        f"workdir: {result.workdir or '/'}",
        f"ports: {_cell(result.exposed_ports)}",
    ]
    tables = [
        _table(
            "Packages",
            ["manager", "name", "version", "arch"],
            [[p.manager, p.name, p.version, p.arch] for p in result.package_records],
            "packages",
            "packages",
            "No packages found.",
        ),
        _table(
            "Users",
            ["name", "uid", "gid", "home", "shell"],
            [
                [u.get(k) for k in ("name", "uid", "gid", "home", "shell")]
                for u in result.user_records
            ],
            "users",
            "users",
            "No /etc/passwd.",
        ),
        _table(
            "Environment",
            ["variable", "value"],
            [[k, v] for k, v in result.env.items()],
            None,
            "variables",
        ),
        _table(
            "Labels", ["label", "value"], [[k, v] for k, v in result.labels.items()], None, "labels"
        ),
    ]
    return _doc(result, f"reprokit inventory: {result.ref}", facts, tables)


def _images_document(result: ImagesResult) -> Document:
    rows = [
        [
            str(r.get("id", ""))[:19],
            r.get("tags") or "<none>",
            human_size(r.get("size")),
            r.get("age_days"),
            r.get("containers"),
            r.get("running"),
            "yes" if r.get("dangling") else "no",
        ]
        for r in result.image_records
    ]
    table = _table(
        "Images",
        ["id", "tags", "size", "age (days)", "containers", "running", "dangling"],
        rows,
        "images",
        "images",
        "No images.",
    )
    return _doc(result, "reprokit images", [], [table])


def _fix_document(result: FixResult) -> Document:
    b, a = result.before, result.after
    facts = [
        f"Dockerfile: {result.source or result.dockerfile}",
        f"patched Dockerfile: {result.dockerfile}"
        + ("" if result.verified else " (not verified by a rebuild)"),
        f"before: {b.verdict} — {b.reason}",
    ]
    if a is not None:
        facts.append(f"after: {a.verdict} — {a.reason}")
    facts.append(f"took {result.duration_s:.0f} s")
    rounds = [
        [r.number, r.describe(), r.verdict or "not verified", r.reason]
        for r in result.round_records
    ]
    left = [[u.line, u.instruction, u.cause, u.count, u.why] for u in result.unfixed_records]
    patch = [[line] for line in result.patch.splitlines()]
    tables = [
        _table("Rounds", ["round", "edits", "verdict", "reason"], rounds, "rounds", "rounds",
               "No round: nothing to patch."),
        _table("Patch", ["unified diff"], patch, None, "lines", "No change to the Dockerfile.",
               limit=2000),
        _table("Not fixed", ["line", "instruction", "cause", "count", "why"], left, "unfixed",
               "causes", "Nothing left."),
    ]  # fmt: skip
    return _doc(result, f"reprokit fix: {result.source or result.dockerfile}", facts, tables)
