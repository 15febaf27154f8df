"""The test fleet: six tiny busybox targets covering every row a survey can have.

``make_fleet(root, busybox, client)`` writes the contexts, an image pair (two docker-archive
files of one image) and ``fleet.toml``; returns the manifest path.
"""

from __future__ import annotations

from pathlib import Path

import docker

#: target → the verdict the test expects
EXPECTED = {
    "reproducible": "identical",
    "timestamps": "equivalent",
    "random": "different",
    "broken": "error",
    "pair": "identical",
    "dated": "equivalent",
}


def _context(root: Path, name: str, dockerfile: str, files: dict[str, str] | None = None) -> None:
    ctx = root / "services" / name
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for rel, text in (files or {}).items():
        (ctx / rel).write_text(text)


def make_fleet(root: Path, busybox: str, client: docker.DockerClient) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _context(root, "reproducible", f"FROM {busybox}\nCOPY a.txt /a.txt\n", {"a.txt": "a\n"})
    _context(root, "timestamps", f"FROM {busybox}\nCOPY a.txt /a.txt\n", {"a.txt": "a\n"})
    _context(root, "random", f"FROM {busybox}\nRUN head -c 32 /dev/urandom > /random.bin\n")
    _context(root, "broken", f"FROM {busybox}\nRUN echo about to fail && exit 3\n")
    _context(root, "dated", f"FROM {busybox}\nRUN cat /proc/sys/kernel/random/uuid > /build-date\n")
    archive = root / "images"
    archive.mkdir(exist_ok=True)
    for side in ("a", "b"):
        path = archive / f"{side}.tar"
        if not path.exists():
            with open(path, "wb") as out:
                for chunk in client.images.get(busybox).save(named=True):
                    out.write(chunk)
    manifest = root / "fleet.toml"
    manifest.write_text(
        "[defaults]\n"
        'require = "equivalent"\n'
        "\n"
        "[targets.reproducible]\n"
        'context = "services/reproducible"\n'
        'builder = "buildx"\n'
        "source_date_epoch = 0\n"
        'require = "identical"\n'
        "\n"
        "[targets.timestamps]\n"
        'context = "services/timestamps"\n'
        'builder = "docker"\n'
        "\n"
        "[targets.random]\n"
        'context = "services/random"\n'
        "\n"
        "[targets.broken]\n"
        'context = "services/broken"\n'
        "\n"
        "[targets.pair]\n"
        f'pair = ["docker-archive:{archive}/a.tar", "docker-archive:{archive}/b.tar"]\n'
        "\n"
        "[targets.dated]\n"
        'context = "services/dated"\n'
        'ignore = ["/build-date"]\n'
    )
    return manifest
