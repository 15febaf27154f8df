"""File records: one per tar entry of a layer, the unit every comparison works on.

>>> r = FileRecord(path="/etc/hostname", type="file", mode=0o644, size=5, sha256="ab")
>>> r.to_dict()["mode"]
'0644'
>>> FileRecord.from_dict(r.to_dict(), r.path) == r
True
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from operator import attrgetter, ne
from typing import Any

#: Field names a file difference can list, in the order they are reported.
DIFF_FIELDS = (
    "type",
    "mode",
    "uid",
    "gid",
    "size",
    "mtime",
    "content",
    "linkname",
    "xattrs",
    "device",
)

#: Record types. ``whiteout`` and ``opaque`` are the OCI deletion markers of a layer.
FILE_TYPES = (
    "file",
    "dir",
    "symlink",
    "hardlink",
    "char",
    "block",
    "fifo",
    "whiteout",
    "opaque",
)


@dataclass(slots=True, frozen=True)
class FileRecord:
    """What a layer says about one path. ``sha256`` is set for regular files and hardlinks."""

    path: str
    type: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: float = 0
    sha256: str | None = None
    linkname: str | None = None
    xattrs: tuple[tuple[str, str], ...] = ()
    device: tuple[int, int] | None = None
    #: header fields whose value could not be taken (out of range, not a number), with the
    #: raw text; the field itself then holds 0
    invalid: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; empty optional fields are left out and mode is octal text."""
        out: dict[str, Any] = {
            "type": self.type,
            "mode": f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
            "size": self.size,
            "mtime": self.mtime,
        }
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        if self.linkname is not None:
            out["linkname"] = self.linkname
        if self.xattrs:
            out["xattrs"] = dict(self.xattrs)
        if self.device is not None:
            out["device"] = list(self.device)
        if self.invalid:
            out["invalid"] = dict(self.invalid)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str = "") -> FileRecord:
        """Inverse of :meth:`to_dict` (the path is stored beside the record in reports)."""
        device = data.get("device")
        return cls(
            path=data.get("path", path),
            type=data["type"],
            mode=int(data.get("mode", "0"), 8),
            uid=int(data.get("uid", 0)),
            gid=int(data.get("gid", 0)),
            size=int(data.get("size", 0)),
            mtime=data.get("mtime", 0),
            sha256=data.get("sha256"),
            linkname=data.get("linkname", data.get("target")),
            xattrs=tuple(sorted((data.get("xattrs") or {}).items())),
            device=(int(device[0]), int(device[1])) if device else None,
            invalid=tuple(sorted((data.get("invalid") or {}).items())),
        )


def with_linkname(facts: Any) -> Any:
    """File facts with the link target under its one name, ``linkname`` (files written before
    it had that name everywhere said ``target``); anything else is returned as is.

    >>> with_linkname({"type": "symlink", "target": "/bin/busybox"})
    {'type': 'symlink', 'linkname': '/bin/busybox'}
    """
    if not isinstance(facts, dict) or "target" not in facts or "linkname" in facts:
        return facts
    return {("linkname" if k == "target" else k): v for k, v in facts.items()}


#: Each reported field and the record attribute it compares (content is the sha256).
_COMPARED = tuple((name, "sha256" if name == "content" else name) for name in DIFF_FIELDS)


def differing_fields(a: FileRecord, b: FileRecord) -> list[str]:
    """The :data:`DIFF_FIELDS` on which two records of the same path disagree.

    >>> a = FileRecord("/x", "file", 0o644, size=1, mtime=1, sha256="1")
    >>> differing_fields(a, FileRecord("/x", "file", 0o600, size=1, mtime=2, sha256="1"))
    ['mode', 'mtime']
    """
    return [name for name, attr in _COMPARED if getattr(a, attr) != getattr(b, attr)]


#: The compared attributes of a record as one tuple, in :data:`DIFF_FIELDS` order.
compared_values = attrgetter(*(attr for _, attr in _COMPARED))


class FieldNames:
    """:func:`differing_fields` for many pairs: records compared as one tuple first, and one
    shared list per distinct set of differing fields (do not edit the lists it returns).

    >>> names = FieldNames()
    >>> a = FileRecord("/x", "file", 0o644, size=1, mtime=1, sha256="1")
    >>> one = names.differing(a, FileRecord("/x", "file", 0o644, size=1, mtime=2, sha256="1"))
    >>> two = names.differing(a, FileRecord("/x", "file", 0o644, size=1, mtime=3, sha256="1"))
    >>> one, one is two, names.differing(a, a)
    (['mtime'], True, None)
    """

    __slots__ = ("_lists",)

    def __init__(self) -> None:
        self._lists: dict[tuple[bool, ...], list[str]] = {}

    def differing(self, a: FileRecord, b: FileRecord) -> list[str] | None:
        """The differing fields of ``a`` and ``b`` (as :func:`differing_fields`), None when
        none differs."""
        va, vb = compared_values(a), compared_values(b)
        if va == vb:  # equal as tuples: every field equal (records hold no NaN, see record_of)
            return None
        mask = tuple(map(ne, va, vb))
        found = self._lists.get(mask)
        if found is None:
            found = [n for n, differs in zip(DIFF_FIELDS, mask, strict=True) if differs]
            self._lists[mask] = found
        return found or None


def normalize_path(name: str) -> str:
    """An absolute, normalized path for a tar member name; bytes that are not UTF-8 read ``\\xNN``.

    >>> normalize_path("./usr//lib/../bin/")
    '/usr/bin'
    >>> normalize_path("caf\\udce9")
    '/caf\\\\xe9'
    """
    raw = name.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "backslashreplace")
    path = posixpath.normpath("/" + text.lstrip("/"))
    return "/" if path in ("/", "//") else path
