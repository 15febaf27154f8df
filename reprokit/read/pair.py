"""Read two images in one pass, both concurrently, with the taps later stages register.

A stage that wants file contents on the way (the explanations' evidence, the package
databases) registers a factory: given both images' diff_ids it returns a :class:`Tapping`,
whose ``tap_for(side)`` sees the files of that side's layers as they stream by. A layer both
images have (same diff_id) is read only once and shared.

>>> from reprokit.sources.image import Image
>>> a = Image("a", "sha256:a", {}, ["sha256:1"], [None])
>>> b = Image("b", "sha256:b", {}, ["sha256:1"], [None])
>>> fill_shared_layers(a, b); a.layers
[None]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, Protocol

from ..model import ImageInfo
from ..sources.image import Image, Source, config_platform
from .layers import TapFor, combine_taps


class Tapping(Protocol):
    """What a stage registers for the read: a tap per side, finished after the read."""

    def tap_for(self, side: str) -> TapFor: ...

    def finish(self) -> object: ...


#: builds a stage's tapping from both images' diff_ids, before any layer is read
Register = Callable[[list[str], list[str]], Tapping]


class ReadPair(NamedTuple):
    """Both read images and the (finished) tappings, in the order they were registered."""

    a: Image
    b: Image
    taps: list[Tapping]


def read_pair(a: Source, b: Source, *register: Register) -> ReadPair:
    """Read both images concurrently; a layer both have (same diff_id) is read only once."""
    for source, other in ((a, b), (b, a)):  # e.g. two disks read in one appliance
        pair_with = getattr(source, "pair_with", None)
        if pair_with is not None:
            pair_with(other)
    ids_a = a.diff_ids()
    ids_b = b.diff_ids()  # fail fast (image not found) before any export starts
    skip_b = set(ids_a or ())
    taps = [make(ids_a or [], ids_b or []) for make in register]
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reprokit-read") as pool:
        futures = [
            pool.submit(source.read, skip, cancel, combine_taps(*(t.tap_for(side) for t in taps)))
            for side, source, skip in (("a", a, ()), ("b", b, skip_b))
        ]
        try:
            image_a, image_b = (f.result() for f in futures)
        except BaseException:
            cancel.set()
            raise
    fill_shared_layers(image_a, image_b)
    for tap in taps:
        tap.finish()
    return ReadPair(image_a, image_b, taps)


def fill_shared_layers(a: Image, b: Image) -> None:
    """Layers left unread in one image (same diff_id as the other's) are shared from the other."""
    known = {
        layer.diff_id: layer for image in (a, b) for layer in image.layers if layer is not None
    }
    for image in (a, b):
        for i, layer in enumerate(image.layers):
            if layer is None:
                image.layers[i] = known.get(image.diff_ids[i])


def image_info(image: Image) -> ImageInfo:
    """What a report says about a read image."""
    cfg = image.config
    return ImageInfo(
        ref=image.ref,
        id=image.id,
        diff_ids=list(image.diff_ids),
        size=image.size(),
        created=cfg.get("created"),
        platform=config_platform(cfg) or None,
        repo_tags=image.repo_tags,
        manifest_digest=image.manifest_digest,
    )
