"""Find one image in an OCI image layout or a ``docker save`` archive: index → manifest → config.

The layout is read through a :class:`Store` (a directory or a tar file on disk), so the same
walk serves ``oci:``, ``oci-archive:`` and ``docker-archive:``. Names inside a layout are
untrusted: digests are checked for form and paths may not leave the layout.

>>> parse_platform("linux/arm64/v8")
Platform(os='linux', architecture='arm64', variant='v8')
"""

from __future__ import annotations

import hashlib
import os
import platform as _platform
import posixpath
import re
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ArchiveError, ImageNotFoundError, IntegrityError, UsageError
from ..read.jsondoc import field as json_field
from ..read.jsondoc import load_json, type_name
from ..read.limits import current

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386"}


@dataclass(frozen=True)
class Platform:
    """An OCI platform; ``variant`` is optional."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)

    def matches(self, desc: dict[str, Any]) -> bool:
        """Whether an index entry's ``platform`` object is this platform."""
        if desc.get("os") != self.os or desc.get("architecture") != self.architecture:
            return False
        return self.variant is None or desc.get("variant") in (None, self.variant)


def parse_platform(text: str) -> Platform:
    """``os/arch[/variant]`` → :class:`Platform`."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"platform {text!r} is not os/arch[/variant], e.g. linux/amd64")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def host_platform() -> Platform:
    """The platform of this machine, e.g. ``linux/amd64``."""
    machine = _platform.machine().lower()
    return Platform("linux", _ARCH.get(machine, machine), "v7" if machine == "armv7l" else None)


class Store:
    """Named files of a layout: ``read`` small JSON files, ``open`` blobs as streams."""

    where: str

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def read(self, name: str, limit: int | None = None) -> bytes:
        """A small file whole (at most ``limit``, default the ``metadata_bytes`` limit)."""
        limit = current().metadata_bytes if limit is None else limit
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(
                self.where, f"{name} is more than {limit} bytes (limit metadata_bytes)"
            )
        return data

    def close(self) -> None:
        pass


def safe_name(where: str, name: str) -> str:
    """A layout-relative path that cannot escape the layout."""
    norm = posixpath.normpath(name.lstrip("/"))
    if norm.startswith("..") or norm == ".":
        raise ArchiveError(where, f"refers to {name!r} outside the image layout")
    return norm


class DirStore(Store):
    """An OCI image-layout directory. Only regular files inside it are read: a symlink is
    followed only while it stays inside the layout, and devices, FIFOs and sockets are never
    opened (a FIFO is opened non-blocking, seen not to be a file, and closed)."""

    def __init__(self, root: Path, where: str):
        if not root.is_dir():
            raise ImageNotFoundError(where, "no such directory")
        self.root, self.where = root, where
        self._real = os.path.realpath(root)

    def _path(self, name: str) -> str:
        norm = safe_name(self.where, name)
        real = os.path.realpath(os.path.join(self._real, norm))
        if os.path.commonpath([real, self._real]) != self._real:
            raise ArchiveError(self.where, f"{name} is a link to outside the image layout")
        return real

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self._path(name)).st_mode)
        except OSError:
            return False

    def open(self, name: str) -> BinaryIO:
        real = self._path(name)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            if not stat.S_ISREG(os.lstat(real).st_mode):
                raise ArchiveError(self.where, f"{name} is not a regular file")
            fd = os.open(real, flags)
        except OSError as err:
            raise ArchiveError(self.where, f"cannot read {name}: {err.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ArchiveError(self.where, f"{name} is not a regular file")
        os.set_blocking(fd, True)
        return open(fd, "rb")


class TarStore(Store):
    """A tar file on disk (``docker save`` output or an OCI layout in a tar), read in place."""

    def __init__(self, path: Path, where: str):
        if not path.is_file():
            raise ImageNotFoundError(where, "no such file")
        self.where = where
        limit = current().archive_entries
        self._members: dict[str, tarfile.TarInfo] = {}
        try:
            self._tar = tarfile.open(path, mode="r:")
            count = 0
            while (member := self._tar.next()) is not None:
                count += 1
                if count > limit:
                    self._tar.close()
                    raise ArchiveError(
                        where, f"refused: more than {limit} entries (limit archive_entries)"
                    )
                if not member.isdir():
                    self._members[safe_name(where, member.name)] = member
        except (tarfile.TarError, EOFError, OSError, ValueError, OverflowError) as err:
            raise ArchiveError(where, f"not a readable tar archive ({err})") from None

    def _member(self, name: str) -> tarfile.TarInfo:
        norm = safe_name(self.where, name)
        for _ in range(8):  # follow the symlinks docker save uses for its legacy layout
            member = self._members.get(norm)
            if member is None:
                raise ArchiveError(self.where, f"archive has no {name} (truncated or not an image)")
            if not (member.issym() or member.islnk()):
                return member
            base = posixpath.dirname(norm) if member.issym() else ""
            norm = safe_name(self.where, posixpath.join(base, member.linkname))
        raise ArchiveError(self.where, f"too many links resolving {name}")

    def exists(self, name: str) -> bool:
        try:
            self._member(name)
        except ArchiveError:
            return False
        return True

    def open(self, name: str) -> BinaryIO:
        member = self._member(name)
        fileobj = self._tar.extractfile(member) if member.isreg() else None
        if fileobj is None:
            raise ArchiveError(self.where, f"{name} is not a regular file")
        return fileobj  # type: ignore[return-value]

    def close(self) -> None:
        self._tar.close()


@dataclass
class Located:
    """One image found in a layout: its config and its layer blobs, bottom first.

    ``layer_digests`` holds, per layer, the digest its blob must have where the layout names
    one (an OCI descriptor, or a ``blobs/sha256/HEX`` name), else None; ``layer_sizes`` the
    size a descriptor gives. ``manifest_digest`` is the (verified) digest of the OCI manifest.
    """

    config: dict[str, Any]
    config_bytes: bytes
    layer_names: list[str]
    image_id: str
    manifest_digest: str | None = None
    layer_digests: list[str | None] = field(default_factory=list)
    layer_sizes: list[int | None] = field(default_factory=list)


def blob_name(where: str, digest: str) -> str:
    """``sha256:HEX`` → ``blobs/sha256/HEX``, refusing anything that is not a sha256 digest."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ArchiveError(where, f"invalid digest {str(digest)[:80]!r}")
    return "blobs/sha256/" + digest.split(":", 1)[1]


