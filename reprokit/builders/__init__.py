"""Builders turn a BuildSpec into an image; all share the :class:`Builder` protocol.

``auto`` picks ``buildx`` when the ``docker buildx`` plugin answers for the target engine,
else ``docker`` (the classic builder through the API).

>>> from reprokit.builders import BUILDERS
>>> sorted(BUILDERS)
['buildah', 'buildx', 'docker']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .base import Builder
from .buildah import BuildahBuilder, buildah_version
from .buildx import BuildxBuilder, buildx_version
from .docker import DockerBuilder

#: Builder name → factory taking a Docker client (and base_url, workdir, source_date_epoch).
BUILDERS: dict[str, Callable[..., Builder]] = {
    "docker": DockerBuilder,
    "buildx": BuildxBuilder,
    "buildah": BuildahBuilder,
}
CHOICES = ("auto", *BUILDERS)


def resolve_builder(name: str, base_url: str | None = None) -> str:
    """The builder ``name`` stands for: ``auto`` → buildx if its plugin answers, else docker.

    Raises :class:`UsageError` for an unknown or unavailable builder.
    """
    if name == "auto":
        return "buildx" if buildx_version(base_url) else "docker"
    if name not in BUILDERS:
        raise UsageError(f"unknown builder {name!r}; available: {', '.join(CHOICES)}")
    if name == "buildx" and not buildx_version(base_url):
        raise UsageError("builder buildx: the docker buildx plugin does not answer")
    if name == "buildah" and not buildah_version():
        raise UsageError("builder buildah: buildah is not installed")
    return name


def make_builder(
    name: str,
    client: Any,
    *,
    base_url: str | None = None,
    workdir: Path | None = None,
    source_date_epoch: int | None = None,
) -> Builder:
    """An instance of builder ``name`` (already resolved) for the engine of ``client``."""
    return BUILDERS[name](
        client, base_url=base_url, workdir=workdir, source_date_epoch=source_date_epoch
    )


__all__ = [
    "BUILDERS",
    "CHOICES",
    "BuildahBuilder",
    "Builder",
    "BuildxBuilder",
    "DockerBuilder",
    "make_builder",
    "resolve_builder",
]
