"""Images in a file: ``docker-archive:``, ``oci:`` and ``oci-archive:`` (see layout.py).

>>> StoreSource("oci", "./layout", None, None).diff_ids()  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path

from ..errors import ArchiveError, ImageNotFoundError
from ..read.layers import LayerIndex, TapFor, index_layer
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
