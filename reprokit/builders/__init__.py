"""Builders turn a BuildSpec into an image in the engine; all share the :class:`Builder` protocol.

>>> from reprokit.builders import BUILDERS
>>> sorted(BUILDERS)
['docker']
"""

from __future__ import annotations

from .base import Builder
from .docker import DockerBuilder

BUILDERS: dict[str, type[Builder]] = {"docker": DockerBuilder}

__all__ = ["BUILDERS", "Builder", "DockerBuilder"]
