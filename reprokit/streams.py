"""Small file-like adapters for reading layers as streams: chunks, hashing, decompression.

>>> import gzip, io
>>> stream = decompressed(io.BytesIO(gzip.compress(b"hello")))
>>> stream.read()
b'hello'
"""

from __future__ import annotations

import gzip
import hashlib
import io
import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import zstandard

from .errors import Cancelled

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ChunkReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (e.g. the engine's ``docker save`` stream).

    ``cancel`` is checked between chunks so another thread can stop a long read.

    >>> ChunkReader(iter([b"ab", b"cd"])).read(3)
    b'abc'
    """

    def __init__(self, chunks: Iterable[bytes], cancel: threading.Event | None = None):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf = memoryview(b"")
        self._cancel = cancel
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            if self._cancel is not None and self._cancel.is_set():
                raise Cancelled("cancelled while reading an image stream")
            try:
                self._buf = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.consumed += n
        return n


class HashingReader(io.RawIOBase):
    """Passes reads through and keeps a running sha256 and byte count of what went by.

    >>> r = HashingReader(io.BytesIO(b"abc")); _ = r.read()
    >>> r.hexdigest()[:12], r.count
    ('ba7816bf8f01', 3)
    """

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(b))
        if not data:
            return 0
        n = len(data)
        b[:n] = data
        self._hash.update(data)
        self.count += n
        return n

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        if data:
            self._hash.update(data)
            self.count += len(data)
        return data

    def drain(self) -> None:
        """Read (and hash) whatever is left, e.g. the zero blocks after a tar's last entry."""
        while self.read(CHUNK):
            pass

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def decompressed(raw: BinaryIO) -> BinaryIO:
    """``raw`` itself, or a decompressing reader when it starts with a gzip or zstd header."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, CHUNK)  # type: ignore[arg-type]
    head = buffered.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC):
        return zstandard.ZstdDecompressor().stream_reader(buffered, read_size=CHUNK)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


def compression_of(head: bytes) -> str:
    """Name the compression a blob's first bytes announce: ``gzip``, ``zstd`` or ``none``.

    >>> compression_of(b"\\x1f\\x8b\\x08")
    'gzip'
    """
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"
