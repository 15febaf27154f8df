"""Extra Docker engines for the tests, started like scripts/extra-engine.sh and stopped by pid.

Whatever DOCKER_HOST points at, the tests get one engine with the classic image store and one
with the containerd image store: the main engine serves for its own kind, and an isolated
extra dockerd (own data root, exec root, pid file, socket, containerd namespace; no bridge,
no iptables) is started for the other kind — and for the ``engine`` variation.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import docker

from reprokit.builders.buildx import containerd_store

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "extra-engine.sh"


def engine_name(kind: str) -> str:
    """A name owned by this test session's main engine (two main engines never share one)."""
    main = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return f"rktest-{kind}-{hashlib.sha256(main.encode()).hexdigest()[:8]}"


class ExtraEngine:
    """One extra dockerd, started by :meth:`start` and stopped by its pid in :meth:`stop`."""

    def __init__(self, kind: str):
        self.kind = kind
        self.name = engine_name(kind)
        self.run_dir = Path("/run/reprokit-engines") / self.name
        self.url = f"unix://{self.run_dir / 'docker.sock'}"
        self.pid: int | None = None

    def start(self) -> ExtraEngine:
        args = ["bash", str(SCRIPT), "start", self.name]
        if self.kind == "containerd":
            args.append("--containerd-store")
        subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)
        self.pid = int((self.run_dir / "docker.pid").read_text().strip())
        return self

    def stop(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        os.kill(self.pid, signal.SIGKILL)


def main_url() -> str | None:
    return os.environ.get("DOCKER_HOST") or None


def main_is_containerd(client: docker.DockerClient) -> bool:
    return containerd_store(client)
