"""The plain records a comparison produces; every presenter renders these and nothing else.

>>> d = FileDiff(path="/app/x", change="modified", fields=["content"], layer=2)
>>> d.to_dict()["fields"]
['content']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

from .records import FileRecord, with_linkname

VERDICTS = ("identical", "equivalent", "different")
CHANGES = ("added", "removed", "modified")

T = TypeVar("T")


def _copied(value: Any) -> Any:
    if isinstance(value, list | dict):
        return type(value)(value)
    return value


def flat_to_dict(record: Any, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON dict of a flat dataclass: every field in order (``rename`` gives other keys),
    lists and dicts copied.

    >>> flat_to_dict(PackageDiff("dpkg", "curl", "changed", "7", "8"))
    {'manager': 'dpkg', 'name': 'curl', 'change': 'changed', 'a': '7', 'b': '8'}
    """
    names = rename or {}
    return {names.get(f.name, f.name): _copied(getattr(record, f.name)) for f in fields(record)}


def flat_from_dict(
    cls: type[T],
    data: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    rename: Mapping[str, str] | None = None,
) -> T:
    """Inverse of :func:`flat_to_dict`: a missing or null key takes ``defaults`` or the field's
    own default; a required field without either must be in ``data``.

    >>> flat_from_dict(PackageDiff, {"manager": "apk", "name": "musl", "change": "added"}).b
    """
    names, fallback, kwargs = rename or {}, defaults or {}, {}
    for f in fields(cls):  # type: ignore[arg-type]
        value = data.get(names.get(f.name, f.name))
        if value is None and f.name in fallback:
            value = fallback[f.name]
        elif value is None and f.default is not MISSING:
            value = f.default
        elif value is None and f.default_factory is not MISSING:
            value = f.default_factory()
        elif value is None:
            value = data[names.get(f.name, f.name)]
        kwargs[f.name] = _copied(value)
    return cls(**kwargs)


@dataclass(slots=True)
class FileDiff:
    """One path that differs, in one layer (``layer`` = index) or in the merged view (None)."""

    path: str
    change: str
    fields: list[str]
    layer: int | None = None
    a: FileRecord | None = None
    b: FileRecord | None = None
    #: why it differs (a cause of the catalogue, docs/causes.md), set by reprokit.explain
    cause: str | None = None
    #: what to change so it stops differing
    fix: str | None = None
    #: a short, bounded, human-readable proof (text diff lines, pyc header fields, offsets)
    evidence: str | None = None
    #: matched an ignore pattern: still reported, but it does not count against the verdict
    ignored: bool = False
    #: id of the rule that gave the cause
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.layer is not None:
            out["layer"] = self.layer
        out.update(path=self.path, change=self.change, fields=list(self.fields))
        out.update(_explanation(self))
        out["a"] = self.a.to_dict() if self.a else None
        out["b"] = self.b.to_dict() if self.b else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileDiff:
        path = data["path"]
        return cls(
            path=path,
            change=data["change"],
            fields=list(data.get("fields") or []),
            layer=data.get("layer"),
            a=FileRecord.from_dict(data["a"], path) if data.get("a") else None,
            b=FileRecord.from_dict(data["b"], path) if data.get("b") else None,
            **_explanation_from(data),
        )


def _explanation(d: FileDiff | ConfigDiff) -> dict[str, Any]:
    return {
        "cause": d.cause,
        "fix": d.fix,
        "evidence": d.evidence,
        "ignored": d.ignored,
        "rule": d.rule,
    }


def _explanation_from(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "cause": data.get("cause"),
        "fix": data.get("fix"),
        "evidence": data.get("evidence"),
        "ignored": bool(data.get("ignored", False)),
        "rule": data.get("rule"),
    }


@dataclass(slots=True)
class LayerDiff:
    """Layer ``index`` of both images: their diff_ids, whether they match, what made them."""

    index: int
    a: str | None
    b: str | None
    same: bool
    created_by: str | None
    files_differing: int = 0
    size_a: int | None = None
    size_b: int | None = None
    created_by_b: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "a": self.a,
            "b": self.b,
            "same": self.same,
            "created_by": self.created_by,
            "files_differing": self.files_differing,
            "size_a": self.size_a,
            "size_b": self.size_b,
        }
        if self.created_by_b is not None and self.created_by_b != self.created_by:
            out["created_by_b"] = self.created_by_b
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerDiff:
        return cls(
            index=data["index"],
            a=data.get("a"),
            b=data.get("b"),
            same=bool(data["same"]),
            created_by=data.get("created_by"),
            files_differing=int(data.get("files_differing", 0)),
            size_a=data.get("size_a"),
            size_b=data.get("size_b"),
            created_by_b=data.get("created_by_b", data.get("created_by")),
        )


