"""Packer's docker builder, built twice by reprokit check (engine tests): reproducible and
not, commit and export_path, HCL2-JSON and legacy JSON; nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import reprokit
from reprokit.errors import UsageError

pytestmark = pytest.mark.skipif(shutil.which("packer") is None, reason="needs packer")

RUN = ["-d", "-i", "-t", "--network", "none", "--entrypoint=/bin/sh", "--", "{{.Image}}"]


def gone(client, result) -> bool:
    """Nothing the builds made is left (other sessions may use the engine meanwhile)."""
    ids = [b.image_id for b in result.builds if b.image_id.startswith("sha256:")]
    left = {i["Id"] for i in client.api.images(all=True)} & set(ids)
    labelled = client.api.images(all=True, filters={"label": f"io.reprokit.run={result.run_id}"})
    return (
        not left
        and not labelled
        and not client.api.containers(all=True, filters={"ancestor": ids[0]} if ids else {})
    )


def legacy(image: str, inline: list[str], **extra) -> dict:
    builder = {"type": "docker", "image": image, "pull": False, "run_command": RUN, **extra}
    return {"builders": [builder], "provisioners": [{"type": "shell", "inline": inline}]}


def test_reproducible_template_is_equivalent_and_cleaned(client, busybox, tmp_path: Path):
    path = tmp_path / "golden.pkr.json"
    path.write_text(
        json.dumps(
            {
                "source": {
                    "docker": {
                        "app": {"image": busybox, "pull": False, "commit": True, "run_command": RUN}
                    }
                },
                "build": {
                    "sources": ["source.docker.app"],
                    "provisioner": [{"shell": {"inline": ["echo hi > /etc/greeting"]}}],
                },
            }
        )
    )
    result = reprokit.check(path)
    assert result.verdict == "equivalent", result.reason
    assert result.explained and result.builds[0].builder == "packer"
    assert result.spec["artifact"] == "docker-daemon"
    assert gone(client, result)


def test_date_writing_provisioner_is_different_with_cause(client, busybox, tmp_path: Path):
    path = tmp_path / "stamp.json"
    template = legacy(
        busybox, ["date +%s > /etc/stamp"], commit=True, changes=["LABEL built={{timestamp}}"]
    )
    template["provisioners"][0]["inline"].insert(0, "sleep 1")
    path.write_text(json.dumps(template))
    result = reprokit.check(path)
    assert result.verdict == "different"
    stamp = next(d for d in result.merged_records if d.path == "/etc/stamp")
    assert stamp.cause == "embedded-timestamp"
    label = next(c for c in result.config_records if c.field.endswith("Labels.built"))
    assert label.cause == "build-variable"
    assert any("timestamp" in n for n in result.builds[0].notes)
    assert gone(client, result)


def test_export_path_is_read_as_rootfs_archive(client, busybox, tmp_path: Path):
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps(legacy(busybox, ["echo hi > /etc/greeting"], export_path="rootfs.tar"))
    )
    result = reprokit.check(path)
    assert result.spec["artifact"] == "rootfs-archive"
    assert result.verdict in ("identical", "equivalent"), result.reason
    assert gone(client, result)
    assert not (tmp_path / "rootfs.tar").exists()  # built in a temporary copy


def test_unreadable_builder_is_one_clear_error(tmp_path: Path):
    path = tmp_path / "ami.json"
    path.write_text(json.dumps({"builders": [{"type": "amazon-ebs", "name": "aws"}]}))
    with pytest.raises(UsageError, match=r"builder aws \(amazon-ebs\)"):
        reprokit.check(path)


#: a boot sector that powers the VM off at once (ACPI PM1a control of QEMU's pc machine:
#: ``outw(0x604, 0x2000)``), so a ``qemu`` build with ``communicator: none`` ends by itself
POWER_OFF = bytes.fromhex("ba0406b80020eff4ebfe")


def bootable_disk(path: Path, tree: Path) -> Path:
    """A 4 MiB raw GPT disk: the power-off boot code, one ext4 partition made from ``tree``."""
    subprocess.run(["truncate", "-s", "4M", str(path)], check=True)
    script = (
        "label: gpt\nlabel-id: 11111111-2222-3333-4444-555555555555\n"
        "start=2048, size=4096, uuid=aaaaaaaa-2222-3333-4444-555555555555\n"
    )
    subprocess.run(["sfdisk", "-q", str(path)], input=script.encode(), check=True)
    with path.open("r+b") as fh:
        fh.write(POWER_OFF)
    env = dict(os.environ, E2FSPROGS_FAKE_TIME="1700000000")
    subprocess.run(
        ["mkfs.ext4", "-q", "-E", "offset=1048576", "-d", str(tree), str(path), "2048"],
        check=True,
        env=env,
    )
    return path


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs qemu")
@pytest.mark.skipif(shutil.which("guestfish") is None, reason="needs libguestfs-tools")
def test_qemu_disk_artifact_is_read_as_a_disk(tmp_path: Path):
    """Packer's qemu builder on a local disk image (``disk_image: true``, no ISO, no network,
    ``communicator: none``, TCG): each build boots the disk (which powers off at once) and
    writes a copy to ``output_directory``; both copies are compared as ``disk:``."""
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "usr/bin").mkdir(parents=True)
    (tree / "etc/motd").write_text("golden\n")
    template = tmp_path / "template"
    template.mkdir()
    bootable_disk(template / "base.raw", tree)
    builder = {
        "type": "qemu",
        "disk_image": True,
        "iso_url": "base.raw",
        "iso_checksum": "none",
        "format": "raw",
        "disk_size": "4M",
        "accelerator": "tcg",
        "headless": True,
        "disable_vnc": True,
        "communicator": "none",
        "boot_wait": "0s",
        "shutdown_timeout": "60s",
        "memory": 64,
        "output_directory": "out",
        "vm_name": "golden.raw",
    }
    path = template / "qemu.json"
    path.write_text(json.dumps({"builders": [builder]}))
    result = reprokit.check(path)
    assert result.spec["artifact"] == "disk"
    assert result.verdict == "identical", result.reason
    assert result.images[0].notes and "libguestfs appliance" in result.images[0].notes[0]
    assert not (template / "out").exists()  # built in temporary copies, removed
