"""Explain a comparison: give every difference a cause, a fix and evidence, mark ignored ones,
map layers to Dockerfile steps, and say whether everything is explained. The differences are
not edited: :func:`explain` returns :class:`Explanations`.

File contents are looked at only for files that differ in content and are of modest size.
They are paired while the images are read for the comparison (:class:`LayerPairing`, passed in
as ``facts``); what that pass could not pair is read in one more pass over just the layers that
hold it. Contents are turned into short facts at once and never kept.

>>> from reprokit.diff import Differences
>>> from reprokit.model import ConfigDiff
>>> diffs = Differences([], [ConfigDiff("history[1].created", "t1", "t2")], [], [])
>>> found = explain(diffs)
>>> found.explained, found.config[0].cause, diffs.config[0].cause
(True, 'image-metadata', None)
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from ..diff import Differences
from ..gcpause import pausing_gc
from ..globs import matches_any
from ..model import ConfigDiff, FileDiff, LayerDiff, StepExplanation
from ..packages.reader import read_layers
from ..read.layers import LayerIndex, TapFor, combine_taps
from ..records import FileRecord
from ..sources.image import Image, Source
from . import content as c
from .causes import CAUSES, NOT_EXPLAINED
from .classify import Classifier, Kind
from .explanation import Explanation, Explanations
from .facts import LEAN, ContentFacts, is_package_db, leaned
from .fixes import step_fix
from .pairing import PACKAGE_DB_FACTOR, DiffPairing, LayerPairing, always_read
from .rules import Rule, Subject
from .settings import Settings
from .steps import (
    Instruction,
    final_stage,
    instruction_text,
    keyword_of,
    map_layers,
    parse_dockerfile,
    split_by_step,
)

Located = tuple[FileDiff, str | None, str | None]


def layer_pairing(
    ids_a: list[str],
    ids_b: list[str],
    settings: Settings,
    keep: Callable[[str], bool] | None = None,
) -> LayerPairing:
    """The first-pass pairing for two images about to be read (see :func:`explain`);
    the raw content of the paths ``keep`` accepts is kept too."""
    return LayerPairing(
        ids_a,
        ids_b,
        settings.evidence_file_bytes,
        settings.patterns(),
        max_files=settings.evidence_files,
        max_bytes=settings.evidence_bytes,
        keep=keep,
    )


def _size_limit(path: str, settings: Settings) -> int:
    factor = PACKAGE_DB_FACTOR if is_package_db(path) else 1
    return settings.evidence_file_bytes * factor


def _wants_content(d: FileDiff, settings: Settings) -> bool:
    a, b = d.a, d.b
    if not (
        d.change == "modified"
        and "content" in d.fields
        and a is not None
        and b is not None
        and a.type == b.type == "file"
    ):
        return False
    size = max(a.size, b.size)
    return size <= settings.evidence_file_bytes or size <= _size_limit(d.path, settings)


class _Providers:
    """Which layer of an image provides a path of its final filesystem (top-most first)."""

    def __init__(self, image: Image):
        self.image = image
        self._paths: dict[int, dict[str, FileRecord]] = {}

    def index_of(self, path: str, record: FileRecord) -> int | None:
        for i in range(len(self.image.layers) - 1, -1, -1):
            layer: LayerIndex | None = self.image.layers[i]
            if layer is None:
                continue
            if i not in self._paths:
                self._paths[i] = layer.by_path()
            if self._paths[i].get(path) is record:
                return i
        return None


def _facts_and_leftovers(
    diffs: Differences,
    image_a: Image,
    image_b: Image,
    settings: Settings,
    first_pass: LayerPairing | None,
) -> tuple[dict[int, ContentFacts], list[Located], set[int]]:
    """Facts per difference (by ``id``) from the first pass, the differences still wanting
    content, with the diff_id of the layer holding each side, and those of them to read lean
    (without evidence text).

    Which differences are examined is decided here, by path, never by the order the first pass
    happened to read the tars in: ``.pyc`` files and package databases always, the others in
    path order while the bytes of both sides fit ``evidence_bytes``; the first
    ``evidence_files`` examined by path keep evidence, the rest are lean. First-pass facts
    outside that choice are dropped (their difference is ``unexamined``), leaned past the files
    budget; what the choice lacks is read in the second pass (the first pass keeps evidence for
    the same first files by path, so that is rare). Two runs give the same causes and evidence.
    """
    first: dict[Hashable, ContentFacts] = first_pass.facts if first_pass else {}
    wanting: list[tuple[FileDiff, ContentFacts | None, str | None, str | None]] = []

    def diff_id(image: Image, i: int | None) -> str | None:
        return image.diff_ids[i] if i is not None and i < len(image.diff_ids) else None

    per_layer = set()  # the per-layer differences wanting content, by path and records
    for d in diffs.files:
        if "content" not in d.fields or not _wants_content(d, settings) or d.layer is None:
            continue
        per_layer.add((d.path, id(d.a), id(d.b)))
        facts = first.get((d.layer, d.path))
        wanting.append((d, facts, diff_id(image_a, d.layer), diff_id(image_b, d.layer)))
    providers_a, providers_b = _Providers(image_a), _Providers(image_b)
    for d in diffs.merged:
        if "content" not in d.fields or (d.path, id(d.a), id(d.b)) in per_layer:
            continue  # (a per-layer difference with the very same records has its facts)
        if not _wants_content(d, settings):
            continue
        assert d.a is not None and d.b is not None
        ia, ib = providers_a.index_of(d.path, d.a), providers_b.index_of(d.path, d.b)
        facts = first.get((ia, d.path)) if ia == ib else None
        wanting.append((d, facts, diff_id(image_a, ia), diff_id(image_b, ib)))
    found: dict[int, ContentFacts] = {}
    leftovers: list[Located] = []
    lean: set[int] = set()
    rank = total = 0
    for d, facts, da, db in sorted(wanting, key=_by_path):
        if not always_read(d.path):
            total += (d.a.size if d.a else 0) + (d.b.size if d.b else 0)
            if total > settings.evidence_bytes:
                continue  # unexamined: past the bytes budget, in path order
        rank += 1
        thin = rank > settings.evidence_files
        if facts is not None:
            found[id(d)] = leaned(facts) if thin else facts
            if thin or facts.evidence != LEAN:
                continue  # (lean facts within the files budget: read again for evidence)
        leftovers.append((d, da, db))
        if thin:
            lean.add(id(d))
    return found, leftovers, lean


def _by_path(item: tuple[FileDiff, object, object, object]) -> tuple[str, int, int]:
    d = item[0]
    return d.path, d.layer is None, d.layer or 0


class Reader(Protocol):
    """Another reader sharing the second pass (e.g. the package diff's database files)."""

    def wanted(self, side: str) -> set[str]: ...

    def tap_for(self, side: str) -> TapFor: ...


def _second_pass(
    located: list[Located],
    sources: tuple[Source, Source],
    settings: Settings,
    also: Reader | None = None,
    lean: Collection[int] = (),
) -> dict[Hashable, ContentFacts]:
    """One more concurrent pass over only the layers holding ``located`` differences (and
    what ``also`` wants read in the same pass); those in ``lean`` (by ``id``) get facts
    without evidence text."""
    pairing = DiffPairing(located, settings.evidence_file_bytes, settings.patterns(), lean)
    readers: list[Reader] = [pairing] if located else []
    readers += [also] if also is not None else []
    if not readers:
        return {}
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reprokit-evidence") as pool:
        futures = []
        for side, source in zip("ab", sources, strict=True):
            wanted = set().union(*(r.wanted(side) for r in readers))
            tap_for = combine_taps(*(r.tap_for(side) for r in readers))
            futures.append(pool.submit(read_layers, source, wanted, tap_for, cancel))
        try:
            for future in futures:
                future.result()
        except BaseException:
            cancel.set()
            raise
    return pairing.finish()


@pausing_gc
def explain(
    diffs: Differences,
    image_a: Image | None = None,
    image_b: Image | None = None,
    sources: tuple[Source, Source] | None = None,
    settings: Settings | None = None,
    dockerfile: str | None = None,
    target: str | None = None,
    first_pass: LayerPairing | None = None,
    also: Reader | None = None,
) -> Explanations:
    """The cause, fix, evidence and ignored of every difference of ``diffs``, its steps and
    whether all is explained. ``first_pass`` paired contents while the images were read
    (:func:`layer_pairing`); contents it lacks are read from the ``sources`` when given, in one
    pass shared with ``also``. ``diffs`` is left as it is."""
    settings = settings or Settings()
    by_diff: dict[int, ContentFacts] = {}
    if image_a is not None and image_b is not None:
        by_diff, leftovers, lean = _facts_and_leftovers(
            diffs, image_a, image_b, settings, first_pass
        )
        if sources is not None:
            second = _second_pass(leftovers, sources, settings, also, lean)
            by_diff.update({k: v for k, v in second.items() if isinstance(k, int)})
    file_rules = settings.file_rules()
    classify = Classifier(file_rules, settings.ignore)
    files = [_NONE] * len(diffs.files)
    merged = [_NONE] * len(diffs.merged)
    # each difference's kind (merged differences with the very same records as a per-layer
    # one: the index of that one) and the evidence its rule's sniff found
    kinds: list[list[Kind | int]] = [[], []]
    sniffed: list[dict[int, str]] = [{}, {}]
    by_key: dict[tuple[str, int, int], int] = {}
    for i, d in enumerate(diffs.files):
        kind, evidence = classify(d, by_diff.get(id(d)))
        kinds[0].append(kind)
        if evidence is not None:
            sniffed[0][i] = evidence
        by_key[(d.path, id(d.a), id(d.b))] = i
    for i, d in enumerate(diffs.merged):
        same = by_key.get((d.path, id(d.a), id(d.b)))
        if same is not None:
            kinds[1].append(same)
            continue
        kind, evidence = classify(d, by_diff.get(id(d)))
        kinds[1].append(kind)
        if evidence is not None:
            sniffed[1][i] = evidence
    del by_key
    # evidence goes first to what most needs it (Kind.priority: unexplained, other causes,
    # times, ignored), per-layer differences before merged ones
    room = settings.evidence_entries
    views = (
        (files, diffs.files, kinds[0], sniffed[0]),
        (merged, diffs.merged, kinds[1], sniffed[1]),
    )
    for priority in range(4):
        for out, records, view_kinds, view_sniffed in views:
            for i, slot in enumerate(view_kinds):
                if room <= 0:
                    break
                if isinstance(slot, int) or slot.priority != priority:
                    continue
                room -= 1
                d = records[i]
                evidence = view_sniffed.get(i) or _evidence(d, by_diff.get(id(d)), settings)
                out[i] = Explanation(slot.cause, slot.fix, evidence, slot.ignored, slot.rule)
    # the others share one explanation per kind; copies take their per-layer one's
    for out, _, view_kinds, _ in views:
        for i, slot in enumerate(view_kinds):
            if isinstance(slot, int):
                out[i] = files[slot]
            elif out[i] is _NONE:
                out[i] = slot.shared
    del by_diff, kinds, sniffed
    config_rules = settings.config_rules()
    config = [_explain_config(cd, config_rules, settings) for cd in diffs.config]
    explained = all(
        e.cause not in NOT_EXPLAINED for e in (*files, *merged, *config) if not e.ignored
    )
    steps = _steps(diffs.layers, diffs.files, files, file_rules, dockerfile, target)
    return Explanations(files, merged, config, steps, explained)


#: a placeholder until the evidence pass fills every slot
_NONE = Explanation("unexplained")


def _apply(rules: list[Rule], subject: Subject) -> tuple[Rule | None, str | None]:
    """The first rule that recognises ``subject``, and the evidence its sniff found."""
    for rule in rules:
        ok, evidence = rule.matches(subject)
        if ok:
            return rule, evidence
    return None, None


def _cause(rule: Rule | None) -> tuple[str, str | None, str | None]:
    """Cause, fix and rule id given by ``rule`` (None: unexplained)."""
    if rule is None:
        return "unexplained", CAUSES["unexplained"].fix, None
    return rule.cause, rule.fix_text, rule.id


def _explain_config(cd: ConfigDiff, rules: list[Rule], settings: Settings) -> Explanation:
    subject = Subject(cd.field, cd.change, ("value",), value_a=cd.a, value_b=cd.b)
    rule, evidence = _apply(rules, subject)
    cause, fix, rule_id = _cause(rule)
    if cause == "layer-digest":
        evidence = "follows from the files of that layer (see its step)"
    evidence = evidence or c.shorten(f"{cd.a!r} → {cd.b!r}", 300)
    return Explanation(cause, fix, evidence, matches_any(settings.ignore, cd.field), rule_id)


def _evidence(d: FileDiff, facts: ContentFacts | None, settings: Settings) -> str:
    """Generic evidence from the records and, when read, the contents."""
    a, b = d.a, d.b
    if d.change in ("added", "removed"):
        deleter = next((r for r in (a, b) if r is not None and r.type == "whiteout"), None)
        if deleter is not None:
            return f"deleted only by {'A' if deleter is a else 'B'}'s layer (a whiteout)"
        rec = b if d.change == "added" else a
        assert rec is not None
        side = "B" if d.change == "added" else "A"
        size = f", {rec.size} bytes" if rec.type == "file" else ""
        return f"only in {side} ({rec.type}{size})"
    assert a is not None and b is not None
    parts = []
    if "content" in d.fields:
        parts.append(_content_evidence(d, facts, settings))
    if "type" in d.fields:
        parts.append(f"type {a.type} → {b.type}")
    if "linkname" in d.fields:
        parts.append(f"link target {a.linkname} → {b.linkname}")
    if "mode" in d.fields:
        parts.append(f"mode {a.mode:04o} → {b.mode:04o}")
    if "uid" in d.fields or "gid" in d.fields:
        parts.append(f"owner {a.uid}:{a.gid} → {b.uid}:{b.gid}")
    if "mtime" in d.fields:
        delta = b.mtime - a.mtime
        parts.append(f"mtime {c.when(a.mtime)} → {c.when(b.mtime)} ({delta:+g} s)")
    if "xattrs" in d.fields:
        parts.append(f"xattrs {dict(a.xattrs)} → {dict(b.xattrs)}")
    if "device" in d.fields:
        parts.append(f"device {a.device} → {b.device}")
    if "size" in d.fields and "content" not in d.fields:
        parts.append(f"size {a.size} → {b.size}")
    return c.shorten("; ".join(p for p in parts if p))


def _content_evidence(d: FileDiff, facts: ContentFacts | None, settings: Settings) -> str:
    a, b = d.a, d.b
    assert a is not None and b is not None
    if facts is None:
        digests = f"sha256 {(a.sha256 or '')[:12]}… → {(b.sha256 or '')[:12]}…"
        if max(a.size, b.size) > _size_limit(d.path, settings):
            limit = _size_limit(d.path, settings)
            return f"{a.size} → {b.size} bytes, {digests} (above the {limit}-byte limit)"
        return f"{a.size} → {b.size} bytes, {digests} (content not read: evidence budget)"
    return facts.evidence


class _Explained:
    """What a step's fix needs of one explained difference (a view, not a copy)."""

    __slots__ = ("d", "e")

    def __init__(self, d: FileDiff, e: Explanation):
        self.d, self.e = d, e

    @property
    def path(self) -> str:
        return self.d.path

    @property
    def cause(self) -> str:
        return self.e.cause

    @property
    def rule(self) -> str | None:
        return self.e.rule

    @property
    def fix(self) -> str | None:
        return self.e.fix


def _steps(
    layers: list[LayerDiff],
    diffs: list[FileDiff],
    explanations: list[Explanation],
    rules: list[Rule],
    dockerfile: str | None,
    target: str | None,
) -> list[StepExplanation]:
    created = [layer.created_by for layer in layers]
    matched: list[Instruction | None] = [None] * len(created)
    stage: list[Instruction] = []
    if dockerfile:
        stage = final_stage(parse_dockerfile(dockerfile), target)
        matched = map_layers(created, stage)
    stage_text = "\n".join(i.text for i in stage)
    rule_by_id = {r.id: r for r in rules}
    per_layer: dict[int, list[_Explained]] = defaultdict(list)
    for d, e in zip(diffs, explanations, strict=True):
        if d.layer is not None and not e.ignored:
            per_layer[d.layer].append(_Explained(d, e))
    out = []
    for layer in layers:
        if layer.same:
            continue
        found = per_layer.get(layer.index, [])
        instruction = matched[layer.index] if layer.index < len(matched) else None
        # a layer squashing several steps (buildah --layers=false): split by the step writing it
        for step, step_diffs in split_by_step(instruction, stage, matched, found):
            causes = Counter(d.cause or "unexplained" for d in step_diffs)
            keyword = step.keyword if step else keyword_of(layer.created_by)
            if step_diffs:
                fix = step_fix(keyword, step, step_diffs, rule_by_id, stage_text)
            else:
                fix = (
                    "no file differs: the layer's tar encoding does (headers such as PAX "
                    "times); a builder that rewrites timestamps normalises it"
                )
            out.append(
                StepExplanation(
                    layer=layer.index,
                    instruction=instruction_text(layer.created_by, step),
                    dockerfile_line=step.line if step else None,
                    causes=dict(causes.most_common()),
                    fix=fix,
                )
            )
    return out
