"""What an image holds: its packages and its inventory (OS, packages, users, config).

>>> Package("dpkg", "bash", "5.2").to_dict()["version"]
'5.2'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..text import clean

if TYPE_CHECKING:
    pass


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package: which manager knows it, its name, version and architecture."""

    manager: str
    name: str
    version: str | None
    arch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"manager": self.manager, "name": self.name, "version": self.version}
        if self.arch:
            out["arch"] = self.arch
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Package:
        return cls(data["manager"], data["name"], data.get("version"), data.get("arch"))


@dataclass
class Inventory:
    """The facts of one image (see the module doc); every field is plain data."""

    ref: str
    id: str
    os: dict[str, str] = field(default_factory=dict)
    packages: list[Package] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    workdir: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    platform: str | None = None

    @property
    def managers(self) -> dict[str, int]:
        """Packages per manager, e.g. ``{'dpkg': 88, 'python': 3}``."""
        counts: dict[str, int] = {}
        for p in self.packages:
            counts[p.manager] = counts.get(p.manager, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "id": self.id,
            "platform": self.platform,
            "os": dict(self.os),
            "packages": [p.to_dict() for p in self.packages],
            "users": list(self.users),
            "groups": list(self.groups),
            "env": dict(self.env),
            "entrypoint": self.entrypoint,
            "cmd": self.cmd,
            "user": self.user,
            "workdir": self.workdir,
            "exposed_ports": list(self.exposed_ports),
            "labels": dict(self.labels),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        return cls(
            ref=data.get("ref", ""),
            id=data.get("id", ""),
            platform=data.get("platform"),
            os=dict(data.get("os") or {}),
            packages=[Package.from_dict(p) for p in data.get("packages") or []],
            users=list(data.get("users") or []),
            groups=list(data.get("groups") or []),
            env=dict(data.get("env") or {}),
            entrypoint=data.get("entrypoint"),
            cmd=data.get("cmd"),
            user=data.get("user"),
            workdir=data.get("workdir"),
            exposed_ports=list(data.get("exposed_ports") or []),
            labels=dict(data.get("labels") or {}),
        )

    def text(self, top: int = 50) -> str:
        """The summary ``reprokit inventory`` prints (image content escaped)."""
        os_name = self.os.get("PRETTY_NAME") or self.os.get("ID") or "unknown (no os-release)"
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.managers.items())) or "none found"
        lines = [
            f"inventory of {clean(self.ref, 60)}  {self.id[:19]}",
            f"  os:          {clean(os_name, 60)}",
            f"  platform:    {self.platform or '?'}",
            f"  packages:    {counts}",
            f"  users:       {clean(', '.join(u['name'] for u in self.users) or '-', 100)}",
            f"  groups:      {len(self.groups)}",
            f"  entrypoint:  {clean(self.entrypoint, 80)}",
            f"  cmd:         {clean(self.cmd, 80)}",
            f"  user:        {clean(self.user or '(root)', 40)}",
            f"  workdir:     {clean(self.workdir or '/', 60)}",
            f"  ports:       {', '.join(self.exposed_ports) or '-'}",
            f"  env:         {len(self.env)} variable(s)",
            f"  labels:      {len(self.labels)}",
        ]
        if self.packages:
            lines.append(f"packages ({len(self.packages)}):")
            for p in self.packages[:top]:
                lines.append(f"  {p.manager:<7} {clean(p.name, 40):<40} {clean(p.version, 40)}")
            if len(self.packages) > top:
                lines.append(f"  … and {len(self.packages) - top} more (see --json)")
        return "\n".join(lines)
