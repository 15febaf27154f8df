"""``dir:PATH``: a directory tree on this machine, read in place (never copied) as one layer.

The tree is walked in sorted order without following any symlink (a symlink is recorded as a
symlink, never entered, so nothing outside PATH is read); the walk is written as a tar stream
into the same streaming reader every other source uses, so records, digests and taps agree
with a tarball or a disk image of the same tree.

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); os.makedirs(f"{d}/etc"); _ = open(f"{d}/etc/motd", "w").write("hi")
>>> os.symlink("/etc/passwd", f"{d}/etc/out")
>>> img = DirectorySource(d).read()
>>> [(r.path, r.type) for r in img.layers[0].records]
[('/etc', 'dir'), ('/etc/motd', 'file'), ('/etc/out', 'symlink')]
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import UsageError
from .rootfs import MachineSource


def walk(root: Path) -> Iterator[tuple[str, str]]:
    """``(absolute path, archive name)`` of every entry below ``root``, sorted, depth first;
    symlinks (to directories too) are yielded, never followed."""
    stack = [(str(root), "")]
    while stack:
        path, name = stack.pop()
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as err:
            raise UsageError(f"dir:{root}: cannot list {path} ({err.strerror})") from None
        below = []
        for entry in entries:
            arc = f"{name}/{entry.name}" if name else entry.name
            yield entry.path, arc
            if entry.is_dir(follow_symlinks=False):
                below.append((entry.path, arc))
        stack.extend(reversed(below))


def _write_tar(root: Path, out, failed: list[BaseException]) -> None:
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            for path, arc in walk(root):
                info = tf.gettarinfo(path, arcname=arc)  # lstat: a symlink stays a link
                if info is None:  # sockets and the like are not archived
                    continue
                info.uname = info.gname = ""
                if info.isreg():
                    with open(path, "rb", opener=_no_follow) as fh:
                        tf.addfile(info, fh)
                else:
                    tf.addfile(info)
    except BaseException as err:  # reported by the reader's thread
        failed.append(err)
    finally:
        with contextlib.suppress(BrokenPipeError):  # the reader stopped early (closed, cancelled)
            out.close()


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


class DirectorySource(MachineSource):
    """A directory tree read in place as one layer."""

    transport = "dir"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.ref = str(path)

    def _check(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            raise UsageError(f"{self}: no such directory") from None
        if not stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{self}: not a directory")

    @contextlib.contextmanager
    def _tar(self) -> Iterator[tuple[Any, list[BaseException]]]:
        """The walk written as a tar into a pipe by a thread: (the read end, its failures)."""
        self._check()
        rfd, wfd = os.pipe()
        failed: list[BaseException] = []
        with open(rfd, "rb") as reader:
            writer = threading.Thread(
                target=_write_tar,
                args=(self.path, open(wfd, "wb"), failed),
                name="reprokit-dir",
                daemon=True,
            )
            writer.start()
            try:
                yield reader, failed
            finally:
                reader.close()  # a writer still going gets EPIPE and stops
                writer.join()
        if failed and not isinstance(failed[0], BrokenPipeError):
            raise UsageError(f"{self}: cannot read the tree ({failed[0]})") from None

    @contextlib.contextmanager
    def _stream(self) -> Iterator[BinaryIO]:
        with self._tar() as (reader, _):
            yield reader
