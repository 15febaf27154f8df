"""The package diff of two read images: packages added, removed or at another version, read
only from the database files whose content differs.

>>> diff_packages([Package("dpkg", "curl", "7")], [Package("dpkg", "curl", "8")])[0].change
'changed'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model import PackageDiff
from ..read.layers import Tap, TapFor
from ..records import FileRecord
from ..sources.image import Collect

if TYPE_CHECKING:
    from ..sources.image import Image
from .model import Package
from .parsers import FILE_LIMIT, PACKAGE_DB, Budget, packages_of


def diff_packages(a: Iterable[Package], b: Iterable[Package]) -> list[PackageDiff]:
    """Packages added in B, removed from A, or at another version, by (manager, name).

    >>> diff_packages([Package("dpkg", "curl", "7")], [Package("dpkg", "curl", "8")])[0].change
    'changed'
    """

    def key(p: Package) -> tuple[str, str]:
        name = p.name.lower()
        return p.manager, re.sub(r"[-_.]+", "-", name) if p.manager == "python" else name

    def versions(pkgs: Iterable[Package]) -> dict[tuple[str, str], tuple[str, str | None]]:
        out: dict[tuple[str, str], tuple[str, str | None]] = {}
        for p in pkgs:
            name, version = out.get(key(p), (p.name, None))
            joined = ", ".join(sorted(filter(None, {version, p.version}))) or None
            out[key(p)] = (name, joined)
        return out

    va, vb = versions(a), versions(b)
    out = []
    for k in sorted(va.keys() | vb.keys()):
        if k not in vb:
            out.append(PackageDiff(k[0], va[k][0], "removed", va[k][1], None))
        elif k not in va:
            out.append(PackageDiff(k[0], vb[k][0], "added", None, vb[k][1]))
        elif va[k][1] != vb[k][1]:
            out.append(PackageDiff(k[0], va[k][0], "changed", va[k][1], vb[k][1]))
    return out


def _db_files(merged: dict[str, FileRecord]) -> dict[str, str | None]:
    return {p: r.sha256 for p, r in merged.items() if PACKAGE_DB.match(p) and r.type == "file"}


def _provider(image: Image, path: str, sha: str | None) -> str | None:
    """The diff_id of the topmost layer giving ``path`` its final content."""
    for diff_id, layer in reversed(list(zip(image.diff_ids, image.layers, strict=False))):
        if layer is None:
            continue
        for rec in layer.records:
            if rec.path == path and rec.sha256 == sha:
                return diff_id
    return None


def _may_touch_packages(image_a: Image, image_b: Image) -> bool:
    """Whether a layer that differs holds a package-database file or a deletion marker."""
    for i in range(max(len(image_a.diff_ids), len(image_b.diff_ids))):
        ids = [img.diff_ids[i] if i < len(img.diff_ids) else None for img in (image_a, image_b)]
        if ids[0] == ids[1]:
            continue
        for img in (image_a, image_b):
            layer = img.layers[i] if i < len(img.layers) else None
            if layer is None:
                continue
            for rec in layer.records:
                if rec.type in ("whiteout", "opaque") or PACKAGE_DB.match(rec.path):
                    return True
    return False


class PackagePlan:
    """The package-database files whose content differs between two read images, by side and
    by the layer (diff_id) giving each; read them with :meth:`tap_for` in a pass over those
    layers (possibly shared with other readers), then :meth:`diff`."""

    def __init__(self, wanted: dict[str, dict[str, list[str]]]):
        self.wanted_paths = wanted
        self.got: dict[str, dict[str, dict[str, bytes]]] = {"a": {}, "b": {}}

    def wanted(self, side: str) -> set[str]:
        """The diff_ids of the layers to read on ``side``."""
        return set(self.wanted_paths[side])

    def tap_for(self, side: str) -> TapFor:
        """The taps collecting ``side``'s database files."""
        wanted, got = self.wanted_paths[side], self.got[side]
        every = {p for paths in wanted.values() for p in paths}
        budget = Budget()

        def tap_for(diff_id: str | None) -> Tap | None:
            paths = every if diff_id is None else set(wanted.get(diff_id, ()))
            if not paths:
                return None
            return _Budgeted(Collect(paths, FILE_LIMIT, got.setdefault(diff_id or "", {})), budget)

        return tap_for

    def diff(self) -> list[PackageDiff]:
        """The package diff from the files read."""
        sides = []
        for side in "ab":
            packages: list[Package] = []
            for found in self.got[side].values():
                for path, data in sorted(found.items()):
                    packages.extend(packages_of(path, data))
            sides.append(packages)
        return diff_packages(sides[0], sides[1])


def package_plan(
    image_a: Image,
    image_b: Image,
    already: dict[str, dict[tuple[str, str], bytes]] | None = None,
) -> PackagePlan | None:
    """What :class:`PackagePlan` must read; None when no differing layer touches a database.
    ``already`` holds files read on the way, by side and ``(diff_id, path)``: they are not
    read again.

    Costs nothing when no differing layer holds a package database.
    """
    if image_a.diff_ids == image_b.diff_ids or not _may_touch_packages(image_a, image_b):
        return None
    files_a = _db_files(image_a.merged())
    files_b = _db_files(image_b.merged())
    differing = {p for p in files_a.keys() | files_b.keys() if files_a.get(p) != files_b.get(p)}
    if not differing:
        return None
    wanted: dict[str, dict[str, list[str]]] = {"a": {}, "b": {}}
    for side, image, files in (("a", image_a, files_a), ("b", image_b, files_b)):
        for path in sorted(differing & files.keys()):
            diff_id = _provider(image, path, files[path])
            if diff_id is not None:
                wanted[side].setdefault(diff_id, []).append(path)
    plan = PackagePlan(wanted)
    for side, kept in (already or {}).items():
        for (diff_id, path), data in kept.items():
            paths = wanted[side].get(diff_id, [])
            if path in paths:
                plan.got[side].setdefault(diff_id, {})[path] = data
                paths.remove(path)
                if not paths:
                    del wanted[side][diff_id]
    return plan


class _Budgeted:
    """A :class:`Collect` whose files count against a :class:`Budget`."""

    def __init__(self, collect: Collect, budget: Budget):
        self.collect, self.budget = collect, budget

    def wants(self, path: str, size: int) -> bool:
        if not self.collect.wants(path, size):
            return False
        self.budget.admit(path, size)
        return True

    def take(self, path: str, data: bytes) -> None:
        self.collect.take(path, data)
