"""What an image holds: its packages and its inventory (OS, packages, users, config).

>>> Package("dpkg", "bash", "5.2").to_dict()["version"]
'5.2'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ReportError
from ..protocol import Reported, shown_frame

if TYPE_CHECKING:
    import pandas as pd

PACKAGE_COLUMNS = ["manager", "name", "version", "arch"]
USER_COLUMNS = ["name", "uid", "gid", "home", "shell"]
GROUP_COLUMNS = ["name", "gid", "members"]


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


@dataclass(frozen=True, repr=False)
class Inventory(Reported):
    """The facts of one image (see the module doc); every field is plain data. Records:
    ``package_records``, ``user_records``, ``group_records``; DataFrames: :attr:`packages`,
    :attr:`users`, :attr:`groups`. An inventory states facts: ``ok`` is always True.

    >>> inv = Inventory("busybox:1", "sha256:1", package_records=[Package("apk", "musl", "1")])
    >>> inv.kind, inv.ok, inv.managers, list(inv.packages.columns)
    ('inventory', True, {'apk': 1}, ['manager', 'name', 'version', 'arch'])
    >>> Inventory.from_dict(inv.to_dict()) == inv
    True
    """

    kind: ClassVar[str] = "inventory"
    ref: str
    id: str
    os: dict[str, str] = field(default_factory=dict)
    package_records: list[Package] = field(default_factory=list)
    user_records: list[dict[str, Any]] = field(default_factory=list)
    group_records: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    workdir: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    platform: str | None = None

    @property
    def ok(self) -> bool:
        """An inventory passes always: it states what the image holds."""
        return True

    @property
    def managers(self) -> dict[str, int]:
        """Packages per manager, e.g. ``{'dpkg': 88, 'python': 3}``."""
        counts: dict[str, int] = {}
        for p in self.package_records:
            counts[p.manager] = counts.get(p.manager, 0) + 1
        return counts

    @shown_frame
    def packages(self) -> pd.DataFrame:
        """One row per package: ``manager, name, version, arch``."""
        from ..frames import frame

        rows = [p.to_dict() for p in self.package_records]
        return frame(rows, PACKAGE_COLUMNS, categories=["manager", "arch"])

    @shown_frame
    def users(self) -> pd.DataFrame:
        """One row per user of /etc/passwd: :data:`USER_COLUMNS`."""
        from ..frames import frame

        return frame(self.user_records, USER_COLUMNS)

    @shown_frame
    def groups(self) -> pd.DataFrame:
        """One row per group of /etc/group: :data:`GROUP_COLUMNS` (``members`` as
        ``a, b``)."""
        from ..frames import frame

        return frame(self.group_records, GROUP_COLUMNS)

    def facts(self) -> dict[str, Any]:
        """The facts as plain data (what ``capture`` records and ``replay`` checks)."""
        return {
            "ref": self.ref,
            "id": self.id,
            "platform": self.platform,
            "os": dict(self.os),
            "packages": [p.to_dict() for p in self.package_records],
            "users": list(self.user_records),
            "groups": list(self.group_records),
            "env": dict(self.env),
            "entrypoint": self.entrypoint,
            "cmd": self.cmd,
            "user": self.user,
            "workdir": self.workdir,
            "exposed_ports": list(self.exposed_ports),
            "labels": dict(self.labels),
        }

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``inventory``: the facts and ``ok``."""
        from ..version import __version__

        head = {"schema": "reprokit/v1", "kind": "inventory", "reprokit_version": __version__}
        return {**head, **self.facts(), "ok": True}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Inventory:
        """Rebuild from an inventory document (or the bare facts written before kinds)."""
        if not isinstance(data, dict) or data.get("kind", "inventory") != "inventory":
            raise ReportError("not a reprokit inventory report")
        try:
            return cls(
                ref=data.get("ref", ""),
                id=data.get("id", ""),
                platform=data.get("platform"),
                os=dict(data.get("os") or {}),
                package_records=[Package.from_dict(p) for p in data.get("packages") or []],
                user_records=list(data.get("users") or []),
                group_records=list(data.get("groups") or []),
                env=dict(data.get("env") or {}),
                entrypoint=data.get("entrypoint"),
                cmd=data.get("cmd"),
                user=data.get("user"),
                workdir=data.get("workdir"),
                exposed_ports=list(data.get("exposed_ports") or []),
                labels=dict(data.get("labels") or {}),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReportError(f"malformed inventory report: {type(err).__name__} {err}") from None