_NAMED = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")


def named_digest(name: str) -> str | None:
    """The digest a layout file name gives its content (``blobs/sha256/HEX``, ``HEX.json``).

    >>> named_digest("blobs/sha256/" + "a" * 64)[:10], named_digest("abc/layer.tar")
    ('sha256:aaa', None)
    """
    m = _NAMED.match(name)
    return "sha256:" + m.group(1) if m else None


def verify_bytes(where: str, what: str, data: bytes, digest: str | None, size: Any = None) -> None:
    """Raise :class:`IntegrityError` unless ``data`` has ``digest`` (and ``size``, if given)."""
    if digest is not None:
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityError(where, what, digest, actual)
    if isinstance(size, int) and not isinstance(size, bool) and size != len(data):
        raise IntegrityError(where, f"{what} size", f"{size} bytes", f"{len(data)} bytes")


def _descriptor(where: str, doc: str, desc: Any, what: str) -> tuple[str, str, Any]:
    """``(digest, blob name, size)`` of an OCI descriptor, its types checked."""
    if not isinstance(desc, dict):
        raise ArchiveError(where, f"{doc}: {what} is {type_name(desc)}, not a descriptor object")
    digest = desc.get("digest")
    size = desc.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ArchiveError(where, f"{doc}: {what}.size is not a byte count")
    return digest, blob_name(where, digest), size


def _json(store: Store, name: str, digest: str | None = None, size: Any = None) -> Any:
    raw = store.read(name)
    verify_bytes(store.where, name, raw, digest, size)
    return load_json(raw, store.where, name)


def _config(
    store: Store, name: str, digest: str | None = None, size: Any = None
) -> tuple[dict[str, Any], bytes]:
    raw = store.read(name)
    verify_bytes(store.where, f"image config {name}", raw, digest, size)
    config = load_json(raw, store.where, f"image config {name}")
    if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
        raise ArchiveError(store.where, f"{name} is not an image config (no rootfs)")
    check_config(config, store.where, f"image config {name}")
    return config, raw


_CONFIG_STRINGS = ("os", "architecture", "variant", "created", "author")
_RUN_STRINGS = ("User", "WorkingDir", "StopSignal", "Domainname", "Hostname", "Image")
_RUN_LISTS = ("Env", "Entrypoint", "Cmd", "Shell", "OnBuild")
_RUN_OBJECTS = ("ExposedPorts", "Volumes", "Healthcheck")


