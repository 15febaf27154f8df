"""Read a layer in place: its tar headers from the engine's ``tar-split`` record, its file
contents from the layer's directory, into the same :class:`LayerIndex` its tar would give.

The Docker Engine keeps, beside each layer's directory, the exact headers and padding of the
tar it was made from (``tar-split.json.gz``: "segments" of raw tar bytes and, between them, one
entry per member whose content lies in the directory). ``docker save`` rebuilds the layer's tar
from the two; here the headers are parsed as the export's parser would (same records, same
whiteouts, opaque markers, hardlinks and order) and each regular file is hashed straight from
the directory (:mod:`reprokit.read.layer_tree`: never following a symlink, so nothing outside
the layer directory is ever read), without any tar being made.

What cannot be read exactly this way (a member whose file is missing, of another size or
type, a path the same tar writes twice, a header this fast path does not take) raises
:class:`NotInPlace`: the caller reads that layer from the engine's export instead.

>>> _pad(1), _pad(512), _pad(0)
(511, 0, 0)
"""

from __future__ import annotations

import binascii
import hashlib
import io
import json
import os
import struct
import tarfile
import zlib
from collections.abc import Iterator
from typing import Any, ClassVar, cast

from ..errors import ArchiveError, Cancelled
from ..records import FileRecord, normalize_path
from .layer_tree import LayerTree, NotInPlace, relative
from .layers import (
    EMPTY_SHA256,
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    LayerIndex,
    Refused,
    Tap,
    _check_member,
    _StrictTarInfo,
    record_of,
)
from .limits import Limits, current
from .streams import CHUNK

BLOCK = tarfile.BLOCKSIZE
#: header types the fast path parses (anything else goes through tarfile's own parser)
_SIMPLE = frozenset(b"01234567\x00")
_CONTENT = frozenset((tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE))
_SEGMENT_B = b'{"type":2,"payload":"'
_ENTRY_B = b'{"type":1,"name":"'
_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


class Resumed:
    """A layer's tap, again, for the export after a :class:`NotInPlace`: a file it already
    wanted is not asked again (a tap may count what it wants), one it received is not given
    twice.

    >>> class Show:
    ...     def wants(self, path, size): return True
    ...     def take(self, path, data): print("took", path)
    >>> err = NotInPlace("changed"); err.asked = err.taken = frozenset({"/a"})
    >>> tap = Resumed(Show(), err)
    >>> tap.wants("/a", 1)
    True
    >>> tap.take("/a", b""); tap.take("/b", b"")
    took /b
    """

    def __init__(self, tap: Tap, err: NotInPlace):
        self.tap, self.asked, self.taken = tap, err.asked, err.taken

    def wants(self, path: str, size: int) -> bool:
        return path in self.asked or self.tap.wants(path, size)

    def take(self, path: str, data: bytes) -> None:
        if path not in self.taken:
            self.tap.take(path, data)


def _pad(size: int) -> int:
    return -size % BLOCK


class _Header:
    """The fields :func:`record_of` reads of a plain one-block header (tarfile's TarInfo
    costs more to make than the whole record)."""

    __slots__ = ("devmajor", "devminor", "gid", "linkname", "mode", "mtime", "name", "size")
    __slots__ += ("type", "uid")
    pax_headers: ClassVar[dict[str, str]] = {}
    sparse = None

    def isreg(self) -> bool:
        return self.type in _CONTENT


_NUMBERS: dict[bytes, int] = {}


def _number(field: bytes) -> int:
    """tarfile's ``nti`` for octal text (the caller checked it is not base-256); the same
    fields (modes, ids, times) recur, so their values are remembered."""
    value = _NUMBERS.get(field)
    if value is None:
        value = int(field.split(b"\0", 1)[0].strip() or b"0", 8)
        if len(_NUMBERS) < 65536:
            _NUMBERS[field] = value
    return value


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode(tarfile.ENCODING, "surrogateescape")


def _byte_sum(data: bytes) -> int:
    """The sum of at most 256 bytes (below Adler-32's modulus, so its low half is exact)."""
    return (zlib.adler32(data) & 0xFFFF) - 1


