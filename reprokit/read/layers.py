"""Read a layer's tar stream once into file records, and stack layers into the merged view.

Nothing is extracted: each regular file's content is hashed as it streams past, the layer's
own digest (its diff_id) is computed over the same bytes, and only the records are kept.

>>> import io, tarfile
>>> buf = io.BytesIO()
>>> with tarfile.open(fileobj=buf, mode="w") as tf:
...     info = tarfile.TarInfo("etc/motd"); info.size = 2
...     tf.addfile(info, io.BytesIO(b"hi"))
>>> layer = index_layer(io.BytesIO(buf.getvalue()))
>>> [(r.path, r.type, r.size) for r in layer.records]
[('/etc/motd', 'file', 2)]
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
import tarfile
import urllib.parse
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import zstandard

from .. import progress
from ..errors import ArchiveError, Cancelled
from ..records import FileRecord
from .limits import Limits, current
from .streams import CHUNK, HashingReader, decompressed
from .tarstream import Member, Refused, TarReader

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

#: Record types by tar member type (any other type is read as a file, as tarfile does).
_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(slots=True)
class LayerIndex:
    """The records of one layer, in tar order, with the digest and size of its uncompressed tar."""

    diff_id: str
    size: int
    records: list[FileRecord] = field(default_factory=list)
    content_bytes: int = 0

    def deletions(self) -> tuple[set[str], set[str]]:
        """What this layer deletes from the layers below: paths whited out (with everything
        below them), and opaque directories (everything below them, not themselves).

        >>> LayerIndex("l", 0, [FileRecord("/a/.wh.x", "whiteout")]).deletions()
        ({'/a/x'}, set())
        """
        deleted: set[str] = set()
        emptied: set[str] = set()
        for rec in self.records:
            if rec.type == "whiteout":
                parent, base = posixpath.split(rec.path)
                deleted.add(posixpath.join(parent, base[len(WHITEOUT_PREFIX) :]))
            elif rec.type == "opaque":
                emptied.add(posixpath.dirname(rec.path))
        return deleted, emptied

    def by_path(self) -> dict[str, FileRecord]:
        """Records keyed by path (a later entry for the same path wins, as on extraction)."""
        return {r.path: r for r in self.records}


class Tap(Protocol):
    """Receives the whole content of the files it wants while a layer streams past.

    Nothing else is kept: a tap decides per file (``wants``) and consumes the bytes at once
    (``take``), so memory stays bounded by the largest file it accepts.
    """

    def wants(self, path: str, size: int) -> bool:
        """Whether to receive the content of regular file ``path`` of ``size`` bytes."""
        ...

    def take(self, path: str, data: bytes) -> None:
        """The content of a wanted file."""
        ...


#: Given a layer's diff_id (None when the source cannot tell it before reading), its tap.
TapFor = Callable[[str | None], Tap | None]


class _Taps:
    """Several taps on one layer: each receives the files it wants."""

    def __init__(self, taps: list[Tap]):
        self.taps = taps

    def wants(self, path: str, size: int) -> bool:
        return any(t.wants(path, size) for t in self.taps)

    def take(self, path: str, data: bytes) -> None:
        for t in self.taps:
            if t.wants(path, len(data)):
                t.take(path, data)


def combine_taps(*tap_fors: TapFor | None) -> TapFor | None:
    """One ``tap_for`` serving several readers in the same pass (None when there are none).

    >>> combine_taps(None, None) is None
    True
    """
    given = [f for f in tap_fors if f is not None]
    if len(given) <= 1:
        return given[0] if given else None

    def tap_for(diff_id: str | None) -> Tap | None:
        taps = [t for f in given if (t := f(diff_id)) is not None]
        return None if not taps else taps[0] if len(taps) == 1 else _Taps(taps)

    return tap_for


def _xattrs(pax: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Extended attributes from PAX records; bsdtar writes each one both ways, it counts once."""
    out: dict[str, str] = {}
    for key, value in pax.items():
        if key.startswith("SCHILY.xattr."):
            name, raw = key[len("SCHILY.xattr.") :], value.encode("utf-8", "surrogateescape")
        elif key.startswith("LIBARCHIVE.xattr."):  # URL-encoded name, standard base64 value
            name = urllib.parse.unquote(key[len("LIBARCHIVE.xattr.") :], errors="surrogateescape")
            try:
                raw = base64.b64decode(value + "=" * (-len(value) % 4))
            except ValueError:
                raw = value.encode("utf-8", "surrogateescape")
        else:
            continue
        try:
            text = raw.decode("utf-8")
            shown = text if text.isprintable() else "0x" + raw.hex()
        except UnicodeDecodeError:
            shown = "0x" + raw.hex()
        out[name] = shown
    return tuple(sorted(out.items()))


