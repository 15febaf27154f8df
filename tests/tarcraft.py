"""Craft layer tars, ``docker save`` archives and OCI image layouts for the tests (no engine).

A layer is a list of :class:`Member` entries written with :mod:`tarfile`; :func:`make_layer`
compresses it and knows its diff_id (sha256 of the uncompressed tar) and blob digest.

>>> layer = make_layer([file("etc/motd", b"hi")], "gzip")
>>> layer.diff_id == sha256_digest(layer.tar), layer.blob[:2]
(True, b'\\x1f\\x8b')
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

MTIME = 1_700_000_000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def sha256_digest(data: bytes) -> str:
    """``sha256:HEX`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- tar members -------------------------------------------------------------------------------


@dataclass
class Member:
    """One tar entry: a :class:`tarfile.TarInfo` and, for regular files, its content."""

    info: tarfile.TarInfo
    data: bytes | None = None


def _info(
    name: str | bytes,
    kind: bytes,
    *,
    mode: int,
    mtime: float = MTIME,
    uid: int = 0,
    gid: int = 0,
    pax: dict[str, str] | None = None,
) -> tarfile.TarInfo:
    if isinstance(name, bytes):  # raw bytes that need not be UTF-8, as tarfile spells them
        name = name.decode("utf-8", "surrogateescape")
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.uid, info.gid = uid, gid
    info.uname = info.gname = "root" if uid == 0 else ""
    if pax:
        info.pax_headers = dict(pax)
    return info


def file(name: str | bytes, data: bytes = b"", *, mode: int = 0o644, **kw: Any) -> Member:
    """A regular file."""
    info = _info(name, tarfile.REGTYPE, mode=mode, **kw)
    info.size = len(data)
    return Member(info, data)


def directory(name: str | bytes, *, mode: int = 0o755, **kw: Any) -> Member:
    """A directory."""
    return Member(_info(name, tarfile.DIRTYPE, mode=mode, **kw))


def symlink(name: str | bytes, target: str | bytes, **kw: Any) -> Member:
    """A symbolic link to ``target`` (kept as written)."""
    info = _info(name, tarfile.SYMTYPE, mode=0o777, **kw)
    info.linkname = (
        target.decode("utf-8", "surrogateescape") if isinstance(target, bytes) else target
    )
    return Member(info)


def hardlink(name: str, target: str, **kw: Any) -> Member:
    """A hard link to the earlier member ``target`` (an archive path)."""
    info = _info(name, tarfile.LNKTYPE, mode=kw.pop("mode", 0o644), **kw)
    info.linkname = target
    return Member(info)


def device(name: str, kind: str, major: int, minor: int, *, mode: int = 0o660) -> Member:
    """A ``char`` or ``block`` device node."""
    info = _info(name, tarfile.CHRTYPE if kind == "char" else tarfile.BLKTYPE, mode=mode)
    info.devmajor, info.devminor = major, minor
    return Member(info)


def fifo(name: str, *, mode: int = 0o600) -> Member:
    """A named pipe."""
    return Member(_info(name, tarfile.FIFOTYPE, mode=mode))


def whiteout(path: str) -> Member:
    """The OCI whiteout that deletes ``path`` from the layers below."""
    parent, base = posixpath.split(path.rstrip("/"))
    return file(posixpath.join(parent, ".wh." + base), mode=0o600)


def opaque(dirpath: str) -> Member:
    """The OCI marker that hides everything below ``dirpath`` in the layers below."""
    return file(posixpath.join(dirpath.rstrip("/"), ".wh..wh..opq"), mode=0o600)


def layer_tar(members: Iterable[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed layer tar holding ``members`` in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8") as tf:
        for m in members:
            tf.addfile(m.info, io.BytesIO(m.data) if m.data is not None else None)
    return buf.getvalue()


def compress(tar: bytes, compression: str) -> bytes:
    """``tar`` as a ``none``, ``gzip`` or ``zstd`` blob."""
    if compression == "gzip":
        return gzip.compress(tar, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(tar)
    return tar


@dataclass
class Layer:
    """A layer blob together with what an image needs to know about it."""

    tar: bytes
    blob: bytes
    compression: str = "none"

    @property
    def diff_id(self) -> str:
        return sha256_digest(self.tar)

    @property
    def digest(self) -> str:
        return sha256_digest(self.blob)

    @property
    def media_type(self) -> str:
        return LAYER_MEDIA[self.compression]


def make_layer(
    members: Iterable[Member], compression: str = "none", fmt: int = tarfile.PAX_FORMAT
) -> Layer:
    """Build a layer from ``members``, compressed as asked."""
    tar = layer_tar(members, fmt)
    return Layer(tar, compress(tar, compression), compression)


# --- image configs -----------------------------------------------------------------------------


def image_config(
    layers: Sequence[Layer],
    *,
    created: str = "2024-01-01T00:00:00Z",
    architecture: str = "amd64",
    os_name: str = "linux",
    env: Sequence[str] = ("PATH=/usr/bin:/bin",),
    diff_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A minimal image config whose ``rootfs.diff_ids`` name ``layers`` (or ``diff_ids``)."""
    return {
        "architecture": architecture,
        "os": os_name,
        "created": created,
        "config": {"Env": list(env), "Cmd": ["/bin/sh"]},
        "rootfs": {
            "type": "layers",
            "diff_ids": list(diff_ids) if diff_ids is not None else [x.diff_id for x in layers],
        },
        "history": [{"created": created, "created_by": f"step {i}"} for i in range(len(layers))],
    }


def config_bytes(config: dict[str, Any]) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


# --- docker save archives ----------------------------------------------------------------------


def _add(tf: tarfile.TarFile, name: str, data: bytes, mtime: float = MTIME) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tf.addfile(info, io.BytesIO(data))


def _add_dir(tf: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
    tf.addfile(info)


def _add_symlink(tf: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, MTIME
    tf.addfile(info)


def write_docker_archive(
    path: Path,
    layers: Sequence[Layer],
    config: dict[str, Any] | bytes | None = None,
    *,
    repo_tags: Sequence[str] = ("example/app:1",),
    style: str = "legacy",
    manifest: Any = None,
    extra: Sequence[tuple[str, bytes]] = (),
) -> Path:
    """Write a ``docker save`` archive.

    ``style``: ``legacy`` puts each layer at ``<id>/layer.tar`` (a repeated layer is a symlink
    to the first copy, as Docker < 25 does); ``symlink`` puts blobs under ``blobs/sha256/`` and
    makes ``<id>/layer.tar`` symlinks into them; ``blobs`` names the blobs directly in
    ``manifest.json`` and adds ``index.json`` (Docker ≥ 25). ``manifest`` replaces the
    generated ``manifest.json`` content.
    """
    if config is None:
        config = image_config(layers)
    raw_config = config if isinstance(config, bytes) else config_bytes(config)
    config_hex = hashlib.sha256(raw_config).hexdigest()
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tf:
        layer_names: list[str] = []
        if style == "legacy":
            config_name = config_hex + ".json"
            first: dict[str, str] = {}
            for i, layer in enumerate(layers):
                layer_id = hashlib.sha256(f"{i}:{layer.diff_id}".encode()).hexdigest()
                _add_dir(tf, layer_id + "/")
                _add(tf, layer_id + "/VERSION", b"1.0")
                name = layer_id + "/layer.tar"
                if layer.diff_id in first:
                    _add_symlink(tf, name, "../" + first[layer.diff_id])
                else:
                    _add(tf, name, layer.blob)
                    first[layer.diff_id] = name
                layer_names.append(name)
            _add(tf, config_name, raw_config)
        else:
            _add_dir(tf, "blobs/")
            _add_dir(tf, "blobs/sha256/")
            written: set[str] = set()
            for layer in layers:
                if layer.digest not in written:
                    _add(tf, "blobs/sha256/" + layer.digest.split(":")[1], layer.blob)
                    written.add(layer.digest)
            config_name = "blobs/sha256/" + config_hex
            _add(tf, config_name, raw_config)
            for i, layer in enumerate(layers):
                blob = "blobs/sha256/" + layer.digest.split(":")[1]
                if style == "symlink":
                    layer_id = hashlib.sha256(f"{i}:{layer.diff_id}".encode()).hexdigest()
                    _add_dir(tf, layer_id + "/")
                    _add_symlink(tf, layer_id + "/layer.tar", "../" + blob)
                    layer_names.append(layer_id + "/layer.tar")
                else:
                    layer_names.append(blob)
            if style == "blobs":
                mani = _oci_manifest(layers, raw_config)
                mani_raw = config_bytes(mani)
                _add(tf, "blobs/sha256/" + hashlib.sha256(mani_raw).hexdigest(), mani_raw)
                index = {
                    "schemaVersion": 2,
                    "mediaType": OCI_INDEX,
                    "manifests": [_descriptor(OCI_MANIFEST, mani_raw)],
                }
                _add(tf, "index.json", config_bytes(index))
                _add(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        entries = [{"Config": config_name, "RepoTags": list(repo_tags), "Layers": layer_names}]
        _add(
            tf, "manifest.json", json.dumps(manifest if manifest is not None else entries).encode()
        )
        for name, data in extra:
            _add(tf, name, data)
    return path


# --- OCI image layouts -------------------------------------------------------------------------


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def _oci_manifest(layers: Sequence[Layer], raw_config: bytes) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, raw_config),
        "layers": [
            {"mediaType": x.media_type, "digest": x.digest, "size": len(x.blob)} for x in layers
        ],
    }


@dataclass
class OciImage:
    """One image for a layout: its layers, config, and how the index describes it."""

    layers: Sequence[Layer]
    config: dict[str, Any] | None = None
    platform: dict[str, str] | None = None
    ref_name: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


class LayoutWriter:
    """Writes blobs into ``root/blobs/sha256`` and returns their descriptors."""

    def __init__(self, root: Path):
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        (self.root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
        return digest

    def image(self, image: OciImage) -> dict[str, Any]:
        """Write an image's blobs and manifest; the manifest's descriptor for an index."""
        config = image.config if image.config is not None else image_config(image.layers)
        raw_config = config_bytes(config)
        self.blob(raw_config)
        for layer in image.layers:
            self.blob(layer.blob)
        manifest = config_bytes(_oci_manifest(image.layers, raw_config))
        self.blob(manifest)
        notes = dict(image.annotations)
        if image.ref_name:
            notes["org.opencontainers.image.ref.name"] = image.ref_name
        extra: dict[str, Any] = {}
        if image.platform:
            extra["platform"] = dict(image.platform)
        if notes:
            extra["annotations"] = notes
        return _descriptor(OCI_MANIFEST, manifest, **extra)

    def index(self, descriptors: list[dict[str, Any]], path: str | None = None) -> bytes:
        """An image index listing ``descriptors``: ``index.json`` or (``path=None``) a blob."""
        raw = config_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors})
        if path is None:
            self.blob(raw)
        else:
            (self.root / path).write_bytes(raw)
        return raw


def write_oci_layout(
    root: Path,
    images: Sequence[OciImage],
    *,
    nested: bool = False,
    nested_ref: str | None = None,
) -> Path:
    """An OCI layout holding ``images``; ``nested`` puts them behind an image index blob."""
    writer = LayoutWriter(root)
    descs = [writer.image(img) for img in images]
    if nested:
        raw = writer.index(descs)
        top = _descriptor(OCI_INDEX, raw)
        if nested_ref:
            top["annotations"] = {"org.opencontainers.image.ref.name": nested_ref}
        descs = [top]
    writer.index(descs, "index.json")
    return root


def tar_directory(src: Path, dest: Path, *, prefix: str = "") -> Path:
    """Tar the contents of ``src`` (sorted, deterministic) as ``oci-archive`` does."""
    with tarfile.open(dest, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel = os.path.relpath(dirpath, src)
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                arc = prefix + (name if rel == "." else f"{rel}/{name}")
                tf.add(full, arcname=arc, recursive=False)
    return dest
