"""``images()``: a read-only overview of the engine's images — size, age, tags, whether a
container uses them, whether they are dangling. It never deletes anything.

>>> reprokit.images().images[["tags", "size", "age_days", "dangling"]]  # doctest: +SKIP
>>> r = ImagesResult([{"id": "sha256:1", "tags": ["a:1"], "size": 5}])
>>> r.kind, r.ok, len(r.images), ImagesResult.from_dict(r.to_dict()) == r
('images', True, 1, True)
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ReportError
from ..protocol import Reported, shown_frame

if TYPE_CHECKING:
    import pandas as pd

IMAGE_COLUMNS = [
    "id",
    "tags",
    "size",
    "created",
    "age_days",
    "containers",
    "running",
    "dangling",
]


def image_rows(base_url: str | None = None) -> list[dict[str, Any]]:
    """One dict per image (columns: :data:`IMAGE_COLUMNS`), newest first."""
    import docker.errors
    import requests

    from ..engine import engine_error, open_client

    client = open_client(base_url, "inspect")
    try:
        images = client.api.images(all=False)
        containers = client.api.containers(all=True)
    except (docker.errors.APIError, requests.RequestException) as err:
        raise engine_error("listing images", err) from None
    finally:
        client.close()
    used = Counter(c.get("ImageID") for c in containers)
    running = Counter(c.get("ImageID") for c in containers if c.get("State") == "running")
    now = time.time()
    rows = []
    for image in sorted(images, key=lambda i: -int(i.get("Created") or 0)):
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        created = int(image.get("Created") or 0)
        rows.append(
            {
                "id": image["Id"],
                "tags": tags,
                "size": int(image.get("Size") or 0),
                "created": datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds"),
                "age_days": round((now - created) / 86400, 1),
                "containers": used.get(image["Id"], 0),
                "running": running.get(image["Id"], 0),
                "dangling": not tags,
            }
        )
    return rows


@dataclass(frozen=True, repr=False)
class ImagesResult(Reported):
    """The engine's images. Records: ``image_records`` (dicts, keys :data:`IMAGE_COLUMNS`);
    DataFrame: :attr:`images`. A listing states facts: ``ok`` is always True."""

    kind: ClassVar[str] = "images"
    image_records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """A listing passes always."""
        return True

    @shown_frame
    def images(self) -> pd.DataFrame:
        """One row per image (columns: :data:`IMAGE_COLUMNS`), newest first."""
        from ..frames import frame

        return frame(self.image_records, IMAGE_COLUMNS, times=["created"])

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``images``."""
        from ..version import __version__

        return {
            "schema": "reprokit/v1",
            "kind": "images",
            "reprokit_version": __version__,
            "ok": True,
            "images": [dict(r) for r in self.image_records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImagesResult:
        """Rebuild from an images document (:class:`ReportError` when it is not one)."""
        if not isinstance(data, dict) or data.get("kind") != "images":
            raise ReportError("not a reprokit images report")
        rows = data.get("images") or []
        if not all(isinstance(r, dict) for r in rows):
            raise ReportError("malformed images report: an image is not an object")
        return cls([dict(r) for r in rows])


def images(base_url: str | None = None) -> ImagesResult:
    """The engine's images (``.images`` is a DataFrame, columns :data:`IMAGE_COLUMNS`);
    read-only."""
    return ImagesResult(image_rows(base_url))
