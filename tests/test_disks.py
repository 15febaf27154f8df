"""disk: sources through a real libguestfs appliance (slow: each comparison boots one, ≈ 25 s
with TCG): identical, equivalent (filesystem metadata only) and different disk pairs, made
here with sfdisk + mkfs.ext4 -d (+ qemu-img convert), and equal to the same trees via dir:."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_machine_images import make_tree

import reprokit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("guestfish") is None, reason="needs libguestfs-tools"),
]

SECTORS = 40000


def make_disk(path: Path, tree: Path, fixed: bool) -> Path:
    """A GPT disk with one ext4 partition populated from ``tree``; ``fixed``: every random
    choice (GUIDs, UUID, hash seed, times) pinned."""
    raw = path.with_suffix(".raw")
    subprocess.run(["truncate", "-s", "24M", str(raw)], check=True)
    script = "label: gpt\n"
    if fixed:
        script += "label-id: 11111111-2222-3333-4444-555555555555\n"
    script += f"start=2048, size={SECTORS}" + (
        ", uuid=aaaaaaaa-2222-3333-4444-555555555555\n" if fixed else "\n"
    )
    subprocess.run(["sfdisk", "-q", str(raw)], input=script.encode(), check=True)
    env = dict(os.environ)
    args = ["mkfs.ext4", "-q", "-E", f"offset={2048 * 512}"]
    if fixed:
        env["E2FSPROGS_FAKE_TIME"] = "1700000000"
        args += ["-U", "0f0e0d0c-0b0a-0908-0706-050403020100"]
        args[3] += ",hash_seed=01234567-89ab-cdef-0123-456789abcdef"
    subprocess.run([*args, "-d", str(tree), str(raw), str(SECTORS // 2)], check=True, env=env)
    if path.suffix == ".qcow2":
        subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(path)], check=True)
        raw.unlink()
    return path


@pytest.fixture(scope="module")
def disks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("disks")
    tree = make_tree(tmp / "tree")
    changed = make_tree(tmp / "changed", motd="changed\n")
    for root in (tree, changed):
        os.unlink(root / "etc/outside")  # mkfs -d copies symlinks as they are; keep it simple
        for p in [root, *root.rglob("*")]:
            os.utime(p, (1700000000, 1700000000), follow_symlinks=False)
    a = make_disk(tmp / "a.qcow2", tree, fixed=True)
    a2 = tmp / "a2.raw"  # the same disk in another format: the same bytes
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(a), str(a2)], check=True)
    return {
        "tree": tree,
        "changed": changed,
        "a": a,
        "a2": a2,
        "b": make_disk(tmp / "b.raw", tree, fixed=False),
        "c": make_disk(tmp / "c.raw", changed, fixed=True),
    }


def test_disk_pairs_identical_equivalent_different(disks: dict[str, Path]):
    same = reprokit.compare(f"disk:{disks['a']}", f"disk:{disks['a2']}")
    assert same.verdict == "identical", same.reason

    equiv = reprokit.compare(f"disk:{disks['a']}", f"disk:{disks['b']}")
    assert equiv.verdict == "equivalent", equiv.reason
    causes = {c.cause for c in equiv.config_records}
    assert {"filesystem-uuid", "directory-hash-seed", "partition-guid"} <= causes
    assert equiv.explained
    assert not [d for d in equiv.merged_records if not d.ignored]

    diff = reprokit.compare(f"disk:{disks['a']}", f"disk:{disks['c']}")
    assert diff.verdict == "different"
    assert [d.path for d in diff.merged_records] == ["/etc/motd", "/etc/motd.hard"]


def test_disk_files_equal_the_tree_read_through_dir(disks: dict[str, Path]):
    disk = reprokit.compare(f"disk:{disks['a']}", f"dir:{disks['tree']}")
    assert not disk.merged_records, [(d.path, d.fields) for d in disk.merged_records]