def check_config(config: dict[str, Any], where: str, name: str) -> None:
    """Check the types of the config fields reprokit reads, so that code reading them can
    trust them; an error names the file and the field."""
    for key in _CONFIG_STRINGS:
        json_field(config, key, str, where, name)
    diff_ids = json_field(config, "rootfs.diff_ids", list, where, name) or []
    for i, d in enumerate(diff_ids):
        if not isinstance(d, str) or not _DIGEST.match(d):
            raise ArchiveError(
                where, f"{name}: field rootfs.diff_ids[{i}] is not a sha256 digest: {str(d)[:80]!r}"
            )
    history = json_field(config, "history", list, where, name) or []
    for i, entry in enumerate(history):
        here = f"history[{i}]"
        if not isinstance(entry, dict):
            raise ArchiveError(where, f"{name}: field {here} is {type_name(entry)}, not an object")
        for key in ("created_by", "created", "comment", "author"):
            json_field(entry, key, str, where, f"{name}: {here}")
        json_field(entry, "empty_layer", bool, where, f"{name}: {here}")
    for section in ("config", "container_config"):
        run = json_field(config, section, dict, where, name)
        if not run:
            continue
        for key in _RUN_STRINGS:
            json_field(run, key, str, where, f"{name}: {section}")
        for key in _RUN_LISTS:
            items = json_field(run, key, list, where, f"{name}: {section}") or []
            for i, item in enumerate(items):
                if not isinstance(item, str):
                    raise ArchiveError(
                        where,
                        f"{name}: field {section}.{key}[{i}] is {type_name(item)}, not a string",
                    )
        for key in _RUN_OBJECTS:
            json_field(run, key, dict, where, f"{name}: {section}")
        labels = json_field(run, "Labels", dict, where, f"{name}: {section}") or {}
        for key, value in labels.items():
            if not isinstance(value, str):
                raise ArchiveError(
                    where,
                    f"{name}: field {section}.Labels[{key[:80]!r}] is {type_name(value)}, "
                    "not a string",
                )


def _matches_ref(desc: dict[str, Any], ref: str) -> bool:
    notes = desc.get("annotations") or {}
    if not isinstance(notes, dict):
        return False
    names = {notes.get("org.opencontainers.image.ref.name"), notes.get("io.containerd.image.name")}
    names.discard(None)
    return ref in names or any(str(n).endswith("/" + ref) for n in names)


def _platform_of(desc: dict[str, Any]) -> dict[str, Any]:
    plat = desc.get("platform")
    return plat if isinstance(plat, dict) else {}


