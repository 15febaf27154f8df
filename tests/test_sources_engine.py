"""Images from every transport, made by real builders: docker save, buildah (OCI), apt."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid

import pytest
from conftest import run_cli

import reprokit
from reprokit.example import find_static_busybox
from reprokit.kinds import expanded

pytestmark = pytest.mark.engine


@pytest.fixture
def saved(client, busybox, tmp_path):
    """The busybox base as `docker save` writes it (OCI layout plus legacy manifest.json)."""
    path = tmp_path / "busybox.tar"
    with open(path, "wb") as f:
        for chunk in client.api.get_image(busybox):
            f.write(chunk)
    return path


def test_docker_archive_and_oci_archive_of_a_save_match_the_daemon(busybox, saved, no_leftovers):
    for ref in (
        f"docker-archive:{saved}",
        f"docker-archive:{saved}:{busybox}",
        f"oci-archive:{saved}",
    ):
        result = reprokit.compare(busybox, ref)
        assert result.verdict == "identical", (ref, result.reason)
        assert result.images[0].id == result.images[1].id
        assert all(layer.same for layer in result.layer_records)
    proc = run_cli("diff", f"docker-archive:{saved}", busybox, "--require", "identical")
    assert proc.returncode == 0, proc.stderr


def test_layers_shared_by_diff_id_are_read_once(busybox, context, client, no_leftovers):
    ctx = context(f"FROM {busybox}\nRUN sleep 1 && echo upper > /upper\n")
    result = reprokit.check(ctx)
    base = client.images.get(busybox).attrs["RootFS"]["Layers"]
    assert [layer.same for layer in result.layer_records] == [True] * len(base) + [False]
    assert {d.layer for d in result.file_records} == {len(base)}
    # sizes of the shared layers are known for both images although read once
    assert all(layer.size_a == layer.size_b for layer in result.layer_records[: len(base)])


@pytest.fixture
def buildah_ctx(tmp_path):
    if not shutil.which("buildah"):
        pytest.fail("buildah is missing: run scripts/setup.sh")
    ctx = tmp_path / "bctx"
    ctx.mkdir()
    shutil.copy2(find_static_busybox(), ctx / "busybox")
    (ctx / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox head -c 16 /dev/urandom > /nonce"]\n'
    )
    names: list[str] = []
    yield ctx, names
    for name in names:
        subprocess.run(["buildah", "rmi", "-f", name], capture_output=True)


def buildah(*args: str) -> None:
    subprocess.run(["buildah", *args], check=True, capture_output=True, text=True)


def test_oci_layouts_from_buildah(buildah_ctx, tmp_path):
    ctx, names = buildah_ctx
    for name in ("a", "b"):
        tag = f"localhost/reprokit-test-{uuid.uuid4().hex[:8]}-{name}"
        names.append(tag)
        buildah("bud", "--isolation", "chroot", "--layers", "--no-cache", "-q", "-t", tag, str(ctx))
    oci_dir = tmp_path / "layout"
    buildah("push", "-q", names[0], f"oci:{oci_dir}:first")
    buildah("push", "-q", "--compression-format", "zstd", names[0], f"oci-archive:{tmp_path}/a.tar")
    buildah("push", "-q", names[1], f"oci-archive:{tmp_path}/b.tar")
    # the same image through two transports and two compressions (gzip, zstd): the same
    # config and layers, but two OCI manifests (other blob digests), so at most equivalent
    same = reprokit.compare(f"oci:{oci_dir}:first", f"oci-archive:{tmp_path}/a.tar")
    assert same.verdict == "equivalent", same.reason
    assert "OCI manifests differ" in same.reason and not same.file_records
    assert reprokit.compare(f"oci:{oci_dir}:first", f"oci:{oci_dir}:first").verdict == "identical"
    blobs = [p.read_bytes()[:4] for p in (oci_dir / "blobs" / "sha256").iterdir()]
    assert any(head.startswith(b"\x1f\x8b") for head in blobs)  # gzip layers in the layout
    # two builds whose RUN step writes random bytes
    out = tmp_path / "r.json"
    proc = run_cli("diff", f"oci:{oci_dir}", f"oci-archive:{tmp_path}/b.tar", "--json", str(out))
    assert proc.returncode == 1, proc.stderr
    report = expanded(json.loads(out.read_text()))
    assert report["verdict"] == "different"
    # buildah stamps the directories COPY creates with the build time: mtimes only
    assert all(f["fields"] == ["mtime"] for f in report["files"] if f["layer"] == 0)
    nonce = next(f for f in report["merged"] if f["path"] == "/nonce")
    assert "content" in nonce["fields"]
    assert [f["layer"] for f in report["files"] if f["path"] == "/nonce"] == [1]


@pytest.mark.slow
def test_apt_install_is_explained_and_its_fix_makes_it_equivalent(debian, context, no_leftovers):
    """Logs and caches of apt make the image different; the step's fix, applied to the
    Dockerfile, makes the next check equivalent (only times left)."""
    run = "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello && hello"
    ctx = context(f"FROM {debian}\n{run}\n")
    result = reprokit.check(ctx, network="host")
    assert result.verdict == "different", result.reason
    differing = {d.path: d for d in result.merged_records}
    content = {p for p, d in differing.items() if "content" in d.fields or d.change != "modified"}
    assert "/usr/bin/hello" not in content, "the package itself is reproducible"
    assert differing["/var/log/dpkg.log"].cause == "log-file"
    assert "/var/log/dpkg.log" in content
    assert differing["/var/log/apt/history.log"].cause == "log-file"
    lists = [d for p, d in differing.items() if p.startswith("/var/lib/apt/lists/")]
    assert lists and {d.cause for d in lists} <= {"package-manager-cache", "timestamp"}
    # "only the mtime differs" is decided before any path rule
    assert all(d.cause == "timestamp" for d in lists if d.fields == ["mtime"])
    assert all(d.cause == "package-manager-cache" for d in lists if d.fields != ["mtime"])
    assert differing["/var/cache/apt/pkgcache.bin"].cause == "package-manager-cache"
    assert "above the" in (differing["/var/cache/apt/pkgcache.bin"].evidence or "")
    assert result.explained is True
    last = result.layer_records[-1]
    assert not last.same and "apt-get install" in (last.created_by or "")
    assert result.layer_records[0].same  # the debootstrap base layer is shared
    (step,) = result.step_records
    assert step.dockerfile_line == 2 and step.causes["log-file"] >= 3
    cleanup = re.search(r"`(rm -rf [^`]*)`", step.fix)
    assert cleanup and "/var/log/dpkg.log" in cleanup.group(1)  # only the paths that differ

    (ctx / "Dockerfile").write_text(f"FROM {debian}\n{run} && {cleanup.group(1)}\n")
    fixed = reprokit.check(ctx, network="host")
    assert fixed.verdict == "equivalent", fixed.reason
    assert fixed.explained is True
