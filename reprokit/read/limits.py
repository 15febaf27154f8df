"""Bounds on what an image may make reprokit hold or do, whatever its metadata claims.

Every reader and loader asks :func:`current` for the :class:`Limits` in force. The defaults keep
the peak memory of a comparison of hostile images well under 256 MB; change them with
:func:`configure` (Python) or the ``REPROKIT_LIMITS`` environment variable
(``name=value,name=value``; sizes take ``K``, ``M`` and ``G`` suffixes), e.g.
``REPROKIT_LIMITS=layer_entries=1000000,metadata_bytes=64M``. See docs/limits.md.

>>> Limits.parse("layer_entries=10,metadata_bytes=2K").metadata_bytes
2048
>>> Limits.parse("nope=1")
Traceback (most recent call last):
reprokit.errors.UsageError: REPROKIT_LIMITS: unknown limit 'nope' (known: header_bytes, ...)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ..errors import UsageError

_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True)
class Limits:
    """The bounds in force (each documented in docs/limits.md)."""

    #: bytes of one PAX extended header or GNU long name/link header
    header_bytes: int = 1 << 20
    #: bytes of a member's path or link target (after PAX/GNU extension)
    name_bytes: int = 16 << 10
    #: extended headers (PAX, GNU long name) in a row before one member
    header_chain: int = 8
    #: entries (tar members) in one layer
    layer_entries: int = 200_000
    #: entries (tar members) in all the layers of one image read
    image_entries: int = 500_000
    #: entries in the outer tar of a docker-archive or oci-archive, or of a ``docker save`` stream
    archive_entries: int = 100_000
    #: bytes of one metadata JSON document (index, manifest, config)
    metadata_bytes: int = 16 << 20
    #: nesting depth of one metadata JSON document
    json_depth: int = 64
    #: size a sparse member may claim (its holes are hashed as zeros, so this bounds time)
    sparse_bytes: int = 1 << 30
    #: bytes of one package database file read into memory
    package_file_bytes: int = 64 << 20
    #: bytes of package database and system files of one image held in memory at once
    package_total_bytes: int = 128 << 20
    #: bytes of one Python distribution's METADATA / PKG-INFO read into memory
    package_metadata_bytes: int = 4 << 20

    @classmethod
    def parse(cls, text: str, base: Limits | None = None) -> Limits:
        """``name=value,…`` over ``base`` (default: the defaults)."""
        names = [f.name for f in dataclasses.fields(cls)]
        changes: dict[str, int] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = item.partition("=")
            name = name.strip()
            if name not in names:
                raise UsageError(
                    f"REPROKIT_LIMITS: unknown limit {name!r} (known: {', '.join(names[:1])}, ...)"
                )
            changes[name] = _size(name, value.strip() if sep else "")
        return dataclasses.replace(base or cls(), **changes)


def _size(name: str, text: str) -> int:
    mult = _SUFFIX.get(text[-1:].upper(), 1)
    digits = text[:-1] if mult != 1 else text
    if not digits.isdigit() or len(digits) > 18:
        raise UsageError(f"REPROKIT_LIMITS: {name} needs a whole number, not {text!r}")
    return int(digits) * mult


_current: Limits | None = None


def current() -> Limits:
    """The limits in force: those set by :func:`configure`, else ``REPROKIT_LIMITS``, else the
    defaults."""
    global _current
    if _current is None:
        _current = Limits.parse(os.environ.get("REPROKIT_LIMITS", ""))
    return _current


def configure(limits: Limits | None = None, **changes: int) -> Limits:
    """Set the limits in force (``None`` goes back to the environment and defaults); returns
    them.

    >>> configure(layer_entries=5).layer_entries
    5
    >>> configure().layer_entries == Limits().layer_entries
    True
    """
    global _current
    _current = limits
    if changes:
        _current = dataclasses.replace(current(), **changes)
    return current()
