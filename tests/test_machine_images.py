"""rootfs-archive: and dir: sources, and the deployment audit (audit --deploy)."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import run_cli

import reprokit
from reprokit.auditing.deploy import MAX_BYTES, audit_deploy
from reprokit.errors import UsageError
from reprokit.sources.refs import parse_ref


def make_tree(root: Path, motd: str = "hello\n") -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "etc/motd").write_text(motd)
    (root / "usr/bin/tool").write_bytes(b"\x7fELF tool")
    os.chmod(root / "usr/bin/tool", 0o755)
    os.symlink("/etc/passwd", root / "etc/outside")  # never followed
    os.link(root / "etc/motd", root / "etc/motd.hard")
    for p in [root, *root.rglob("*")]:
        os.utime(p, (1700000000, 1700000000), follow_symlinks=False)
    return root


def test_dir_and_rootfs_archive_read_the_same_files(tmp_path: Path):
    tree = make_tree(tmp_path / "root")
    archive = tmp_path / "root.tar"
    subprocess.run(
        ["tar", "-C", str(tree), "--numeric-owner", "-cf", str(archive), "."], check=True
    )
    result = reprokit.compare(f"dir:{tree}", f"rootfs-archive:{archive}")
    assert result.verdict in ("identical", "equivalent"), result.reason
    assert not [d for d in result.merged_records if not d.ignored]
    image = parse_ref(f"dir:{tree}").read()
    paths = {r.path: r for r in image.layers[0].records}
    assert paths["/etc/outside"].type == "symlink" and "/etc/passwd" not in paths
    assert paths["/etc/motd.hard"].type == "hardlink"


def test_dir_difference_is_found_and_explained(tmp_path: Path):
    a = make_tree(tmp_path / "a")
    b = make_tree(tmp_path / "b", motd="built 2026-01-02 10:00:00\n")
    (a / "etc/motd").write_text("built 2026-01-01 09:00:00\n")
    result = reprokit.compare(f"dir:{a}", f"dir:{b}")
    assert result.verdict == "different"
    motd = next(d for d in result.merged_records if d.path == "/etc/motd")
    assert motd.cause == "embedded-timestamp"


def test_rootfs_archive_of_a_debootstrap_like_tree_is_audited(tmp_path: Path):
    tree = make_tree(tmp_path / "root")
    (tree / "root").mkdir()
    (tree / "root/.aws").mkdir()
    (tree / "root/.aws/credentials").write_text(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    archive = tmp_path / "root.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tree, arcname=".")
    found = reprokit.audit(f"rootfs-archive:{archive}")
    assert any(f.path == "/root/.aws/credentials" for f in found.finding_records)


def test_machine_transports_refuse_missing_paths(tmp_path: Path):
    for ref in (f"dir:{tmp_path}/none", f"rootfs-archive:{tmp_path}/none.tar"):
        with pytest.raises(UsageError):
            parse_ref(ref).read()
    with pytest.raises(UsageError):
        parse_ref("dir:")


DEPLOY = {
    "main.tf": """
data "aws_ami" "ubuntu" {
  most_recent = true
  filter {
    name   = "name"
    values = ["ubuntu/images/*"]
  }
}
resource "docker_container" "web" {
  image = "nginx:1.25"
}
resource "docker_container" "pinned" {
  image = "nginx@sha256:%s"
}
resource "aws_instance" "a" {
  ami = "ami-0123456789abcdef0"
}
"""
    % ("a" * 64),
    "compose.yaml": "services:\n  web:\n    image: redis\n  db:\n    image: postgres@sha256:%s\n"
    % ("b" * 64),
    "pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
    "  - name: a\n    image: busybox:latest\n",
    "golden.pkr.json": '{"source": {"amazon-ebs": {"x": {"source_ami_filter": {"most_recent": '
    'true}}}, "docker": {"d": {"image": "debian:bookworm", "commit": true}}}}',
}


def test_deploy_audit_reports_every_mutable_reference(tmp_path: Path):
    for name, text in DEPLOY.items():
        (tmp_path / name).write_text(text)
    findings, stats = audit_deploy([tmp_path])
    got = {
        (Path(f.path).name, f.rule, f.severity, int(f.where.rsplit(":", 1)[1])) for f in findings
    }
    assert got == {
        ("main.tf", "mutable-ami", "medium", 2),
        ("main.tf", "mutable-image-tag", "medium", 10),
        ("compose.yaml", "mutable-image-latest", "high", 3),
        ("pod.yaml", "mutable-image-latest", "high", 7),
        ("golden.pkr.json", "mutable-ami", "medium", 1),
        ("golden.pkr.json", "mutable-image-tag", "medium", 1),
    }
    assert stats["deploy_files"] == 4
    assert all("@sha256:<digest>" in f.fix or "ami-" in f.fix for f in findings)
    cli = run_cli("audit", "--deploy", str(tmp_path), "--fail-on", "high")
    assert cli.returncode == 1 and "mutable-image-latest" in cli.stdout
    json_out = tmp_path / "out.json"
    ok = run_cli("audit", "--deploy", str(tmp_path / "main.tf"), "--json", str(json_out))
    assert ok.returncode == 0, ok.stderr  # medium only, --fail-on high
    assert reprokit.load(json_out).kind == "audit"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bad.tf", 'resource "x" {\n  image = \n'),
        ("bad.yaml", "services: [\n"),
        ("bad.pkr.json", "{not json"),
        ("huge.yaml", "#" * (MAX_BYTES + 1)),
    ],
)
def test_deploy_audit_refuses_hostile_files_in_one_line(tmp_path: Path, name: str, text: str):
    (tmp_path / name).write_text(text)
    cli = run_cli("audit", "--deploy", str(tmp_path / name))
    assert cli.returncode == 2
    assert len(cli.stderr.strip().splitlines()) == 1 and name in cli.stderr
