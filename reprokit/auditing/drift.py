"""``drift(container)``: what changed in a running (or stopped) container since its image.

The engine's change list names every added, changed and deleted path; a changed or added file
is read through the archive API and hashed, and compared with the image's record of it (read
from the image itself), so a file whose mtime was touched is told from one whose content
changed. Each path gets a class; config (env, command, user, mounts) is compared too.

>>> [classify(p) for p in ("/tmp/x", "/etc/motd", "/usr/local/bin/tool", "/srv/db", "/run/a")]
['runtime-state', 'configuration', 'software', 'data', 'runtime-state']
"""

from __future__ import annotations

import posixpath
import time
from typing import Any

import docker.errors
import requests

from ..engine import engine_error, open_client
from ..errors import UsageError
from ..records import FileRecord, differing_fields
from ..sources.daemon import DaemonSource
from ..text import clean
from .model import DriftEntry
from .result import AuditResult
from .runtime import archive_records
from .secrets import redact_text

RUNTIME_STATE = (
    "/tmp",
    "/var/tmp",
    "/run",
    "/var/run",
    "/var/cache",
    "/var/log",
    "/var/lock",
    "/root/.cache",
    "/dev",
    "/proc",
    "/sys",
)
SOFTWARE = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/lib/rpm",
    "/var/lib/dnf",
    "/etc/apk",
)
_KINDS = {0: "changed", 1: "added", 2: "deleted"}


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def classify(path: str) -> str:
    """``runtime-state``, ``software``, ``configuration`` or ``data`` for a drifted path."""
    if _under(path, RUNTIME_STATE) or "/.cache/" in path + "/":
        return "runtime-state"
    if _under(path, SOFTWARE):
        return "software"
    if _under(path, ("/etc",)):
        return "configuration"
    return "data"


def drift(container: str, *, base_url: str | None = None) -> AuditResult:
    """Compare a container with its image: paths added/changed/deleted, and config.

    >>> reprokit.drift("web-1").drift  # doctest: +SKIP
    """
    started = time.monotonic()
    client = open_client(base_url, "export")
    try:
        try:
            attrs = client.api.inspect_container(container)
            changes = client.api.diff(attrs["Id"]) or []
        except docker.errors.NotFound:
            raise UsageError(f"{container}: no such container") from None
        except (docker.errors.APIError, requests.RequestException) as err:
            raise engine_error(f"{container}: inspecting the container", err) from None
        image = DaemonSource(attrs["Image"], base_url=base_url).read()
        merged = image.merged()
        entries = _paths(client, attrs["Id"], changes, merged)
        entries += _config(attrs, image.config.get("config") or {})
    finally:
        client.close()
    name = (attrs.get("Name") or "").lstrip("/") or attrs["Id"][:12]
    return AuditResult(
        kind="drift",
        subject=f"container {name}",
        drift_records=entries,
        image={"id": image.id, "repo_tags": list(image.repo_tags), "container": attrs["Id"]},
        stats={"state": (attrs.get("State") or {}).get("Status"), "changes": len(changes)},
        duration_s=time.monotonic() - started,
    )


def _paths(
    client: docker.DockerClient,
    cid: str,
    changes: list[dict[str, Any]],
    merged: dict[str, FileRecord],
) -> list[DriftEntry]:
    kinds = {c["Path"]: _KINDS.get(c["Kind"], "changed") for c in changes}
    # read each added subtree once, from its top, and each changed non-directory on its own
    roots = [
        p
        for p, k in kinds.items()
        if (k == "added" and kinds.get(posixpath.dirname(p)) != "added")
        or (k == "changed" and (merged.get(p) is None or merged[p].type != "dir"))
    ]
    now: dict[str, FileRecord] = {}
    for root in roots:
        now.update((r.path, r) for r in archive_records(client, cid, root))
    out = []
    for path, change in sorted(kinds.items()):
        before, after = merged.get(path), now.get(path)
        fields: list[str] = []
        if change == "changed":
            if before is not None and before.type == "dir":
                continue  # listed because something below it changed
            if before is not None and after is not None:
                fields = differing_fields(before, after)
                if "content" not in fields:
                    fields = [f for f in fields if f != "size"]
                if not fields or fields == ["mtime"]:
                    fields = ["mtime"]  # touched, same content
        sha = after.sha256 if after is not None and change != "deleted" else None
        kind = after.type if after is not None else (before.type if before else "")
        out.append(DriftEntry(path, change, classify(path), fields, sha, kind))
    return out


def _config(attrs: dict[str, Any], image: dict[str, Any]) -> list[DriftEntry]:
    cfg = attrs.get("Config") or {}
    out = []

    def env(items: list[str] | None) -> dict[str, str]:
        return dict(str(e).partition("=")[::2] for e in items or [])

    before, after = env(image.get("Env")), env(cfg.get("Env"))
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            change = (
                "added" if name not in before else "deleted" if name not in after else "changed"
            )
            out.append(DriftEntry(f"config.Env[{name}]", change, "config", ["value"]))
    for key in ("Entrypoint", "Cmd", "User", "WorkingDir"):
        if (image.get(key) or None) != (cfg.get(key) or None):
            shown = clean(redact_text(str(cfg.get(key))), 80)
            out.append(DriftEntry(f"config.{key}", "changed", "config", ["value"], detail=shown))
    volumes = set(image.get("Volumes") or {})
    mounts = {
        m.get("Destination", ""): f"{m.get('Type', '?')} mount, rw={m.get('RW')}"
        for m in attrs.get("Mounts") or []
    }
    for dest in (attrs.get("HostConfig") or {}).get("Tmpfs") or {}:
        mounts.setdefault(dest, "tmpfs mount")
    for dest, detail in sorted(mounts.items()):
        if dest not in volumes:
            out.append(DriftEntry(f"mount:{dest}", "added", "config", [], detail=detail))
    return out
