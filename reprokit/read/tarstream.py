"""Tar members read straight from a layer stream, at a small fixed cost per header.

A plain header (ustar, GNU or v7; numbers in octal or base-256), with PAX extended headers or
GNU long names before it, is parsed here from the bytes, read in large pieces. Anything rarer
(global PAX headers, sparse files, ``hdrcharset``, unknown types, a header failing a check) is
handed to CPython's :mod:`tarfile` at the same position, so that both readers always give the
same members and the same errors (``tests/test_tar_differential.py`` compares them).

>>> import io, tarfile
>>> buf = io.BytesIO()
>>> with tarfile.open(fileobj=buf, mode="w") as tf:
...     info = tarfile.TarInfo("etc/motd"); info.size = 2
...     tf.addfile(info, io.BytesIO(b"hi"))
>>> reader = TarReader(io.BytesIO(buf.getvalue()), Limits())
>>> member = reader.next()
>>> member.name, member.size, reader.hash_data(member)[:12]
(b'etc/motd', 2, '8f434346648f')
>>> reader.next() is None
True
>>> _USUAL.match(buf.getvalue()[:512]) is not None  # the numbers read in one match
True
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zlib
from typing import BinaryIO, Self

from ..errors import Cancelled
from .limits import Limits
from .streams import CHUNK, TAR_BUFSIZE

BLOCK = 512
#: The sha256 of no bytes (shared by every empty file's record).
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: Member types parsed here; the rest go to tarfile.
PLAIN_TYPES = frozenset((b"0", b"\0", b"7", b"1", b"2", b"3", b"4", b"5", b"6"))
#: Types whose data follows the header (tarfile: regular types and unknown types).
_DATA_TYPES = (b"0", b"\0", b"7", b"S")
_SUPPORTED = frozenset(tarfile.SUPPORTED_TYPES)
_EXTENDED = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
#: Header errors tarfile takes for the end of the archive when they are not the first header.
_BAD_HEADER = (tarfile.TruncatedHeaderError, tarfile.InvalidHeaderError)  # type: ignore[attr-defined]


class Refused(Exception):
    """An input went past a :class:`~reprokit.read.limits.Limits` bound (the reader turns it into
    an :class:`~reprokit.errors.ArchiveError` naming the layer)."""


class Member:
    """One tar member as the reader sees it: names as raw bytes, numbers as in the header
    (after PAX records), ``pax`` the member's PAX records (or None), ``sparse`` its map (or
    None)."""

    __slots__ = (
        "devmajor",
        "devminor",
        "gid",
        "info",
        "linkname",
        "mode",
        "mtime",
        "name",
        "pax",
        "size",
        "sparse",
        "type",
        "uid",
    )

    def __init__(
        self,
        type: bytes,
        name: bytes,
        linkname: bytes,
        mode: int,
        uid: int,
        gid: int,
        size: int,
        mtime: float,
        devmajor: int,
        devminor: int,
        pax: dict[str, str] | None = None,
        info: tarfile.TarInfo | None = None,
    ):
        self.type, self.name, self.linkname = type, name, linkname
        self.mode, self.uid, self.gid, self.size, self.mtime = mode, uid, gid, size, mtime
        self.devmajor, self.devminor, self.pax, self.info = devmajor, devminor, pax, info
        self.sparse = info.sparse if info is not None else None  # type: ignore[attr-defined]

    @property
    def has_data(self) -> bool:
        """Whether content follows the header (regular files, and unknown types as tarfile)."""
        return self.type in _DATA_TYPES or self.type not in _SUPPORTED


def _number(field: bytes) -> int:
    """A header number, as :func:`tarfile.nti` reads it; ValueError where nti refuses it (or,
    for a few spellings nti takes, where the caller should ask tarfile)."""
    first = field[0]
    if first == 0o200 or first == 0o377:
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if first == 0o377 else n
    end = field.find(b"\0")
    if end != -1:
        field = field[:end]
    return int(field.strip() or b"0", 8)


#: The numbers of a header as most writers (Go's archive/tar, GNU tar, tarfile) spell them:
#: zero-padded octal ending in NUL (mode, uid, gid, size, mtime, checksum), and device numbers
#: spelled so too or left empty.
_USUAL = re.compile(
    rb".{100}([0-7]{7})\0([0-7]{7})\0([0-7]{7})\0([0-7]{11})\0([0-7]{11})\0([0-7]{6})\0 "
    rb".{173}(?:([0-7]{7})\0([0-7]{7})\0|\0{16})",
    re.DOTALL,
)
_OCTAL = (8,) * 8


def _header(hdr: bytes) -> tuple | None:
    """The fields of one 512-byte header as tarfile's ``frombuf`` reads them, or None when it
    needs tarfile (a zero block, a bad checksum, a number tarfile would refuse, a sparse
    header)."""
    usual = _USUAL.match(hdr)
    if usual is not None:
        numbers = usual.groups()
        size, chksum = int(numbers[3], 8), int(numbers[5], 8)
        get = _NUMBERS.get
        mode, uid, gid, mtime = get(numbers[0]), get(numbers[1]), get(numbers[2]), get(numbers[4])
        if mode is None or uid is None or gid is None or mtime is None:
            mode, uid, gid, mtime = map(
                _remembered, (numbers[0], numbers[1], numbers[2], numbers[4])
            )
        devmajor, devminor = (0, 0) if numbers[6] is None else map(int, numbers[6:], _OCTAL)
    else:
        try:
            chksum = _number(hdr[148:156])
            mode = _number(hdr[100:108])
            uid = _number(hdr[108:116])
            gid = _number(hdr[116:124])
            size = _number(hdr[124:136])
            mtime = _number(hdr[136:148])
            devmajor = _number(hdr[329:337])
            devminor = _number(hdr[337:345])
        except ValueError:
            return None
    # the unsigned sum, the checksum field counted as spaces: 256 + each piece's _byte_sum
    if (
        chksum
        != (_adler(hdr[:148]) & 0xFFFF)
        + (_adler(hdr[156:412]) & 0xFFFF)
        + (_adler(hdr[412:512]) & 0xFFFF)
        + 253
    ):
        return None  # tarfile also accepts a signed-char sum, or this is the end
    kind = hdr[156:157]
    if kind == b"S":
        return None
    name = hdr[0:100]
    if (end := name.find(b"\0")) != -1:
        name = name[:end]
    link = hdr[157:257]
    if (end := link.find(b"\0")) != -1:
        link = link[:end]
    if kind == b"\0" and name.endswith(b"/"):
        kind = b"5"
    if kind == b"5":
        name = name.rstrip(b"/")
    if hdr[345] and kind not in (b"L", b"K"):
        prefix = hdr[345:500]
        if (end := prefix.find(b"\0")) != -1:
            prefix = prefix[:end]
        name = prefix + b"/" + name
        if kind == b"5":
            name = name.rstrip(b"/")
    return kind, name, link, mode, uid, gid, size, mtime, devmajor, devminor


def _byte_sum(data: bytes) -> int:
    """The sum of at most 256 bytes: below adler32's modulus (65521), so its low half, less
    one. :func:`_header` sums a header in three such pieces, inline.

    >>> block = bytes(range(256)) * 2
    >>> 256 + _byte_sum(block[:148]) + _byte_sum(block[156:412]) + _byte_sum(block[412:]) == (
    ...     256 + sum(block) - sum(block[148:156]))
    True
    """
    return (zlib.adler32(data) & 0xFFFF) - 1


_adler = zlib.adler32
#: Octal numbers of headers seen (modes, ids and times recur), bounded.
_NUMBERS: dict[bytes, int] = {}


def _remembered(field: bytes) -> int:
    value = _NUMBERS.get(field)
    if value is None:
        value = int(field, 8)
        if len(_NUMBERS) < 65536:
            _NUMBERS[field] = value
    return value


def _pax_records(data: bytes) -> dict[str, str] | None:
    """PAX records as tarfile's ``_proc_pax`` reads them, or None when tarfile should (a
    ``hdrcharset``, a sparse map, a zero length, a length past int's digits)."""
    if b"hdrcharset=" in data or b"GNU.sparse." in data:
        return None
    records: dict[str, str] = {}
    pos = 0
    match = _PAX_RECORD.match
    try:
        while (found := match(data, pos)) is not None:
            length = int(found.group(1))
            if length == 0:
                return None
            value = data[found.end(2) + 1 : found.start(1) + length - 1]
            records[found.group(2).decode("utf-8", "surrogateescape")] = value.decode(
                "utf-8", "surrogateescape"
            )
            pos += length
    except ValueError:
        return None
    return records


