"""Read a layer in place: its tar headers from the engine's ``tar-split`` record, its file
contents from the layer's directory, into the same :class:`LayerIndex` its tar would give.

The Docker Engine keeps, beside each layer's directory, the exact headers and padding of the
tar it was made from (``tar-split.json.gz``: "segments" of raw tar bytes and, between them, one
entry per member whose content lies in the directory). ``docker save`` rebuilds the layer's tar
from the two; here the headers are parsed by the export's own parser
(:meth:`~reprokit.read.tarstream.TarReader.member_of`) and made records by its own
:func:`~reprokit.read.layers.record_of` (same records, same whiteouts, opaque markers,
hardlinks and order, by construction) and each regular file is hashed straight from
the directory (:mod:`reprokit.read.layer_tree`: never following a symlink, so nothing outside
the layer directory is ever read), without any tar being made.

What cannot be read exactly this way (a member whose file is missing, of another size or
type, a path the same tar writes twice, a header the tar reader refuses) raises
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
import tarfile
import zlib
from collections.abc import Iterator
from typing import Any

from ..errors import ArchiveError, Cancelled
from ..records import FileRecord
from .layer_tree import LayerTree, NotInPlace, relative
from .layers import (
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    LayerIndex,
    Tap,
    _check_globals,
    _check_member,
    _path,
    record_of,
)
from .limits import current
from .streams import CHUNK
from .tarstream import BLOCK, EMPTY_SHA256, Member, Refused, TarReader

#: member types whose content the layer directory holds (sparse and unknown types it does not)
_CONTENT = frozenset((b"0", b"\0", b"7"))
_SEGMENT_B = b'{"type":2,"payload":"'
_ENTRY_B = b'{"type":1,"name":"'


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


def _clean(name: bytes) -> bool:
    """Whether a member name is ASCII and already normal: it is its path in the directory.

    >>> _clean(b"usr/bin/env"), _clean(b"./etc"), _clean(b"a//b"), _clean(b"a/.wh.b")
    (True, False, False, False)
    """
    return (
        name.isascii()
        and not name.startswith((b"/", b"."))
        and b"//" not in name
        and b"/." not in name
        and not name.endswith(b"/")
    )


def header_member(reader: TarReader, blocks: bytes, offset: int) -> Member:
    """The member whose header blocks are ``blocks`` (at byte ``offset`` of the layer's tar),
    parsed by the export's own parser (:meth:`TarReader.member_of`); :class:`NotInPlace` for
    what that parser refuses or takes for the end (the export then tells what it makes of it),
    or for blocks holding more than one member's headers."""
    try:
        member, used = reader.member_of(blocks, offset)
    except (
        tarfile.TarError,
        EOFError,
        ValueError,
        OverflowError,
        UnicodeError,
        RecursionError,
        IndexError,
    ) as err:
        raise NotInPlace(f"a header at byte {offset} the tar reader refuses ({err})") from None
    if member is None:
        raise NotInPlace(f"the tar reader ends the archive at byte {offset}, before a member")
    if used != len(blocks):
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
    ints: dict[int, int] = {}
    asked: set[str] = set()
    taken: set[str] = set()
    written: set[str] = set()
    reader = TarReader(io.BytesIO(), limits)
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
            pending, pending_bytes = [], 0
            member = header_member(reader, blocks, size - len(blocks))
            if reader.pax_headers and len(reader.pax_headers) != global_size:
                global_size = _check_globals(reader.pax_headers, limits)
            _check_member(member, limits)
            kind, name = member.type, member.name
            path = _path(name)
            sha = None
            if member.has_data:
                if kind not in _CONTENT or member.sparse is not None or payload != member.size:
                    raise NotInPlace(f"{path}: a member this reader does not take (sparse?)")
                _once(written, path)
                if tap is not None and tap.wants(path, payload):
                    asked.add(path)
                    rel = name if _clean(name) else relative(name)
                    data = tree.read(rel, payload) if payload else b""
                    sha = hashlib.sha256(data).hexdigest()
                    tap.take(path, data)
                    taken.add(path)
                elif payload:
                    rel = name if _clean(name) else relative(name)
                    sha = tree.digest(rel, payload, cancel)
                    if regular is not None:
                        regular.append((len(records), rel))
                else:
                    sha = EMPTY_SHA256
                    if regular is not None:
                        regular.append((len(records), b""))
                content += payload
                digests[path] = sha
            elif payload:
                raise NotInPlace(f"{path}: a member of type {kind!r} with {payload} bytes")
            else:
                if kind == b"1":
                    sha = digests.get(_path(member.linkname))
                    if sha is not None:
                        digests[path] = sha
                _once(written, path)
            size += payload
            pad = _pad(payload)
            records.append(record_of(member, sha, path, ints))
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
