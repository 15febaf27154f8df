"""What an image holds, read from its filesystem without a container (so shell-less images work).

OS release, installed packages (dpkg status and status.d, apk's installed database, rpm's
sqlite database), Python
distributions (dist-info METADATA, egg-info PKG-INFO), users and groups, and from the config
the environment, entrypoint, cmd, exposed ports and labels. The content of the files it needs
is taken as the layers stream past (a :class:`~reprokit.layers.Tap`); the final filesystem,
whiteouts applied, decides which version of each file counts.

>>> parse_dpkg_status(b"Package: bash\\nStatus: install ok installed\\nVersion: 5.2\\n")
[Package(manager='dpkg', name='bash', version='5.2', arch=None)]
>>> inventory("docker-archive:app.tar").packages[:1]  # doctest: +SKIP
[Package(manager='dpkg', name='adduser', version='3.134', arch='all')]
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import struct
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING, Any

from .layers import Tap, TapFor
from .model import PackageDiff
from .records import FileRecord
from .report.text import clean
from .sources import Collect

if TYPE_CHECKING:
    from .sources import Image, Source

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
#: Largest file taken (a dpkg status of a large image is a few MB).
FILE_LIMIT = 64 << 20


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package: which manager knows it, its name, version and architecture."""

    manager: str
    name: str
    version: str | None
    arch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"manager": self.manager, "name": self.name, "version": self.version}
        if self.arch:
            out["arch"] = self.arch
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Package:
        return cls(data["manager"], data["name"], data.get("version"), data.get("arch"))


@dataclass
class Inventory:
    """The facts of one image (see the module doc); every field is plain data."""

    ref: str
    id: str
    os: dict[str, str] = field(default_factory=dict)
    packages: list[Package] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    workdir: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    platform: str | None = None

    @property
    def managers(self) -> dict[str, int]:
        """Packages per manager, e.g. ``{'dpkg': 88, 'python': 3}``."""
        counts: dict[str, int] = {}
        for p in self.packages:
            counts[p.manager] = counts.get(p.manager, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "id": self.id,
            "platform": self.platform,
            "os": dict(self.os),
            "packages": [p.to_dict() for p in self.packages],
            "users": list(self.users),
            "groups": list(self.groups),
            "env": dict(self.env),
            "entrypoint": self.entrypoint,
            "cmd": self.cmd,
            "user": self.user,
            "workdir": self.workdir,
            "exposed_ports": list(self.exposed_ports),
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        return cls(
            ref=data.get("ref", ""),
            id=data.get("id", ""),
            platform=data.get("platform"),
            os=dict(data.get("os") or {}),
            packages=[Package.from_dict(p) for p in data.get("packages") or []],
            users=list(data.get("users") or []),
            groups=list(data.get("groups") or []),
            env=dict(data.get("env") or {}),
            entrypoint=data.get("entrypoint"),
            cmd=data.get("cmd"),
            user=data.get("user"),
            workdir=data.get("workdir"),
            exposed_ports=list(data.get("exposed_ports") or []),
            labels=dict(data.get("labels") or {}),
        )

    def text(self, top: int = 50) -> str:
        """The summary ``reprokit inventory`` prints (image content escaped)."""
        os_name = self.os.get("PRETTY_NAME") or self.os.get("ID") or "unknown (no os-release)"
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.managers.items())) or "none found"
        lines = [
            f"inventory of {clean(self.ref, 60)}  {self.id[:19]}",
            f"  os:          {clean(os_name, 60)}",
            f"  platform:    {self.platform or '?'}",
            f"  packages:    {counts}",
            f"  users:       {clean(', '.join(u['name'] for u in self.users) or '-', 100)}",
            f"  groups:      {len(self.groups)}",
            f"  entrypoint:  {clean(self.entrypoint, 80)}",
            f"  cmd:         {clean(self.cmd, 80)}",
            f"  user:        {clean(self.user or '(root)', 40)}",
            f"  workdir:     {clean(self.workdir or '/', 60)}",
            f"  ports:       {', '.join(self.exposed_ports) or '-'}",
            f"  env:         {len(self.env)} variable(s)",
            f"  labels:      {len(self.labels)}",
        ]
        if self.packages:
            lines.append(f"packages ({len(self.packages)}):")
            for p in self.packages[:top]:
                lines.append(f"  {p.manager:<7} {clean(p.name, 40):<40} {clean(p.version, 40)}")
            if len(self.packages) > top:
                lines.append(f"  … and {len(self.packages) - top} more (see --json)")
        return "\n".join(lines)


# ---------------------------------------------------------------- parsers


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


# ---------------------------------------------------------------- reading an image


class _Grab:
    """A tap keeping the content of files whose path matches ``pattern``, keyed by sha256."""

    def __init__(self, pattern: re.Pattern[str], into: dict[str, bytes], lock: threading.Lock):
        self.pattern, self.into, self.lock = pattern, into, lock

    def wants(self, path: str, size: int) -> bool:
        return size <= FILE_LIMIT and bool(self.pattern.match(path))

    def take(self, path: str, data: bytes) -> None:
        with self.lock:
            self.into[hashlib.sha256(data).hexdigest()] = data


