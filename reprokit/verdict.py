"""The verdict, judged once on the explained differences, by one named tolerance bundle.

A :class:`Tolerance` lists what may differ while two images still count as ``equivalent``
(like diffoci's ``--semantic``, a named bundle of ignore options). :data:`TOLERANCES` holds
``strict`` (nothing: any difference is ``different``) and ``equivalent`` (alias ``semantic``):
file mtimes, creation times, the legacy builder's per-build fields, the derived layer digests
and tar-encoding-only layer differences. The explanation rules for config fields
(:mod:`reprokit.explain.rules`) are made from the same bundle, so verdict and explanation
cannot disagree.

>>> EQUIVALENT.config_kind("history[3].created"), EQUIVALENT.config_kind("config.Env[0]")
('timestamp', None)
>>> EQUIVALENT.config_kind("container_config.Env[0]"), STRICT.config_kind("created")
('legacy-builder', None)
>>> from reprokit.model import ConfigDiff, ImageInfo
>>> img = ImageInfo("a", "sha256:1", ["sha256:l0"])
>>> judge((img, img), [ConfigDiff("created", "t1", "t2")], [], [])
Judgement(verdict='equivalent', reason='only timestamps differ: 1 creation time(s)')
>>> judge((img, img), [ConfigDiff("created", "t1", "t2")], [], [], "strict").verdict
'different'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .errors import UsageError
from .globs import compile_globs
from .model import ConfigDiff, FileDiff, ImageInfo

#: what each kind of tolerated config field is explained as (reprokit.explain.rules)
KIND_CAUSES = {
    "timestamp": "image-metadata",
    "legacy-builder": "image-metadata",
    "derived": "layer-digest",
    "filesystem": "disk-bytes",
}

#: Disk images (reprokit.sources.disk): filesystem-level fields by the cause explaining them.
#: Disks whose files agree and which differ only here are ``equivalent``; ``identical`` needs
#: the same bytes (``disk.sha256``).
DISK_FIELDS: dict[str, tuple[str, ...]] = {
    "filesystem-uuid": ("disk.filesystems[*].uuid",),
    "directory-hash-seed": ("disk.filesystems[*].hash_seed",),
    "filesystem-times": (
        *("disk.filesystems[*].created", "disk.filesystems[*].last_mount"),
        *("disk.filesystems[*].last_write", "disk.filesystems[*].last_checked"),
        "disk.filesystems[*].mount_count",
    ),
    "inode-order": ("disk.filesystems[*].order",),
    "partition-guid": ("disk.partition_table.guid", "disk.partition_table.partitions[*].guid"),
    "disk-bytes": ("disk.sha256",),
}


@dataclass(frozen=True)
class Tolerance:
    """A named bundle of what may differ in ``equivalent`` images.

    ``config`` pairs a kind (``timestamp``, ``legacy-builder``, ``derived``) with the
    flattened config field patterns (:mod:`reprokit.globs`) of that kind.
    """

    name: str
    #: a file whose differing fields are all among these differs only in metadata
    file_fields: frozenset[str] = frozenset()
    #: config field patterns by kind, tried in order
    config: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: a layer whose files are all alike but whose diff_id differs (its tar encoding)
    tar_encoding: bool = False

    def patterns(self, kind: str) -> tuple[str, ...]:
        """The config field patterns of ``kind`` (empty when the bundle has none)."""
        return next((p for k, p in self.config if k == kind), ())

    def config_kind(self, field: str) -> str | None:
        """The kind of tolerated config field ``field`` is, None when it is not tolerated."""
        for kind, patterns in self.config:
            if compile_globs(patterns).match(field):
                return kind
        return None

    def tolerates_file(self, d: FileDiff) -> bool:
        """Whether a file difference is tolerated: modified in the tolerated fields only."""
        return d.change == "modified" and bool(d.fields) and self.file_fields.issuperset(d.fields)


STRICT = Tolerance("strict")
EQUIVALENT = Tolerance(
    "equivalent",
    file_fields=frozenset({"mtime"}),
    config=(
        ("timestamp", ("created", "history[*].created")),
        (
            "legacy-builder",  # per build: container id, hostname, parent image, container
            (
                *("container", "container_config", "container_config.**"),
                *("config.Hostname", "config.Image"),
            ),
        ),
        ("derived", ("rootfs.diff_ids[*]",)),  # layers are judged by their files instead
        ("filesystem", tuple(p for ps in DISK_FIELDS.values() for p in ps)),
    ),
    tar_encoding=True,
)
#: the named bundles; ``semantic`` is another name for ``equivalent``
TOLERANCES: dict[str, Tolerance] = {"strict": STRICT, "equivalent": EQUIVALENT}
TOLERANCES["semantic"] = EQUIVALENT


def tolerance(name: str | Tolerance) -> Tolerance:
    """The bundle called ``name`` (a Tolerance is returned as is).

    >>> tolerance("semantic") is EQUIVALENT
    True
    """
    if isinstance(name, Tolerance):
        return name
    try:
        return TOLERANCES[name]
    except KeyError:
        raise UsageError(f"unknown tolerance {name!r}; known: {', '.join(TOLERANCES)}") from None


class Judgement(NamedTuple):
    """The verdict (``identical``, ``equivalent``, ``different``) and a one-line reason."""

    verdict: str
    reason: str


def judge(
    images: tuple[ImageInfo, ImageInfo],
    config: Sequence[ConfigDiff],
    files: Sequence[FileDiff],
    merged: Sequence[FileDiff],
    bundle: str | Tolerance = "equivalent",
) -> Judgement:
    """The verdict on the differences that count (not ``ignored``), by ``bundle``; the reason
    says how many ignored differences (per-layer files, config fields) were not counted."""
    tol = tolerance(bundle)
    ignored = sum(d.ignored for d in files) + sum(c.ignored for c in config)
    if ignored:
        config = [c for c in config if not c.ignored]
        files = [d for d in files if not d.ignored]
        merged = [d for d in merged if not d.ignored]
    outcome, reason = _judge(images[0].diff_ids, images[1].diff_ids, config, files, merged, tol)
    manifests = images[0].manifest_digest, images[1].manifest_digest
    if outcome == "identical" and None not in manifests and manifests[0] != manifests[1]:
        # same config and layers, yet two OCI manifests (annotations, media types, order)
        outcome = "equivalent"
        reason = f"{reason}, but the OCI manifests differ ({manifests[0]} vs {manifests[1]})"
    if ignored:
        reason = f"{reason} ({ignored} ignored difference(s) not counted)"
    return Judgement(outcome, reason)


def _judge(
    ids_a: list[str],
    ids_b: list[str],
    config: Sequence[ConfigDiff],
    files: Sequence[FileDiff],
    merged: Sequence[FileDiff],
    tol: Tolerance,
) -> tuple[str, str]:
    if ids_a == ids_b and not config:
        return "identical", f"same config and the same {len(ids_a)} layer(s)"
    kinds = [tol.config_kind(c.field) for c in config]
    real_config = [c for c, kind in zip(config, kinds, strict=True) if kind is None]
    real_files = [d for d in files if not tol.tolerates_file(d)]
    real_merged = [d for d in merged if not tol.tolerates_file(d)]
    layers_differ = [i for i, (da, db) in enumerate(zip(ids_a, ids_b, strict=False)) if da != db]
    if len(ids_a) != len(ids_b):
        return "different", (
            f"layer count differs ({len(ids_a)} vs {len(ids_b)})"
            + (f"; {len(real_files)} file difference(s) beyond timestamps" if real_files else "")
        )
    with_files = {d.layer for d in files}
    silent = [i for i in layers_differ if i not in with_files]
    if real_config or real_files or real_merged or (silent and not tol.tar_encoding):
        parts = []
        if real_files or real_merged:
            where = sorted({d.layer for d in real_files if d.layer is not None})
            shown = real_merged or real_files
            names = ", ".join(d.path for d in shown[:3])
            more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
            parts.append(
                f"{len(shown)} path(s) differ beyond timestamps"
                + (f" in layer {', '.join(map(str, where))}" if where else "")
                + f": {names}{more}"
            )
        if real_config:
            names = ", ".join(c.field for c in real_config[:3])
            more = f" and {len(real_config) - 3} more" if len(real_config) > 3 else ""
            parts.append(f"config differs in {names}{more}")
        if silent and not tol.tar_encoding:
            parts.append(f"tar encoding of layer {', '.join(map(str, silent))} differs")
        return "different", "; ".join(parts)
    parts = []
    mtimes = Counter(d.layer for d in files if tol.tolerates_file(d))
    if mtimes:
        parts.append(f"{sum(mtimes.values())} file mtime(s) in {len(mtimes)} layer(s)")
    counts = Counter(kinds)
    if counts["timestamp"]:
        parts.append(f"{counts['timestamp']} creation time(s)")
    if counts["legacy-builder"]:
        parts.append(f"{counts['legacy-builder']} legacy-builder field(s)")
    if silent:
        parts.append(f"tar encoding of layer {', '.join(map(str, silent))}")
    if counts["filesystem"]:
        parts.append(f"{counts['filesystem']} filesystem-level field(s)")
        return "equivalent", "same files; only filesystem metadata and times differ: " + (
            ", ".join(parts)
        )
    return "equivalent", "only timestamps differ: " + ", ".join(parts or ["config metadata"])