def _pick(where: str, descs: list[dict[str, Any]], plat: Platform | None) -> dict[str, Any]:
    images = [
        d
        for d in descs
        if (d.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
        and _platform_of(d).get("os") != "unknown"
    ]
    if not images:
        raise ArchiveError(where, "the image index lists no image manifests")
    with_platform = [d for d in images if _platform_of(d)]
    if len(images) == 1 and (plat is None or not with_platform):
        return images[0]
    want = plat or host_platform()
    for desc in with_platform:
        if want.matches(_platform_of(desc)):
            return desc
    offered = ", ".join(
        str(Platform(str(p.get("os", "?")), str(p.get("architecture", "?")), p.get("variant")))
        for p in (_platform_of(d) for d in with_platform)
    )
    if with_platform:
        raise ImageNotFoundError(
            where, f"no image for platform {want} (the index offers {offered})"
        )
    raise UsageError(f"{where}: the layout holds {len(images)} images; name one as {where}:REF")


def _manifests(where: str, doc: Any, name: str) -> list[dict[str, Any]]:
    """The ``manifests`` of an index, checked to be descriptor objects."""
    descs = json_field(doc, "manifests", list, where, name) or []
    for i, desc in enumerate(descs):
        if not isinstance(desc, dict):
            raise ArchiveError(
                where, f"{name}: field manifests[{i}] is {type_name(desc)}, not an object"
            )
        for key in ("annotations", "platform"):
            json_field(desc, key, dict, where, f"{name}: manifests[{i}]")
    return descs


def locate_oci(store: Store, ref: str | None, plat: Platform | None) -> Located:
    """Walk ``index.json`` (and nested indexes) to one manifest and its config, checking each
    blob read against the digest (and size) its descriptor gives."""
    if not store.exists("index.json"):
        raise ArchiveError(store.where, "no index.json: not an OCI image layout")
    index = _json(store, "index.json")
    if not isinstance(index, dict):
        raise ArchiveError(store.where, "index.json is not an object")
    descs = _manifests(store.where, index, "index.json")
    if ref:
        descs = [d for d in descs if _matches_ref(d, ref)]
        if not descs:
            raise ImageNotFoundError(store.where, f"no image named {ref!r} in the layout")
    for _depth in range(4):
        desc = _pick(store.where, descs, plat)
        digest, name, size = _descriptor(store.where, "index", desc, "manifest descriptor")
        doc = _json(store, name, digest, size)
        if not isinstance(doc, dict):
            raise ArchiveError(store.where, f"{name} is not an object")
        media = desc.get("mediaType") or doc.get("mediaType")
        if (isinstance(media, str) and media in INDEX_TYPES) or "manifests" in doc:
            descs = _manifests(store.where, doc, name)
            continue
        if "layers" not in doc or "config" not in doc:
            raise ArchiveError(store.where, f"{name} is not an image manifest")
        config_digest, config_name, config_size = _descriptor(
            store.where, name, doc["config"], "config"
        )
        config, raw = _config(store, config_name, config_digest, config_size)
        layers = json_field(doc, "layers", list, store.where, name) or []
        named = [
            _descriptor(store.where, name, layer, f"layers[{i}]") for i, layer in enumerate(layers)
        ]
        return Located(
            config,
            raw,
            [n for _, n, _ in named],
            "sha256:" + hashlib.sha256(raw).hexdigest(),
            manifest_digest=digest,
            layer_digests=[d for d, _, _ in named],
            layer_sizes=[z for _, _, z in named],
        )
    raise ArchiveError(store.where, "image indexes nested too deep")


def locate_docker_archive(store: Store, ref: str | None, plat: Platform | None) -> Located:
    """Use ``manifest.json`` (every ``docker save``), falling back to ``index.json``.

    A config or layer named by its digest (``blobs/sha256/HEX``, ``HEX.json``) is checked
    against that digest.
    """
    if not store.exists("manifest.json"):
        if store.exists("index.json"):
            return locate_oci(store, ref, plat)
        raise ArchiveError(store.where, "no manifest.json: not a docker save archive")
    entries = _json(store, "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ArchiveError(store.where, "manifest.json lists no images")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ArchiveError(
                store.where, f"manifest.json: entry {i} is {type_name(entry)}, not an object"
            )
        tags = json_field(entry, "RepoTags", list, store.where, f"manifest.json: entry {i}")
        if any(not isinstance(t, str) for t in tags or []):
            raise ArchiveError(
                store.where, f"manifest.json: entry {i}: RepoTags holds a non-string"
            )
    if ref:
        full = ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"
        entries = [
            e
            for e in entries
            if any(t in (ref, full) or t.endswith("/" + full) for t in e.get("RepoTags") or [])
        ]
        if not entries:
            raise ImageNotFoundError(store.where, f"no image tagged {ref!r} in the archive")
    if len(entries) > 1:
        raise UsageError(
            f"{store.where}: the archive holds {len(entries)} images; name one as {store.where}:REF"
        )
    entry = entries[0]
    config_name = json_field(entry, "Config", str, store.where, "manifest.json")
    layers = json_field(entry, "Layers", list, store.where, "manifest.json")
    if config_name is None or layers is None:
        raise ArchiveError(store.where, "manifest.json entry lacks Config or Layers")
    if any(not isinstance(n, str) for n in layers):
        raise ArchiveError(store.where, "manifest.json: field Layers holds a non-string")
    config_name = safe_name(store.where, config_name)
    config, raw = _config(store, config_name, named_digest(config_name))
    names = [safe_name(store.where, n) for n in layers]
    return Located(
        config,
        raw,
        names,
        "sha256:" + hashlib.sha256(raw).hexdigest(),
        layer_digests=[named_digest(n) for n in names],
        layer_sizes=[None] * len(names),
    )


def split_path_ref(text: str) -> tuple[str, str | None]:
    """``PATH[:REF]`` as skopeo reads it; a path that exists as written wins over a split.

    >>> split_path_ref("/tmp/layout:v1")
    ('/tmp/layout', 'v1')
    """
    if os.path.exists(text) or ":" not in text:
        return text, None
    path, ref = text.split(":", 1)
    return path, ref or None
