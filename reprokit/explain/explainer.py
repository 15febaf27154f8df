"""Explain a comparison: give every difference a cause, a fix and evidence, mark ignored ones,
map layers to Dockerfile steps, and say whether everything is explained.

File contents are needed only for differing files of modest size; they are fetched in one
more pass over the differing layers of both images (concurrently), never extracted to disk.

>>> from reprokit.model import ImageInfo
>>> from reprokit.result import Result
>>> img = ImageInfo("a", "sha256:1", [])
>>> r = Result("identical", "same", (img, img))
>>> explain_result(r).explained
True
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..layers import LayerIndex
from ..model import ConfigDiff, FileDiff, StepExplanation
from ..records import FileRecord
from ..result import Result
from ..sources import Image, Source
from . import content as c
from .causes import CAUSES
from .globs import any_match
from .rules import Rule, Subject
from .settings import Settings
from .steps import (
    Instruction,
    final_stage,
    grouped_fix,
    instruction_text,
    keyword_of,
    map_layers,
    parse_dockerfile,
)

#: Paths whose content is worth reading even when larger than the usual evidence limit.
_PACKAGE_DBS = ("/var/lib/dpkg/status", "/lib/apk/db/installed")
_PACKAGE_DB_FACTOR = 64


@dataclass
class _Contents:
    """Fetched contents: ``{diff_id: {path: bytes}}`` for each side."""

    a: dict[str, dict[str, bytes]]
    b: dict[str, dict[str, bytes]]


def _size_limit(path: str, settings: Settings) -> int:
    if path in _PACKAGE_DBS:
        return settings.evidence_file_bytes * _PACKAGE_DB_FACTOR
    return settings.evidence_file_bytes


def _wants_content(d: FileDiff, settings: Settings) -> bool:
    a, b = d.a, d.b
    return (
        d.change == "modified"
        and "content" in d.fields
        and a is not None
        and b is not None
        and a.type == b.type == "file"
        and max(a.size, b.size) <= _size_limit(d.path, settings)
    )


class _Providers:
    """Which layer of an image provides a path of its final filesystem (top-most first)."""

    def __init__(self, image: Image):
        self.image = image
        self._paths: dict[int, dict[str, FileRecord]] = {}

    def diff_id_of(self, path: str, record: FileRecord) -> str | None:
        for i in range(len(self.image.layers) - 1, -1, -1):
            layer: LayerIndex | None = self.image.layers[i]
            if layer is None:
                continue
            if i not in self._paths:
                self._paths[i] = layer.by_path()
            if self._paths[i].get(path) is record:
                return self.image.diff_ids[i]
        return None


def _locate(
    result: Result, image_a: Image, image_b: Image, settings: Settings
) -> list[tuple[FileDiff, str | None, str | None]]:
    """The differences whose content to read, with the diff_id of the layer holding each side."""
    out: list[tuple[FileDiff, str | None, str | None]] = []
    for d in result.file_diffs:
        if _wants_content(d, settings) and d.layer is not None:
            da = image_a.diff_ids[d.layer] if d.layer < len(image_a.diff_ids) else None
            db = image_b.diff_ids[d.layer] if d.layer < len(image_b.diff_ids) else None
            out.append((d, da, db))
    per_layer = {(d.path, id(d.a), id(d.b)) for d, _, _ in out}
    providers_a, providers_b = _Providers(image_a), _Providers(image_b)
    for d in result.merged_diffs:
        if not _wants_content(d, settings) or (d.path, id(d.a), id(d.b)) in per_layer:
            continue
        assert d.a is not None and d.b is not None
        out.append((d, providers_a.diff_id_of(d.path, d.a), providers_b.diff_id_of(d.path, d.b)))
    # package databases first, then by path, within the budget
    out.sort(key=lambda item: (item[0].path not in _PACKAGE_DBS, item[0].path))
    return out[: settings.evidence_files]


def _fetch(
    located: list[tuple[FileDiff, str | None, str | None]],
    source_a: Source,
    source_b: Source,
    settings: Settings,
) -> _Contents:
    wanted_a: dict[str, set[str]] = defaultdict(set)
    wanted_b: dict[str, set[str]] = defaultdict(set)
    for d, da, db in located:
        if da is not None:
            wanted_a[da].add(d.path)
        if db is not None:
            wanted_b[db].add(d.path)
    if not located:
        return _Contents({}, {})
    limit = settings.evidence_file_bytes * _PACKAGE_DB_FACTOR
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reprokit-fetch") as pool:
        fa = pool.submit(source_a.fetch, wanted_a, limit, cancel)
        fb = pool.submit(source_b.fetch, wanted_b, limit, cancel)
        try:
            return _Contents(fa.result(), fb.result())
        except BaseException:
            cancel.set()
            raise


def explain_result(
    result: Result,
    image_a: Image | None = None,
    image_b: Image | None = None,
    source_a: Source | None = None,
    source_b: Source | None = None,
    settings: Settings | None = None,
    dockerfile: str | None = None,
    target: str | None = None,
) -> Result:
    """Fill in cause, fix, evidence and ignored on every difference of ``result``, its steps
    and ``explained``; contents are read from the sources when given. Returns ``result``."""
    settings = settings or Settings()
    contents = _Contents({}, {})
    where: dict[int, tuple[str | None, str | None]] = {}
    if image_a is not None and image_b is not None and source_a and source_b:
        located = _locate(result, image_a, image_b, settings)
        contents = _fetch(located, source_a, source_b, settings)
        where = {id(d): (da, db) for d, da, db in located}
    budget = [settings.evidence_entries]
    file_rules = settings.file_rules()
    by_key: dict[tuple[str, int, int], FileDiff] = {}
    for d in result.file_diffs:
        da, db = where.get(id(d), (None, None))
        _explain_file(d, file_rules, settings, contents, da, db, budget)
        by_key[(d.path, id(d.a), id(d.b))] = d
    for d in result.merged_diffs:
        same = by_key.get((d.path, id(d.a), id(d.b)))
        if same is not None:  # the very records of a per-layer difference: same explanation
            d.cause, d.fix, d.evidence, d.rule = same.cause, same.fix, same.evidence, same.rule
            d.ignored = same.ignored
        else:
            da, db = where.get(id(d), (None, None))
            _explain_file(d, file_rules, settings, contents, da, db, budget)
    config_rules = settings.config_rules()
    for cd in result.config_diffs:
        _explain_config(cd, config_rules, settings)
    counted = _counted(result)
    result.explained = all(x.cause != "unexplained" for x in counted)
    result.step_explanations = _steps(result, file_rules, dockerfile, target)
    return result


def _counted(result: Result) -> list[FileDiff | ConfigDiff]:
    """The differences that count: not ignored."""
    items: Iterable[FileDiff | ConfigDiff] = [
        *result.file_diffs,
        *result.merged_diffs,
        *result.config_diffs,
    ]
    return [x for x in items if not x.ignored]


def _apply(
    target: FileDiff | ConfigDiff, rules: list[Rule], subject: Subject
) -> tuple[Rule | None, str | None]:
    for rule in rules:
        ok, evidence = rule.matches(subject)
        if ok:
            target.cause, target.fix, target.rule = rule.cause, rule.fix_text, rule.id
            return rule, evidence
    target.cause, target.fix, target.rule = "unexplained", CAUSES["unexplained"].fix, None
    return None, None


def _explain_file(
    d: FileDiff,
    rules: list[Rule],
    settings: Settings,
    contents: _Contents,
    diff_id_a: str | None,
    diff_id_b: str | None,
    budget: list[int],
) -> None:
    data_a = contents.a.get(diff_id_a or "", {}).get(d.path) if diff_id_a else None
    data_b = contents.b.get(diff_id_b or "", {}).get(d.path) if diff_id_b else None
    subject = Subject(d.path, d.change, tuple(d.fields), d.a, d.b, data_a, data_b)
    _, evidence = _apply(d, rules, subject)
    d.ignored = any_match(settings.ignore, d.path) is not None
    if budget[0] > 0:
        budget[0] -= 1
        d.evidence = evidence or _evidence(d, subject, settings)


def _explain_config(cd: ConfigDiff, rules: list[Rule], settings: Settings) -> None:
    subject = Subject(cd.field, cd.change, ("value",), value_a=cd.a, value_b=cd.b)
    _, evidence = _apply(cd, rules, subject)
    cd.ignored = any_match(settings.ignore, cd.field) is not None
    if cd.cause == "layer-digest":
        evidence = "follows from the files of that layer (see its step)"
    cd.evidence = evidence or c.shorten(f"{cd.a!r} → {cd.b!r}", 300)


def _evidence(d: FileDiff, s: Subject, settings: Settings) -> str:
    """Generic evidence from the records and, when read, the contents."""
    a, b = d.a, d.b
    if d.change in ("added", "removed"):
        rec = b if d.change == "added" else a
        assert rec is not None
        side = "B" if d.change == "added" else "A"
        size = f", {rec.size} bytes" if rec.type == "file" else ""
        return f"only in {side} ({rec.type}{size})"
    assert a is not None and b is not None
    parts = []
    if "content" in d.fields:
        parts.append(_content_evidence(d, s, settings))
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


def _content_evidence(d: FileDiff, s: Subject, settings: Settings) -> str:
    a, b = d.a, d.b
    assert a is not None and b is not None
    if not s.has_content:
        digests = f"sha256 {(a.sha256 or '')[:12]}… → {(b.sha256 or '')[:12]}…"
        if max(a.size, b.size) > _size_limit(d.path, settings):
            limit = _size_limit(d.path, settings)
            return f"{a.size} → {b.size} bytes, {digests} (above the {limit}-byte limit)"
        return f"{a.size} → {b.size} bytes, {digests} (content not read: evidence budget)"
    data_a, data_b = s.data_a or b"", s.data_b or b""
    if d.path.endswith(".pyc") and (code := c.pyc_code_evidence(data_a, data_b)):
        return code
    if c.is_text(data_a) and c.is_text(data_b):
        return c.text_diff(c.decode(data_a), c.decode(data_b))
    return c.binary_evidence(data_a, data_b)


def _steps(
    result: Result, rules: list[Rule], dockerfile: str | None, target: str | None
) -> list[StepExplanation]:
    created = [layer.created_by for layer in result.layer_diffs]
    matched: list[Instruction | None] = [None] * len(created)
    if dockerfile:
        matched = map_layers(created, final_stage(parse_dockerfile(dockerfile), target))
    rule_by_id = {r.id: r for r in rules}
    per_layer: dict[int, list[FileDiff]] = defaultdict(list)
    for d in result.file_diffs:
        if d.layer is not None and not d.ignored:
            per_layer[d.layer].append(d)
    out = []
    for layer in result.layer_diffs:
        if layer.same:
            continue
        diffs = per_layer.get(layer.index, [])
        causes = Counter(d.cause or "unexplained" for d in diffs)
        cleanup: list[str] = []
        fixes: dict[str, str] = {}
        for d in diffs:
            rule = rule_by_id.get(d.rule or "")
            if rule is not None and rule.cleanup:
                cleanup.extend(rule.cleanup)
            elif d.cause and d.fix and d.cause not in CAUSES:
                fixes[d.cause] = d.fix
        instruction = matched[layer.index] if layer.index < len(matched) else None
        keyword = instruction.keyword if instruction else keyword_of(layer.created_by)
        if diffs:
            fix = grouped_fix(keyword, causes, cleanup, fixes)
        else:
            fix = (
                "no file differs: the layer's tar encoding does (headers such as PAX times); "
                "a builder that rewrites timestamps normalises it"
            )
        out.append(
            StepExplanation(
                layer=layer.index,
                instruction=instruction_text(layer.created_by, instruction),
                dockerfile_line=instruction.line if instruction else None,
                causes=dict(causes.most_common()),
                fix=fix,
            )
        )
    return out
