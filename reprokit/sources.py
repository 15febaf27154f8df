"""Image sources named with skopeo's transports, each read into an :class:`Image`.

``docker-daemon:REF`` (or a bare REF), ``docker-archive:PATH[:REF]``, ``oci:PATH[:REF]`` and
``oci-archive:PATH[:REF]``. Nothing downstream knows where an image came from.

>>> parse_ref("oci:/srv/layout:v1").transport, parse_ref("busybox:1").transport
('oci', 'docker-daemon')
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import docker.errors
import requests

from .engine import connect, engine_error
from .errors import ArchiveError, ImageNotFoundError, ReprokitError, UsageError
from .layers import LayerIndex, Tap, TapFor, index_layer, merge
from .layout import (
    DirStore,
    Located,
    Platform,
    Store,
    TarStore,
    locate_docker_archive,
    locate_oci,
    split_path_ref,
)
from .records import FileRecord
from .streams import CHUNK, TAR_BUFSIZE, ChunkReader, compression_of

TRANSPORTS = ("docker-daemon", "docker-archive", "oci", "oci-archive")
_BLOB = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")
_META_LIMIT = 16 << 20


@dataclass
class Image:
    """An image as read: its config, diff_ids and, per layer, the records of its files.

    A layer is ``None`` when it was not read from this image because the other image of a
    comparison has a layer with the same diff_id (it is filled in from there).
    """

    ref: str
    id: str
    config: dict[str, Any]
    diff_ids: list[str]
    layers: list[LayerIndex | None] = field(default_factory=list)
    repo_tags: list[str] = field(default_factory=list)
    _merged: dict[str, FileRecord] | None = field(default=None, repr=False, compare=False)

    def merged(self) -> dict[str, FileRecord]:
        """The final filesystem (whiteouts applied), computed once; ask only when every layer
        is in (after a comparison fills the layers it shared with the other image)."""
        if self._merged is None:
            self._merged = merge(layer for layer in self.layers if layer is not None)
        return self._merged

    def history(self) -> list[str | None]:
        """``created_by`` for each layer (history entries marked empty_layer are skipped)."""
        steps = [h for h in self.config.get("history") or [] if not h.get("empty_layer")]
        out: list[str | None] = [h.get("created_by") for h in steps][: len(self.diff_ids)]
        return out + [None] * (len(self.diff_ids) - len(out))

    def size(self) -> int:
        """Bytes of the uncompressed layer tars (layers not read here count as 0)."""
        return sum(layer.size for layer in self.layers if layer is not None)


class Source(ABC):
    """Where an image comes from. :meth:`read` makes one pass over its layers."""

    transport: str
    ref: str

    def __str__(self) -> str:
        return f"{self.transport}:{self.ref}"

    def diff_ids(self) -> list[str] | None:
        """The layer diff_ids when they can be had without reading layers, else None."""
        return None

    @abstractmethod
    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
    ) -> Image:
        """Read the image; layers whose diff_id is in ``skip`` are not read (left as None).

        ``tap_for(diff_id)`` may give a :class:`~reprokit.layers.Tap` receiving the content of
        chosen files of that layer as it streams past.
        """

    def fetch(
        self,
        wanted: Mapping[str, Collection[str]],
        limit: int,
        cancel: threading.Event | None = None,
    ) -> dict[str, dict[str, bytes]]:
        """The content of chosen files, ``{diff_id: {path: bytes}}``, for files up to ``limit``
        bytes, in one more pass that reads only the layers named in ``wanted``.

        >>> src.fetch({"sha256:…": ["/etc/os-release"]}, 1 << 20)  # doctest: +SKIP
        {'sha256:…': {'/etc/os-release': b'PRETTY_NAME=...'}}
        """
        every = set().union(*wanted.values()) if wanted else set()
        found: dict[str, dict[str, bytes]] = {}

        def tap_for(diff_id: str | None) -> Tap | None:
            paths = every if diff_id is None else set(wanted.get(diff_id, ()))
            return Collect(paths, limit, found.setdefault(diff_id or "", {})) if paths else None

        ids = self.diff_ids() or []
        self.read([d for d in ids if d not in wanted], cancel, tap_for)
        if "" in found:  # layers the source could not name before reading them
            for diff_id in wanted:
                found.setdefault(diff_id, {}).update(found[""])
            del found[""]
        return found


class Collect:
    """A tap keeping the content of the given paths (up to ``limit`` bytes each)."""

    def __init__(self, paths: Collection[str], limit: int, into: dict[str, bytes]):
        self.paths, self.limit, self.into = paths, limit, into

    def wants(self, path: str, size: int) -> bool:
        return size <= self.limit and path in self.paths

    def take(self, path: str, data: bytes) -> None:
        self.into[path] = data


def _check_diff_ids(where: str, layers: list[LayerIndex | None], diff_ids: list[str]) -> None:
    if len(layers) != len(diff_ids):
        raise ArchiveError(
            where, f"manifest lists {len(layers)} layers but the config {len(diff_ids)}"
        )
    for i, (layer, want) in enumerate(zip(layers, diff_ids, strict=True)):
        if layer is not None and layer.diff_id != want:
            raise ArchiveError(
                where, f"layer {i} does not match its diff_id {want[:19]}… (corrupt archive)"
            )


def config_platform(config: dict[str, Any]) -> str:
    """``os/arch[/variant]`` of an image config, e.g. ``linux/amd64``; empty when unknown."""
    parts = (config.get("os"), config.get("architecture"), config.get("variant"))
    return "/".join(str(p) for p in parts if p)


class StoreSource(Source):
    """Sources laid out on disk: an OCI directory, or a tar file read in place."""

    def __init__(self, transport: str, path: str, name: str | None, platform: Platform | None):
        self.transport, self.path, self.name, self.platform = transport, path, name, platform
        self.ref = path + (f":{name}" if name else "")
        self._located: Located | None = None

    def _store(self) -> Store:
        where = str(self)
        if self.transport == "oci":
            return DirStore(Path(self.path), where)
        return TarStore(Path(self.path), where)

    def _locate(self, store: Store) -> Located:
        try:
            if self.transport == "docker-archive":
                found = locate_docker_archive(store, self.name, self.platform)
            else:
                found = locate_oci(store, self.name, self.platform)
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            # JSON of the wrong shape somewhere in index, manifest or config
            raise ArchiveError(str(self), f"malformed image metadata ({err})") from None
        if self.platform is not None and not self.platform.matches(found.config):
            raise ImageNotFoundError(
                str(self),
                f"the image is for {config_platform(found.config) or 'an unknown platform'}, "
                f"not {self.platform}",
            )
        return found

    def diff_ids(self) -> list[str] | None:
        store = self._store()
        try:
            self._located = self._locate(store)
        finally:
            store.close()
        return list(self._located.config["rootfs"].get("diff_ids") or [])

    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
    ) -> Image:
        store = self._store()
        try:
            found = self._located or self._locate(store)
            diff_ids = list(found.config["rootfs"].get("diff_ids") or [])
            seen: dict[str, LayerIndex] = {}
            layers: list[LayerIndex | None] = []
            for i, name in enumerate(found.layer_names):
                want = diff_ids[i] if i < len(diff_ids) else None
                if want in skip:
                    layers.append(None)
                elif want in seen:
                    layers.append(seen[want])
                else:
                    tap = tap_for(want) if tap_for else None
                    with store.open(name) as blob:
                        layer = index_layer(blob, f"{self} layer {i}", cancel, tap)
                    seen[layer.diff_id] = layer
                    layers.append(layer)
        finally:
            store.close()
        _check_diff_ids(str(self), layers, diff_ids)
        return Image(str(self), found.image_id, found.config, diff_ids, layers)


class DaemonSource(Source):
    """An image in a Docker Engine, read from its ``docker save`` stream in one pass."""

    transport = "docker-daemon"

    def __init__(self, ref: str, platform: Platform | None = None, base_url: str | None = None):
        self.ref, self.platform, self.base_url = ref, platform, base_url
        self._attrs: dict[str, Any] | None = None

    def _inspect(self) -> dict[str, Any]:
        if self._attrs is None:
            client = connect(self.base_url)
            try:
                attrs = client.api.inspect_image(self.ref)
            except docker.errors.NotFound:
                hint = ""
                if Path(self.ref).exists():
                    hint = " (a file of that name exists: use docker-archive: or oci-archive:)"
                raise ImageNotFoundError(
                    str(self), "no such image in the Docker Engine" + hint
                ) from None
            except docker.errors.APIError as err:
                raise engine_error(f"{self}: inspecting the image", err) from None
            finally:
                client.close()
            found = {
                "os": attrs.get("Os"),
                "architecture": attrs.get("Architecture"),
                "variant": attrs.get("Variant"),
            }
            if self.platform is not None and not self.platform.matches(found):
                raise ImageNotFoundError(
                    str(self),
                    f"the image is for {config_platform(found) or 'an unknown platform'}, "
                    f"not {self.platform}",
                )
            self._attrs = attrs
        return self._attrs

    def diff_ids(self) -> list[str] | None:
        return list((self._inspect().get("RootFS") or {}).get("Layers") or [])

    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
    ) -> Image:
        attrs = self._inspect()
        client = connect(self.base_url)
        try:
            chunks = client.api.get_image(attrs["Id"], chunk_size=CHUNK)
            stream = ChunkReader(chunks, cancel)
            return self._read_save_stream(stream, attrs, skip, cancel, tap_for)
        except (docker.errors.APIError, requests.RequestException) as err:
            raise engine_error(f"{self}: exporting the image", err) from None
        finally:
            client.close()

    def _read_save_stream(
        self,
        stream: ChunkReader,
        attrs: dict[str, Any],
        skip: Collection[str],
        cancel: Any,
        tap_for: TapFor | None = None,
    ) -> Image:
        where = str(self)
        small: dict[str, bytes] = {}
        links: dict[str, str] = {}
        indexed: dict[str, LayerIndex] = {}
        skipped: set[str] = set()
        try:
            outer = tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE)  # type: ignore[call-overload]
            while (member := outer.next()) is not None:
                outer.members.clear()  # type: ignore[attr-defined]
                name = posixpath.normpath(member.name)
                if member.issym():
                    links[name] = posixpath.normpath(
                        posixpath.join(posixpath.dirname(name), member.linkname)
                    )
                    continue
                if member.islnk():
                    links[name] = posixpath.normpath(member.linkname)
                    continue
                if not member.isreg():
                    continue
                blob = _BLOB.match(name)
                if blob and "sha256:" + blob.group(1) in skip:
                    skipped.add(name)
                    continue
                fileobj = cast(BinaryIO, outer.extractfile(member))
                head = fileobj.peek(512)[:512]  # type: ignore[attr-defined]
                if looks_like_layer(head):  # before the JSON sniff: a layer may start "{x}"
                    diff_id = "sha256:" + blob.group(1) if blob else None
                    tap = tap_for(diff_id) if tap_for else None
                    layer = index_layer(fileobj, f"{where} {name}", cancel, tap)
                    indexed[name] = layer
                elif member.size <= _META_LIMIT and head.lstrip()[:1] in (b"{", b"["):
                    small[name] = fileobj.read()
        except ReprokitError:
            raise
        except (tarfile.TarError, EOFError) as err:
            raise ArchiveError(where, f"truncated or corrupt export stream ({err})") from None
        return self._assemble(attrs, small, links, indexed, skipped)

    def _assemble(
        self,
        attrs: dict[str, Any],
        small: dict[str, bytes],
        links: dict[str, str],
        indexed: dict[str, LayerIndex],
        skipped: set[str],
    ) -> Image:
        where = str(self)

        def resolve(name: str) -> str:
            name = posixpath.normpath(name)
            for _ in range(8):
                if name not in links:
                    return name
                name = links[name]
            return name

        try:
            entry = json.loads(small["manifest.json"])[0]
            config_name = resolve(entry["Config"])
            raw = small[config_name]
            config = json.loads(raw)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as err:
            raise ArchiveError(
                where, f"the engine's export lacks a manifest or config ({err})"
            ) from None
        diff_ids = list(config.get("rootfs", {}).get("diff_ids") or [])
        by_diff = {layer.diff_id: layer for layer in indexed.values()}
        layers: list[LayerIndex | None] = []
        for i, layer_name in enumerate(entry.get("Layers") or []):
            name = resolve(layer_name)
            if name in indexed:
                layers.append(indexed[name])
            elif name in skipped:
                layers.append(None)
            elif i < len(diff_ids) and diff_ids[i] in by_diff:
                layers.append(by_diff[diff_ids[i]])
            else:
                raise ArchiveError(where, f"the engine's export lacks layer {layer_name}")
        _check_diff_ids(where, layers, diff_ids)
        image_id = attrs.get("Id") or "sha256:" + hashlib.sha256(raw).hexdigest()
        return Image(where, image_id, config, diff_ids, layers, list(attrs.get("RepoTags") or []))


def looks_like_layer(head: bytes) -> bool:
    """Whether a blob's first bytes are a tar header or a gzip/zstd stream (a layer)."""
    return (
        head[257:262] == b"ustar"
        or compression_of(head) != "none"
        or (head[:1024] == bytes(len(head[:1024])) and len(head) >= 512)
    )


def parse_ref(text: str, platform: Platform | None = None, base_url: str | None = None) -> Source:
    """Turn a transport reference into a :class:`Source`; a bare REF is ``docker-daemon:REF``."""
    if not text or not text.strip():
        raise UsageError("empty image reference")
    transport, _, rest = text.partition(":")
    if text.startswith(("docker://", "containers-storage:", "dir:")):
        raise UsageError(
            f"{text}: transport {transport!r} is not supported; use one of {', '.join(TRANSPORTS)}"
        )
    if transport == "docker-daemon":
        if not rest:
            raise UsageError(f"{text}: docker-daemon: needs an image name or id")
        return DaemonSource(rest, platform, base_url)
    if transport in ("docker-archive", "oci", "oci-archive"):
        path, name = split_path_ref(rest)
        if not path:
            raise UsageError(f"{text}: {transport}: needs a path")
        return StoreSource(transport, path, name, platform)
    return DaemonSource(text, platform, base_url)


def as_source(image: str | Source, platform: Platform | None = None) -> Source:
    """Accept a :class:`Source` as is, or parse a transport reference."""
    return image if isinstance(image, Source) else parse_ref(image, platform)
