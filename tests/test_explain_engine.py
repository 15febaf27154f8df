"""Explanations on real builds in the engine: every cause shows up where a build makes it."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import docker
import pytest
from conftest import run_cli

import reprokit
from reprokit.engine import RUN_LABEL
from reprokit.kinds import expanded

pytestmark = pytest.mark.engine

# A RUN step per family of causes. The second RUN writes a timestamp-based .pyc by hand
# (busybox has no Python): magic, flags 0, the build time as source mtime, a constant code
# object — as py_compile does for a source file generated during the build.
CAUSES_DOCKERFILE = r"""FROM {base}
COPY app/ /app/
RUN mkdir -p /var/log /var/cache/ldconfig /var/lib/apt/lists \
 && echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ)" > /var/log/build.log \
 && echo "built at $(date -u +%Y-%m-%dT%H:%M:%SZ) by ci" > /app/stamp.txt \
 && head -c 32 /dev/urandom > /var/cache/ldconfig/aux-cache \
 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > /etc/machine-id \
 && head -c 64 /dev/urandom > /var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease \
 && head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' > /app/token \
 && sleep 1
RUN t=$(date +%s) && o() {{ printf "\\$(printf '%03o' "$1")"; }} \
 && {{ printf '\247\015\015\012\000\000\000\000'; \
       o $((t & 255)); o $((t >> 8 & 255)); o $((t >> 16 & 255)); o $((t >> 24 & 255)); \
       printf '\030\000\000\000constant-code-object'; }} > /app/mod.pyc
"""


@pytest.fixture(scope="module")
def causes_context(tmp_path_factory, busybox) -> Path:
    ctx = tmp_path_factory.mktemp("causes")
    (ctx / "Dockerfile").write_text(CAUSES_DOCKERFILE.format(base=busybox))
    (ctx / "app").mkdir()
    (ctx / "app" / "hello.sh").write_text("echo hello\n")
    return ctx


def test_a_real_build_shows_each_cause_with_its_step(causes_context, no_leftovers):
    result = reprokit.check(causes_context)
    merged = {d.path: d for d in result.merged_records}
    expected = {
        "/var/log/build.log": "log-file",
        "/app/stamp.txt": "embedded-timestamp",
        "/var/cache/ldconfig/aux-cache": "ldconfig-cache",
        "/etc/machine-id": "identity",
        "/var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease": "package-manager-cache",
        "/app/token": "unexplained",
        "/app/mod.pyc": "python-bytecode",
    }
    assert {p: merged[p].cause for p in expected} == expected
    assert "timestamp-based pyc, code identical" in (merged["/app/mod.pyc"].evidence or "")
    assert "-built at 20" in (merged["/app/stamp.txt"].evidence or "")
    assert {d.cause for p, d in merged.items() if p not in expected} <= {"timestamp"}
    assert result.verdict == "different" and result.explained is False
    steps = {s.dockerfile_line: s for s in result.step_records}
    run_step, pyc_step = steps[3], steps[11]
    assert run_step.instruction.startswith("RUN mkdir -p")
    assert pyc_step.layer == run_step.layer + 1 == len(result.layer_records) - 1
    config = {c.field: c.cause for c in result.config_records}
    assert config["created"] == "image-metadata"
    assert config[f"rootfs.diff_ids[{run_step.layer}]"] == "layer-digest"
    base_layers = [layer for layer in result.layer_records if layer.index < run_step.layer - 1]
    assert base_layers and all(layer.same for layer in base_layers)
    for cause in ("log-file", "embedded-timestamp", "ldconfig-cache", "identity", "unexplained"):
        assert run_step.causes.get(cause), cause
    assert "rm -rf" in run_step.fix and "/var/log/build.log" in run_step.fix  # what differs
    assert "/var/cache/ldconfig/aux-cache" in run_step.fix
    assert "SOURCE_DATE_EPOCH" in run_step.fix
    assert "PYTHONDONTWRITEBYTECODE=1" in pyc_step.fix
    assert list(result.steps.columns) == [
        "layer", "instruction", "dockerfile_line", "causes", "fix",
    ]  # fmt: skip


def test_cli_groups_by_step_and_marks_ignored(causes_context, tmp_path, no_leftovers):
    report = tmp_path / "r.json"
    cli = run_cli("check", str(causes_context), "--ignore", "/app/token", "--json", str(report))
    assert cli.returncode == 1, cli.stderr  # logs and caches still differ in content
    out = cli.stdout
    assert "explained: every difference has a known cause" in out
    assert "ignored: 1 difference(s), reported but not counted" in out
    assert "fixes, by step:" in out and "(Dockerfile line 3) RUN mkdir -p" in out
    assert "causes: " in out and "log-file 1" in out
    data = expanded(json.loads(report.read_text()))
    assert data["explained"] is True
    token = [f for f in data["merged"] if f["path"] == "/app/token"]
    assert token and token[0]["ignored"] is True and token[0]["cause"] == "unexplained"
    assert {s["dockerfile_line"] for s in data["steps"]} >= {3, 11}


DRIFT_DOCKERFILE = """FROM {base}
ARG OWNER=0
ARG CURL=7.88.1-10
COPY app/ /app/
RUN chown "$OWNER" /app/owned.txt && mkdir -p /var/lib/dpkg \\
 && printf 'Package: curl\\nStatus: install ok installed\\nVersion: %s\\n\\n' "$CURL" \\
    > /var/lib/dpkg/status
