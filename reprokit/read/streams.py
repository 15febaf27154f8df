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

from ..errors import Cancelled

CHUNK = 1 << 20
#: tarfile's stream mode copies the rest of its buffer on every read (each 512-byte header),
#: so its buffer stays small; file contents are still read in CHUNK pieces. The layer reader
#: (:mod:`reprokit.read.tarstream`) reads in pieces of this size too, as tarfile would.
TAR_BUFSIZE = 64 << 10
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
        """Fill ``b`` from as many chunks as it takes; 0 only at the end of the stream."""
        filled = 0
        while filled < len(b):
            if not self._buf:
                if self._cancel is not None and self._cancel.is_set():
                    raise Cancelled("cancelled while reading an image stream")
                try:
                    self._buf = memoryview(next(self._chunks))
                except StopIteration:
                    break
                continue
            n = min(len(b) - filled, len(self._buf))
            b[filled : filled + n] = self._buf[:n]
            self._buf = self._buf[n:]
            filled += n
        self.consumed += filled
        return filled


class PassThrough(io.RawIOBase):
    """A reader that hands every byte of ``raw`` on unchanged and shows it to :meth:`_seen`;
    :meth:`_ended` runs when ``raw`` has no more."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        if data:
            self._seen(data)
        elif size != 0:
            self._ended()
        return data

    def _seen(self, data: bytes) -> None:
        pass

    def _ended(self) -> None:
        pass


class HashingReader(PassThrough):
    """Passes reads through and keeps a running sha256 and byte count of what went by.

    >>> r = HashingReader(io.BytesIO(b"abc")); _ = r.read()
    >>> r.hexdigest()[:12], r.count
    ('ba7816bf8f01', 3)
    """

    def __init__(self, raw: BinaryIO):
        super().__init__(raw)
        self._hash = hashlib.sha256()
        self.count = 0

    def _seen(self, data: bytes) -> None:
        self._hash.update(data)
        self.count += len(data)

    def drain(self) -> None:
        """Read (and hash) whatever is left, e.g. the zero blocks after a tar's last entry."""
        while self.read(CHUNK):
            pass

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class ZstdFrameCheck(PassThrough):
    """Passes a zstd stream through and walks its frame and block headers, so that input ending
    inside a frame raises :class:`EOFError` (zstandard's stream reader just stops there).

    >>> import zstandard
    >>> blob = zstandard.ZstdCompressor().compress(b"x" * 1000)
    >>> ZstdFrameCheck(io.BytesIO(blob)).read() == blob
    True
    >>> cut = ZstdFrameCheck(io.BytesIO(blob[:-1])); _ = cut.read()
    >>> cut.read()
    Traceback (most recent call last):
    EOFError: zstd stream ends inside a frame
    """

    def __init__(self, raw: BinaryIO):
        super().__init__(raw)
        self._state = "magic"  # the header being collected: magic, frame, block, skippable
        self._need = 4  # its length
        self._head = b""
        self._skip = 0  # bytes of content (or of the rest of a header) to pass over
        self._checksum = 0

    def _ended(self) -> None:
        if self._state != "off" and (self._skip or self._head or self._state != "magic"):
            raise EOFError("zstd stream ends inside a frame")

    def _seen(self, data: bytes) -> None:
        pos = 0
        while pos < len(data) and self._state != "off":
            if self._skip:
                step = min(self._skip, len(data) - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._head), len(data) - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) == self._need:
                head, self._head = self._head, b""
                self._header(head)

    def _header(self, head: bytes) -> None:
        if self._state == "magic":
            if head == ZSTD_MAGIC:
                self._state, self._need = "frame", 1
            elif _skippable(head):
                self._state, self._need = "skippable", 4
            else:
                self._state = "off"  # not zstd: the decompressor reports it
        elif self._state == "frame":  # frame header descriptor, then the rest of the header
            fhd = head[0]
            single = fhd >> 5 & 1
            self._checksum = 4 if fhd & 4 else 0
            self._skip = (1 - single) + (0, 1, 2, 4)[fhd & 3] + (single, 2, 4, 8)[fhd >> 6]
            self._state, self._need = "block", 3
        elif self._state == "block":
            value = int.from_bytes(head, "little")
            self._skip = 1 if value >> 1 & 3 == 1 else value >> 3  # an RLE block holds 1 byte
            if value & 1:  # the last block, then the optional checksum
                self._skip += self._checksum
                self._state, self._need = "magic", 4
        else:  # skippable frame: its length, then that much content
            self._skip = int.from_bytes(head, "little")
            self._state, self._need = "magic", 4


def _skippable(head: bytes) -> bool:
    """Whether ``head`` starts a zstd skippable frame (pzstd opens its output with one)."""
    return len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18"


def decompressed(raw: BinaryIO) -> BinaryIO:
    """``raw`` itself, or a decompressing reader when it starts with a gzip or zstd header."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, CHUNK)  # type: ignore[arg-type,type-var]
    head = buffered.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if head.startswith(ZSTD_MAGIC) or _skippable(head):
        return zstandard.ZstdDecompressor().stream_reader(  # type: ignore[return-value]
            ZstdFrameCheck(buffered),  # type: ignore[arg-type]
            read_size=CHUNK,
            read_across_frames=True,
        )
    return buffered  # type: ignore[return-value]


def compression_of(head: bytes) -> str:
    """Name the compression a blob's first bytes announce: ``gzip``, ``zstd`` or ``none``.

    >>> compression_of(b"\\x1f\\x8b\\x08")
    'gzip'
    """
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC) or _skippable(head):
        return "zstd"
    return "none"
