"""The small protocol every builder implements.

>>> from reprokit.builders.base import Builder
>>> Builder.__name__
'Builder'
"""

from __future__ import annotations

from typing import Protocol

from ..engine import Run
from ..model import BuildInfo
from ..spec import BuildSpec


class Builder(Protocol):
    """Builds ``spec`` without cache into an image tagged ``tag``, labelled with ``run``'s id.

    Everything the build creates in the engine is recorded on ``run`` for removal. A failed
    build raises :class:`reprokit.errors.BuildError` naming the failing step. The returned
    :class:`BuildInfo` records the builder's version, the exact options it was given, and
    ``source``: where the image is read from (``docker-daemon:TAG``, or ``oci-archive:PATH``
    for a builder that writes an archive into its work directory). Builders are made with
    ``(client, *, base_url, workdir, source_date_epoch)`` (see ``reprokit.builders``).
    """

    name: str

    def version(self) -> str: ...

    def build(self, spec: BuildSpec, tag: str, run: Run, name: str) -> BuildInfo: ...
