"""Parity on the real engine: hardened containers of both images, testinfra checks side by side,
the CLI, capture/replay and the package diff of compare, on locally made Debian images."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from conftest import run_cli

import reprokit
from reprokit.behaviour.checks import command, file, package, user
from reprokit.behaviour.runner import host_pair, run_checks
from reprokit.containers import ContainerError, Hardening, container_pair
from reprokit.engine import RUN_LABEL
from reprokit.errors import Cancelled

pytestmark = pytest.mark.engine

DEMO = "/usr/lib/python3/dist-packages/demo-{v}.dist-info"
APP = (
    "RUN useradd -m -u 1000 app && mkdir -p {d} && "
    "printf 'Metadata-Version: 2.1\\nName: demo\\nVersion: 1.2\\n' > {d}/METADATA\n"
).format(d=DEMO.format(v="1.2"))
LACKING = (
    "RUN dpkg -r --force-depends gpgv >/dev/null && mkdir -p {d} && "
    "printf 'Metadata-Version: 2.1\\nName: demo\\nVersion: 1.3\\n' > {d}/METADATA\n"
).format(d=DEMO.format(v="1.3"))

TESTS = """
def test_passwd(host):
    assert host.file("/etc/passwd").exists

def test_app_user(host):
    assert host.user("app").uid == 1000

def test_gpgv(host):
    assert host.package("gpgv").is_installed

def test_bash(host):
    assert host.file("/bin/bash").is_file