#: Valid mtimes: those a date can be made of (years 1 to 9999).
_MTIME_RANGE = (-62135596800, 253402300799)
_ID_MAX = (1 << 32) - 1
_NUMBER = re.compile(r"^-?[0-9]{1,20}(?:\.[0-9]{0,20})?$")
_SIZE_KEYS = ("size", "GNU.sparse.size", "GNU.sparse.realsize")


def _check_member(member: Member, limits: Limits) -> None:
    """Refuse a member whose name, size or sparse claim goes past the limits."""
    for what, value in (("path", member.name), ("link target", member.linkname)):
        if len(value) > limits.name_bytes:  # a length in characters, as tarfile's text
            chars = len(value.decode("utf-8", "surrogateescape"))
            if chars > limits.name_bytes:
                raise Refused(f"a {what} of {chars} bytes (limit name_bytes={limits.name_bytes})")
    if member.size < 0:
        raise Refused(f"{_path(member.name)}: negative size {member.size}")
    pax = member.pax
    if pax:
        for key in _SIZE_KEYS:
            raw = pax.get(key)
            if raw is not None and not (raw.isdigit() and len(raw) <= 20):
                raise Refused(f"{_path(member.name)}: PAX {key} is not a byte count: {raw[:40]!r}")
    if member.sparse is not None and member.size > limits.sparse_bytes:
        raise Refused(
            f"{_path(member.name)}: a sparse file claiming {member.size} bytes "
            f"(limit sparse_bytes={limits.sparse_bytes})"
        )


def _check_globals(records: Mapping[str, str], limits: Limits) -> int:
    """Refuse global PAX records of more than ``header_bytes`` in all; else their number."""
    if sum(len(k) + len(v) for k, v in records.items()) > limits.header_bytes:
        raise Refused(
            f"global PAX headers of more than {limits.header_bytes} bytes (limit header_bytes)"
        )
    return len(records)


def _path(raw: bytes) -> str:
    """:func:`~reprokit.records.normalize_path` of a raw member name, without the work when
    the name is already normal (no empty, ``.`` or ``..`` component, no trailing slash)."""
    path = "/" + raw.decode("utf-8", "backslashreplace").lstrip("/")
    if "//" in path or "/." in path or (path[-1] == "/" and len(path) > 1):
        path = posixpath.normpath(path)
        return "/" if path == "//" else path
    return path