def _unsigned_sum(buf: bytes) -> int:
    """A header's unsigned checksum (its checksum field counted as spaces), as tarfile's
    ``calc_chksums``.

    >>> buf = bytes(range(256)) * 2
    >>> _unsigned_sum(buf) == 256 + sum(buf) - sum(buf[148:156])
    True
    """
    return 256 + _byte_sum(buf[:148]) + _byte_sum(buf[156:412]) + _byte_sum(buf[412:512])


def _clean(name: str) -> bool:
    """Whether a member name is ASCII and already normal: ``/`` + name is its path.

    >>> _clean("usr/bin/env"), _clean("./etc"), _clean("a//b"), _clean("a/.wh.b")
    (True, False, False, False)
    """
    return (
        name.isascii()
        and not name.startswith(("/", "."))
        and "//" not in name
        and "/." not in name
        and not name.endswith("/")
    )


#: a header's fields: name, mode, uid, gid, size, mtime, chksum; (type flag); linkname;
#: (magic, version, uname, gname); devmajor, devminor; prefix (tarfile.TarInfo.frombuf)
_USTAR = struct.Struct("100s8s8s8s12s12s8s1s100s8x32x32x8s8s155s12x")
assert _USTAR.size == BLOCK


def _fast_header(buf: bytes) -> _Header | None:
    """One 512-byte header exactly as ``tarfile.TarInfo.frombuf`` reads it, or None when it
    takes more than the common case (base-256 numbers, GNU or extended types, a bad sum)."""
    if len(buf) != BLOCK or buf[156] not in _SIMPLE:
        return None
    fields = _USTAR.unpack(buf)
    raw_name, kind, link, raw_prefix = fields[0], fields[7], fields[8], fields[11]
    raw = (*fields[1:7], fields[9], fields[10])
    numbers = [_NUMBERS.get(f) for f in raw]
    if None in numbers:
        try:  # base-256 numbers (first byte 0x80 or 0xff) are no octal text: tarfile decides
            numbers = [_number(f) for f in raw]
        except ValueError:
            return None
    mode, uid, gid, size, mtime, chksum, devmajor, devminor = numbers
    if min(mode, uid, gid, size, devmajor, devminor) < 0:
        return None  # "-1": record_of marks it invalid
    if chksum != _unsigned_sum(buf):
        return None  # the signed sum, or an error: tarfile's parser decides
    h = _Header()
    name = _text(raw_name)
    if kind == tarfile.AREGTYPE and name.endswith("/"):
        kind = tarfile.DIRTYPE
    if kind == tarfile.DIRTYPE:
        name = name.rstrip("/")
    if raw_prefix[0]:
        prefix = _text(raw_prefix)
        if prefix:
            name = prefix + "/" + name
    h.name, h.type, h.linkname = name, kind, _text(link) if link[0] else ""
    h.mode, h.uid, h.gid, h.size, h.mtime = mode, uid, gid, size, mtime
    h.devmajor, h.devminor = devmajor, devminor
    return h


class _HeaderFile:
    """What tarfile's header parsing needs of a ``TarFile``: the header blocks of one member
    at a time (extended headers included), the global PAX headers and the limits."""

    def __init__(self, limits: Limits):
        self.encoding, self.errors = tarfile.ENCODING, "surrogateescape"
        self.pax_headers: dict[str, str] = {}
        self.offset = 0
        self.fileobj = io.BytesIO()
        self._rk_limits = limits

    def parse(self, blocks: bytes, offset: int) -> tarfile.TarInfo:
        self.fileobj = io.BytesIO(blocks)
        self.offset = 0
        try:
            member = _StrictTarInfo.fromtarfile(cast(tarfile.TarFile, self))
        except (
            tarfile.TarError,
            EOFError,
            ValueError,
            OverflowError,
            UnicodeError,
            RecursionError,
            IndexError,
        ) as err:  # the export's parser then tells what it makes of it
            raise NotInPlace(f"a header at byte {offset} tarfile does not take ({err})") from None
        if self.fileobj.tell() != len(blocks):
            raise NotInPlace(f"header blocks at byte {offset} hold more than one member")
        return member


def _lines(split: str | os.PathLike[str], longest: int) -> Iterator[bytes]:
    """The lines of a gzip file, decompressed in large pieces (gzip's own readline is slow)."""
    with open(split, "rb") as f:
        inflate = zlib.decompressobj(31)
        rest = b""
        while not inflate.eof:
            raw = inflate.unconsumed_tail or f.read(CHUNK)
            if not raw:
                raise NotInPlace("a truncated tar-split record")
            lines = (rest + inflate.decompress(raw, 4 * CHUNK)).split(b"\n")
            rest = lines.pop()
            if len(rest) > longest:
                raise NotInPlace(f"a tar-split record of more than {longest} bytes")
            yield from lines
        if rest:
            yield rest