"""


def _build(client: docker.DockerClient, dockerfile: str, tag: str) -> str:
    client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()),
        tag=tag,
        nocache=True,
        rm=True,
        network_mode="none",
        labels={"io.reprokit.test": "parity"},
    )
    return tag


@pytest.fixture(scope="module")
def debian_pair(client: docker.DockerClient, debian: str) -> Iterator[dict[str, str]]:
    """``a`` and ``a2`` (the same Dockerfile built twice) and ``b`` (no user app, no gpgv)."""
    run = uuid.uuid4().hex[:8]
    tags = {
        "a": _build(client, f"FROM {debian}\n{APP}", f"reprokit-test/parity-a:{run}"),
        "a2": _build(client, f"FROM {debian}\n{APP}", f"reprokit-test/parity-a2:{run}"),
        "b": _build(client, f"FROM {debian}\n{LACKING}", f"reprokit-test/parity-b:{run}"),
    }
    yield tags
    for tag in tags.values():
        client.images.remove(tag, force=True)


CHECKS = [
    file("/etc/passwd"),
    file("/bin/bash"),
    user("app"),
    user("root"),
    package("bash"),
    package("gpgv"),
    command("id -u app"),
]


def test_parity_holds_on_a_pair_that_agrees(debian_pair, no_leftovers):
    result = reprokit.parity(debian_pair["a"], debian_pair["a2"], CHECKS)
    assert result.ok, result.text()
    frame = result.parity
    assert list(frame["same"]) == [True] * len(CHECKS)
    app = frame.set_index("test").loc["user app"]
    assert "uid=1000" in app["a"] and app["a"] == app["b"]  # flat cells (reprokit.frames)
    assert result.image_ids[0] != result.image_ids[1]  # two builds, one behaviour


def test_parity_shows_which_check_differs(debian_pair, tmp_path: Path, no_leftovers):
    result = reprokit.parity(debian_pair["a"], debian_pair["b"], CHECKS)
    differing = {e.name for e in result.parity_records if not e.same}
    assert differing == {"user app", "package gpgv", "run id -u app", "file /etc/passwd"}
    entry = {e.name: e for e in result.parity_records}["package gpgv"]
    assert entry.a.value["installed"] is True and entry.b.value == {"installed": False}
    assert not result.ok and not result.errors
    text = result.text()
    assert "DIFF user app" in text and "same package bash" in text

    tests = tmp_path / "test_infra.py"
    tests.write_text(TESTS)
    report = tmp_path / "parity.json"
    done = run_cli("parity", debian_pair["a"], debian_pair["b"], str(tests), "--json", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads(report.read_text())
    rows = {row["test"].split("::")[-1]: row for row in data["parity"]}
    assert rows["test_app_user"] == {
        "test": rows["test_app_user"]["test"],
        "a": "passed",
        "b": "failed",
        "same": False,
        "message_b": rows["test_app_user"]["message_b"],
    }
    assert rows["test_gpgv"]["b"] == "failed" and rows["test_bash"]["same"] is True
    assert "DIFF test_infra.py::test_app_user" in done.stdout

    agree = run_cli("parity", debian_pair["a"], debian_pair["a2"], str(tests))
    assert agree.returncode == 0, agree.stdout + agree.stderr
    assert "parity: HOLDS — 4/4 tests agree" in agree.stdout


def test_package_diff_in_compare(debian_pair, tmp_path: Path):
    result = reprokit.compare(debian_pair["a"], debian_pair["b"])
    rows = {(r.manager, r.name): r for r in result.package_records}
    assert set(rows) == {("dpkg", "gpgv"), ("python", "demo")}
    assert rows["dpkg", "gpgv"].change == "removed" and rows["dpkg", "gpgv"].b is None
    assert (rows["python", "demo"].a, rows["python", "demo"].b) == ("1.2", "1.3")
    assert list(result.packages.columns) == ["manager", "name", "change", "a", "b"]
    assert "packages: 2 differ (1 changed, 1 removed)" in result.text()
    path = tmp_path / "r.json"
    result.to_json(path)
    assert json.loads(path.read_text())["packages"][0]["name"] in ("gpgv", "demo")
    assert reprokit.load(path).text() == result.text()
    same = reprokit.compare(debian_pair["a"], debian_pair["a2"])
    assert same.package_records == [] and same.verdict != "identical"


def test_capture_on_a_and_replay_on_b(debian_pair, tmp_path: Path):
    spec = tmp_path / "facts.toml"
    done = run_cli(
        "capture", debian_pair["a"], str(spec), "--file", "/etc/passwd", "--file", "/bin/bash"
    )
    assert done.returncode == 0, done.stderr
    assert 'schema = "reprokit/facts-v1"' in spec.read_text()
    same = run_cli("replay", debian_pair["a2"], str(spec))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "replay: MATCHES" in same.stdout
    out = tmp_path / "replay.json"
    differs = run_cli("replay", debian_pair["b"], str(spec), "--json", str(out))
    assert differs.returncode == 1, differs.stderr
    facts = {m["fact"] for m in json.loads(out.read_text())["mismatches"]}
    assert {"package dpkg gpgv", "package python demo", "user app", "group app"} <= facts
    assert "file /etc/passwd" in facts and "file /bin/bash" not in facts


def test_dead_container_is_an_error_not_a_pass(client, busybox, no_leftovers):
    checks = [file("/etc/passwd"), file("/does/not/exist"), command("true")]
    with host_pair(busybox, busybox) as pair:
        client.api.kill(pair.containers[1].id)
        entries = run_checks(checks, (pair.a, pair.b), pair.containers)
    for entry in entries:
        assert entry.a.status == "ok"
        assert entry.b.status == "error" and "no longer running" in entry.b.message
        assert not entry.same  # "file does not exist" on a dead container is not a match
    assert entries[1].a.value == {"exists": False}


def test_containers_are_hardened_and_labelled(client, busybox, no_leftovers):
    with container_pair(busybox, busybox, hardening=Hardening(read_only=True)) as (a, b):
        info = client.api.inspect_container(a.id)
        host = info["HostConfig"]
        assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["PidsLimit"] == 256 and host["Memory"] == 512 << 20
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"]
        assert RUN_LABEL in info["Config"]["Labels"]
        assert a.exec("touch /x").rc != 0 and a.exec("touch /tmp/x").rc == 0
        assert b.exec("ls /sys/class/net").stdout.split() == [b"lo"]


def test_ctrl_c_during_checks_removes_everything(busybox, no_leftovers):
    def interrupt(host):
        raise KeyboardInterrupt

    with pytest.raises(Cancelled):
        reprokit.parity(busybox, busybox, {"interrupt": interrupt})


def test_shell_less_image_fails_with_a_clear_message(client, context, no_leftovers):
    from reprokit.example import find_static_busybox

    ctx = context("FROM scratch\nCOPY busybox /bin/sleep\nCOPY hello /hello\n", {"hello": "hi"})
    (ctx / "busybox").write_bytes(Path(find_static_busybox()).read_bytes())
    (ctx / "busybox").chmod(0o755)
    no_sleep = context("FROM scratch\nCOPY hello /hello\n", {"hello": "hi"}, name="bare")
    tags = [f"reprokit-test/shell-less:{uuid.uuid4().hex[:8]}-{n}" for n in "ab"]
    client.images.build(path=str(ctx), tag=tags[0], network_mode="none", rm=True)
    client.images.build(path=str(no_sleep), tag=tags[1], network_mode="none", rm=True)
    try:
        with pytest.raises(ContainerError, match=r"no usable /bin/sh"):
            reprokit.parity(tags[0], tags[0], [command("true")])
        done = run_cli("parity", tags[1], tags[1], str(ctx))
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "the image has no `sleep`" in done.stderr
        assert "Traceback" not in done.stderr
        inv = reprokit.inventory(tags[1])  # the filesystem is still readable without a shell
        assert inv.package_records == [] and inv.user_records == []
    finally:
        for tag in tags:
            client.images.remove(tag, force=True)


def test_images_from_archives_are_loaded_for_the_run_and_removed(
    client, busybox, tmp_path: Path, no_leftovers
):
    import tarcraft as tc

    from reprokit.example import find_static_busybox

    saved = tmp_path / "busybox.tar"
    with saved.open("wb") as out:
        for chunk in client.api.get_image(busybox):
            out.write(chunk)
    applets = ["sh", "sleep", "cat", "test", "[", "stat", "sha256sum"]
    layer = tc.make_layer(
        [
            tc.directory("bin"),
            tc.file("bin/busybox", Path(find_static_busybox()).read_bytes(), mode=0o755),
            *(tc.symlink(f"bin/{name}", "busybox") for name in applets),
            tc.directory("etc"),
            tc.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
            tc.directory("tmp", mode=0o1777),
        ],
        "gzip",
    )
    layout = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([layer])])
    archive = tc.tar_directory(layout, tmp_path / "oci.tar")
    checks = [command("cat /etc/passwd"), file("/bin/busybox"), file("/etc/passwd")]
    result = reprokit.parity(f"docker-archive:{saved}", f"oci-archive:{archive}", checks)
    assert result.ok, result.text()
    assert result.image_ids[1] == tc.sha256_digest(tc.config_bytes(tc.image_config([layer])))
    assert not client.api.images(name="reprokit-parity")


def test_ctrl_c_during_the_cli_run_removes_everything(busybox, tmp_path: Path, no_leftovers):
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "test_slow.py").write_text(
        "def test_slow(host):\n    assert host.run('sleep 60').rc == 0\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprokit", "parity", busybox, busybox, str(tmp_path)],
        start_new_session=True,  # a process group, as a terminal's Ctrl-C signals it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # containers started, both pytest workers inside `sleep 60`
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