def record_of(
    member: Member, sha256: str | None = None, path: str | None = None, ints: dict | None = None
) -> FileRecord:
    """The record for one tar member (content digest supplied by the caller); ``ints`` shares
    one int object per distinct mode and mtime among the records of a layer."""
    if ints is None:
        ints = {}
    if path is None:
        path = _path(member.name)
    kind = _TYPES.get(member.type, "file")
    linkname = None
    if kind == "symlink":
        linkname = member.linkname.decode("utf-8", "backslashreplace")
    elif kind == "hardlink":
        linkname = _path(member.linkname)
    base = path[path.rfind("/") + 1 :]
    if base.startswith(WHITEOUT_PREFIX):
        kind = "opaque" if base == OPAQUE_MARKER else "whiteout"
    pax = member.pax
    invalid: dict[str, str] = {}
    mtime = member.mtime
    if not _MTIME_RANGE[0] <= mtime <= _MTIME_RANGE[1]:  # False for NaN too
        invalid["mtime"] = _raw(member, "mtime")
        mtime = 0
    elif mtime.__class__ is float:
        if mtime.is_integer():
            mtime = int(mtime)
    else:
        mtime = ints.setdefault(mtime, mtime)
    if pax and "mtime" in pax and "mtime" not in invalid and not _NUMBER.match(pax["mtime"]):
        invalid["mtime"] = _raw(member, "mtime")  # tarfile took 0 for text it could not read
    uid, gid = member.uid, member.gid
    if pax:
        raw = pax.get("uid")
        if raw is not None and not (raw.isdigit() and len(raw) <= 10):
            invalid["uid"], uid = _raw(member, "uid"), 0
        raw = pax.get("gid")
        if raw is not None and not (raw.isdigit() and len(raw) <= 10):
            invalid["gid"], gid = _raw(member, "gid"), 0
    if not 0 <= uid <= _ID_MAX and "uid" not in invalid:
        invalid["uid"], uid = _raw(member, "uid"), 0
    if not 0 <= gid <= _ID_MAX and "gid" not in invalid:
        invalid["gid"], gid = _raw(member, "gid"), 0
    device = None
    if kind in ("char", "block"):
        major, minor = member.devmajor, member.devminor
        if not (0 <= major <= _ID_MAX and 0 <= minor <= _ID_MAX):
            invalid["device"] = f"{major},{minor}"[:64]
            major = minor = 0
        device = (major, minor)
    return FileRecord(
        path,
        kind,
        ints.setdefault(mode := member.mode & 0o7777, mode),
        uid,
        gid,
        member.size if kind == "file" else 0,
        mtime,
        sha256,
        linkname,
        _xattrs(pax) if pax else (),
        device,
        tuple(sorted(invalid.items())) if invalid else (),
    )


def _raw(member: Member, name: str) -> str:
    """The header's own text for a field (the PAX record when there is one), at most 64 chars."""
    raw = member.pax.get(name) if member.pax else None
    return str(raw if raw is not None else getattr(member, name))[:64]


def index_layer(
    raw: BinaryIO,
    where: str = "layer",
    cancel=None,
    tap: Tap | None = None,
    max_entries: int | None = None,
) -> LayerIndex:
    """Read one layer blob (tar, tar+gzip or tar+zstd) from ``raw`` into a :class:`LayerIndex`.

    ``where`` names the layer in error messages; ``tap`` receives the content of the files it
    wants; ``max_entries`` (default: the ``layer_entries`` limit) bounds the records kept.
    Raises :class:`ArchiveError` when the stream is truncated, is not a tar archive or goes past
    a :class:`~reprokit.read.limits.Limits` bound, :class:`Cancelled` when ``cancel`` is set
    (checked between members and while a member's content streams).
    """
    limits = current()
    entry_limit, limit_name = limits.layer_entries, "layer_entries"
    if max_entries is not None and max_entries < entry_limit:
        entry_limit, limit_name = max_entries, "image_entries"
    raw = progress.tracked(raw, where)
    stream = HashingReader(raw)
    try:
        stream = HashingReader(decompressed(raw))
        records: list[FileRecord] = []
        append = records.append
        content = 0
        digests: dict[str, str] = {}
        ints: dict[int, int] = {}
        reader = TarReader(stream, limits)
        global_size = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while reading a layer")
            member = reader.next()
            if member is None:
                break
            if len(records) >= entry_limit:
                raise Refused(f"more than {entry_limit} entries (limit {limit_name})")
            if reader.pax_headers and len(reader.pax_headers) != global_size:
                global_size = _check_globals(reader.pax_headers, limits)
            _check_member(member, limits)
            path = _path(member.name)
            sha = None
            if member.has_data:
                if tap is not None and tap.wants(path, member.size):
                    data = reader.read_data(member)
                    sha = hashlib.sha256(data).hexdigest()
                    tap.take(path, data)
                else:
                    sha = reader.hash_data(member, cancel)
                content += member.size
                digests[path] = sha
            elif member.type == b"1":
                sha = digests.get(_path(member.linkname))
                if sha is not None:
                    digests[path] = sha
            append(record_of(member, sha, path, ints))
        stream.drain()
    except Refused as err:
        raise ArchiveError(where, f"refused: {err}") from None
    except ArchiveError as err:  # from a tap (e.g. a package file past its budget)
        if err.ref.startswith(where):
            raise
        raise ArchiveError(where, str(err)) from None
    except tarfile.ReadError as err:
        if "empty file" in str(err) and stream.count == 0:
            return LayerIndex(diff_id="sha256:" + stream.hexdigest(), size=0)
        raise ArchiveError(where, f"truncated or not a tar layer ({err})") from None
    except (EOFError, tarfile.TarError, zlib.error, OSError, zstandard.ZstdError) as err:
        raise ArchiveError(
            where, f"truncated or corrupt layer ({err or type(err).__name__})"
        ) from None
    except (ValueError, OverflowError, UnicodeError, RecursionError, IndexError) as err:
        # numbers, names or maps in a header that tarfile cannot take
        raise ArchiveError(where, f"malformed tar header ({_short(err)})") from None
    return LayerIndex(
        diff_id="sha256:" + stream.hexdigest(),
        size=stream.count,
        records=records,
        content_bytes=content,
    )


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= 120 else text[:120] + "…"


