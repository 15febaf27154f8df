"""Builders, variations and engines on real engines: docker, buildx, buildah; culprits; runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from conftest import engine_state, run_cli
from engines import ExtraEngine, main_is_containerd, main_url

import reprokit
from reprokit.builders.buildx import IGNORED_REWRITE
from reprokit.runs import engine_url

pytestmark = pytest.mark.engine

# COPY into / : a directory COPY creates gets the build time on the classic store (BuildKit)
COPY_ONLY = "FROM scratch\nARG V=1\nLABEL v=$V\nCOPY a.txt /a.txt\n"


@pytest.fixture(scope="session")
def stores(client: docker.DockerClient) -> Iterator[dict[str, str | None]]:
    """``{"classic": URL, "containerd": URL}``: the main engine for its kind, an extra one
    (started here, stopped by pid at the end) for the other."""
    main_kind = "containerd" if main_is_containerd(client) else "classic"
    other = ExtraEngine("classic" if main_kind == "containerd" else "containerd").start()
    try:
        yield {main_kind: main_url(), other.kind: other.url}
    finally:
        other.stop()


def buildah_state() -> tuple[str, str]:
    images = subprocess.run(["buildah", "images", "-aq"], capture_output=True, text=True).stdout
    containers = subprocess.run(
        ["buildah", "containers", "-aq"], capture_output=True, text=True
    ).stdout
    return images, containers


def engine_leftovers(url: str | None, before: tuple[set[str], set[str]]) -> tuple[set, set]:
    client = docker.DockerClient(base_url=url) if url else docker.from_env()
    try:
        images, containers = engine_state(client)
    finally:
        client.close()
    return images - before[0], containers - before[1]


def state_of(url: str | None) -> tuple[set[str], set[str]]:
    client = docker.DockerClient(base_url=url) if url else docker.from_env()
    try:
        return engine_state(client)
    finally:
        client.close()


@pytest.fixture
def copy_ctx(context):
    return context(COPY_ONLY, files={"a.txt": "a\n"})


def test_copy_only_context_per_builder(copy_ctx, stores, no_leftovers):
    """equivalent with the classic builder; identical with buildah --timestamp and with buildx
    writing OCI with rewrite-timestamp on the containerd store, even with touched files."""
    classic = reprokit.check(copy_ctx, builder="docker", base_url=stores["classic"])
    assert classic.verdict == "equivalent", classic.text()
    assert classic.builds[0].builder == "docker" and classic.builds[0].version
    assert classic.builds[0].options["nocache"] is True
    # the classic builder keeps the context's mtimes: touched files are a culprit; its
    # creation times differ in the baseline already, so the clock is not
    search = reprokit.check(
        copy_ctx,
        builder="docker",
        base_url=stores["classic"],
        vary="context-mtime,time",
        delay=0.5,
        find_culprits=True,
    ).culprits
    assert search and search.baseline_verdict == "equivalent"
    assert search.breaking == ["context-mtime"]

    before_buildah = buildah_state()
    buildah = reprokit.check(copy_ctx, builder="buildah", source_date_epoch=0, vary="context-mtime")
    assert buildah.verdict == "identical", buildah.text()
    b = buildah.builds[1]
    assert b.builder == "buildah" and b.version and b.variations == ["context-mtime"]
    assert b.source.startswith("oci-archive:") and not os.path.exists(b.source[12:])
    assert "--timestamp" in b.options["command"] and b.options["isolation"] == "chroot"
    assert buildah_state() == before_buildah  # nothing left in buildah's storage

    url = stores["containerd"]
    before = state_of(url)
    buildx = reprokit.check(
        copy_ctx, builder="buildx", source_date_epoch=0, vary="context-mtime", base_url=url
    )
    assert buildx.verdict == "identical", buildx.text()
    x = buildx.builds[1]
    assert x.builder == "buildx" and "buildx" in x.version and x.variations == ["context-mtime"]
    output = x.options["command"][x.options["command"].index("--output") + 1]
    assert output.startswith("type=oci,") and output.endswith("rewrite-timestamp=true")
    assert x.options["env"] == {"SOURCE_DATE_EPOCH": "0"} and x.notes == []
    assert buildx.images[0].id == buildx.images[1].id
    assert engine_leftovers(url, before) == (set(), set())


def test_context_mtime_is_the_culprit_on_the_classic_store(copy_ctx, stores, tmp_path):
    url = stores["classic"]
    before = state_of(url)
    out = tmp_path / "culprits.json"
    proc = run_cli(
        "check", str(copy_ctx), "--builder", "buildx", "--source-date-epoch", "0",
        "--vary", "context-mtime,context-umask,context-path,time", "--vary-build-arg", "V",
        "--delay", "1", "--find-culprits", "--json", str(out),
        env={**os.environ, **({"DOCKER_HOST": url} if url else {})},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # different: the umask changes modes
    report = json.loads(out.read_text())
    search = report["culprits"]
    assert search["baseline_verdict"] == "identical"
    assert search["breaking"] == ["context-mtime", "context-umask", "build-arg=V"]
    by_name = {c["variation"]: c for c in search["culprits"]}
    mtime = by_name["context-mtime"]
    assert mtime["files"] == [{"path": "/a.txt", "fields": ["mtime"], "cause": "timestamp"}]
    assert "rewrite-timestamp was ignored" in mtime["explanation"]
    assert by_name["context-umask"]["files"][0]["fields"] == ["mode"]
    assert "config.Labels.v" in by_name["build-arg=V"]["config"]
    assert not by_name["time"]["breaks"] and not by_name["context-path"]["breaks"]
    assert IGNORED_REWRITE in report["builds"][0]["notes"]
    # baseline twice, all variations, then each of the five alone
    assert len(report["builds"]) == 8
    roles = [r["role"] for r in report["runs"]]
    assert roles == ["baseline", "all", "only", "only", "only", "only", "only"]
    assert "culprits: variation(s) that break reproducibility: context-mtime" in proc.stdout
    assert "rewrite-timestamp was ignored" in proc.stdout
    loaded = reprokit.load(out)
    assert loaded.text() == proc.stdout.rstrip("\n")  # the report renders as the run did
    assert loaded.culprits and loaded.culprits.breaking == search["breaking"]
    assert engine_leftovers(url, before) == (set(), set())


def test_engine_variation_builds_on_two_daemons(copy_ctx, stores, no_leftovers):
    main, other = main_url(), stores["containerd"] or stores["classic"]
    if other == main:
        other = stores["classic"]
    before_other = state_of(other)
    result = reprokit.check(
        copy_ctx, builder="buildx", source_date_epoch=0, engines=[other], find_culprits=True
    )
    a, b, c = result.builds
    assert (a.engine, b.engine, c.engine) == (main, main, other)
    assert c.variations == ["engine"] and result.culprits
    assert result.culprits.baseline_verdict == "identical"
    # the classic store keeps the context's mtime, the containerd store rewrites it to 0
    assert result.culprits.breaking == ["engine"], result.text()
    assert result.culprits.culprits[0].files[0]["fields"] == ["mtime"]
    assert engine_leftovers(other, before_other) == (set(), set())


def test_three_runs_of_random_bytes_all_disagree(busybox, context, no_leftovers, tmp_path):
    ctx = context(f"FROM {busybox}\nRUN head -c 32 /dev/urandom > /random.bin\n")
    out = tmp_path / "runs.json"
    proc = run_cli("check", str(ctx), "--runs", "3", "--json", str(out))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    assert [(r["a"], r["b"], r["verdict"]) for r in report["runs"]] == [
        ("a", "b", "different"),
        ("a", "c", "different"),
    ]
    builds = report["builds"]
    assert len({b["image_id"] for b in builds}) == 3
    for build in builds:
        assert set(build) >= {
            "builder", "version", "options", "variations", "engine", "image_id", "duration_s"
        }  # fmt: skip
        assert build["builder"] in ("buildx", "docker")
    assert "same image: a; b; c" in proc.stdout
    loaded = reprokit.load(out)
    assert loaded.text() == proc.stdout.rstrip("\n")
    assert [r.verdict for r in loaded.runs] == ["different", "different"]


def test_not_reproducible_even_under_identical_conditions(busybox, context, no_leftovers):
    ctx = context(f"FROM {busybox}\nRUN head -c 32 /dev/urandom > /random.bin\n")
    result = reprokit.check(ctx, vary="time", delay=0, find_culprits=True)
    assert result.verdict == "different" and len(result.builds) == 2
    assert result.culprits and result.culprits.conclusion.startswith(
        "not reproducible even under identical conditions"
    )
    assert "/random.bin" in result.culprits.conclusion


def test_buildx_failure_names_the_step(context, no_leftovers):
    ctx = context('FROM scratch\nCOPY a.txt /a.txt\nRUN ["/a.txt"]\n', files={"a.txt": "x"})
    with pytest.raises(reprokit.BuildError) as info:
        reprokit.check(ctx, builder="buildx")
    assert str(info.value).startswith('build a failed at step 2/2 (RUN ["/a.txt"])')
    assert info.value.log_tail


def test_buildah_failure_names_the_step_and_cleans_its_storage(context, tmp_path):
    ctx = context('FROM scratch\nCOPY a.txt /a.txt\nRUN ["/a.txt"]\n', files={"a.txt": "x"})
    before = buildah_state()
    with pytest.raises(reprokit.BuildError) as info:
        reprokit.check(ctx, builder="buildah")
    # buildah numbers the label instruction it appends as a step too: 3/4
    message = str(info.value)
    assert message.startswith('build a failed at step 3/4 (RUN ["/a.txt"]): '), message
    assert "exit status 1" in message and info.value.step == '3/4 RUN ["/a.txt"]'
    assert info.value.log_tail
    assert buildah_state() == before  # no image, no working container left


def test_suggestions_name_the_builder_and_command(copy_ctx, stores, no_leftovers):
    result = reprokit.check(copy_ctx, builder="docker", suggest=True, base_url=stores["classic"])
    assert result.verdict == "equivalent"
    text = "\n".join(result.suggestions)
    assert "--builder buildx --source-date-epoch 0" in text
    assert "rewrite-timestamp=true" in text
    # on the classic store buildx is identical only while the context keeps its mtimes
    assert "but note: rewrite-timestamp=true has no effect on the classic image store" in text
    assert "--builder buildah --source-date-epoch 0" in text and "--timestamp 0" in text
    assert "suggestion: with buildah" in result.text()


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_interrupt_stops_buildx_and_removes_everything(busybox, context, no_leftovers):
    ctx = context(f"FROM {busybox}\nRUN sleep 60\n", name="interrupted-buildx-ctx")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprokit", "check", "--builder", "buildx", str(ctx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not [
        p for p in _processes_mentioning(str(ctx)) if "buildx" in p
    ]:
        time.sleep(0.2)
    time.sleep(2)  # the RUN step is running in BuildKit
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert _processes_mentioning(str(ctx)) == []  # the buildx client was stopped


def test_engine_given_as_a_docker_context_name(stores):
    url = stores["containerd"] or stores["classic"]
    name = "rktest-context-" + os.urandom(4).hex()
    subprocess.run(
        ["docker", "context", "create", name, "--docker", f"host={url}"],
        check=True,
        capture_output=True,
    )
    try:
        assert engine_url(name) == url
        assert engine_url(url) == url
    finally:
        subprocess.run(["docker", "context", "rm", "-f", name], check=True, capture_output=True)
