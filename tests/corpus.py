"""Local stand-ins for the public base images the corpus Dockerfiles name (no registry is
reachable): a Debian minbase (tests/bases.py) with Python and pip, with Node.js and npm, or with
gcc, installed from Debian's mirror, plus the machine's CA bundle so builds with
``--network host`` can reach PyPI and npm. Made once per engine, cached by tag, labelled
``io.reprokit.test-base`` like the other bases.

The corpus itself is tests/data/dockerfiles/<name>/ (each with SOURCE.md: repository, commit,
path, licence); :func:`context` copies one into a temporary directory with its FROM lines
pointed at these bases.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

import bases
import docker
import docker.errors

DATA = Path(__file__).parent / "data" / "dockerfiles"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

PYTHON = "reprokit-test/python:3"
NODE = "reprokit-test/node:18"
GCC = "reprokit-test/gcc:12"

_APT = (
    "RUN apt-get update && apt-get install -y --no-install-recommends {packages} "
    "&& apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log "
    "/var/log/alternatives.log /var/cache/debconf/*-old /var/lib/dpkg/*-old\n"
)
RECIPES = {
    PYTHON: (
        "python3 python3-pip python3-venv",
        "RUN ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 "
        "/usr/local/bin/pip\n"
        # like the python images: pip installs system-wide (no PEP 668 marker in the way)
        "RUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED\n",
    ),
    NODE: ("nodejs npm", "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n"),
    GCC: ("gcc libc6-dev make", ""),
}


def ensure(client: docker.DockerClient, tag: str) -> str:
    """Make the base ``tag`` (one of :data:`RECIPES`) unless the engine has it."""
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    debian = bases.ensure_debian(client)
    packages, extra = RECIPES[tag]
    with tempfile.TemporaryDirectory(prefix="reprokit-corpus-base-") as tmp:
        shutil.copyfile(CA_BUNDLE, Path(tmp) / "ca-certificates.crt")
        (Path(tmp) / "Dockerfile").write_text(
            f"FROM {debian}\n"
            + _APT.format(packages=packages)
            + "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
            + extra
        )
        client.images.build(
            path=tmp,
            tag=tag,
            network_mode="host",
            labels={bases.LABEL: tag.split("/")[1].split(":")[0]},
            rm=True,
            forcerm=True,
        )
    return tag


def context(name: str, tmp: Path, **bases_by_name: str) -> Path:
    """A copy of corpus project ``name`` with ``{{NAME}}`` in its Dockerfile replaced by the
    base images given (``python=...``)."""
    ctx = tmp / name
    shutil.copytree(DATA / name, ctx, ignore=shutil.ignore_patterns("SOURCE.md"))
    dockerfile = ctx / "Dockerfile"
    text = dockerfile.read_text()
    for key, value in bases_by_name.items():
        text = text.replace("{{" + key + "}}", value)
    dockerfile.write_text(text)
    return ctx


def save_files(client: docker.DockerClient, ref: str, dest: Path) -> dict[str, tuple]:
    """An independent extraction: ``docker save`` the image, then walk every layer tar with
    Python's tarfile and apply whiteouts; returns ``{path: (type, mode, uid, gid, size, mtime,
    linkname, sha256)}`` of the final filesystem."""
    import hashlib
    import json

    archive = dest / (ref.replace("/", "_").replace(":", "_") + ".tar")
    with archive.open("wb") as out:
        for chunk in client.images.get(ref).save(named=False):
            out.write(chunk)
    files: dict[str, tuple] = {}
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for layer in manifest[0]["Layers"]:
            member = outer.extractfile(layer)
            assert member is not None
            with tarfile.open(fileobj=member, mode="r:*") as inner:
                for t in inner:
                    path = "/" + t.name.lstrip("./").rstrip("/")
                    parent, _, base = path.rpartition("/")
                    if base == ".wh..wh..opq":
                        for p in [p for p in files if p.startswith(parent + "/")]:
                            del files[p]
                        continue
                    if base.startswith(".wh."):
                        gone = f"{parent}/{base[4:]}"
                        for p in [p for p in files if p == gone or p.startswith(gone + "/")]:
                            del files[p]
                        continue
                    digest = None
                    if t.isfile():
                        f = inner.extractfile(t)
                        digest = hashlib.sha256(f.read() if f else b"").hexdigest()
                    kind = "file" if t.isfile() else "dir" if t.isdir() else str(t.type)
                    files[path if path != "/" else "/"] = (
                        kind, t.mode, t.uid, t.gid, t.size if t.isfile() else 0, int(t.mtime),
                        t.linkname, digest,
                    )  # fmt: skip
    archive.unlink()
    return files


def independent_diff(a: dict[str, tuple], b: dict[str, tuple]) -> dict[str, str]:
    """``{path: "content" | "meta" | "mtime" | "added" | "removed"}`` between two extractions."""
    out = {}
    for path in sorted(a.keys() | b.keys()):
        ra, rb = a.get(path), b.get(path)
        if ra is None or rb is None:
            out[path] = "added" if ra is None else "removed"
        elif ra != rb:
            if ra[7] != rb[7] or ra[0] != rb[0] or ra[6] != rb[6]:
                out[path] = "content"
            elif ra[:5] != rb[:5]:
                out[path] = "meta"
            else:
                out[path] = "mtime"
    return out