@dataclass(slots=True)
class ConfigDiff:
    """One flattened config field (e.g. ``history[2].created``) whose values differ."""

    field: str
    a: Any
    b: Any
    change: str = "modified"
    cause: str | None = None
    fix: str | None = None
    evidence: str | None = None
    ignored: bool = False
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"field": self.field, "a": self.a, "b": self.b, "change": self.change}
        out.update(_explanation(self))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConfigDiff:
        return cls(
            data["field"],
            data.get("a"),
            data.get("b"),
            data.get("change", "modified"),
            **_explanation_from(data),
        )


@dataclass(slots=True)
class StepExplanation:
    """One layer's Dockerfile step, the causes of its differences and one grouped fix."""

    layer: int
    instruction: str
    dockerfile_line: int | None = None
    causes: dict[str, int] = field(default_factory=dict)
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "instruction": self.instruction,
            "dockerfile_line": self.dockerfile_line,
            "causes": dict(self.causes),
            "fix": self.fix,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepExplanation:
        return cls(
            layer=int(data["layer"]),
            instruction=data.get("instruction", ""),
            dockerfile_line=data.get("dockerfile_line"),
            causes=dict(data.get("causes") or {}),
            fix=data.get("fix", ""),
        )


@dataclass(slots=True)
class PackageDiff:
    """One package that differs between the images: ``added`` in B, ``removed`` from A, or
    ``changed`` version. ``manager`` is dpkg, apk, rpm or python."""

    manager: str
    name: str
    change: str
    a: str | None = None
    b: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return flat_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageDiff:
        return flat_from_dict(cls, data)


#: Parity outcome statuses: a value check gives ``ok``; a test gives passed/failed/skipped;
#: either may give ``error`` (an infrastructure failure or an unexpected exception).
PARITY_STATUSES = ("ok", "passed", "failed", "skipped", "error")


@dataclass(slots=True)
class Outcome:
    """One side of a check: its status, value (``ok``) or message (failed, error)."""

    status: str
    value: Any = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.status == "ok":
            out["value"] = self.value
        if self.message:
            out["message"] = self.message
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        return cls(data["status"], data.get("value"), data.get("message"))


def outcomes_agree(a: Outcome, b: Outcome) -> bool:
    """Two outcomes agree: same status and value; an error never agrees with anything."""
    if "error" in (a.status, b.status):
        return False
    return a.status == b.status and a.value == b.value


