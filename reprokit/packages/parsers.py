"""Parsers of the package databases and system files an image holds (dpkg, apk, rpm sqlite,
Python distributions, passwd, group, os-release). Bytes in, plain records out.

>>> parse_dpkg_status(b"Package: bash\\nStatus: install ok installed\\nVersion: 5.2\\n")
[Package(manager='dpkg', name='bash', version='5.2', arch=None)]
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Iterable
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass
from .model import Package

#: Files of package databases (what the package diff of a comparison reads).
PACKAGE_DB = re.compile(
    r"^(?:/var/lib/dpkg/status"
    r"|/var/lib/dpkg/status\.d/[^/]+"
    r"|/lib/apk/db/installed"
    r"|/var/lib/rpm/rpmdb\.sqlite|/usr/lib/sysimage/rpm/rpmdb\.sqlite"
    r"|/.*/(?:site|dist)-packages/[^/]+\.(?:dist-info/METADATA|egg-info/PKG-INFO|egg-info))$"
)


#: Every file the inventory reads.
INVENTORY_FILES = re.compile(
    PACKAGE_DB.pattern[:-1] + r"|^(?:/etc/os-release|/usr/lib/os-release|/etc/passwd|/etc/group)$"
)


#: Largest file taken (a dpkg status of a large image is a few MB); see also :class:`Budget`.
FILE_LIMIT = 64 << 20

_PY_METADATA = re.compile(r"\.(?:dist-info/METADATA|egg-info/PKG-INFO|egg-info)$")


class Budget:
    """What package database and system files of one image may hold in memory: each file at
    most ``package_file_bytes`` (``package_metadata_bytes`` for a Python distribution's
    METADATA), all of them together ``package_total_bytes``
    (:class:`~reprokit.read.limits.Limits`). Going past either is an error naming the file.

    >>> from reprokit.read.limits import Limits
    >>> b = Budget(Limits(package_total_bytes=10))
    >>> b.admit("/var/lib/dpkg/status", 8)
    >>> b.admit("/lib/apk/db/installed", 8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    reprokit.errors.ArchiveError: /lib/apk/db/installed: refused: ... (limit package_total_bytes)
    """

    def __init__(self, limits: Any = None):
        from ..read.limits import current

        self.limits = limits or current()
        self.total = 0
        self._lock = threading.Lock()

    def admit(self, path: str, size: int) -> None:
        """Count ``size`` bytes of ``path`` against the budget, or raise."""
        from ..errors import ArchiveError

        limits = self.limits
        if _PY_METADATA.search(path):
            each, name = limits.package_metadata_bytes, "package_metadata_bytes"
        else:
            each, name = limits.package_file_bytes, "package_file_bytes"
        if size > each:
            raise ArchiveError(path, f"refused: {size} bytes, more than {each} (limit {name})")
        with self._lock:
            self.total += size
            if self.total > limits.package_total_bytes:
                raise ArchiveError(
                    path,
                    f"refused: package files of more than {limits.package_total_bytes} bytes "
                    "in all (limit package_total_bytes)",
                )


def _paragraphs(data: bytes) -> Iterable[dict[str, str]]:
    """RFC 822-style stanzas separated by blank lines (continuation lines are skipped)."""
    for block in re.split(rb"\n\s*\n", data):
        fields: dict[str, str] = {}
        for raw in block.splitlines():
            if not raw or raw[:1] in (b" ", b"\t"):
                continue
            key, sep, value = raw.decode("utf-8", "replace").partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if fields:
            yield fields


def parse_dpkg_status(data: bytes, need_status: bool = True) -> list[Package]:
    """Installed packages of a dpkg status file (``need_status=False`` for status.d entries).

    >>> parse_dpkg_status(b"Package: x\\nStatus: deinstall ok config-files\\nVersion: 1\\n")
    []
    """
    out = []
    for p in _paragraphs(data):
        if "Package" not in p:
            continue
        status = p.get("Status", "")
        if (need_status or status) and not status.endswith(" installed"):
            continue
        out.append(Package("dpkg", p["Package"], p.get("Version"), p.get("Architecture")))
    return out


def parse_apk_installed(data: bytes) -> list[Package]:
    """Packages of apk's ``/lib/apk/db/installed``.

    >>> parse_apk_installed(b"P:musl\\nV:1.2.4-r2\\nA:x86_64\\n\\nP:zlib\\nV:1.3\\n")[1].name
    'zlib'
    """
    out = []
    for block in re.split(rb"\n\s*\n", data):
        fields: dict[str, str] = {}
        for raw in block.splitlines():
            if len(raw) > 2 and raw[1:2] == b":":
                fields.setdefault(chr(raw[0]), raw[2:].decode("utf-8", "replace"))
        if "P" in fields:
            out.append(Package("apk", fields["P"], fields.get("V"), fields.get("A")))
    return out


#: rpm header tags: name, version, release, epoch, arch.
_RPM_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1022: "arch"}


_RPM_STRING, _RPM_INT32 = 6, 4


def parse_rpm_header(blob: bytes) -> Package | None:
    """A package from one rpm header blob (a row of the ``Packages`` table of rpmdb.sqlite):
    index count and data length, 16-byte index entries (tag, type, offset, count), data."""
    if len(blob) < 8:
        return None
    count, length = struct.unpack(">II", blob[:8])
    start = 8 + 16 * count
    if start + length > len(blob):
        return None
    data = blob[start : start + length]
    found: dict[str, Any] = {}
    for i in range(count):
        tag, kind, offset, _n = struct.unpack(">iIiI", blob[8 + 16 * i : 24 + 16 * i])
        name = _RPM_TAGS.get(tag)
        if name is None or not 0 <= offset < len(data):
            continue
        if kind == _RPM_STRING:
            end = data.find(b"\0", offset)
            found[name] = data[offset : end if end >= 0 else None].decode("utf-8", "replace")
        elif kind == _RPM_INT32 and offset + 4 <= len(data):
            found[name] = struct.unpack(">i", data[offset : offset + 4])[0]
    if "name" not in found:
        return None
    version = "-".join(str(found[k]) for k in ("version", "release") if k in found) or None
    if version and found.get("epoch"):
        version = f"{found['epoch']}:{version}"
    return Package("rpm", found["name"], version, found.get("arch"))


def parse_rpmdb_sqlite(data: bytes) -> list[Package]:
    """Installed packages of an rpm sqlite database (the main file; a WAL is not read)."""
    import sqlite3

    image = bytearray(data)
    if image[18:20] == b"\x02\x02":  # WAL mode, which an in-memory copy cannot open
        image[18:20] = b"\x01\x01"
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(image))
        rows = conn.execute("SELECT blob FROM Packages").fetchall()
    except sqlite3.DatabaseError:
        return []
    finally:
        conn.close()
    found = (parse_rpm_header(bytes(blob)) for (blob,) in rows if blob)
    return [p for p in found if p is not None]


def parse_python_metadata(data: bytes) -> Package | None:
    """A Python distribution from its METADATA / PKG-INFO headers.

    >>> parse_python_metadata(b"Metadata-Version: 2.1\\nName: requests\\nVersion: 2.31.0\\n\\nbody")
    Package(manager='python', name='requests', version='2.31.0', arch=None)
    """
    headers = BytesHeaderParser().parsebytes(data.split(b"\n\n", 1)[0] + b"\n\n")
    name = headers.get("Name")
    if not name:
        return None
    return Package("python", str(name).strip(), str(headers.get("Version") or "").strip() or None)


def packages_of(path: str, data: bytes) -> list[Package]:
    """The packages one package-database file describes."""
    if path == "/var/lib/dpkg/status":
        return parse_dpkg_status(data)
    if path.startswith("/var/lib/dpkg/status.d/"):
        return [] if path.endswith(".md5sums") else parse_dpkg_status(data, need_status=False)
    if path == "/lib/apk/db/installed":
        return parse_apk_installed(data)
    if path.endswith("/rpmdb.sqlite"):
        return parse_rpmdb_sqlite(data)
    if PACKAGE_DB.match(path):
        found = parse_python_metadata(data)
        return [found] if found else []
    return []


def parse_passwd(data: bytes) -> list[dict[str, Any]]:
    """Users of an ``/etc/passwd``: name, uid, gid, home, shell."""
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[0] and not line.startswith("#"):
            uid = int(parts[2]) if parts[2].isdigit() else parts[2]
            gid = int(parts[3]) if parts[3].isdigit() else parts[3]
            out.append({"name": parts[0], "uid": uid, "gid": gid, "home": parts[5]})
            out[-1]["shell"] = parts[6]
    return out


def parse_group(data: bytes) -> list[dict[str, Any]]:
    """Groups of an ``/etc/group``: name, gid, members."""
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[0] and not line.startswith("#"):
            gid = int(parts[2]) if parts[2].isdigit() else parts[2]
            members = sorted(m for m in parts[3].split(",") if m)
            out.append({"name": parts[0], "gid": gid, "members": members})
    return out


def parse_os_release(data: bytes) -> dict[str, str]:
    """``KEY=value`` pairs of an os-release file, quotes removed.

    >>> parse_os_release(b'ID=debian\\nPRETTY_NAME="Debian GNU/Linux 12"\\n')["PRETTY_NAME"]
    'Debian GNU/Linux 12'
    """
    out = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[key] = value
    return out
