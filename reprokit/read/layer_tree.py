"""A layer's directory in the engine's storage, its files opened without ever leaving it.

Every path is opened one component at a time relative to the directory above, each with
``O_NOFOLLOW``: a symlink in a layer (to ``/etc/shadow``, or a directory symlink on the way)
is never followed, so nothing outside the layer directory is read; a file is checked with
``fstat`` to be the regular file of the size its record says before it is read.

>>> relative("./usr//bin/../lib/x")
b'usr/lib/x'
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from typing import Any

from ..errors import Cancelled
from .streams import CHUNK

#: file contents up to this size are read in one call and hashed at once
SMALL = 1 << 20
#: directory descriptors kept open while a layer is walked
_DIR_FDS = 128
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class NotInPlace(Exception):
    """This layer cannot be read exactly from the engine's storage (the reason is the
    message); read it from the export. ``asked`` holds the paths the layer's tap already
    wanted, ``taken`` those it already received, so that reading the layer again does not
    give the tap a file twice (:class:`Resumed`)."""

    asked: frozenset[str] = frozenset()
    taken: frozenset[str] = frozenset()


class LayerTree:
    """A layer's directory, its files opened one path component at a time relative to the
    directory above, never following a symlink (``O_NOFOLLOW``): a member's path can only
    name a file inside the layer directory.

    >>> tree = LayerTree("/")
    >>> tree.digest(b"proc/self/root/etc/hostname", 1)  # /proc/self is a symlink
    Traceback (most recent call last):
    reprokit.read.layer_tree.NotInPlace: proc/self/root/etc/hostname: cannot open it in the ...
    >>> tree.close()
    """

    def __init__(self, root: str | os.PathLike[str]):
        try:
            self.root = os.open(root, _OPEN_DIR)
        except OSError as err:
            raise NotInPlace(f"{root}: {err.strerror}") from None
        self._dirs: dict[bytes, int] = {b"": self.root}
        self._buf = bytearray(CHUNK)

    def close(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs = {}

    def _dir(self, rel: bytes) -> int:
        fd = self._dirs.get(rel)
        if fd is None:
            parent, _, base = rel.rpartition(b"/")
            fd = os.open(base, _OPEN_DIR, dir_fd=self._dir(parent))
            if len(self._dirs) >= _DIR_FDS:
                for key, old in list(self._dirs.items()):
                    if key:
                        os.close(old)
                        del self._dirs[key]
            self._dirs[rel] = fd
        return fd

    def _open(self, rel: bytes, size: int) -> int:
        parent, _, base = rel.rpartition(b"/")
        try:
            fd = os.open(base, _OPEN_FILE, dir_fd=self._dir(parent))
        except OSError as err:
            what = rel.decode("utf-8", "backslashreplace")
            raise NotInPlace(
                f"{what}: cannot open it in the layer directory ({err.strerror})"
            ) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != size:
            os.close(fd)
            raise NotInPlace(
                f"{rel.decode('utf-8', 'backslashreplace')}: not the regular file of {size} "
                "bytes its header describes"
            )
        return fd

    def read(self, rel: bytes, size: int) -> bytes:
        """The whole content of a file of ``size`` bytes."""
        fd = self._open(rel, size)
        try:
            data = os.read(fd, size + 1) if size <= SMALL else self._read_all(fd, size)
        finally:
            os.close(fd)
        if len(data) != size:
            raise NotInPlace(f"{rel.decode('utf-8', 'backslashreplace')}: changed while read")
        return data

    def _read_all(self, fd: int, size: int) -> bytes:
        parts = []
        while chunk := os.read(fd, CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def digest(self, rel: bytes, size: int, cancel: Any = None) -> str:
        """The sha256 of a file of ``size`` bytes, read in large pieces."""
        if size <= SMALL:
            return hashlib.sha256(self.read(rel, size)).hexdigest()
        fd = self._open(rel, size)
        digest, view, total = hashlib.sha256(), memoryview(self._buf), 0
        try:
            while n := os.readv(fd, [self._buf]):
                digest.update(view[:n])
                total += n
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled while reading a layer")
        finally:
            os.close(fd)
        if total != size:
            raise NotInPlace(f"{rel.decode('utf-8', 'backslashreplace')}: changed while read")
        return digest.hexdigest()


def relative(name: str | bytes) -> bytes:
    """A member's path inside the layer directory, as the engine extracted it (raw bytes)."""
    return posixpath.normpath(b"/" + os.fsencode(name)).lstrip(b"/")
