"""Base images the tests make locally (no registry is reachable) and reuse across runs.

- ``reprokit-test/busybox:1``: ``FROM scratch`` with Debian's static busybox installed.
- ``reprokit-test/debian:bookworm``: a Debian minbase from debootstrap, imported.

They carry ``io.reprokit.test-base`` and are kept between runs on purpose.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import docker
import docker.errors

from reprokit.example import find_static_busybox

BUSYBOX = "reprokit-test/busybox:1"
DEBIAN = "reprokit-test/debian:bookworm"
MIRROR = "http://deb.debian.org/debian"
LABEL = "io.reprokit.test-base"


def _exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_busybox(client: docker.DockerClient) -> str:
    """Build the busybox base unless it is already there; returns its tag."""
    if _exists(client, BUSYBOX):
        return BUSYBOX
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy2(find_static_busybox(), Path(tmp) / "busybox")
        (Path(tmp) / "Dockerfile").write_text(
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "RUN mkdir -p /tmp /var/log /etc && chmod 1777 /tmp"
            " && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd\n"
        )
        client.images.build(
            path=tmp, tag=BUSYBOX, network_mode="none", labels={LABEL: "busybox"}, rm=True
        )
    return BUSYBOX


def ensure_debian(client: docker.DockerClient) -> str:
    """debootstrap a bookworm minbase and import it, unless it is already there (~30-60 s)."""
    if _exists(client, DEBIAN):
        return DEBIAN
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is missing: run scripts/setup.sh")
    with tempfile.TemporaryDirectory(prefix="reprokit-debootstrap-") as tmp:
        root = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # keep the image small and deterministic: no apt lists or caches from debootstrap
        for sub in ("var/lib/apt/lists", "var/cache/apt"):
            for item in (root / sub).glob("*"):
                if item.is_file():
                    item.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [
                "docker",
                "import",
                "-c",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "-c",
                f"LABEL {LABEL}=debian",
                "-c",
                'CMD ["bash"]',
                "-",
                DEBIAN,
            ],
            stdin=tar.stdout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tar.wait()
    return DEBIAN
