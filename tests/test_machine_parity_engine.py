"""Parity for machine images: the root filesystem of a ``rootfs-archive:`` or ``dir:`` source
imported into the engine as a single-layer, labelled image, run in the hardened container side
by side with a container image or another machine image, and removed at the end."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from conftest import run_cli

import reprokit
from reprokit.containers import ContainerError, container_pair
from reprokit.engine import RUN_LABEL
from reprokit.example import find_static_busybox

pytestmark = pytest.mark.engine

CHECKS = {
    "passwd": lambda h: h.file("/etc/passwd").content_string,
    "uid": lambda h: h.run("id -u").stdout.strip(),
    "applets": lambda h: h.run("ls /bin | wc -l").stdout.strip(),
    "motd": lambda h: h.file("/etc/motd").content_string,
}

TESTS = """
def test_passwd(host):
    assert host.file("/etc/passwd").contains("root:x:0:0")

def test_shell(host):
    assert host.run("echo hi").stdout == "hi\\n"

def test_tmp_is_sticky(host):
    assert host.file("/tmp").mode == 0o1777
"""


def busybox_tree(root: Path, motd: str = "welcome\n") -> Path:
    """The files of ``reprokit-test/busybox:1`` (tests/bases.py), as a directory tree."""
    (root / "bin").mkdir(parents=True)
    busybox = root / "bin/busybox"
    busybox.write_bytes(Path(find_static_busybox()).read_bytes())
    busybox.chmod(0o755)
    listed = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    for applet in listed.stdout.split():
        if applet != "busybox":
            os.symlink("/bin/busybox", root / "bin" / applet)
    for sub in ("etc", "var/log", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc/motd").write_text(motd)
    return root


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    tree = busybox_tree(tmp_path / "tree")
    archive = tmp_path / "rootfs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tree, arcname=".")
    return archive


def test_rootfs_archive_and_the_busybox_image_agree(
    client: docker.DockerClient, busybox: str, rootfs: Path, no_leftovers
):
    checks = {k: v for k, v in CHECKS.items() if k != "motd"}  # the image has no motd
    result = reprokit.parity(f"rootfs-archive:{rootfs}", f"docker-daemon:{busybox}", checks)
    assert result.ok, result.text()
    assert {e.name for e in result.parity_records} == set(checks)
    assert all(e.same for e in result.parity_records)


def test_the_imported_image_is_single_layer_labelled_and_hardened(
    client: docker.DockerClient, busybox: str, rootfs: Path, no_leftovers
):
    with container_pair(f"rootfs-archive:{rootfs}", busybox) as (a, _):
        image = client.api.inspect_image(a.image)
        assert len(image["RootFS"]["Layers"]) == 1
        assert image["Config"]["Labels"][RUN_LABEL]
        assert not image["Config"].get("Cmd")  # a machine image has none: kept alive by sleep
        host = client.api.inspect_container(a.id)["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and host["NetworkMode"] == "none"
        assert a.exec("cat /etc/motd").stdout == b"welcome\n"
        imported = a.image
    assert not client.api.images(name=imported)


def test_two_dir_trees_differ_in_the_check_on_the_changed_file(tmp_path: Path, no_leftovers):
    a = busybox_tree(tmp_path / "a")
    b = busybox_tree(tmp_path / "b", motd="changed\n")
    result = reprokit.parity(f"dir:{a}", f"dir:{b}", CHECKS)
    outcome = {e.name: e.same for e in result.parity_records}
    assert outcome == {"passwd": True, "uid": True, "applets": True, "motd": False}
    assert not result.ok


def test_a_machine_image_without_sleep_is_one_clear_error(tmp_path: Path, no_leftovers):
    bare = tmp_path / "bare"
    (bare / "etc").mkdir(parents=True)
    (bare / "etc/hostname").write_text("golden\n")
    with pytest.raises(ContainerError, match="no `sleep`"):
        reprokit.parity(f"dir:{bare}", f"dir:{bare}", {"x": lambda h: 1})


def test_cli_parity_of_a_rootfs_archive_and_an_image(
    busybox: str, rootfs: Path, tmp_path: Path, no_leftovers
):
    tests = tmp_path / "test_golden.py"
    tests.write_text(TESTS)
    report = tmp_path / "parity.json"
    done = run_cli(
        "parity",
        f"rootfs-archive:{rootfs}",
        f"docker-daemon:{busybox}",
        str(tests),
        "--json",
        str(report),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    loaded = reprokit.load(report)
    assert loaded.kind == "parity" and len(loaded.parity_records) == 3


def test_ctrl_c_while_importing_removes_everything(
    tmp_path: Path, busybox: str, monkeypatch: pytest.MonkeyPatch, no_leftovers
):
    from reprokit.errors import Cancelled
    from reprokit.sources.directory import DirectorySource

    tree = busybox_tree(tmp_path / "tree")
    real = DirectorySource.export_tar

    @contextlib.contextmanager
    def interrupted(self):
        with real(self) as chunks:

            def some() -> Iterator[bytes]:
                yield next(chunks)
                raise KeyboardInterrupt

            yield some()

    monkeypatch.setattr(DirectorySource, "export_tar", interrupted)
    with pytest.raises(Cancelled):
        reprokit.parity(busybox, f"dir:{tree}", {"x": lambda h: 1})
