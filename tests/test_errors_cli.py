"""Every error is one line on stderr and exit status 2, and leaves nothing in the engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from conftest import engine_state, run_cli

import reprokit

pytestmark = pytest.mark.engine


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    first, *_ = proc.stderr.splitlines()
    assert first.startswith("reprokit: error: "), proc.stderr
    for needle in needles:
        assert needle in first, first
    return first


def test_missing_context(tmp_path, no_leftovers):
    proc = run_cli("check", str(tmp_path / "nope"))
    one_line_error(proc, "does not exist")
    assert len(proc.stderr.splitlines()) == 1


def test_report_directory_missing_fails_before_building(tmp_path, no_leftovers):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    proc = run_cli("check", str(tmp_path), "--json", str(tmp_path / "no" / "r.json"))
    one_line_error(proc, "does not exist")


def test_missing_dockerfile(tmp_path, no_leftovers):
    proc = run_cli("check", str(tmp_path), "-f", "Nope.Dockerfile")
    one_line_error(proc, "Nope.Dockerfile", "does not exist")


def test_bad_build_arg_and_bad_option(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    one_line_error(run_cli("check", str(tmp_path), "--build-arg", "=x"), "build arg")
    proc = run_cli("check", "--require", "perfect")
    one_line_error(proc, "--require")
    assert len(proc.stderr.splitlines()) == 1


def test_engine_unreachable(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    one_line_error(run_cli("check", str(tmp_path), env=env), "cannot reach the Docker Engine")
    one_line_error(run_cli("diff", "a:1", "b:1", env=env), "cannot reach the Docker Engine")


def test_image_not_found(busybox, no_leftovers):
    one_line_error(run_cli("diff", busybox, "reprokit-test/none:404"), "no such image")
    one_line_error(run_cli("diff", busybox, "oci:/nonexistent/layout"), "no such directory")
    one_line_error(run_cli("diff", busybox, "docker://busybox"), "not supported")
    one_line_error(
        run_cli("diff", busybox, busybox, "--platform", "linux/s390x"), "not linux/s390x"
    )
    one_line_error(run_cli("diff", busybox, busybox, "--platform", "s390x"), "os/arch")


def test_corrupt_and_truncated_archives(busybox, client, tmp_path, no_leftovers):
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(os.urandom(4096))
    one_line_error(run_cli("diff", busybox, f"docker-archive:{garbage}"), "garbage.tar")
    saved = tmp_path / "saved.tar"
    with open(saved, "wb") as f:
        for chunk in client.images.get(busybox).save():
            f.write(chunk)
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) // 2])
    one_line_error(run_cli("diff", f"docker-archive:{saved}", f"docker-archive:{truncated}"))
    # one flipped byte inside a layer is caught by the diff_id check (image A's layers are
    # always read; B's layers that A shares by diff_id are read once, from A)
    flipped = bytearray(data)
    with tarfile.open(saved) as tf:  # the largest member is the busybox layer
        layer = max(tf.getmembers(), key=lambda m: m.size)
    flipped[layer.offset_data + layer.size // 2] ^= 0xFF
    corrupt = tmp_path / "corrupt.tar"
    corrupt.write_bytes(bytes(flipped))
    first = one_line_error(run_cli("diff", f"docker-archive:{corrupt}", f"docker-archive:{saved}"))
    assert "corrupt" in first
    with pytest.raises(reprokit.ArchiveError):
        reprokit.compare(f"docker-archive:{saved}", f"docker-archive:{truncated}")


def test_build_failure_names_step_and_cleans_up(busybox, context, no_leftovers, tmp_path):
    ctx = context(
        f"FROM {busybox}\nRUN echo one > /one\nRUN echo about to fail && false\nRUN echo never\n"
    )
    report = tmp_path / "report.json"
    proc = run_cli("check", str(ctx), "--builder", "docker", "--json", str(report))
    first = one_line_error(proc, "build a failed at step", "RUN echo about to fail && false")
    assert "returned a non-zero code" in first  # the classic builder's message
    assert "about to fail" in proc.stderr  # the log tail follows the error line
    assert not report.exists()  # never a half-written report
    with pytest.raises(reprokit.BuildError) as info:
        reprokit.check(ctx)
    assert "false" in (info.value.step or "") and info.value.log_tail


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_build_removes_everything(busybox, context, client, signum):
    before_images, before_containers = engine_state(client)
    ctx = context(f"FROM {busybox}\nRUN echo first > /first\nRUN sleep 30\n")
    proc = subprocess.Popen(
        # the classic builder: its step runs in a container this test can wait for
        [sys.executable, "-m", "reprokit", "check", "--builder", "docker", str(ctx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the sleeping step's container runs
        if client.api.containers(filters={"ancestor": busybox}) or len(
            engine_state(client)[1] - before_containers
        ):
            break
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    deadline = time.monotonic() + 30  # the engine finishes cancelling the step on its own
    while time.monotonic() < deadline:
        images, containers = engine_state(client)
        if images <= before_images and containers <= before_containers:
            break
        time.sleep(0.5)
    assert images - before_images == set(), "images left behind"
    assert containers - before_containers == set(), "containers left behind"
