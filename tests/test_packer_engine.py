"""Packer's docker builder, built twice by reprokit check (engine tests): reproducible and
not, commit and export_path, HCL2-JSON and legacy JSON; nothing left behind."""

from __future__ import annotations

import json
import shutil
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
