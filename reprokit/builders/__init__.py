"""Builders turn a BuildSpec into an image in the engine; all share the :class:`Builder` protocol.

>>> from reprokit.builders import BUILDERS
>>> sorted(BUILDERS)
['docker']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Builder
from .docker import DockerBuilder

#: Builder name → factory taking a Docker client.
BUILDERS: dict[str, Callable[[Any], Builder]] = {"docker": DockerBuilder}

__all__ = ["BUILDERS", "Builder", "DockerBuilder"]
