"""``rootfs-archive:PATH``: a tarball of a whole root filesystem (Packer's ``export_path``,
``debootstrap`` + ``tar``, mkosi's tar output), read as one layer by the streaming reader.

>>> import io, tarfile, tempfile, os
>>> d = tempfile.mkdtemp(); path = os.path.join(d, "root.tar")
>>> with tarfile.open(path, "w") as tf:
...     info = tarfile.TarInfo("./etc/os-release"); info.size = 3
...     tf.addfile(info, io.BytesIO(b"ID\\n"))
>>> img = RootfsArchiveSource(path).read()
>>> [r.path for r in img.layers[0].records], img.config["rootfs"]["type"]
(['/etc/os-release'], 'layers')
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..read.layers import LayerIndex, TapFor, index_layer
from .image import Image, Source


def rootfs_config(diff_id: str, **extra: Any) -> dict[str, Any]:
    """The config of an image made of one root filesystem: no entrypoint, no env, one layer."""
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config.update(extra)
    return config


def one_layer_image(ref: str, layer: LayerIndex, **extra: Any) -> Image:
    """An :class:`Image` of a single layer, its id the layer's digest. The root directory's
    own entry (``./`` in a tarball) is left out: a directory tree or a mounted filesystem
    has none, and a container layer rarely does."""
    if any(r.path == "/" for r in layer.records):
        layer.records = [r for r in layer.records if r.path != "/"]
    return Image(
        ref, layer.diff_id, rootfs_config(layer.diff_id, **extra), [layer.diff_id], [layer]
    )


class RootfsArchiveSource(Source):
    """A root filesystem tarball (plain, gzip or zstd), read in one pass as one layer."""

    transport = "rootfs-archive"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.ref = str(path)

    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
    ) -> Image:
        if not self.path.is_file():
            raise UsageError(f"{self}: no such file")
        with self.path.open("rb") as raw:
            layer = index_layer(raw, str(self), cancel, tap_for(None) if tap_for else None)
        return one_layer_image(str(self), layer)
