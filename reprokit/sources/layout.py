"""Find one image in an OCI image layout or a ``docker save`` archive: index → manifest → config.

The layout is read through a :class:`Store` (a directory or a tar file on disk), so the same
walk serves ``oci:``, ``oci-archive:`` and ``docker-archive:``. Names inside a layout are
untrusted: digests are checked for form and paths may not leave the layout.

>>> parse_platform("linux/arm64/v8")
Platform(os='linux', architecture='arm64', variant='v8')
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as _platform
import posixpath
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ArchiveError, ImageNotFoundError, UsageError

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

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(self.where, f"{name} is too large to be image metadata")
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
    """An OCI image-layout directory."""

    def __init__(self, root: Path, where: str):
        if not root.is_dir():
            raise ImageNotFoundError(where, "no such directory")
        self.root, self.where = root, where

    def exists(self, name: str) -> bool:
        return (self.root / safe_name(self.where, name)).is_file()

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self.root / safe_name(self.where, name), "rb")
        except OSError as err:
            raise ArchiveError(self.where, f"cannot read {name}: {err.strerror}") from None


class TarStore(Store):
    """A tar file on disk (``docker save`` output or an OCI layout in a tar), read in place."""

    def __init__(self, path: Path, where: str):
        if not path.is_file():
            raise ImageNotFoundError(where, "no such file")
        self.where = where
        try:
            self._tar = tarfile.open(path, mode="r:")
            self._members = {
                safe_name(where, m.name): m for m in self._tar.getmembers() if not m.isdir()
            }
        except (tarfile.TarError, EOFError, OSError) as err:
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
        fileobj = self._tar.extractfile(member)
        if fileobj is None:
            raise ArchiveError(self.where, f"{name} is not a regular file")
        return fileobj  # type: ignore[return-value]

    def close(self) -> None:
        self._tar.close()


@dataclass
class Located:
    """One image found in a layout: its config and its layer blobs, bottom first."""

    config: dict[str, Any]
    config_bytes: bytes
    layer_names: list[str]
    image_id: str
    manifest_digest: str | None = None


def blob_name(where: str, digest: str) -> str:
    """``sha256:HEX`` → ``blobs/sha256/HEX``, refusing anything that is not a sha256 digest."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ArchiveError(where, f"invalid digest {digest!r}")
    return "blobs/sha256/" + digest.split(":", 1)[1]


def _json(store: Store, name: str) -> Any:
    try:
        return json.loads(store.read(name))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArchiveError(store.where, f"{name} is not valid JSON ({err})") from None


def _config(store: Store, name: str) -> tuple[dict[str, Any], bytes]:
    raw = store.read(name)
    try:
        config = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArchiveError(store.where, f"image config {name} is not valid JSON ({err})") from None
    if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
        raise ArchiveError(store.where, f"{name} is not an image config (no rootfs)")
    return config, raw


def _matches_ref(desc: dict[str, Any], ref: str) -> bool:
    notes = desc.get("annotations") or {}
    names = {notes.get("org.opencontainers.image.ref.name"), notes.get("io.containerd.image.name")}
    names.discard(None)
    return ref in names or any(str(n).endswith("/" + ref) for n in names)


def _pick(where: str, descs: list[dict[str, Any]], plat: Platform | None) -> dict[str, Any]:
    images = [
        d
        for d in descs
        if (d.get("annotations") or {}).get("vnd.docker.reference.type") != "attestation-manifest"
        and (d.get("platform") or {}).get("os") != "unknown"
    ]
    if not images:
        raise ArchiveError(where, "the image index lists no image manifests")
    with_platform = [d for d in images if d.get("platform")]
    if len(images) == 1 and (plat is None or not with_platform):
        return images[0]
    want = plat or host_platform()
    for desc in with_platform:
        if want.matches(desc["platform"]):
            return desc
    offered = ", ".join(
        str(Platform(p.get("os", "?"), p.get("architecture", "?"), p.get("variant")))
        for p in (d["platform"] for d in with_platform)
    )
    if with_platform:
        raise ImageNotFoundError(
            where, f"no image for platform {want} (the index offers {offered})"
        )
    raise UsageError(f"{where}: the layout holds {len(images)} images; name one as {where}:REF")


def locate_oci(store: Store, ref: str | None, plat: Platform | None) -> Located:
    """Walk ``index.json`` (and nested indexes) to one manifest and its config."""
    if not store.exists("index.json"):
        raise ArchiveError(store.where, "no index.json: not an OCI image layout")
    index = _json(store, "index.json")
    descs = list(index.get("manifests") or [])
    if ref:
        descs = [d for d in descs if _matches_ref(d, ref)]
        if not descs:
            raise ImageNotFoundError(store.where, f"no image named {ref!r} in the layout")
    for _depth in range(4):
        desc = _pick(store.where, descs, plat)
        name = blob_name(store.where, desc.get("digest", ""))
        doc = _json(store, name)
        media = desc.get("mediaType") or doc.get("mediaType")
        if media in INDEX_TYPES or "manifests" in doc:
            descs = list(doc.get("manifests") or [])
            continue
        if "layers" not in doc or "config" not in doc:
            raise ArchiveError(store.where, f"{name} is not an image manifest")
        config, raw = _config(store, blob_name(store.where, doc["config"].get("digest", "")))
        layers = [blob_name(store.where, layer.get("digest", "")) for layer in doc["layers"]]
        return Located(
            config,
            raw,
            layers,
            "sha256:" + hashlib.sha256(raw).hexdigest(),
            manifest_digest=desc.get("digest"),
        )
    raise ArchiveError(store.where, "image indexes nested too deep")


def locate_docker_archive(store: Store, ref: str | None, plat: Platform | None) -> Located:
    """Use ``manifest.json`` (every ``docker save``), falling back to ``index.json``."""
    if not store.exists("manifest.json"):
        if store.exists("index.json"):
            return locate_oci(store, ref, plat)
        raise ArchiveError(store.where, "no manifest.json: not a docker save archive")
    entries = _json(store, "manifest.json")
    if not isinstance(entries, list) or not entries:
        raise ArchiveError(store.where, "manifest.json lists no images")
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
    try:
        config_name, layers = entry["Config"], list(entry["Layers"])
    except (KeyError, TypeError):
        raise ArchiveError(store.where, "manifest.json entry lacks Config or Layers") from None
    config, raw = _config(store, safe_name(store.where, config_name))
    return Located(
        config,
        raw,
        [safe_name(store.where, n) for n in layers],
        "sha256:" + hashlib.sha256(raw).hexdigest(),
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