def _or_zero(convert: type, value: str) -> float:
    try:
        return convert(value)
    except ValueError:
        return 0


def _block(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


class _StrictTarInfo(tarfile.TarInfo):
    """A header cut short or failing its checksum ends tarfile's walk silently; here it is an
    error, as in Go's archive/tar (a clean end at a block boundary still ends the layer).

    Extended headers (PAX, GNU long names, sparse maps) are bounded before tarfile reads them.
    """

    @classmethod
    def fromtarfile(cls, tf: tarfile.TarFile) -> Self:
        limits: Limits = tf._rk_limits  # type: ignore[attr-defined]
        depth = tf._rk_chain  # type: ignore[attr-defined]
        if depth > limits.header_chain:
            raise Refused(
                f"more than {limits.header_chain} extended headers in a row at byte {tf.offset} "
                "(limit header_chain)"
            )
        tf._rk_chain = depth + 1  # type: ignore[attr-defined]
        try:
            return super().fromtarfile(tf)
        except _BAD_HEADER as err:
            raise tarfile.ReadError(f"{err} at byte {tf.offset}") from None
        finally:
            tf._rk_chain = depth  # type: ignore[attr-defined]

    def _proc_member(self, tf: tarfile.TarFile):  # type: ignore[no-untyped-def]
        limits: Limits = tf._rk_limits  # type: ignore[attr-defined]
        if self.type in _EXTENDED and not 0 <= self.size <= limits.header_bytes:
            raise Refused(
                f"an extended header of {self.size} bytes at byte {tf.offset} "
                f"(limit header_bytes={limits.header_bytes})"
            )
        return super()._proc_member(tf)  # type: ignore[misc]

    def _proc_sparse(self, tf: tarfile.TarFile):  # type: ignore[no-untyped-def]
        """Old GNU sparse: at most ``header_chain`` extension blocks of sparse map."""
        structs, isextended, origsize = self._sparse_structs  # type: ignore[attr-defined]
        del self._sparse_structs  # type: ignore[attr-defined]
        blocks = 0
        while isextended:
            blocks += 1
            if blocks > 64:
                raise Refused("a sparse map of more than 64 extension blocks")
            buf = tf.fileobj.read(tarfile.BLOCKSIZE)  # type: ignore[union-attr]
            if len(buf) < tarfile.BLOCKSIZE:
                raise tarfile.ReadError("unexpected end of data in a sparse map")
            pos = 0
            for _ in range(21):
                try:
                    offset = tarfile.nti(buf[pos : pos + 12])  # type: ignore[attr-defined]
                    numbytes = tarfile.nti(buf[pos + 12 : pos + 24])  # type: ignore[attr-defined]
                except ValueError:
                    break
                if offset and numbytes:
                    structs.append((offset, numbytes))
                pos += 24
            isextended = bool(buf[504])
        self.sparse = structs  # type: ignore[attr-defined]
        self.offset_data = tf.fileobj.tell()  # type: ignore[union-attr]
        tf.offset = self.offset_data + self._block(self.size)  # type: ignore[attr-defined]
        self.size = origsize
        return self

    def _proc_gnusparse_10(self, next, pax_headers, tf):  # type: ignore[no-untyped-def]
        """PAX sparse 1.0: the map at the start of the data, of at most 100,000 entries."""
        buf = tf.fileobj.read(tarfile.BLOCKSIZE)
        fields, _, buf = buf.partition(b"\n")
        if not fields.strip().isdigit() or int(fields) > 100_000:
            raise Refused("a PAX sparse map of more than 100000 entries or unreadable")
        sparse: list[int] = []
        while len(sparse) < int(fields) * 2:
            if b"\n" not in buf:
                more = tf.fileobj.read(tarfile.BLOCKSIZE)
                if not more or len(buf) > 64:
                    raise tarfile.ReadError("unreadable PAX sparse map")
                buf += more
            number, buf = buf.split(b"\n", 1)
            if not number.isdigit() or len(number) > 20:
                raise tarfile.ReadError("unreadable PAX sparse map")
            sparse.append(int(number))
        next.offset_data = tf.fileobj.tell()
        next.sparse = list(zip(sparse[::2], sparse[1::2], strict=False))


class TarReader:
    """Walks the members of an uncompressed tar stream (``raw`` read in :data:`CHUNK` pieces).

    :meth:`next` gives each :class:`Member`; its content is hashed with :meth:`hash_data` or
    read with :meth:`read_data`, or skipped by the next :meth:`next`. Errors are tarfile's
    (:class:`tarfile.ReadError` for a truncated or broken archive) and :class:`Refused`.
    The reader also stands in for the :class:`tarfile.TarFile` tarfile's header methods expect
    (``fileobj``, ``offset``, ``pax_headers``, …) when a header needs them.
    """

    encoding = "utf-8"
    errors = "surrogateescape"

    def __init__(self, raw: BinaryIO, limits: Limits):
        self._raw = raw
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0  # the read position in _buf
        self._base = 0  # the stream offset of _buf[0]
        self._eof = False
        self._error: BaseException | None = None
        self.fileobj = self
        self.offset = 0  # where the next header starts (tarfile's TarFile.offset)
        self.pax_headers: dict[str, str] = {}  # global PAX records
        self._rk_limits = limits
        self._rk_chain = 0

    # --- the file tarfile reads from ---------------------------------------------------------

    def _have(self, n: int) -> bool:
        """Whether ``n`` bytes are buffered from the read position, reading more as needed.

        The stream is read in :data:`TAR_BUFSIZE` pieces, as tarfile reads it, and an error of
        the stream (e.g. corrupt gzip) is kept until the bytes it stands in place of are
        needed: the reader fails where and how tarfile would.
        """
        if len(self._buf) - self._pos >= n:
            return True
        pieces = [self._buf[self._pos :]]
        have = len(pieces[0])
        while have < n and not self._eof:
            try:
                data = self._raw.read(TAR_BUFSIZE)
            except Exception as err:  # raised by _more, when tarfile would raise it
                self._error = err
                data = b""
            if not data:
                self._eof = True
                break
            pieces.append(data)
            have += len(data)
        self._base += self._pos
        self._buf = b"".join(pieces)
        self._view = memoryview(self._buf)
        self._pos = 0
        return have >= n

    def _more(self, n: int) -> bool:
        """:meth:`_have`, raising the stream's error when it is what stops ``n`` bytes."""
        if self._have(n):
            return True
        if self._error is not None:
            raise self._error
        return False

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the stream)."""
        self._more(n)
        data = self._buf[self._pos : self._pos + n]
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._base + self._pos

    def seek(self, pos: int) -> int:
        """Skip forward to ``pos`` (or to the end of the stream, if it comes first)."""
        skip = pos - self.tell()
        if skip < 0:
            raise tarfile.StreamError("seeking backwards is not allowed")
        while skip > len(self._buf) - self._pos and not self._eof:
            skip -= len(self._buf) - self._pos
            self._pos = len(self._buf)
            self._more(min(skip, CHUNK))
        self._pos += min(skip, len(self._buf) - self._pos)
        return self.tell()

    # --- members -----------------------------------------------------------------------------

    def next(self) -> Member | None:
        """The next member, or None at the end of the archive."""
        if self.offset != self._base + self._pos:  # the rest of the last member's data
            if self._pos < self.offset - self._base <= len(self._buf):
                self._pos = self.offset - self._base  # (tarfile: seek, then read the last byte)
            else:
                self.seek(self.offset - 1)
                if not self.read(1):
                    raise tarfile.ReadError("unexpected end of data")
        member = None if self.pax_headers else self._plain()
        return member if member is not None else self._by_tarfile()

    def member_of(self, blocks: bytes, offset: int) -> tuple[Member | None, int]:
        """The member whose header blocks (its extended headers, then its header) are
        ``blocks``, found at byte ``offset`` of a tar this reader is not given whole (the
        engine's tar-split record keeps a layer's headers apart from its contents): parsed
        exactly as :meth:`next` parses them in a stream, global PAX records carried over from
        the last call. Also how many bytes of ``blocks`` the headers took. Errors as
        :meth:`next`; None at what the stream reader takes for the end of the archive.

        >>> import io, tarfile
        >>> block = tarfile.TarInfo("etc/motd").tobuf()
        >>> member, used = TarReader(io.BytesIO(), Limits()).member_of(block, 1024)
        >>> member.name, used
        (b'etc/motd', 512)
        """
        self._buf, self._pos, self._base = blocks, 0, offset  # (_view: no content is read)
        self._eof, self._error, self.offset = True, None, offset
        member = None if self.pax_headers else self._plain()  # as next, nothing to skip
        if member is None:
            member = self._by_tarfile()
        return member, self.tell() - offset

    def _plain(self) -> Member | None:
        """The next member when its headers are all plain, PAX or GNU long names; else None
        (nothing consumed)."""
        if len(self._buf) - self._pos < BLOCK and not self._have(BLOCK):
            return None
        limits = self._rk_limits
        extended: list[tuple[bytes, bytes]] = []
        at = 0  # from the read position
        while True:
            start = self._pos + at
            fields = _header(self._buf[start : start + BLOCK])
            if fields is None:
                return None
            kind = fields[0]
            if kind in PLAIN_TYPES:
                break
            if kind not in (b"x", b"L", b"K") or len(extended) >= limits.header_chain:
                return None
            size = fields[6]
            if not 0 <= size <= limits.header_bytes:
                return None
            length = _block(size)
            if not self._have(at + BLOCK + length + BLOCK):
                return None
            start = self._pos + at + BLOCK
            extended.append((kind, self._buf[start : start + length]))
            at += BLOCK + length
        kind, name, link, mode, uid, gid, size, mtime, devmajor, devminor = fields
        pax = None
        for ext, data in (
            reversed(extended) if extended else ()
        ):  # tarfile applies the innermost first
            if ext == b"x":
                records = _pax_records(data)
                if records is None:
                    return None
                for key, value in records.items():
                    if key == "path":
                        name = value.rstrip("/").encode("utf-8", "surrogateescape")
                    elif key == "linkpath":
                        link = value.encode("utf-8", "surrogateescape")
                    elif key == "size":
                        size = _or_zero(int, value)  # type: ignore[assignment]
                    elif key == "mtime":
                        mtime = _or_zero(float, value)  # type: ignore[assignment]
                    elif key == "uid":
                        uid = _or_zero(int, value)  # type: ignore[assignment]
                    elif key == "gid":
                        gid = _or_zero(int, value)  # type: ignore[assignment]
                pax = records
            else:
                if (end := data.find(b"\0")) != -1:
                    data = data[:end]
                if ext == b"L":
                    name = data
                else:
                    link = data
                if kind == b"5" and name.endswith(b"/"):
                    name = name[:-1]
        self._pos += at + BLOCK
        self.offset = self._base + self._pos
        if kind in _DATA_TYPES:
            self.offset += _block(size)
        return Member(kind, name, link, mode, uid, gid, size, mtime, devmajor, devminor, pax)

    def _by_tarfile(self) -> Member | None:
        """The next member read by tarfile's header methods (as ``TarFile.next`` does)."""
        try:
            info = _StrictTarInfo.fromtarfile(self)  # type: ignore[arg-type]
        except tarfile.EOFHeaderError:  # type: ignore[attr-defined]
            return None
        except tarfile.EmptyHeaderError:  # type: ignore[attr-defined]
            if self.offset == 0:
                raise tarfile.ReadError("empty file") from None
            return None
        except _BAD_HEADER as err:
            if self.offset == 0:
                raise tarfile.ReadError(str(err)) from None
            return None
        except tarfile.SubsequentHeaderError as err:  # type: ignore[attr-defined]
            raise tarfile.ReadError(str(err)) from None
        except zlib.error as err:
            raise tarfile.ReadError(f"zlib error: {err}") from None
        return Member(
            info.type,
            info.name.encode("utf-8", "surrogateescape"),
            info.linkname.encode("utf-8", "surrogateescape"),
            info.mode,
            info.uid,
            info.gid,
            info.size,
            info.mtime,
            info.devmajor,
            info.devminor,
            info.pax_headers or None,
            info,
        )

    # --- content -----------------------------------------------------------------------------

    def hash_data(self, member: Member, cancel=None) -> str:  # type: ignore[no-untyped-def]
        """The sha256 (hex) of a member's content, read from the stream."""
        if member.size == 0:
            return EMPTY_SHA256
        if member.sparse is not None:
            digest = hashlib.sha256()
            fileobj = tarfile.ExFileObject(self, member.info)  # type: ignore[arg-type]
            while chunk := fileobj.read(CHUNK):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled while reading a layer")
                digest.update(chunk)
            return digest.hexdigest()
        size, pos = member.size, self._pos
        if size <= len(self._buf) - pos:
            self._pos = pos + size
            return hashlib.sha256(self._view[pos : pos + size]).hexdigest()
        digest = hashlib.sha256(self._view[pos:])
        left = size - (len(self._buf) - pos)
        self._pos = len(self._buf)
        while left:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while reading a layer")
            self._more(min(left, CHUNK))
            take = min(left, len(self._buf))
            if not take:
                raise tarfile.ReadError("unexpected end of data")
            digest.update(self._view[:take])
            self._pos = take
            left -= take
        return digest.hexdigest()

    def read_data(self, member: Member) -> bytes:
        """A member's whole content."""
        if member.sparse is not None:
            return tarfile.ExFileObject(self, member.info).read()  # type: ignore[arg-type]
        data = self.read(member.size)
        if len(data) != member.size:
            raise tarfile.ReadError("unexpected end of data")
        return data
