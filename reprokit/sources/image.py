"""An image as read: its config, diff_ids and the records of every layer; and the protocol every
transport implements (:class:`Source`).

>>> config_platform({"os": "linux", "architecture": "amd64"})
'linux/amd64'
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArchiveError, IntegrityError
from ..layer_history import Step, layer_steps
from ..read.layers import LayerIndex, TapFor, merge
from ..records import FileRecord

_BLOB = re.compile(r"^blobs/sha256/([0-9a-f]{64})$")


@dataclass
class Image:
    """An image as read: its config, diff_ids and, per layer, the records of its files.

    A layer is ``None`` when it was not parsed from this image because the other image of a
    comparison has a layer with the same diff_id (it is filled in from there); its blob was
    still hashed and checked against that diff_id.
    """

    ref: str
    id: str
    config: dict[str, Any]
    diff_ids: list[str]
    layers: list[LayerIndex | None] = field(default_factory=list)
    repo_tags: list[str] = field(default_factory=list)
    #: the digest of the OCI manifest read (``oci:``, ``oci-archive:``), verified; else None
    manifest_digest: str | None = None
    #: how the image was read, for the report (e.g. the libguestfs appliance of a disk:
    #: its backend and boot time); never compared
    notes: list[str] = field(default_factory=list)
    _merged: dict[str, FileRecord] | None = field(default=None, repr=False, compare=False)

    def merged(self) -> dict[str, FileRecord]:
        """The final filesystem (whiteouts applied), computed once; ask only when every layer
        is in (after a comparison fills the layers it shared with the other image)."""
        if self._merged is None:
            self._merged = merge(layer for layer in self.layers if layer is not None)
        return self._merged

    def steps(self) -> list[Step | None]:
        """The history step of each layer (:func:`reprokit.layer_history.layer_steps`)."""
        return layer_steps(self.config, len(self.diff_ids))

    def history(self) -> list[str | None]:
        """``created_by`` for each layer (history entries marked empty_layer are skipped)."""
        return [s.created_by if s else None for s in self.steps()]

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

    def verifying(self) -> Source:
        """This image, read so that every layer is hashed against its diff_id (what
        ``--verify-digests`` asks for): most transports always do; an engine's image read in
        place from its storage does not (:class:`~reprokit.sources.daemon.DaemonSource`)."""
        return self

    @abstractmethod
    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
        verify_skipped: bool = True,
    ) -> Image:
        """Read the image; layers whose diff_id is in ``skip`` are not parsed (left as None) but
        hashed and checked against their diff_id, as every layer read is: a mismatch raises
        :class:`~reprokit.errors.IntegrityError`.

        ``verify_skipped=False`` leaves skipped layers unread (only for callers that read no
        verdict from them, e.g. reading chosen layers for evidence).

        ``tap_for(diff_id)`` may give a :class:`~reprokit.read.layers.Tap` receiving the content of
        chosen files of that layer as it streams past.
        """


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
            raise IntegrityError(where, f"layer {i}", want, layer.diff_id)


def config_platform(config: dict[str, Any]) -> str:
    """``os/arch[/variant]`` of an image config, e.g. ``linux/amd64``; empty when unknown."""
    parts = (config.get("os"), config.get("architecture"), config.get("variant"))
    return "/".join(str(p) for p in parts if p)
