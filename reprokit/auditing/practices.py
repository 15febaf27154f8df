"""Practice checks over an image as read: user, base pinning, labels, permissions, waste.

Each check takes the :class:`Audited` image and yields :class:`~reprokit.auditing.model.Hit`
records; the rule table (rules.py) gives them their id, severity and fix.

>>> from reprokit.records import FileRecord
>>> from reprokit.read.layers import LayerIndex
>>> from reprokit.sources.image import Image
>>> lower = LayerIndex("l0", 0, [FileRecord("/big", "file", 0o644, size=300_000)], 300_000)
>>> upper = LayerIndex("l1", 0, [FileRecord("/.wh.big", "whiteout")])
>>> img = Image("x", "sha256:1", {"config": {"User": ""}}, ["l0", "l1"], [lower, upper])
>>> a = Audited.of(img)
>>> [(h.path, h.layer, h.removed_in) for h in wasted_bytes(a)]
[('/big', 0, 1)]
>>> [h.message for h in root_user(a)]
['the image runs as root (User is empty)']
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..layer_history import Step, steps
from ..read.layers import LayerIndex, covered
from ..records import FileRecord
from ..sources.image import Image
from ..text import human_size
from . import dockerfile as df
from .model import Hit, redact
from .secrets import PATTERNS, redact_text

#: Files overwritten or deleted later, of at least this size, are listed one by one.
WASTE_MIN = 64 << 10
WASTE_TOP = 10
#: Efficiency under this (with at least WASTE_TOTAL_MIN wasted) is a finding.
EFFICIENCY_MIN = 0.9
WASTE_TOTAL_MIN = 1 << 20
TRACE_LABELS = (
    "org.opencontainers.image.revision",
    "org.opencontainers.image.source",
    "org.opencontainers.image.created",
)
WRITABLE_OK = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
CACHES = {
    "apt package cache": ("/var/cache/apt/archives/", "/var/lib/apt/lists/"),
    "apk cache": ("/var/cache/apk/",),
    "pip cache": ("/root/.cache/pip/",),
    "npm cache": ("/root/.npm/",),
    "dnf/yum cache": ("/var/cache/dnf/", "/var/cache/yum/"),
    "logs": ("/var/log/",),
}


@dataclass
class Audited:
    """An image as the checks see it: config, layers, merged view, steps, Dockerfile."""

    image: Image
    merged: dict[str, FileRecord]
    steps: list[Step | None]
    dockerfile: str | None = None
    dockerfile_path: str | None = None
    runtime: Any = None
    _changes: list[tuple[set[str], set[str], dict[str, FileRecord]]] = field(
        default_factory=list, repr=False
    )
    _waste: tuple[int, int, list[tuple[int, int, FileRecord]]] | None = field(
        default=None, repr=False
    )

    @classmethod
    def of(cls, image: Image, dockerfile: str | None = None, path: str | None = None) -> Audited:
        return cls(image, image.merged(), image.steps(), dockerfile, path)

    @property
    def layers(self) -> list[LayerIndex]:
        return [layer or LayerIndex("", 0) for layer in self.image.layers]

    @property
    def config(self) -> dict[str, Any]:
        return self.image.config.get("config") or {}

    def step(self, layer: int | None) -> str:
        """The layer's Dockerfile-like step, for messages (callers redact it)."""
        if layer is None or layer >= len(self.steps):
            return "?"
        step = self.steps[layer]
        return step.text if step else "(no history)"

    def removed_in(self, layer: int, path: str) -> int | None:
        """The first layer after ``layer`` that deletes or replaces ``path``."""
        if not self._changes:
            self._changes = [(*idx.deletions(), idx.by_path()) for idx in self.layers]
        parent = posixpath.dirname(path)
        for m in range(layer + 1, len(self._changes)):
            gone, opaque, records = self._changes[m]
            if (
                path in records
                or covered(path, gone)
                or covered(parent, opaque)
                or _replaced(parent, records)
            ):
                return m
        return None


def _replaced(directory: str, records: dict[str, FileRecord]) -> bool:
    """Whether a non-directory entry of a layer replaces ``directory`` or one of its parents."""
    while True:
        rec = records.get(directory)
        if rec is not None and rec.type != "dir":
            return True
        if directory == "/":
            return False
        directory = posixpath.dirname(directory)


def root_user(a: Audited) -> Iterator[Hit]:
    user = str(a.config.get("User") or "").strip()
    name = user.split(":", 1)[0]
    if name in ("", "0", "root"):
        what = "is empty" if not user else f"is {user!r}"
        yield Hit("config", "config.User", f"the image runs as root (User {what})")


def _bases(a: Audited, kind: str) -> Iterator[Hit]:
    if a.dockerfile is None:
        return
    for base in df.bases(a.dockerfile):
        if df.pinning(base.image) == kind:
            yield Hit(
                "dockerfile",
                f"{a.dockerfile_path or 'Dockerfile'}:{base.line}",
                f"FROM {base.image}",
                evidence=f"line {base.line}: FROM {base.image}",
            )


def base_latest(a: Audited) -> Iterator[Hit]:
    return _bases(a, "latest")


def base_unpinned(a: Audited) -> Iterator[Hit]:
    return _bases(a, "tag")