@dataclass(slots=True)
class ParityEntry:
    """One check (or test) on both images."""

    name: str
    a: Outcome
    b: Outcome

    @property
    def same(self) -> bool:
        return outcomes_agree(self.a, self.b)

    @property
    def good(self) -> bool:
        """Same on both and neither side failed or erred."""
        return self.same and self.a.status in ("ok", "passed", "skipped")

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``parity`` entry: ``test``, ``a``/``b`` statuses, ``same``, details."""
        out: dict[str, Any] = {"test": self.name, "a": self.a.status, "b": self.b.status}
        out["same"] = self.same
        for side, outcome in (("a", self.a), ("b", self.b)):
            if outcome.status == "ok":
                out[f"value_{side}"] = outcome.value
            if outcome.message:
                out[f"message_{side}"] = outcome.message
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityEntry:
        def side(s: str) -> Outcome:
            value = data.get(f"value_{s}")
            if data["test"].startswith("file "):  # reports before ``linkname`` said ``target``
                value = with_linkname(value)
            return Outcome(data[s], value, data.get(f"message_{s}"))

        return cls(data["test"], side("a"), side("b"))


@dataclass
class ImageInfo:
    """What a report says about one image of the pair."""

    ref: str
    id: str
    diff_ids: list[str]
    size: int | None = None
    created: str | None = None
    platform: str | None = None
    repo_tags: list[str] = field(default_factory=list)
    #: the verified digest of the OCI manifest the image was read from (OCI inputs only)
    manifest_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = flat_to_dict(self)
        if self.manifest_digest is None:
            del out["manifest_digest"]  # reports of other transports stay as they were
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageInfo:
        return flat_from_dict(cls, data, {"diff_ids": []})


@dataclass
class BuildInfo:
    """One build of a check: which builder made which image, how long it took, its log tail."""

    name: str
    builder: str
    tag: str
    image_id: str
    duration_s: float
    log_tail: list[str] = field(default_factory=list)
    #: the whole build log (bounded to its last 2000 lines); reports keep only ``log_tail``
    log: list[str] = field(default_factory=list, repr=False)
    #: the builder's version (``docker buildx version``, ``buildah --version``, the engine's)
    version: str | None = None
    #: the exact options the builder was given (command line or API arguments)
    options: dict[str, Any] = field(default_factory=dict)
    #: names of the variations applied to this build (reprokit.variations)
    variations: list[str] = field(default_factory=list)
    #: the engine the build ran on (a DOCKER_HOST URL; None: the default engine)
    engine: str | None = None
    #: where the built image is read from: ``docker-daemon:TAG`` or ``oci-archive:PATH``
    source: str | None = None
    #: what the builder did not do as asked (e.g. an exporter option it ignored)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "builder": self.builder,
            "tag": self.tag,
            "image_id": self.image_id,
            "duration_s": round(self.duration_s, 3),
            "log_tail": list(self.log_tail),
            "version": self.version,
            "options": dict(self.options),
            "variations": list(self.variations),
            "engine": self.engine,
            "source": self.source,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildInfo:
        return cls(
            name=data["name"],
            builder=data.get("builder", "docker"),
            tag=data.get("tag", ""),
            image_id=data.get("image_id", ""),
            duration_s=float(data.get("duration_s", 0)),
            log_tail=list(data.get("log_tail") or []),
            version=data.get("version"),
            options=dict(data.get("options") or {}),
            variations=list(data.get("variations") or []),
            engine=data.get("engine"),
            source=data.get("source"),
            notes=list(data.get("notes") or []),
        )


@dataclass
class RunComparison:
    """One pairwise comparison of a check's builds: build ``b`` against build ``a``."""

    a: str
    b: str
    verdict: str
    reason: str
    #: the variations build ``b`` had (``a`` is the run without variations)
    variations: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    #: what this comparison is for: ``run`` (--runs), ``baseline``, ``all``, ``only``
    role: str = "run"

    def to_dict(self) -> dict[str, Any]:
        return flat_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunComparison:
        return flat_from_dict(cls, data, {"reason": ""})


@dataclass
class Culprit:
    """One variation tried alone by the culprit search, and what it changed."""

    variation: str
    breaks: bool
    verdict: str
    reason: str
    #: differences this variation added to the baseline's: ``{path, fields, cause}``
    files: list[dict[str, Any]] = field(default_factory=list)
    config: list[str] = field(default_factory=list)
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "variation": self.variation,
            "breaks": self.breaks,
            "verdict": self.verdict,
            "reason": self.reason,
            "files": [dict(f) for f in self.files],
            "config": list(self.config),
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Culprit:
        return cls(
            variation=data["variation"],
            breaks=bool(data.get("breaks")),
            verdict=data.get("verdict", ""),
            reason=data.get("reason", ""),
            files=[dict(f) for f in data.get("files") or []],
            config=list(data.get("config") or []),
            explanation=data.get("explanation", ""),
        )


@dataclass
class CulpritSearch:
    """The outcome of ``--find-culprits``: the baseline, all variations, then one at a time."""

    conclusion: str
    baseline_verdict: str
    #: the verdict with every chosen variation at once (None: not built, baseline differed)
    all_verdict: str | None = None
    culprits: list[Culprit] = field(default_factory=list)

    @property
    def breaking(self) -> list[str]:
        """Names of the variations that break reproducibility."""
        return [c.variation for c in self.culprits if c.breaks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "conclusion": self.conclusion,
            "baseline_verdict": self.baseline_verdict,
            "all_verdict": self.all_verdict,
            "breaking": self.breaking,
            "culprits": [c.to_dict() for c in self.culprits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CulpritSearch:
        return cls(
            conclusion=data.get("conclusion", ""),
            baseline_verdict=data.get("baseline_verdict", ""),
            all_verdict=data.get("all_verdict"),
            culprits=[Culprit.from_dict(c) for c in data.get("culprits") or []],
        )
