"""Read an image's inventory from its filesystem, without a container (shell-less images work).

The content of the files it needs is taken as the layers stream past (a tap); the final
filesystem, whiteouts applied, decides which version of each file counts.

>>> inventory("docker-archive:app.tar").package_records[:1]  # doctest: +SKIP
[Package(manager='dpkg', name='adduser', version='3.134', arch='all')]
"""

from __future__ import annotations

import hashlib
import inspect
import posixpath
import re
import threading
from typing import TYPE_CHECKING, Any

from ..read.layers import TapFor
from ..records import FileRecord

if TYPE_CHECKING:
    from ..sources.image import Image, Source
from .model import Inventory, Package
from .parsers import (
    FILE_LIMIT,
    INVENTORY_FILES,
    PACKAGE_DB,
    Budget,
    packages_of,
    parse_group,
    parse_os_release,
    parse_passwd,
)


class _Grab:
    """A tap keeping the content of files whose path matches ``pattern``, keyed by sha256."""

    def __init__(
        self,
        pattern: re.Pattern[str],
        into: dict[str, bytes],
        lock: threading.Lock,
        budget: Budget | None = None,
    ):
        self.pattern, self.into, self.lock = pattern, into, lock
        self.budget = budget or Budget()

    def wants(self, path: str, size: int) -> bool:
        if not self.pattern.match(path):
            return False
        self.budget.admit(path, size)  # raises past the limits, never holds more
        return size <= FILE_LIMIT

    def take(self, path: str, data: bytes) -> None:
        with self.lock:
            self.into[hashlib.sha256(data).hexdigest()] = data


def resolve(merged: dict[str, FileRecord], path: str) -> FileRecord | None:
    """The record ``path`` ends at in a merged view, following symlinks (at most 8).

    >>> m = {"/etc/os-release": FileRecord("/etc/os-release", "symlink",
    ...      linkname="../usr/lib/os-release"), "/usr/lib/os-release": FileRecord(
    ...      "/usr/lib/os-release", "file", sha256="ab")}
    >>> resolve(m, "/etc/os-release").path
    '/usr/lib/os-release'
    """
    for _ in range(8):
        rec = merged.get(path)
        if rec is None or rec.type != "symlink" or not rec.linkname:
            return rec
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), rec.linkname))
    return None


def contents(merged: dict[str, FileRecord], by_sha: dict[str, bytes], path: str) -> bytes | None:
    """The final content of ``path`` (symlinks followed), if it was taken."""
    rec = resolve(merged, path)
    if rec is None or rec.sha256 is None:
        return None
    return by_sha.get(rec.sha256)


def read_image(source: Source, pattern: re.Pattern[str] = INVENTORY_FILES) -> tuple[Image, dict]:
    """Read ``source`` in one pass: its records, and the content of files matching ``pattern``
    keyed by sha256."""
    by_sha: dict[str, bytes] = {}
    lock = threading.Lock()
    budget = Budget()
    image = source.read((), None, lambda diff_id: _Grab(pattern, by_sha, lock, budget))
    return image, by_sha


def inventory_of(image: Image, by_sha: dict[str, bytes]) -> Inventory:
    """The inventory of a read image, given the content of its inventory files."""
    from ..sources.image import config_platform

    merged = image.merged()
    packages: list[Package] = []
    for path in sorted(p for p in merged if PACKAGE_DB.match(p)):
        data = contents(merged, by_sha, path)
        if data is not None:
            packages.extend(packages_of(path, data))
    packages.sort(key=lambda p: (p.manager, p.name.lower(), p.version or ""))
    os_data = contents(merged, by_sha, "/etc/os-release")
    if os_data is None:
        os_data = contents(merged, by_sha, "/usr/lib/os-release")
    passwd = contents(merged, by_sha, "/etc/passwd")
    groups = contents(merged, by_sha, "/etc/group")
    cfg = image.config.get("config") or {}
    env = {}
    for item in cfg.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return Inventory(
        ref=image.ref,
        id=image.id,
        platform=config_platform(image.config) or None,
        os=parse_os_release(os_data) if os_data else {},
        package_records=packages,
        user_records=parse_passwd(passwd) if passwd else [],
        group_records=parse_group(groups) if groups else [],
        env=env,
        entrypoint=cfg.get("Entrypoint"),
        cmd=cfg.get("Cmd"),
        user=cfg.get("User") or None,
        workdir=cfg.get("WorkingDir") or None,
        exposed_ports=sorted(cfg.get("ExposedPorts") or {}),
        labels=dict(cfg.get("Labels") or {}),
    )


def inventory(image: str | Source, platform: str | None = None) -> Inventory:
    """Read the inventory of an image given in any transport; no container is started.

    >>> inv = inventory("reprokit-test/debian:bookworm")  # doctest: +SKIP
    >>> inv.os["ID"], inv.managers  # doctest: +SKIP
    ('debian', {'dpkg': 88})
    """
    from ..sources.layout import parse_platform
    from ..sources.refs import as_source

    source = as_source(image, parse_platform(platform) if platform else None)
    read, by_sha = read_image(source)
    return inventory_of(read, by_sha)


def read_layers(
    source: Source, wanted: set[str], tap_for: TapFor | None, cancel: Any = None
) -> None:
    """One pass over only the layers of ``source`` whose diff_id is in ``wanted``."""
    if wanted:
        others = [d for d in source.diff_ids() or [] if d not in wanted]
        if "verify_skipped" in inspect.signature(source.read).parameters:
            # a second pass for evidence: the layers were checked by the first
            source.read(others, cancel, tap_for, verify_skipped=False)
        else:
            source.read(others, cancel, tap_for)