def _record(line: bytes, longest: int) -> tuple[int, bytes | None]:
    """One tar-split record read as JSON: ``(0, bytes)`` for a raw segment, ``(size, None)``
    for a member's content."""
    if len(line) > longest:
        raise NotInPlace(f"a tar-split record of more than {longest} bytes")
    if not line.strip():
        return 0, b""
    entry = json.loads(line)
    if not isinstance(entry, dict):
        raise NotInPlace("a tar-split record that is not an object")
    if entry.get("type") == 2:
        return 0, binascii.a2b_base64(entry.get("payload") or "")
    if entry.get("type") == 1:
        size = entry.get("size") or 0
        if not isinstance(size, int) or size < 0:
            raise NotInPlace(f"a tar-split entry with size {size!r}")
        return size, None
    raise NotInPlace(f"a tar-split record of type {entry.get('type')!r}")


def index_in_place(
    split: str | os.PathLike[str],
    tree: LayerTree,
    diff_id: str,
    where: str = "layer",
    cancel: Any = None,
    tap: Tap | None = None,
    max_entries: int | None = None,
    regular: list[tuple[int, bytes]] | None = None,
) -> LayerIndex:
    """The :class:`LayerIndex` of the layer whose tar-split record is ``split`` and whose
    directory is ``tree``, identical to what :func:`~reprokit.read.layers.index_layer` makes
    of the layer's tar (``diff_id`` is taken as given: nothing here hashes the tar).

    ``tap`` is fed the same files and bytes as on the export path, as they are read; a layer
    that raises :class:`NotInPlace` says what its tap already had (:class:`Resumed`).
    ``regular`` (without a tap) receives the record index and directory path of each regular
    file, for a tap fed later (:func:`feed`).
    Raises :class:`ArchiveError` past a :class:`~reprokit.read.limits.Limits` bound.
    """
    limits = current()
    entry_limit, limit_name = limits.layer_entries, "layer_entries"
    if max_entries is not None and max_entries < entry_limit:
        entry_limit, limit_name = max_entries, "image_entries"
    records: list[FileRecord] = []
    digests: dict[str, str] = {}
    asked: set[str] = set()
    taken: set[str] = set()
    written: set[str] = set()
    headers = _HeaderFile(limits)
    pending: list[bytes] = []
    pending_bytes = 0
    most = limits.header_bytes * (limits.header_chain + 1) + 2 * BLOCK
    longest = 2 * limits.header_bytes + 1024
    size = content = pad = 0
    global_size = 0
    skip = len(_SEGMENT_B)
    try:
        for line in _lines(split, longest):
            if line.startswith(_SEGMENT_B):  # the common cases without json (Go's field order)
                segment = binascii.a2b_base64(line[skip : line.index(b'"', skip)])
            elif line.startswith(_ENTRY_B):  # quotes in a name are escaped: the last is the size
                at = line.rfind(b',"size":')
                payload = int(line[at + 8 : line.index(b",", at + 8)]) if at > 0 else 0
                segment = None
            else:
                payload, segment = _record(line, longest)
            if segment is not None:
                pending.append(segment)
                size += len(segment)
                pending_bytes += len(segment)
                if pending_bytes > most:
                    raise Refused(f"extended headers of more than {limits.header_bytes} bytes")
                continue
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while reading a layer")
            if len(records) >= entry_limit:
                raise Refused(f"more than {entry_limit} entries (limit {limit_name})")
            blocks = (pending[0] if len(pending) == 1 else b"".join(pending))[pad:]
            offset = size - len(blocks)
            pending, pending_bytes = [], 0
            member: Any = None if headers.pax_headers else _fast_header(blocks)
            plain = member is not None
            if not plain:
                member = headers.parse(blocks, offset)
                if headers.pax_headers and len(headers.pax_headers) != global_size:
                    global_size = len(headers.pax_headers)
                    total = sum(len(k) + len(v) for k, v in headers.pax_headers.items())
                    if total > limits.header_bytes:
                        raise Refused(
                            f"global PAX headers of more than {limits.header_bytes} bytes "
                            "(limit header_bytes)"
                        )
            if not plain or limits.name_bytes < 512:  # a plain header's names fit in 512
                _check_member(member, limits)
            kind = member.type
            sha = None
            name = member.name
            clean = plain and _clean(name)
            path = "/" + name if clean else normalize_path(name)
            if member.isreg():
                if kind not in _CONTENT or payload != member.size:
                    raise NotInPlace(f"{path}: a member this reader does not take (sparse?)")
                _once(written, path)
                if tap is not None and tap.wants(path, member.size):
                    asked.add(path)
                    rel = name.encode() if clean else relative(name)
                    data = tree.read(rel, member.size) if payload else b""
                    sha = hashlib.sha256(data).hexdigest()
                    tap.take(path, data)
                    taken.add(path)
                elif payload:
                    rel = name.encode() if clean else relative(name)
                    sha = tree.digest(rel, member.size, cancel)
                    if regular is not None:
                        regular.append((len(records), rel))
                else:
                    sha = EMPTY_SHA256
                    if regular is not None:
                        regular.append((len(records), b""))
                content += member.size
            elif kind not in tarfile.SUPPORTED_TYPES or payload:
                raise NotInPlace(f"{path}: a member of type {kind!r} with {payload} bytes")
            else:
                if kind == tarfile.LNKTYPE:
                    sha = digests.get(normalize_path(member.linkname))
                _once(written, path)
            size += payload
            pad = _pad(payload)
            record = _plain_record(member, path, sha) if plain else record_of(member, sha)
            if sha is not None:
                digests[record.path] = sha
            records.append(record)
    except Refused as err:
        raise ArchiveError(where, f"refused: {err}") from None
    except NotInPlace as err:
        err.asked, err.taken = frozenset(asked), frozenset(taken)
        raise
    except (OSError, EOFError, zlib.error, ValueError, UnicodeError) as err:
        failed = NotInPlace(f"unreadable tar-split record ({err})")
        failed.asked, failed.taken = frozenset(asked), frozenset(taken)
        raise failed from None
    return LayerIndex(diff_id=diff_id, size=size, records=records, content_bytes=content)