def base_build_arg(a: Audited) -> Iterator[Hit]:
    return _bases(a, "arg")


def traceability_labels(a: Audited) -> Iterator[Hit]:
    labels = a.config.get("Labels") or {}
    missing = [k for k in TRACE_LABELS if not labels.get(k)]
    if missing:
        short = ", ".join(k.rsplit(".", 1)[-1] for k in missing)
        yield Hit("config", "config.Labels", f"no {short} label", ", ".join(missing))


def _final(a: Audited, wanted) -> Iterator[tuple[int | None, FileRecord]]:
    picked = [r for r in a.merged.values() if wanted(r)]
    if not picked:
        return
    where = {id(r): i for i, layer in enumerate(a.layers) for r in layer.records}
    for rec in sorted(picked, key=lambda r: r.path):
        yield where.get(id(rec)), rec


def setuid_files(a: Audited) -> Iterator[Hit]:
    for layer, rec in _final(a, lambda r: r.type == "file" and r.mode & 0o6000):
        bits = "+".join(b for b, m in (("setuid", 0o4000), ("setgid", 0o2000)) if rec.mode & m)
        yield Hit("final", rec.path, f"{bits} file", f"mode {rec.mode:04o}", layer)


def world_writable(a: Audited) -> Iterator[Hit]:
    def wanted(r: FileRecord) -> bool:
        if r.type in ("symlink", "hardlink", "char", "block") or not r.mode & 0o002:
            return False  # devices such as /dev/null are meant to be writable by all
        if r.type == "dir" and r.mode & 0o1000 and r.path in WRITABLE_OK:
            return False
        return not any(r.path == p or r.path.startswith(p + "/") for p in WRITABLE_OK)

    for layer, rec in _final(a, wanted):
        yield Hit("final", rec.path, f"world-writable {rec.type}", f"mode {rec.mode:04o}", layer)


def _waste(a: Audited) -> tuple[int, int, list[tuple[int, int, FileRecord]]]:
    """Bytes of all file versions, bytes not in the final filesystem, and those versions
    (biggest first); computed once per image."""
    if a._waste is not None:
        return a._waste
    total, wasted, versions = 0, 0, []
    for i, layer in enumerate(a.layers):
        for rec in layer.records:
            if rec.type != "file" or not rec.size:
                continue
            total += rec.size
            if a.merged.get(rec.path) is not rec:
                wasted += rec.size
                versions.append((rec.size, i, rec))
    versions.sort(key=lambda v: (-v[0], v[2].path))
    a._waste = (total, wasted, versions)
    return a._waste


def wasted_bytes(a: Audited) -> Iterator[Hit]:
    for size, i, rec in _waste(a)[2][:WASTE_TOP]:
        if size < WASTE_MIN:
            break
        m = a.removed_in(i, rec.path)
        how = f"deleted or overwritten in layer {m}" if m is not None else "not in the final view"
        yield Hit("buried", rec.path, f"{human_size(size)} in layer {i}, {how}", "", i, m)


def efficiency(a: Audited) -> Iterator[Hit]:
    total, wasted, versions = _waste(a)
    score = 1 - wasted / total if total else 1.0
    if score < EFFICIENCY_MIN and wasted >= WASTE_TOTAL_MIN:
        top = ", ".join(f"{v[2].path} ({human_size(v[0])})" for v in versions[:3])
        yield Hit(
            "buried",
            None,
            f"efficiency {score:.1%}: {human_size(wasted)} of {human_size(total)} wasted",
            f"biggest: {top}",
        )


def efficiency_summary(a: Audited) -> dict[str, Any]:
    """dive's numbers: efficiency, wasted and total bytes of the layers' files."""
    total, wasted, _ = _waste(a)
    return {
        "efficiency": round(1 - wasted / total, 4) if total else 1.0,
        "wasted_bytes": wasted,
        "content_bytes": total,
    }


def caches_left(a: Audited) -> Iterator[Hit]:
    for name, prefixes in CACHES.items():
        files = [
            r
            for r in a.merged.values()
            if r.type == "file" and r.size and r.path.startswith(prefixes)
        ]
        size = sum(r.size for r in files)
        if size >= 1024:
            files.sort(key=lambda r: -r.size)
            top = ", ".join(f"{r.path} ({human_size(r.size)})" for r in files[:3])
            where = prefixes[0].rstrip("/")
            yield Hit("final", where, f"{name}: {len(files)} file(s), {human_size(size)}", top)


def runtime_writes(a: Audited) -> Iterator[Hit]:
    outcome = a.runtime
    if outcome is None:
        return
    for path in outcome.paths:
        yield Hit(
            "runtime",
            path,
            f"write to {path} failed on the read-only root filesystem",
            outcome.summary,
        )


def secret_build_args(a: Audited) -> Iterator[Hit]:
    """RUN steps whose history shows ``|N NAME=value …`` with a secret-named NAME."""
    pattern = PATTERNS["secret-assignment"]
    for step in steps(a.image.config):
        for name, value in step.build_args:
            if value and pattern.find(f"{name}={value}".encode()):
                yield Hit(
                    "history",
                    f"history[{step.index}]",
                    f"build arg {name} is recorded in the history of {redact_text(step.text)[:80]}",
                    f"{name}={redact(value)}",
                    step.layer,
                )
