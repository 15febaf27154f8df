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


STATUS = "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15\n\n"


def golden_tree(root: Path, version: str = "5.2.15") -> Path:
    tree = make_tree(root)
    (tree / "var/lib/dpkg").mkdir(parents=True)
    (tree / "var/lib/dpkg/status").write_text(STATUS.replace("5.2.15", version))
    (tree / "etc/os-release").write_text("ID=golden\nVERSION_ID=1\n")
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:\n")
    return tree


def test_inventory_and_capture_replay_on_rootfs_archive_and_dir(tmp_path: Path):
    tree = golden_tree(tmp_path / "root")
    archive = tmp_path / "root.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tree, arcname=".")
    for ref in (f"dir:{tree}", f"rootfs-archive:{archive}"):
        inv = reprokit.inventory(ref)
        assert [(p.manager, p.name, p.version) for p in inv.package_records] == [
            ("dpkg", "bash", "5.2.15")
        ], ref
        assert inv.os["ID"] == "golden"
        assert {u["name"] for u in inv.user_records} >= {"root", "app"}
    spec = reprokit.capture(f"rootfs-archive:{archive}", ["/etc/motd", "/usr/bin/*"])
    assert reprokit.replay(f"dir:{tree}", spec).ok
    newer = golden_tree(tmp_path / "newer", version="5.2.21")
    replayed = reprokit.replay(f"dir:{newer}", spec)
    assert not replayed.ok
    assert any("bash" in m.fact for m in replayed.mismatch_records), replayed.mismatch_records
    out = tmp_path / "spec.json"
    cli = run_cli("capture", f"dir:{tree}", str(out), "--file", "/etc/motd")
    assert cli.returncode == 0, cli.stderr
    assert run_cli("replay", f"rootfs-archive:{archive}", str(out)).returncode == 0
    assert run_cli("replay", f"dir:{newer}", str(out)).returncode == 1
    inv_cli = run_cli("inventory", f"dir:{tree}")
    assert inv_cli.returncode == 0 and "bash" in inv_cli.stdout


def test_audit_of_a_dir_tree(tmp_path: Path):
    tree = golden_tree(tmp_path / "root")
    (tree / "root/.aws").mkdir(parents=True)
    (tree / "root/.aws/credentials").write_text(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    )
    (tree / "usr/bin/tool").chmod(0o4755)  # setuid
    (tree / "etc/open").write_text("x")
    (tree / "etc/open").chmod(0o666)  # world-writable
    found = reprokit.audit(f"dir:{tree}")
    rules = {(f.rule, f.path) for f in found.finding_records}
    paths = {p for _, p in rules}
    assert {"/root/.aws/credentials", "/usr/bin/tool", "/etc/open"} <= paths, rules
    cli = run_cli("audit", f"dir:{tree}", "--fail-on", "high")
    assert cli.returncode == 1 and "/root/.aws/credentials" in cli.stdout


def test_image_notes_are_reported_and_read_back_never_compared():
    from reprokit.model import ImageInfo

    note = "libguestfs appliance: tcg, booted in 21.0 s for 2 disks"
    info = ImageInfo("disk:a.raw", "sha256:1", ["sha256:2"], notes=[note])
    assert info.to_dict()["notes"] == [note]
    assert ImageInfo.from_dict(info.to_dict()) == info
    assert "notes" not in ImageInfo("dir:x", "sha256:1", []).to_dict()
