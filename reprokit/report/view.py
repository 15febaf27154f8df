"""What a report shows, computed once and rendered by the HTML and Markdown presenters.

The view decides selection, ranking and truncation; presenters only format. Nothing here
escapes text: each presenter escapes for its own format.

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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..text import human_size, short_step
from .text import parity_cells, ranked_parity

if TYPE_CHECKING:
    from ..model import BuildInfo, ConfigDiff, Culprit, FileDiff, PackageDiff, ParityEntry
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


def _text(value: Any) -> str:
    return NONE if value is None or value == "" else str(value)


def _rank(d: FileDiff) -> tuple[bool, bool, str, str]:
    """Counting differences first, then those that are more than a timestamp, then by path."""
    timestamp_only = d.fields == ["mtime"] or d.cause == "timestamp"
    return (d.ignored, timestamp_only, d.path, str(d.layer))


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
                instruction=step.instruction if step else short_step(layer.created_by),
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
    diffs = result.file_records or result.merged_records
    shown = heapq.nsmallest(lim["top"] + lim["details"], diffs, key=_rank)
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
    changes = Counter(p.change for p in result.package_records)
    parity = ranked_parity(result.parity)[: lim["parity"]]
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
        files_label="per-layer" if result.file_records else "merged view",
        fixes=fix_rows,
        causes=sorted(cause_counts(result).items(), key=lambda kv: (-kv[1], kv[0])),
        spec=result.spec,
        packages=[_package(p) for p in result.package_records[: lim["packages"]]],
        hidden_packages=max(0, len(result.package_records) - lim["packages"]),
        package_counts=", ".join(f"{n} {c}" for c, n in sorted(changes.items())),
        parity=[_parity(e) for e in parity],
        hidden_parity=max(0, len(result.parity) - lim["parity"]),
        parity_agree=(sum(1 for e in result.parity if e.good), len(result.parity)),
        build=builds_view(result, lim),
    )