def resolve(merged: dict[str, FileRecord], path: str) -> FileRecord | None:
    """The record ``path`` ends at in a merged view, following symlinks (at most 8).

    >>> m = {"/etc/os-release": FileRecord("/etc/os-release", "symlink",
    ...      linkname="../usr/lib/os-release"), "/usr/lib/os-release": FileRecord(
    ...      "/usr/lib/os-release", "file", sha256="ab")}
    >>> resolve(m, "/etc/os-release").path
    '/usr/lib/os-release'
    """
    for _ in range(8):
        rec = merged.get(path)
        if rec is None or rec.type != "symlink" or not rec.linkname:
            return rec
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), rec.linkname))
    return None


def contents(merged: dict[str, FileRecord], by_sha: dict[str, bytes], path: str) -> bytes | None:
    """The final content of ``path`` (symlinks followed), if it was taken."""
    rec = resolve(merged, path)
    if rec is None or rec.sha256 is None:
        return None
    return by_sha.get(rec.sha256)


def read_image(source: Source, pattern: re.Pattern[str] = INVENTORY_FILES) -> tuple[Image, dict]:
    """Read ``source`` in one pass: its records, and the content of files matching ``pattern``
    keyed by sha256."""
    by_sha: dict[str, bytes] = {}
    lock = threading.Lock()
    image = source.read((), None, lambda diff_id: _Grab(pattern, by_sha, lock))
    return image, by_sha


def inventory_of(image: Image, by_sha: dict[str, bytes]) -> Inventory:
    """The inventory of a read image, given the content of its inventory files."""
    from .sources import config_platform

    merged = image.merged()
    packages: list[Package] = []
    for path in sorted(p for p in merged if PACKAGE_DB.match(p)):
        data = contents(merged, by_sha, path)
        if data is not None:
            packages.extend(packages_of(path, data))
    packages.sort(key=lambda p: (p.manager, p.name.lower(), p.version or ""))
    os_data = contents(merged, by_sha, "/etc/os-release")
    if os_data is None:
        os_data = contents(merged, by_sha, "/usr/lib/os-release")
    passwd = contents(merged, by_sha, "/etc/passwd")
    groups = contents(merged, by_sha, "/etc/group")
    cfg = image.config.get("config") or {}
    env = {}
    for item in cfg.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return Inventory(
        ref=image.ref,
        id=image.id,
        platform=config_platform(image.config) or None,
        os=parse_os_release(os_data) if os_data else {},
        packages=packages,
        users=parse_passwd(passwd) if passwd else [],
        groups=parse_group(groups) if groups else [],
        env=env,
        entrypoint=cfg.get("Entrypoint"),
        cmd=cfg.get("Cmd"),
        user=cfg.get("User") or None,
        workdir=cfg.get("WorkingDir") or None,
        exposed_ports=sorted(cfg.get("ExposedPorts") or {}),
        labels=dict(cfg.get("Labels") or {}),
    )


def inventory(image: str | Source, platform: str | None = None) -> Inventory:
    """Read the inventory of an image given in any transport; no container is started.

    >>> inv = inventory("reprokit-test/debian:bookworm")  # doctest: +SKIP
    >>> inv.os["ID"], inv.managers  # doctest: +SKIP
    ('debian', {'dpkg': 88})
    """
    from .layout import parse_platform
    from .sources import as_source

    source = as_source(image, parse_platform(platform) if platform else None)
    read, by_sha = read_image(source)
    return inventory_of(read, by_sha)


# ---------------------------------------------------------------- package diff


def diff_packages(a: Iterable[Package], b: Iterable[Package]) -> list[PackageDiff]:
    """Packages added in B, removed from A, or at another version, by (manager, name).

    >>> diff_packages([Package("dpkg", "curl", "7")], [Package("dpkg", "curl", "8")])[0].change
    'changed'
    """

    def key(p: Package) -> tuple[str, str]:
        name = p.name.lower()
        return p.manager, re.sub(r"[-_.]+", "-", name) if p.manager == "python" else name

    def versions(pkgs: Iterable[Package]) -> dict[tuple[str, str], tuple[str, str | None]]:
        out: dict[tuple[str, str], tuple[str, str | None]] = {}
        for p in pkgs:
            name, version = out.get(key(p), (p.name, None))
            joined = ", ".join(sorted(filter(None, {version, p.version}))) or None
            out[key(p)] = (name, joined)
        return out

    va, vb = versions(a), versions(b)
    out = []
    for k in sorted(va.keys() | vb.keys()):
        if k not in vb:
            out.append(PackageDiff(k[0], va[k][0], "removed", va[k][1], None))
        elif k not in va:
            out.append(PackageDiff(k[0], vb[k][0], "added", None, vb[k][1]))
        elif va[k][1] != vb[k][1]:
            out.append(PackageDiff(k[0], va[k][0], "changed", va[k][1], vb[k][1]))
    return out


