"""The records an audit produces: findings (rule hits) and drift entries.

Evidence is redacted when a finding is made (:func:`redact`): a report never holds more than
four characters of a secret.

>>> redact(b"AKIAABCDEFGHIJKLMNOP")
'AKIA…(20 chars)'
>>> redact("hunter2")
'h…(7 chars)'
>>> f = Finding("root-user", "medium", "config", None, "config.User", "runs as root", "USER app")
>>> Finding.from_dict(f.to_dict()) == f
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Where a finding was found: the final filesystem, a lower layer only (still extractable),
#: the image config, the history, the Dockerfile, or a container started from the image.
WHERE = ("final", "buried", "config", "history", "dockerfile", "runtime")
#: Classes of drifted paths; everything but ``runtime-state`` makes drift fail.
DRIFT_CLASSES = ("runtime-state", "configuration", "software", "data", "config")


def redact(secret: bytes | str) -> str:
    """At most four leading characters of ``secret`` (fewer for short ones) and its length."""
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    shown = min(4, len(text) // 5)
    return "".join(ch if ch.isprintable() else "?" for ch in text[:shown]) + f"…({len(text)} chars)"


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
        return cls(
            rule=data["rule"],
            severity=data["severity"],
            where=data.get("where", "final"),
            layer=data.get("layer"),
            path=data.get("path"),
            message=data.get("message", ""),
            fix=data.get("fix", ""),
            evidence=data.get("evidence", ""),
            removed_in=data.get("removed_in"),
        )


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
        return {
            "path": self.path,
            "change": self.change,
            "class": self.cls,
            "fields": list(self.fields),
            "sha256": self.sha256,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftEntry:
        return cls(
            path=data["path"],
            change=data["change"],
            cls=data.get("class", "data"),
            fields=list(data.get("fields") or []),
            sha256=data.get("sha256"),
            detail=data.get("detail", ""),
        )
