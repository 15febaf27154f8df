"""The audit's container work: a hardened, read-only run of an image (where does it write?) and
reading a container's files through the engine's archive API (for drift).

Every container is labelled ``io.reprokit.run=<run id>``, has no network, no capabilities, no
new privileges, bounded pids and memory, and is removed at the end, on errors and Ctrl-C too.

>>> written_paths(["sh: can't create /data/out.txt: Read-only file system",
...                "OSError: [Errno 30] Read-only file system: '/app/cache'", "ok /tmp/x"])
['/data/out.txt', '/app/cache']
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, cast

import docker.errors
import requests
import urllib3.exceptions

from ..engine import RUN_LABEL, engine_error, open_client, stream_get
from ..read.layers import index_layer
from ..read.streams import CHUNK, ChunkReader
from ..records import FileRecord

_PATH = re.compile(r"(?<![\w.~-])(/[^\s:'\"`,;()\[\]]+)")
HARDENED: dict[str, Any] = {
    "network_mode": "none",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": 64,
    "mem_limit": "256m",
}


@dataclass
class RuntimeOutcome:
    """What the read-only run showed: the paths it failed to write, how it ended, log tail."""

    paths: list[str]
    summary: str
    exit_code: int | None = None
    log_tail: list[str] = field(default_factory=list)


def written_paths(lines: list[str]) -> list[str]:
    """Absolute paths named on log lines reporting a read-only file system (not under /tmp)."""
    out: list[str] = []
    for line in lines:
        if "read-only file system" not in line.lower():
            continue
        for path in _PATH.findall(line):
            path = posixpath.normpath(path)
            if path not in out and not (path == "/tmp" or path.startswith("/tmp/")):
                out.append(path)
    return out


def readonly_check(
    image: str,
    command: list[str] | None = None,
    timeout: float = 10.0,
    base_url: str | None = None,
    name: str | None = None,
) -> RuntimeOutcome:
    """Run ``image`` (its entrypoint, or ``command``) with a read-only root filesystem and a
    tmpfs /tmp for at most ``timeout`` seconds; report the paths it could not write. Errors
    name the image as ``name`` (default: ``image``).

    >>> readonly_check("myapp:1.2", timeout=5).paths  # doctest: +SKIP
    ['/var/lib/myapp']
    """
    client = open_client(base_url, "exec")
    run_id = uuid.uuid4().hex[:12]
    container = None
    try:
        container = client.containers.create(
            image,
            command=command,
            read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,size=64m"},
            labels={RUN_LABEL: run_id},
            detach=True,
            **HARDENED,
        )
        container.start()
        try:
            code: int | None = int(container.wait(timeout=timeout)["StatusCode"])
            how = f"exited with status {code}"
        except requests.RequestException:
            with contextlib.suppress(docker.errors.APIError):  # it may have just exited
                container.kill()
            code, how = None, f"still running after {timeout:g} s (stopped)"
        raw = container.logs(stdout=True, stderr=True, tail=2000)
        lines = raw.decode("utf-8", "replace").splitlines()
        paths = written_paths(lines)
        return RuntimeOutcome(
            paths, f"read-only run {how}; {len(paths)} path(s)", code, lines[-20:]
        )
    except docker.errors.ImageNotFound:
        raise engine_error(f"{name or image}: read-only run", ValueError("no such image")) from None
    except (docker.errors.APIError, requests.RequestException) as err:
        raise engine_error(f"{name or image}: read-only run", err) from None
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                container.remove(force=True)
        client.close()


def archive_records(client: docker.DockerClient, container: str, path: str) -> list[FileRecord]:
    """The records (content digests included) of ``path`` in a container, and of everything
    below it for a directory, streamed through the archive API (never kept on disk)."""
    try:
        # the client's stall timeout stays on (docker-py's get_archive turns it off)
        chunks = stream_get(
            client, "/containers/{0}/archive", container, chunk_size=CHUNK, params={"path": path}
        )
        index = index_layer(cast(BinaryIO, ChunkReader(chunks)), f"{container}:{path}")
    except docker.errors.NotFound:
        return []  # gone since the change list was taken
    except (docker.errors.APIError, requests.RequestException, urllib3.exceptions.HTTPError) as err:
        raise engine_error(f"{container}: reading {path}", err) from None
    parent = posixpath.dirname(path)
    return [replace(r, path=posixpath.normpath(parent + "/" + r.path)) for r in index.records]