def _db_files(merged: dict[str, FileRecord]) -> dict[str, str | None]:
    return {p: r.sha256 for p, r in merged.items() if PACKAGE_DB.match(p) and r.type == "file"}


def _provider(image: Image, path: str, sha: str | None) -> str | None:
    """The diff_id of the topmost layer giving ``path`` its final content."""
    for diff_id, layer in reversed(list(zip(image.diff_ids, image.layers, strict=False))):
        if layer is None:
            continue
        for rec in layer.records:
            if rec.path == path and rec.sha256 == sha:
                return diff_id
    return None


def _may_touch_packages(image_a: Image, image_b: Image) -> bool:
    """Whether a layer that differs holds a package-database file or a deletion marker."""
    for i in range(max(len(image_a.diff_ids), len(image_b.diff_ids))):
        ids = [img.diff_ids[i] if i < len(img.diff_ids) else None for img in (image_a, image_b)]
        if ids[0] == ids[1]:
            continue
        for img in (image_a, image_b):
            layer = img.layers[i] if i < len(img.layers) else None
            if layer is None:
                continue
            for rec in layer.records:
                if rec.type in ("whiteout", "opaque") or PACKAGE_DB.match(rec.path):
                    return True
    return False


class PackagePlan:
    """The package-database files whose content differs between two read images, by side and
    by the layer (diff_id) giving each; read them with :meth:`tap_for` in a pass over those
    layers (possibly shared with other readers), then :meth:`diff`."""

    def __init__(self, wanted: dict[str, dict[str, list[str]]]):
        self.wanted_paths = wanted
        self.got: dict[str, dict[str, dict[str, bytes]]] = {"a": {}, "b": {}}

    def wanted(self, side: str) -> set[str]:
        """The diff_ids of the layers to read on ``side``."""
        return set(self.wanted_paths[side])

    def tap_for(self, side: str) -> TapFor:
        """The taps collecting ``side``'s database files."""
        wanted, got = self.wanted_paths[side], self.got[side]
        every = {p for paths in wanted.values() for p in paths}

        def tap_for(diff_id: str | None) -> Tap | None:
            paths = every if diff_id is None else set(wanted.get(diff_id, ()))
            return Collect(paths, FILE_LIMIT, got.setdefault(diff_id or "", {})) if paths else None

        return tap_for

    def diff(self) -> list[PackageDiff]:
        """The package diff from the files read."""
        sides = []
        for side in "ab":
            packages: list[Package] = []
            for found in self.got[side].values():
                for path, data in sorted(found.items()):
                    packages.extend(packages_of(path, data))
            sides.append(packages)
        return diff_packages(sides[0], sides[1])


def package_plan(
    image_a: Image,
    image_b: Image,
    already: dict[str, dict[tuple[str, str], bytes]] | None = None,
) -> PackagePlan | None:
    """What :class:`PackagePlan` must read; None when no differing layer touches a database.
    ``already`` holds files read on the way, by side and ``(diff_id, path)``: they are not
    read again.

    Costs nothing when no differing layer holds a package database.
    """
    if image_a.diff_ids == image_b.diff_ids or not _may_touch_packages(image_a, image_b):
        return None
    files_a = _db_files(image_a.merged())
    files_b = _db_files(image_b.merged())
    differing = {p for p in files_a.keys() | files_b.keys() if files_a.get(p) != files_b.get(p)}
    if not differing:
        return None
    wanted: dict[str, dict[str, list[str]]] = {"a": {}, "b": {}}
    for side, image, files in (("a", image_a, files_a), ("b", image_b, files_b)):
        for path in sorted(differing & files.keys()):
            diff_id = _provider(image, path, files[path])
            if diff_id is not None:
                wanted[side].setdefault(diff_id, []).append(path)
    plan = PackagePlan(wanted)
    for side, kept in (already or {}).items():
        for (diff_id, path), data in kept.items():
            paths = wanted[side].get(diff_id, [])
            if path in paths:
                plan.got[side].setdefault(diff_id, {})[path] = data
                paths.remove(path)
                if not paths:
                    del wanted[side][diff_id]
    return plan


def package_diff(
    source_a: Source, source_b: Source, image_a: Image, image_b: Image
) -> list[PackageDiff]:
    """The package-level difference of two read images.

    Costs nothing when no differing layer holds a package database; otherwise reads only the
    database files whose content differs, in one pass per side over only the layers giving
    them. (:func:`reprokit.compare` shares that pass with the explanations' evidence.)
    """
    plan = package_plan(image_a, image_b)
    if plan is None:
        return []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reprokit-packages") as pool:
        futures = [
            pool.submit(read_layers, source, plan.wanted(side), plan.tap_for(side))
            for side, source in (("a", source_a), ("b", source_b))
        ]
        for future in futures:
            future.result()
    return plan.diff()


def read_layers(
    source: Source, wanted: set[str], tap_for: TapFor | None, cancel: Any = None
) -> None:
    """One pass over only the layers of ``source`` whose diff_id is in ``wanted``."""
    if wanted:
        source.read([d for d in source.diff_ids() or [] if d not in wanted], cancel, tap_for)
