"""Images in the engine (``docker-daemon:REF``): read in place from a local engine's overlay2
storage when it can be (:mod:`reprokit.sources.inplace`), else from one ``docker save`` stream.

>>> DaemonSource("busybox:1").diff_ids()  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO, cast

import docker.errors
import requests
import urllib3.exceptions

from ..engine import engine_error, open_client, stream_get
from ..errors import ArchiveError, ImageNotFoundError, IntegrityError, ReprokitError, UsageError
from ..read.jsondoc import load_json
from ..read.layer_tree import NotInPlace
from ..read.layers import LayerIndex, TapFor, hash_layer, index_layer
from ..read.limits import current
from ..read.streams import CHUNK, TAR_BUFSIZE, ChunkReader, HashingReader, compression_of
from .image import _BLOB, Image, Source, _check_diff_ids, config_platform
from .inplace import NOTE, READ_PATHS, locate, read_layers, storage_for
from .layout import Platform, check_config


class DaemonSource(Source):
    """An image in a Docker Engine, read in place from the engine's storage or from its
    ``docker save`` stream in one pass.

    ``read_path``: ``auto`` (in place when the engine is local, on overlay2 and its data root
    readable; else the export), ``export`` (always ``docker save``: every layer hashed against
    its diff_id, what ``--verify-digests`` asks for) or ``in-place`` (an error when it cannot be).
    ``read_by`` tells how the last :meth:`read` went: ``in-place``, ``export`` or
    ``in-place+export`` (a layer the storage could not give exactly came from the export).
    """

    transport = "docker-daemon"

    def __init__(
        self,
        ref: str,
        platform: Platform | None = None,
        base_url: str | None = None,
        read_path: str = "auto",
    ):
        if read_path not in READ_PATHS:
            raise UsageError(f"read path {read_path!r}: use one of {', '.join(READ_PATHS)}")
        self.ref, self.platform, self.base_url = ref, platform, base_url
        self.read_path = read_path
        self.read_by: str | None = None
        self._attrs: dict[str, Any] | None = None

    def verifying(self) -> DaemonSource:
        """This image, read through the export so that every diff_id is verified."""
        return DaemonSource(self.ref, self.platform, self.base_url, "export")

    def _inspect(self) -> dict[str, Any]:
        if self._attrs is None:
            client = open_client(self.base_url, "inspect")
            try:
                attrs = client.api.inspect_image(self.ref)
            except docker.errors.NotFound:
                hint = ""
                if Path(self.ref).exists():
                    hint = " (a file of that name exists: use docker-archive: or oci-archive:)"
                raise ImageNotFoundError(
                    str(self), "no such image in the Docker Engine" + hint
                ) from None
            except (docker.errors.APIError, requests.RequestException) as err:
                raise engine_error(
                    f"{self}: inspecting the image", err, self.base_url, "inspect"
                ) from None
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
        verify_skipped: bool = True,
    ) -> Image:
        """In place (see the class), else one ``docker save`` stream; on the export a layer in
        ``skip`` is hashed rather than parsed (it streams past anyway), in place it is left
        alone. The client's ``export`` timeout is the longest the engine may send no byte
        (:data:`reprokit.engine.TIMEOUTS`)."""
        attrs = self._inspect()
        if self.read_path != "export":
            image = self._read_in_place(attrs, skip, cancel, tap_for)
            if image is not None:
                return image
        self.read_by = "export"
        return self._export(attrs, skip, cancel, tap_for)

    def _read_in_place(
        self,
        attrs: dict[str, Any],
        skip: Collection[str],
        cancel: threading.Event | None,
        tap_for: TapFor | None,
    ) -> Image | None:
        """The image read from the engine's storage; None when it cannot be (read_path auto)."""
        where = str(self)
        storage = storage_for(self.base_url)
        try:
            if storage is None:
                raise NotInPlace(
                    "the engine is not local, not on overlay2 with the classic image store, "
                    "or its data root is not readable here"
                )
            config, stored = locate(storage, str(attrs.get("Id")), where)
        except NotInPlace as err:
            if self.read_path == "in-place":
                raise ArchiveError(where, f"cannot be read in place: {err}") from None
            return None
        layers, done, tap_for = read_layers(stored, where, skip, cancel, tap_for)
        self.read_by = "in-place"
        if done < len(stored):
            if self.read_path == "in-place":
                raise ArchiveError(where, f"layer {done} cannot be read in place exactly")
            read = {layer.diff_id for layer in stored[:done]}
            rest = self._export(attrs, set(skip) | read, cancel, tap_for)
            layers += rest.layers[done:]
            self.read_by = "in-place+export"
        diff_ids = [layer.diff_id for layer in stored]
        _check_diff_ids(where, layers, diff_ids)
        tags = list(attrs.get("RepoTags") or [])
        note = NOTE if done == len(stored) else f"{NOTE}; layers {done}+ through docker save"
        return Image(where, str(attrs["Id"]), config, diff_ids, layers, tags, notes=[note])

    def _export(
        self,
        attrs: dict[str, Any],
        skip: Collection[str],
        cancel: threading.Event | None,
        tap_for: TapFor | None,
    ) -> Image:
        client = open_client(self.base_url, "export")
        try:
            chunks = stream_get(client, "/images/{0}/get", attrs["Id"], chunk_size=CHUNK)
            stream = ChunkReader(chunks, cancel)
            return self._read_save_stream(stream, attrs, skip, cancel, tap_for)
        except (
            docker.errors.APIError,
            requests.RequestException,
            urllib3.exceptions.HTTPError,  # raised while the stream is read
        ) as err:
            raise engine_error(
                f"{self}: exporting the image", err, self.base_url, "export"
            ) from None
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
        skipped: dict[str, str] = {}
        limits = current()
        left = limits.image_entries
        count = 0
        try:
            outer = tarfile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE)  # type: ignore[call-overload]
            while (member := outer.next()) is not None:
                outer.members.clear()  # type: ignore[attr-defined]
                count += 1
                if count > limits.archive_entries:
                    raise ArchiveError(
                        where,
                        f"refused: more than {limits.archive_entries} entries in the export "
                        "(limit archive_entries)",
                    )
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
                named = "sha256:" + blob.group(1) if blob else None
                fileobj = cast(BinaryIO, outer.extractfile(member))
                head = fileobj.peek(512)[:512]  # type: ignore[attr-defined]
                # an uncompressed blob's digest is its diff_id: the reader's own hash checks it
                plain = compression_of(head) == "none"
                if named is not None and named in skip:
                    raw = fileobj if plain else HashingReader(fileobj)
                    skipped[name], _ = hash_layer(raw, f"{where} {name}", cancel)
                    _check_named(where, name, named, raw, digest=skipped[name] if plain else None)
                    continue
                if looks_like_layer(head):  # before the JSON sniff: a layer may start "{x}"
                    tap = tap_for(named) if tap_for else None
                    raw = fileobj if plain else HashingReader(fileobj)
                    layer = index_layer(raw, f"{where} {name}", cancel, tap, max_entries=left)
                    if named is not None:
                        _check_named(
                            where, name, named, raw, digest=layer.diff_id if plain else None
                        )
                    left -= len(layer.records)
                    indexed[name] = layer
                elif member.size <= limits.metadata_bytes and head.lstrip()[:1] in (b"{", b"["):
                    small[name] = fileobj.read()
                    if named is not None:
                        _check_named(where, name, named, None, small[name])
        except ReprokitError:
            raise
        except (tarfile.TarError, EOFError, ValueError, OverflowError) as err:
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
            entry = load_json(small["manifest.json"], where, "manifest.json")[0]
            config_name = resolve(entry["Config"])
            raw = small[config_name]
            config = load_json(raw, where, config_name)
            if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
                raise TypeError(f"{config_name} is not an image config")
        except (AttributeError, KeyError, IndexError, TypeError) as err:
            raise ArchiveError(
                where, f"the engine's export lacks a manifest or config ({err})"
            ) from None
        check_config(config, where, config_name)
        diff_ids = list(config["rootfs"].get("diff_ids") or [])
        by_diff = {layer.diff_id: layer for layer in indexed.values()}
        layers: list[LayerIndex | None] = []
        for i, layer_name in enumerate(entry.get("Layers") or []):
            name = resolve(layer_name)
            if name in indexed:
                layers.append(indexed[name])
            elif name in skipped:
                if i >= len(diff_ids) or skipped[name] != diff_ids[i]:
                    want = diff_ids[i] if i < len(diff_ids) else "(none)"
                    raise IntegrityError(where, f"layer {i} ({name})", want, skipped[name])
                layers.append(None)
            elif i < len(diff_ids) and diff_ids[i] in by_diff:
                layers.append(by_diff[diff_ids[i]])
            else:
                raise ArchiveError(where, f"the engine's export lacks layer {layer_name}")
        _check_diff_ids(where, layers, diff_ids)
        image_id = attrs.get("Id") or "sha256:" + hashlib.sha256(raw).hexdigest()
        return Image(where, image_id, config, diff_ids, layers, list(attrs.get("RepoTags") or []))


def _check_named(
    where: str,
    name: str,
    named: str,
    raw: Any,
    data: bytes | None = None,
    digest: str | None = None,
) -> None:
    """A blob named ``blobs/sha256/HEX`` must hash to that digest: ``digest`` when the caller
    hashed the blob's bytes already, else what the :class:`HashingReader` ``raw`` read (the
    rest of the blob drained), else the sha256 of ``data``."""
    if digest is not None:
        actual = digest
    elif isinstance(raw, HashingReader):
        raw.drain()
        actual = "sha256:" + raw.hexdigest()
    else:
        actual = "sha256:" + hashlib.sha256(data or b"").hexdigest()
    if actual != named:
        raise IntegrityError(where, name, named, actual)


def looks_like_layer(head: bytes) -> bool:
    """Whether a blob's first bytes are a tar header or a gzip/zstd stream (a layer)."""
    return (
        head[257:262] == b"ustar"
        or compression_of(head) != "none"
        or (head[:1024] == bytes(len(head[:1024])) and len(head) >= 512)
    )
