"""Two read images → layer, config, file and merged-view differences (pure: records in,
:class:`Differences` out; nothing here judges or explains them, see reprokit.verdict).

Layers are paired by index. A pair with equal diff_ids is the same layer and its files are not
compared.

>>> flatten({"config": {"Env": ["A=1"]}, "created": "t"})
{'config.Env[0]': 'A=1', 'created': 't'}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from .gcpause import pausing_gc
from .model import ConfigDiff, FileDiff, LayerDiff
from .read.layers import LayerIndex
from .records import FieldNames, FileRecord
from .sources.image import Image

_MISSING = object()


@dataclass(frozen=True)
class Differences:
    """What :func:`compare_images` found: per layer, per config field, per file (per layer)
    and per path of the final filesystems. Explanations and the verdict come later."""

    layers: list[LayerDiff]
    config: list[ConfigDiff]
    files: list[FileDiff]
    merged: list[FileDiff]


@pausing_gc
def compare_images(a: Image, b: Image) -> Differences:
    """Every difference between two read images (both with all their layers read)."""
    layers, files = compare_layers(a, b)
    return Differences(layers, compare_config(a.config, b.config), files, compare_merged(a, b))


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


def _deletions(records: dict[str, FileRecord]) -> dict[str, FileRecord]:
    """A layer's records with each whiteout (``dir/.wh.name``) keyed by the path it deletes
    (``dir/name``), unless the layer also has an entry at that path. Without whiteouts (a
    merged view never has any) the same dict is returned."""
    if not any(rec.type == "whiteout" for rec in records.values()):
        return records
    out = {}
    for path, rec in records.items():
        if rec.type == "whiteout":
            parent, _, base = path.rpartition("/")
            deleted = f"{parent}/{base.removeprefix('.wh.')}"
            if deleted not in records:
                out[deleted] = replace(rec, path=deleted)
                continue
        out[path] = rec
    return out


def compare_records(
    a: dict[str, FileRecord], b: dict[str, FileRecord], layer: int | None = None
) -> list[FileDiff]:
    """Added, removed and modified paths between two path → record maps, sorted by path.

    Deletion markers are not differences with a cause: a whiteout or an opaque marker both
    sides have is the same deletion whatever its metadata (its mtime is the time of the
    deletion), and is not reported. A whiteout only one side has is reported at the path it
    deletes, as in the merged view: ``removed`` when only B's layer deletes it, ``added`` when
    only A's does; the side that deletes holds a record of type ``whiteout`` at that path.

    One pass over A's paths and one over B's; a record both sides share (the same object,
    from a shared layer) is skipped at once, and two records are compared as one tuple of
    their compared fields before the fields that differ are named. Equal differing-field
    lists are one shared list (100,000 differences have a handful of distinct ones).

    >>> wh = FileRecord("/var/cache/apt/archives/.wh.x.deb", "whiteout", mtime=1)
    >>> compare_records({wh.path: wh}, {wh.path: FileRecord(wh.path, "whiteout", mtime=2)})
    []
    >>> [(d.path, d.change, d.b.type) for d in compare_records({}, {wh.path: wh})]
    [('/var/cache/apt/archives/x.deb', 'removed', 'whiteout')]
    """
    out = []
    a, b = _deletions(a), _deletions(b)
    names = FieldNames()
    markers = ("whiteout", "opaque")
    for path, ra in a.items():
        rb = b.get(path)
        if rb is None:
            deletes = ra.type == "whiteout"
            out.append(FileDiff(path, "added" if deletes else "removed", [], layer, ra, None))
        elif ra is rb or (ra.type == rb.type and ra.type in markers):
            continue  # the same record, or the same deletion
        elif (fields := names.differing(ra, rb)) is not None:
            out.append(FileDiff(path, "modified", fields, layer, ra, rb))
    for path, rb in b.items():
        if path not in a:
            deletes = rb.type == "whiteout"
            out.append(FileDiff(path, "removed" if deletes else "added", [], layer, None, rb))
    out.sort(key=_path_of)
    return out


_path_of = attrgetter("path")


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
