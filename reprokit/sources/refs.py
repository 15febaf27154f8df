"""Transport references (skopeo's names) → :class:`Source`.

>>> str(parse_ref("oci:./layout:app"))
'oci:./layout:app'
"""

from __future__ import annotations

from ..errors import UsageError
from .daemon import DaemonSource
from .image import Source
from .layout import (
    Platform,
    split_path_ref,
)
from .store import StoreSource

TRANSPORTS = ("docker-daemon", "docker-archive", "oci", "oci-archive")
#: machine images and root filesystems (reprokit.sources.rootfs, .directory, .disk)
MACHINE_TRANSPORTS = ("rootfs-archive", "dir", "disk")


def parse_ref(text: str, platform: Platform | None = None, base_url: str | None = None) -> Source:
    """Turn a transport reference into a :class:`Source`; a bare REF is ``docker-daemon:REF``."""
    if not text or not text.strip():
        raise UsageError("empty image reference")
    transport, _, rest = text.partition(":")
    if transport in MACHINE_TRANSPORTS:
        return _machine_source(text, transport, rest)
    if text.startswith(("docker://", "containers-storage:")):
        known = ", ".join(TRANSPORTS + MACHINE_TRANSPORTS)
        raise UsageError(f"{text}: transport {transport!r} is not supported; use one of {known}")
    if transport == "docker-daemon":
        if not rest:
            raise UsageError(f"{text}: docker-daemon: needs an image name or id")
        return DaemonSource(rest, platform, base_url)
    if transport in ("docker-archive", "oci", "oci-archive"):
        path, name = split_path_ref(rest)
        if not path:
            raise UsageError(f"{text}: {transport}: needs a path")
        return StoreSource(transport, path, name, platform)
    return DaemonSource(text, platform, base_url)


def _machine_source(text: str, transport: str, rest: str) -> Source:
    """``rootfs-archive:PATH``, ``dir:PATH`` or ``disk:PATH[:PARTITION]``."""
    if not rest:
        raise UsageError(f"{text}: {transport}: needs a path")
    if transport == "rootfs-archive":
        from .rootfs import RootfsArchiveSource

        return RootfsArchiveSource(rest)
    if transport == "dir":
        from .directory import DirectorySource

        return DirectorySource(rest)
    from .disk import DiskSource, split_disk_ref

    return DiskSource(*split_disk_ref(rest))


def as_source(image: str | Source, platform: Platform | None = None) -> Source:
    """Accept a :class:`Source` as is, or parse a transport reference."""
    return image if isinstance(image, Source) else parse_ref(image, platform)