"""


def _build(client: docker.DockerClient, ctx: Path, tag: str, args: dict[str, str]) -> None:
    client.images.build(
        path=str(ctx),
        tag=tag,
        buildargs=args,
        network_mode="none",
        labels={RUN_LABEL: "test-explain"},
        rm=True,
        forcerm=True,
    )


def test_permissions_ownership_and_dependency_drift_between_two_builds(
    client, busybox, tmp_path, no_leftovers
):
    """Two builds of one Dockerfile: B's checkout has group-writable files (umask 002), and
    its build args change an owner and a package version."""
    contexts = []
    for name, mode in (("a", 0o644), ("b", 0o664)):
        ctx = tmp_path / name
        (ctx / "app").mkdir(parents=True)
        (ctx / "Dockerfile").write_text(DRIFT_DOCKERFILE.format(base=busybox))
        for f in ("run.sh", "owned.txt"):
            (ctx / "app" / f).write_text(f"{f}\n")
            os.chmod(ctx / "app" / f, mode if f == "run.sh" else 0o644)
            os.utime(ctx / "app" / f, (1_700_000_000, 1_700_000_000))
        contexts.append(ctx)
    tags = ["reprokit-test-explain:a", "reprokit-test-explain:b"]
    try:
        _build(client, contexts[0], tags[0], {"OWNER": "0", "CURL": "7.88.1-10"})
        _build(client, contexts[1], tags[1], {"OWNER": "1000", "CURL": "7.88.1-10+deb12u5"})
        result = reprokit.compare(tags[0], tags[1], dockerfile=contexts[0] / "Dockerfile")
    finally:
        for tag in tags:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(tag, force=True)
    merged = {d.path: d for d in result.merged_records}
    assert merged["/app/run.sh"].cause == "permissions"
    assert merged["/app/run.sh"].evidence == "mode 0644 → 0664"
    assert merged["/app/owned.txt"].cause == "ownership"
    assert merged["/app/owned.txt"].evidence.startswith("owner 0:0 → 1000:0")
    status = merged["/var/lib/dpkg/status"]
    assert status.cause == "dependency-drift"
    assert status.evidence == "curl 7.88.1-10 → 7.88.1-10+deb12u5"
    steps = {s.layer: s for s in result.step_records}
    copy_step = next(s for s in steps.values() if s.instruction.startswith("COPY app/"))
    assert copy_step.dockerfile_line == 4 and copy_step.causes.get("permissions") == 1
    assert "COPY --chmod" in copy_step.fix
    run_step = next(s for s in steps.values() if s.dockerfile_line == 5)
    assert run_step.causes.get("dependency-drift") == 1 and "pin versions" in run_step.fix