def _plain_record(h: _Header, path: str, sha: str | None) -> FileRecord:
    """:func:`~reprokit.read.layers.record_of` for a plain header (no PAX records, octal
    numbers that are never out of range), without its checks."""
    kind = _KINDS[h.type]
    linkname = None
    if kind == "symlink":
        linkname = h.linkname.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    elif kind == "hardlink":
        linkname = normalize_path(h.linkname)
    base = path.rpartition("/")[2]
    if base.startswith(WHITEOUT_PREFIX):
        kind = "opaque" if base == OPAQUE_MARKER else "whiteout"
    device = (h.devmajor, h.devminor) if kind in ("char", "block") else None
    size = h.size if kind == "file" else 0
    mode = h.mode & 0o7777
    return FileRecord(path, kind, mode, h.uid, h.gid, size, h.mtime, sha, linkname, (), device)


def _once(written: set[str], path: str) -> None:
    """A path written twice by one tar (or written, then whited out) is in its directory only
    as written last: the earlier member's content is not there to hash."""
    parent, _, base = path.rpartition("/")
    if base.startswith(WHITEOUT_PREFIX):
        if base == OPAQUE_MARKER:
            return
        path = parent + "/" + base[len(WHITEOUT_PREFIX) :]
    if path in written:
        raise NotInPlace(f"{path}: written more than once in the layer")
    written.add(path)


def feed(
    tap: Tap, records: list[FileRecord], regular: list[tuple[int, bytes]], tree: LayerTree
) -> None:
    """Give ``tap`` the regular files it wants of a layer read without it (``regular`` from
    :func:`index_in_place`), in order, each checked against its record's digest."""
    asked: set[str] = set()
    taken: set[str] = set()
    try:
        for i, rel in regular:
            record = records[i]
            if not tap.wants(record.path, record.size):
                continue
            asked.add(record.path)
            data = tree.read(rel, record.size) if record.size else b""
            if hashlib.sha256(data).hexdigest() != record.sha256:
                raise NotInPlace(f"{record.path}: changed while read")
            tap.take(record.path, data)
            taken.add(record.path)
    except NotInPlace as err:
        err.asked, err.taken = frozenset(asked), frozenset(taken)
        raise
