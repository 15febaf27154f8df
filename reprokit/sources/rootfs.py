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

import contextlib
import threading
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, BinaryIO

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


#: bytes per chunk streamed into the engine
CHUNK = 1 << 20


class MachineSource(Source):
    """A machine image's root filesystem (``rootfs-archive:``, ``dir:``, ``disk:``).

    Besides being read, it can be streamed as one tar of its files (:meth:`export_tar`): parity
    imports that stream into the engine as a single-layer image
    (:func:`reprokit.containers.engine_image`).
    """

    def _stream(self) -> contextlib.AbstractContextManager[BinaryIO]:
        """A context giving the root filesystem as one tar stream to read (plain, gzip or
        zstd); whatever was started for it stops when the context ends, and a failure to read
        the whole tree raises then. A disk, which is read otherwise, has none."""
        raise NotImplementedError

    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
    ) -> Image:
        """The root filesystem read in one pass as one layer."""
        with self._stream() as reader:
            layer = index_layer(reader, str(self), cancel, tap_for(None) if tap_for else None)
        return one_layer_image(str(self), layer)

    @contextlib.contextmanager
    def export_tar(self) -> Iterator[Iterator[bytes]]:
        """A context giving the root filesystem as one tar stream (chunks of bytes, maybe
        compressed), for the engine to import."""
        with self._stream() as reader:
            yield iter(lambda: reader.read(CHUNK), b"")


class RootfsArchiveSource(MachineSource):
    """A root filesystem tarball (plain, gzip or zstd), read in one pass as one layer."""

    transport = "rootfs-archive"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.ref = str(path)

    @contextlib.contextmanager
    def _stream(self) -> Iterator[BinaryIO]:
        if not self.path.is_file():
            raise UsageError(f"{self}: no such file")
        with self.path.open("rb") as raw:
            yield raw
