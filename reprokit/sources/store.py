"""Images in a file: ``docker-archive:``, ``oci:`` and ``oci-archive:`` (see layout.py).

>>> StoreSource("oci", "./layout", None, None).diff_ids()  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path

from ..errors import ArchiveError, ImageNotFoundError, IntegrityError
from ..read.layers import LayerIndex, TapFor, hash_layer, index_layer
from ..read.limits import current
from ..read.streams import HashingReader
from .image import Image, Source, _check_diff_ids, config_platform
from .layout import (
    DirStore,
    Located,
    Platform,
    Store,
    TarStore,
    locate_docker_archive,
    locate_oci,
)


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
        verify_skipped: bool = True,
    ) -> Image:
        """Every layer blob is checked against its diff_id (and against its blob digest where
        the layout names one). A layer in ``skip`` is hashed, not parsed (left as None), unless
        ``verify_skipped`` is False."""
        store = self._store()
        try:
            found = self._located or self._locate(store)
            diff_ids = list(found.config["rootfs"].get("diff_ids") or [])
            if len(found.layer_names) != len(diff_ids):
                raise ArchiveError(
                    str(self),
                    f"the manifest lists {len(found.layer_names)} layers "
                    f"but the config {len(diff_ids)}",
                )
            seen: dict[str, tuple[str, LayerIndex | None]] = {}
            layers: list[LayerIndex | None] = []
            left = current().image_entries
            for i, (name, want) in enumerate(zip(found.layer_names, diff_ids, strict=True)):
                where = f"{self} layer {i}"
                digest = found.layer_digests[i] if i < len(found.layer_digests) else None
                size = found.layer_sizes[i] if i < len(found.layer_sizes) else None
                if want in seen and seen[want][0] == name:
                    layers.append(seen[want][1])  # the same blob again: checked already
                    continue
                if want in skip or want in seen:
                    if verify_skipped or want in seen:
                        with store.open(name) as blob:
                            self._verify(blob, where, name, want, digest, size, cancel)
                    layers.append(seen[want][1] if want in seen else None)
                    continue
                tap = tap_for(want) if tap_for else None
                with store.open(name) as blob:
                    raw = HashingReader(blob)
                    layer = index_layer(raw, where, cancel, tap, max_entries=left)
                    raw.drain()
                    self._check_blob(raw, f"layer {i} ({name})", digest, size)
                if layer.diff_id != want:
                    raise IntegrityError(str(self), f"layer {i} ({name})", want, layer.diff_id)
                left -= len(layer.records)
                seen[want] = (name, layer)
                layers.append(layer)
        finally:
            store.close()
        _check_diff_ids(str(self), layers, diff_ids)
        return Image(
            str(self),
            found.image_id,
            found.config,
            diff_ids,
            layers,
            manifest_digest=found.manifest_digest,
        )

    def _verify(self, blob, where, name, want, digest, size, cancel) -> None:  # type: ignore[no-untyped-def]
        """Hash a layer without parsing it; raise unless it has diff_id ``want``."""
        raw = HashingReader(blob)
        diff_id, _ = hash_layer(raw, where, cancel)
        raw.drain()
        what = where.removeprefix(f"{self} ") + f" ({name})"
        self._check_blob(raw, what, digest, size)
        if diff_id != want:
            raise IntegrityError(str(self), what, want, diff_id)

    def _check_blob(self, raw: HashingReader, what: str, digest: str | None, size) -> None:  # type: ignore[no-untyped-def]
        what += " blob"
        if digest is not None and "sha256:" + raw.hexdigest() != digest:
            raise IntegrityError(str(self), what, digest, "sha256:" + raw.hexdigest())
        if isinstance(size, int) and size != raw.count:
            raise IntegrityError(str(self), what + " size", f"{size} bytes", f"{raw.count} bytes")