def hash_layer(raw: BinaryIO, where: str = "layer", cancel=None) -> tuple[str, int]:
    """The diff_id (sha256 of the uncompressed tar) and uncompressed size of a layer blob,
    without parsing it: how a layer the other image of a comparison reads is verified.

    >>> import gzip, io
    >>> hash_layer(io.BytesIO(gzip.compress(b"abc")))[0][:19]
    'sha256:ba7816bf8f01'
    """
    try:
        stream = HashingReader(decompressed(progress.tracked(raw, where)))
        while stream.read(CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while verifying a layer")
    except (EOFError, zlib.error, OSError, zstandard.ZstdError, ValueError) as err:
        raise ArchiveError(where, f"truncated or corrupt layer ({_short(err)})") from None
    return "sha256:" + stream.hexdigest(), stream.count


#: Record types that are not entries of the filesystem (directories stay, markers delete).
_NOT_ENTRIES = ("dir", "whiteout", "opaque")


def covered(path: str, prefixes: set[str]) -> bool:
    """Whether ``path`` is one of ``prefixes`` or lies below one of them.

    >>> covered("/a/b/c", {"/a/b"}), covered("/a/bc", {"/a/b"})
    (True, False)
    """
    while True:
        if path in prefixes:
            return True
        if path == "/":
            return False
        path = posixpath.dirname(path)


def merge(layers: Iterable[LayerIndex]) -> dict[str, FileRecord]:
    """The final filesystem of a layer stack, applying whiteouts and opaque directories.

    As on extraction, a later non-directory entry at a directory's path replaces the whole
    directory, contents included.

    >>> lower = LayerIndex("l", 0, [FileRecord("/a", "dir"), FileRecord("/a/x", "file")])
    >>> upper = LayerIndex("u", 0, [FileRecord("/a/.wh.x", "whiteout")])
    >>> sorted(merge([lower, upper]))
    ['/a']
    """
    merged: dict[str, FileRecord] = {}
    for layer in layers:
        deleted, emptied = layer.deletions()
        for rec in layer.records:
            below = merged.get(rec.path)
            if below is not None and below.type == "dir" and rec.type not in _NOT_ENTRIES:
                emptied.add(rec.path)  # a non-directory replaces a directory and its contents
        if deleted or emptied:
            for path in list(merged):
                parent = posixpath.dirname(path)
                if covered(path, deleted) or (path != "/" and covered(parent, emptied)):
                    del merged[path]
        for rec in layer.records:
            if rec.type not in ("whiteout", "opaque"):
                merged[rec.path] = rec
    return merged
