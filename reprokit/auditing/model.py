"""The records an audit produces: findings (rule hits) and drift entries.

Evidence is redacted when a finding is made (:func:`redact`): a report never holds more than
four characters of a secret.

>>> redact(b"AKIAABCDEFGHIJKLMNOP")
'[redacted: AKIA…(20 chars)]'
>>> redact("hunter2")
'[redacted: h…(7 chars)]'
>>> f = Finding("root-user", "medium", "config", None, "config.User", "runs as root", "USER app")
>>> Finding.from_dict(f.to_dict()) == f
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..model import flat_from_dict, flat_to_dict

#: Where a finding was found: the final filesystem, a lower layer only (still extractable),
#: the image config, the history, the Dockerfile, or a container started from the image.
WHERE = ("final", "buried", "config", "history", "dockerfile", "runtime")
#: Classes of drifted paths; everything but ``runtime-state`` makes drift fail.
DRIFT_CLASSES = ("runtime-state", "configuration", "software", "data", "config")


def redact(secret: bytes | str) -> str:
    """At most four leading characters of ``secret`` (fewer for short ones) and its length, in
    the one redacted form every output uses (``[redacted: …]``, :mod:`reprokit.redaction`)."""
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    shown = min(4, len(text) // 5)
    lead = "".join(ch if ch.isprintable() else "?" for ch in text[:shown])
    return f"[redacted: {lead}…({len(text)} chars)]"


@dataclass(slots=True)
class Hit:
    """What a matcher found, before it becomes a :class:`Finding` of its rule."""

    where: str
    path: str | None
    message: str
    evidence: str = ""
    layer: int | None = None
    removed_in: int | None = None


@dataclass(slots=True)
class Finding:
    """One rule hit: which rule, how grave, where, what, the fix and redacted evidence.

    ``layer`` is the index of the layer the finding is in; for a ``buried`` finding
    ``removed_in`` is the layer that deleted or overwrote it.
    """

    rule: str
    severity: str
    where: str
    layer: int | None
    path: str | None
    message: str
    fix: str
    evidence: str = ""
    removed_in: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        defaults = {"where": "final", "layer": None, "path": None, "message": "", "fix": ""}
        return flat_from_dict(cls, data, defaults)


@dataclass(slots=True)
class DriftEntry:
    """One path (or config field) of a container that differs from its image.

    ``change`` is ``added``, ``changed`` or ``deleted``; ``fields`` says what differs for a
    changed path (``content``, ``mode``, ``uid``, ``gid``, ``type``, ``mtime``).
    """

    path: str
    change: str
    cls: str
    fields: list[str] = field(default_factory=list)
    sha256: str | None = None
    detail: str = ""

    @property
    def counts(self) -> bool:
        """Whether this entry makes drift fail (runtime state and touched-only files do not)."""
        return self.cls != "runtime-state" and self.fields != ["mtime"]

    def to_dict(self) -> dict[str, Any]:
        return flat_to_dict(self, {"cls": "class"})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftEntry:
        return flat_from_dict(cls, data, {"cls": "data"}, {"cls": "class"})
