"""Two read images → layer, config, file and merged-view differences, and a verdict.

Layers are paired by index. A pair with equal diff_ids is the same layer and its files are not
compared. The verdict is ``identical`` (same config, same diff_ids), ``equivalent`` (only file
mtimes, image/history creation times and the legacy builder's per-build fields differ) or
``different``.

>>> flatten({"config": {"Env": ["A=1"]}, "created": "t"})
{'config.Env[0]': 'A=1', 'created': 't'}
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .model import ConfigDiff, FileDiff, LayerDiff
from .read.layers import LayerIndex
from .records import FileRecord, differing_fields
from .sources.image import Image

#: Config fields whose differences still allow the verdict ``equivalent``: creation times, the
#: legacy builder's per-build container id/hostname and parent-image ids, and the layer digests
#: (layers are judged by their files instead).
TIMESTAMP_FIELDS = (re.compile(r"^created$"), re.compile(r"^history\[\d+\]\.created$"))
LEGACY_BUILDER_FIELDS = (
    re.compile(r"^container$"),
    re.compile(r"^(container_config|config)\.(Hostname|Image)$"),
)
DERIVED_FIELDS = (re.compile(r"^rootfs\.diff_ids\[\d+\]$"),)
_MISSING = object()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A JSON document as ``{dotted.path[index]: scalar}``; empty containers stay as values."""
    out: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


def compare_config(a: dict[str, Any], b: dict[str, Any]) -> list[ConfigDiff]:
    """Every flattened config field whose value differs, in field order."""
    fa, fb = flatten(a), flatten(b)
    out = []
    for key in sorted(fa.keys() | fb.keys(), key=_field_order):
        va, vb = fa.get(key, _MISSING), fb.get(key, _MISSING)
        if va == vb and type(va) is type(vb):
            continue
        change = "added" if va is _MISSING else "removed" if vb is _MISSING else "modified"
        out.append(
            ConfigDiff(key, None if va is _MISSING else va, None if vb is _MISSING else vb, change)
        )
    return out


def _field_order(key: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"\[(\d+)\]", key)]


def config_field_kind(field: str) -> str:
    """``timestamp``, ``legacy-builder``, ``derived`` or ``other`` for a flattened field."""
    if any(p.match(field) for p in TIMESTAMP_FIELDS):
        return "timestamp"
    if any(p.match(field) for p in LEGACY_BUILDER_FIELDS):
        return "legacy-builder"
    if any(p.match(field) for p in DERIVED_FIELDS):
        return "derived"
    return "other"


def compare_records(
    a: dict[str, FileRecord], b: dict[str, FileRecord], layer: int | None = None
) -> list[FileDiff]:
    """Added, removed and modified paths between two path → record maps, sorted by path."""
    out = []
    for path in sorted(a.keys() | b.keys()):
        ra, rb = a.get(path), b.get(path)
        if ra is None:
            out.append(FileDiff(path, "added", [], layer, None, rb))
        elif rb is None:
            out.append(FileDiff(path, "removed", [], layer, ra, None))
        elif fields := differing_fields(ra, rb):
            out.append(FileDiff(path, "modified", fields, layer, ra, rb))
    return out


def fill_shared_layers(a: Image, b: Image) -> None:
    """Layers left unread in one image (same diff_id as the other's) are shared from the other."""
    known = {
        layer.diff_id: layer for image in (a, b) for layer in image.layers if layer is not None
    }
    for image in (a, b):
        for i, layer in enumerate(image.layers):
            if layer is None:
                image.layers[i] = known.get(image.diff_ids[i])


def compare_layers(a: Image, b: Image) -> tuple[list[LayerDiff], list[FileDiff]]:
    """Pair layers by index; compare the files of each pair whose diff_ids differ."""
    history_a, history_b = a.history(), b.history()
    layer_records, file_records = [], []
    for i in range(max(len(a.diff_ids), len(b.diff_ids))):
        la = a.layers[i] if i < len(a.layers) else None
        lb = b.layers[i] if i < len(b.layers) else None
        da = a.diff_ids[i] if i < len(a.diff_ids) else None
        db = b.diff_ids[i] if i < len(b.diff_ids) else None
        same = da is not None and da == db
        diffs: list[FileDiff] = []
        if not same:
            diffs = compare_records(_paths(la), _paths(lb), layer=i)
        file_records.extend(diffs)
        created_a = history_a[i] if i < len(history_a) else None
        created_b = history_b[i] if i < len(history_b) else None
        layer_records.append(
            LayerDiff(
                index=i,
                a=da,
                b=db,
                same=same,
                created_by=created_a if created_a is not None else created_b,
                files_differing=len(diffs),
                size_a=la.size if la is not None else None,
                size_b=lb.size if lb is not None else None,
                created_by_b=created_b,
            )
        )
    return layer_records, file_records


def _paths(layer: LayerIndex | None) -> dict[str, FileRecord]:
    return layer.by_path() if layer is not None else {}


def compare_merged(a: Image, b: Image) -> list[FileDiff]:
    """Differences of the final filesystems (whiteouts and opaque directories applied)."""
    if a.diff_ids == b.diff_ids:
        return []
    return compare_records(a.merged(), b.merged())


def _timestamp_only(diff: FileDiff) -> bool:
    return diff.change == "modified" and diff.fields == ["mtime"]


def verdict(
    a: Image,
    b: Image,
    config: list[ConfigDiff],
    files: list[FileDiff],
    merged: list[FileDiff],
) -> tuple[str, str]:
    """The verdict and a one-line reason for it."""
    if a.diff_ids == b.diff_ids and not config:
        return "identical", f"same config and the same {len(a.diff_ids)} layer(s)"
    real_config = [c for c in config if config_field_kind(c.field) == "other"]
    real_files = [d for d in files if not _timestamp_only(d)]
    real_merged = [d for d in merged if not _timestamp_only(d)]
    layers_differ = [
        i for i, (da, db) in enumerate(zip(a.diff_ids, b.diff_ids, strict=False)) if da != db
    ]
    if len(a.diff_ids) != len(b.diff_ids):
        return "different", (
            f"layer count differs ({len(a.diff_ids)} vs {len(b.diff_ids)})"
            + (f"; {len(real_files)} file difference(s) beyond timestamps" if real_files else "")
        )
    if real_config or real_files or real_merged:
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
        return "different", "; ".join(parts)
    parts = []
    mtimes = Counter(d.layer for d in files if _timestamp_only(d))
    if mtimes:
        parts.append(f"{sum(mtimes.values())} file mtime(s) in {len(mtimes)} layer(s)")
    kinds = Counter(config_field_kind(c.field) for c in config)
    if kinds["timestamp"]:
        parts.append(f"{kinds['timestamp']} creation time(s)")
    if kinds["legacy-builder"]:
        parts.append(f"{kinds['legacy-builder']} legacy-builder field(s)")
    silent = [i for i in layers_differ if not any(d.layer == i for d in files)]
    if silent:
        parts.append(f"tar encoding of layer {', '.join(map(str, silent))}")
    return "equivalent", "only timestamps differ: " + ", ".join(parts or ["config metadata"])
