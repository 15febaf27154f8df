"""The reader reprokit used before its own tar header parser: CPython's :mod:`tarfile` with a
strict ``TarInfo`` (kept verbatim as the reference the differential tests and
``bench/read_bench.py`` compare :func:`reprokit.read.layers.index_layer` with).
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
import tarfile
import urllib.parse
import zlib
from collections.abc import Mapping
from typing import BinaryIO, Self

import zstandard

from reprokit import progress
from reprokit.errors import ArchiveError, Cancelled
from reprokit.read.layers import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerIndex, Tap
from reprokit.read.limits import Limits, current
from reprokit.read.streams import CHUNK, TAR_BUFSIZE, HashingReader, decompressed
from reprokit.records import FileRecord, normalize_path

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


#: Header errors tarfile takes for the end of the archive when they are not the first header.
_BAD_HEADER = (tarfile.TruncatedHeaderError, tarfile.InvalidHeaderError)  # type: ignore[attr-defined]
_EXTENDED = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
#: The sha256 of no bytes (shared by every empty file's record).
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: Valid mtimes: those a date can be made of (years 1 to 9999).
_MTIME_RANGE = (-62135596800, 253402300799)
_ID_MAX = (1 << 32) - 1
_NUMBER = re.compile(r"^-?[0-9]{1,20}(?:\.[0-9]{0,20})?$")


class Refused(Exception):
    """An input went past a :class:`~reprokit.read.limits.Limits` bound (the reader turns it into
    an :class:`ArchiveError` naming the layer)."""


class _StrictTarInfo(tarfile.TarInfo):
    """A header cut short or failing its checksum ends tarfile's walk silently; here it is an
    error, as in Go's archive/tar (a clean end at a block boundary still ends the layer).

    Extended headers (PAX, GNU long names, sparse maps) are bounded before tarfile reads them.
    """

    @classmethod
    def fromtarfile(cls, tf: tarfile.TarFile) -> Self:
        limits: Limits = getattr(tf, "_rk_limits", None) or current()
        depth = getattr(tf, "_rk_chain", 0)
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
        limits: Limits = getattr(tf, "_rk_limits", None) or current()
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


def _hash_member(tf: tarfile.TarFile, member: tarfile.TarInfo, cancel=None) -> str:
    if member.size == 0:
        return EMPTY_SHA256
    digest = hashlib.sha256()
    fileobj = tf.extractfile(member)
    if fileobj is not None:
        while chunk := fileobj.read(CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while reading a layer")
            digest.update(chunk)
    return digest.hexdigest()


def _read_member(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    fileobj = tf.extractfile(member)
    return fileobj.read() if fileobj is not None else b""


def _check_member(member: tarfile.TarInfo, limits: Limits) -> None:
    """Refuse a member whose name, size or sparse claim goes past the limits."""
    for what, value in (("path", member.name), ("link target", member.linkname)):
        if len(value) > limits.name_bytes:
            raise Refused(f"a {what} of {len(value)} bytes (limit name_bytes={limits.name_bytes})")
    if member.size < 0:
        raise Refused(f"{normalize_path(member.name)}: negative size {member.size}")
    pax = member.pax_headers
    if pax:
        for key in ("size", "GNU.sparse.size", "GNU.sparse.realsize"):
            raw = pax.get(key)
            if raw is not None and not (raw.isdigit() and len(raw) <= 20):
                raise Refused(
                    f"{normalize_path(member.name)}: PAX {key} is not a byte count: {raw[:40]!r}"
                )
    if member.sparse is not None and member.size > limits.sparse_bytes:  # type: ignore[attr-defined]
        raise Refused(
            f"{normalize_path(member.name)}: a sparse file claiming {member.size} bytes "
            f"(limit sparse_bytes={limits.sparse_bytes})"
        )


def record_of(member: tarfile.TarInfo, sha256: str | None = None) -> FileRecord:
    """The record for one tar header (content digest supplied by the caller)."""
    path = normalize_path(member.name)
    base = posixpath.basename(path)
    kind = _TYPES.get(member.type, "file")
    linkname = None
    if kind in ("symlink", "hardlink"):
        linkname = member.linkname
        if kind == "hardlink":
            linkname = normalize_path(linkname)
        else:
            linkname = linkname.encode("utf-8", "surrogateescape").decode(
                "utf-8", "backslashreplace"
            )
    if base == OPAQUE_MARKER:
        kind = "opaque"
    elif base.startswith(WHITEOUT_PREFIX):
        kind = "whiteout"
    invalid: dict[str, str] = {}
    mtime: float = member.mtime
    if not isinstance(mtime, int | float) or not (
        _MTIME_RANGE[0] <= mtime <= _MTIME_RANGE[1]  # False for NaN too
    ):
        invalid["mtime"] = _raw(member, "mtime")
        mtime = 0
    elif isinstance(mtime, float) and mtime.is_integer():
        mtime = int(mtime)
    ids = {}
    pax = member.pax_headers or {}
    if "mtime" in pax and "mtime" not in invalid and not _NUMBER.match(pax["mtime"]):
        invalid["mtime"] = _raw(member, "mtime")  # tarfile took 0 for text it could not read
    for name in ("uid", "gid"):
        value = getattr(member, name)
        raw = pax.get(name)
        unreadable = raw is not None and not (raw.isdigit() and len(raw) <= 10)
        if unreadable or not isinstance(value, int) or not 0 <= value <= _ID_MAX:
            invalid[name] = _raw(member, name)
            value = 0
        ids[name] = value
    device = None
    if kind in ("char", "block"):
        major, minor = member.devmajor, member.devminor
        if not (0 <= major <= _ID_MAX and 0 <= minor <= _ID_MAX):
            invalid["device"] = f"{major},{minor}"[:64]
            major = minor = 0
        device = (major, minor)
    return FileRecord(
        path=path,
        type=kind,
        mode=member.mode & 0o7777,
        uid=ids["uid"],
        gid=ids["gid"],
        size=member.size if kind == "file" else 0,
        mtime=mtime,
        sha256=sha256,
        linkname=linkname,
        xattrs=_xattrs(member.pax_headers) if member.pax_headers else (),
        device=device,
        invalid=tuple(sorted(invalid.items())),
    )


def _raw(member: tarfile.TarInfo, name: str) -> str:
    """The header's own text for a field (the PAX record when there is one), at most 64 chars."""
    raw = member.pax_headers.get(name) if member.pax_headers else None
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
        content = 0
        digests: dict[str, str] = {}
        tf = tarfile.open(  # type: ignore[call-overload]
            fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE, tarinfo=_StrictTarInfo
        )
        tf._rk_limits = limits
        global_size = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while reading a layer")
            member = tf.next()
            if member is None:
                break
            tf.members.clear()  # type: ignore[attr-defined] # stream mode keeps every header otherwise
            if len(records) >= entry_limit:
                raise Refused(f"more than {entry_limit} entries (limit {limit_name})")
            if tf.pax_headers and len(tf.pax_headers) != global_size:
                global_size = len(tf.pax_headers)
                if sum(len(k) + len(v) for k, v in tf.pax_headers.items()) > limits.header_bytes:
                    raise Refused(
                        f"global PAX headers of more than {limits.header_bytes} bytes "
                        "(limit header_bytes)"
                    )
            _check_member(member, limits)
            sha = None
            if member.isreg() or member.type not in tarfile.SUPPORTED_TYPES:
                path = normalize_path(member.name)
                if tap is not None and tap.wants(path, member.size):
                    data = _read_member(tf, member)
                    sha = hashlib.sha256(data).hexdigest()
                    tap.take(path, data)
                else:
                    sha = _hash_member(tf, member, cancel)
                content += member.size
            elif member.islnk():
                sha = digests.get(normalize_path(member.linkname))
            record = record_of(member, sha)
            if sha is not None:
                digests[record.path] = sha
            records.append(record)
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
