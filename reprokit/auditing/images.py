"""``images()``: a read-only overview of the engine's images — size, age, tags, whether a
container uses them, whether they are dangling. It never deletes anything.

>>> reprokit.images()[["tags", "size", "age_days", "containers", "dangling"]]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import docker.errors
import requests

from ..engine import engine_error, open_client

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


def images(base_url: str | None = None) -> pd.DataFrame:
    """The engine's images as a DataFrame (columns: :data:`IMAGE_COLUMNS`); read-only."""
    import pandas as pd

    return pd.DataFrame(image_rows(base_url), columns=IMAGE_COLUMNS)
