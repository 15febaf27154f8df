"""The audit, drift and images on the real engine, with images made FROM the local busybox base."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import nbformat
import pytest
from conftest import execute_notebook, run_cli

import reprokit
from reprokit.engine import RUN_LABEL
from reprokit.sources.refs import parse_ref

pytestmark = pytest.mark.engine

KEY_ID = "AKIA" + uuid.uuid4().hex[:16].upper()
SECRET = base64.b64encode(os.urandom(30)).decode().replace("/", "x").replace("+", "y")
TEST_LABEL = "io.reprokit.test-audit"
HARDENED = {"network_mode": "none", "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}


def leaks(text: str, secret: str) -> list[str]:
    return [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in text]


@pytest.fixture(scope="module")
def build(client: docker.DockerClient, busybox: str, tmp_path_factory) -> Iterator:
    """``build(name, dockerfile)`` → a tag; every image built is removed after the module."""
    made: list[str] = []

    def make(name: str, dockerfile: str, files: dict[str, str] | None = None) -> str:
        ctx = tmp_path_factory.mktemp(name)
        (ctx / "Dockerfile").write_text(dockerfile.replace("BASE", busybox))
        for rel, text in (files or {}).items():
            (ctx / rel).write_text(text)
        tag = f"reprokit-audit-test/{name}:{uuid.uuid4().hex[:8]}"
        client.images.build(
            path=str(ctx), tag=tag, network_mode="none", rm=True, labels={TEST_LABEL: "1"}
        )
        made.append(tag)
        return tag

    yield make
    for tag in made:
        client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def buried(build) -> str:
    return build(
        "buried",
        "FROM BASE\n"
        "RUN mkdir -p /root/.aws /data /usr/bin"
        f" && printf '[default]\\naws_access_key_id = {KEY_ID}\\n"
        f"aws_secret_access_key = {SECRET}\\n' > /root/.aws/credentials"
        " && head -c 300000 /dev/zero > /big.bin && chmod 777 /data"
        " && head -c 2048 /dev/zero > /var/log/app.log"
        " && cp /bin/busybox /usr/bin/su-helper && chmod 4755 /usr/bin/su-helper\n"
        "RUN rm -rf /root/.aws /big.bin\n",
    )


@pytest.fixture(scope="module")
def clean(build) -> str:
    return build(
        "clean",
        "FROM BASE\n"
        "COPY app.sh /app/app.sh\n"
        "LABEL org.opencontainers.image.revision=0123abc"
        " org.opencontainers.image.source=https://example.com/app"
        " org.opencontainers.image.created=2026-01-01T00:00:00Z\n"
        "USER 10001:10001\n"
        'CMD ["/bin/sh", "/app/app.sh"]\n',
        files={"app.sh": "echo hello\n"},
    )


def test_secret_written_then_deleted_is_buried_and_redacted_everywhere(
    buried: str, tmp_path: Path, no_leftovers
):
    out = tmp_path / "audit.json"
    notebook = tmp_path / "report.ipynb"
    proc = run_cli("audit", buried, "--json", str(out), "--report", str(notebook))
    assert proc.returncode == 1, proc.stderr  # high findings
    report = json.loads(out.read_text())
    assert report["kind"] == "audit" and report["schema"] == "reprokit/v1"
    n = len(report["image"]["diff_ids"])
    aws = [f for f in report["findings"] if f["rule"] == "secret-aws-key"]
    by_where = {f["where"]: f for f in aws}
    assert by_where["buried"]["path"] == "/root/.aws/credentials"
    assert (by_where["buried"]["layer"], by_where["buried"]["removed_in"]) == (n - 2, n - 1)
    assert f"layer {n - 2}" in by_where["buried"]["message"]
    assert f"layer {n - 1}" in by_where["buried"]["message"]
    assert by_where["history"]["layer"] == n - 2  # the RUN step's text holds it too
    assert "…(40 chars)" in by_where["buried"]["evidence"]
    rules = {(f["rule"], f["path"]) for f in report["findings"]}
    assert ("root-user", "config.User") in rules
    assert ("setuid-file", "/usr/bin/su-helper") in rules
    assert ("world-writable", "/data") in rules
    assert ("wasted-bytes", "/big.bin") in rules
    assert ("cache-left", "/var/log") in rules
    result = reprokit.load(out)
    html = result.to_html()
    assert "<table>" in html and "secret-aws-key" in html
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    findings = next(c.source for c in nb.cells if c.source.startswith("## Findings"))
    assert "| high | secret-aws-key | buried layer " in findings
    written = [p.read_text() for p in (out, notebook, notebook.with_suffix(".json"))]
    for secret in (KEY_ID, SECRET):
        for text in (*written, proc.stdout, proc.stderr, html, result.text(100)):
            assert not leaks(text, secret), secret


@pytest.fixture(scope="module")
def env_key(build) -> str:
    return build(
        "env", f"FROM BASE\nENV AWS_ACCESS_KEY_ID={KEY_ID} AWS_SECRET_ACCESS_KEY={SECRET}\n"
    )


@pytest.fixture(scope="module")
def writer(build) -> str:
    return build(
        "writer",
        "FROM BASE\nRUN mkdir -p /data /var/cache\n"
        'CMD ["sh", "-c", "echo ok > /tmp/ok && mkdir /var/cache/app;'
        ' echo x > /data/out.txt; echo done"]\n',
    )


@pytest.fixture(scope="module")
def stateful(build) -> str:
    return build(
        "stateful", 'FROM BASE\nCMD ["sh", "-c", "echo state > /tmp/state && touch /etc/passwd"]\n'
    )


def test_aws_key_in_env_is_a_config_finding(env_key: str, no_leftovers):
    tag = env_key
    result = reprokit.audit(tag)
    found = [f for f in result.finding_records if f.rule.startswith("secret")]
    assert [(f.rule, f.severity, f.where, f.path) for f in found] == [
        ("secret-aws-key", "high", "config", "config.Env[AWS_SECRET_ACCESS_KEY]")
    ]
    assert not leaks(result.to_json() or "", SECRET) and not leaks(result.text(), KEY_ID)
    with pytest.raises(AssertionError, match="secret-aws-key"):
        reprokit.assert_no_findings(tag)


def test_clean_image_has_no_findings_and_dockerfile_pinning(clean: str, tmp_path: Path):
    result = reprokit.assert_no_findings(clean, severity="low")
    assert result.finding_records == [], result.text()
    assert result.findings.empty and result.stats["efficiency"] == 1.0
    unpinned = tmp_path / "Dockerfile.tag"
    unpinned.write_text("FROM reprokit-test/busybox:1\nUSER 10001\n")
    pinned = tmp_path / "Dockerfile.digest"
    pinned.write_text(f"FROM reprokit-test/busybox:1@sha256:{'5' * 64}\nUSER 10001\n")
    found = reprokit.audit(clean, dockerfile=unpinned).finding_records
    assert [(f.rule, f.severity, f.where, f.path) for f in found] == [
        ("base-unpinned", "medium", "dockerfile", f"{unpinned}:1")
    ]
    assert reprokit.audit(clean, dockerfile=pinned).finding_records == []
    proc = run_cli("audit", clean, "--dockerfile", str(unpinned), "--fail-on", "medium")
    assert proc.returncode == 1 and "base-unpinned" in proc.stdout


def test_readonly_runtime_reports_writes_outside_tmp(writer: str, no_leftovers):
    result = reprokit.audit(writer, runtime=True, timeout=20)
    writes = [f for f in result.finding_records if f.rule == "readonly-write"]
    assert sorted(f.path for f in writes) == ["/data/out.txt", "/var/cache/app"]
    assert all(f.where == "runtime" and "exited with status 0" in f.evidence for f in writes)
    assert "exited" in result.stats["runtime"]
    proc = run_cli("audit", "oci:/nonexistent", "--runtime")
    assert proc.returncode == 2 and proc.stderr.startswith("reprokit: error:")


def _wait_for(container, path: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c["Path"] == path for c in container.diff() or []):
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never appeared: {container.logs()!r}")


def test_drift_of_a_mutated_container(client, busybox, tmp_path: Path):
    script = (
        "echo 'listen 8080' > /etc/app.conf && echo 'app:x:1:1::/:/bin/sh' >> /etc/passwd"
        " && mkdir -p /usr/local/bin && cp /bin/busybox /usr/local/bin/tool"
        " && mkdir -p /srv && echo row > /srv/db.txt && touch /tmp/ready && sleep 120"
    )
    container = client.containers.run(
        busybox,
        ["sh", "-c", script],
        detach=True,
        environment={"EXTRA": "1"},
        tmpfs={"/scratch": ""},
        labels={RUN_LABEL: "test-" + uuid.uuid4().hex[:8]},
        **HARDENED,
    )
    try:
        _wait_for(container, "/tmp/ready")
        out = tmp_path / "drift.json"
        notebook = tmp_path / "nb.ipynb"
        proc = run_cli("drift", container.name, "--json", str(out), "--report", str(notebook))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        report = json.loads(out.read_text())
        assert report["kind"] == "drift"
        entries = {d["path"]: d for d in report["drift"]}
        assert entries["/etc/app.conf"]["change"] == "added"
        assert entries["/etc/app.conf"]["class"] == "configuration"
        assert entries["/etc/passwd"]["change"] == "changed"
        assert "content" in entries["/etc/passwd"]["fields"]
        assert entries["/usr/local/bin/tool"]["class"] == "software"
        busybox_sha = next(
            r.sha256
            for layer in parse_ref(busybox).read().layers
            if layer
            for r in layer.records
            if r.path == "/bin/busybox"
        )
        assert entries["/usr/local/bin/tool"]["sha256"] == busybox_sha
        assert entries["/tmp/ready"]["class"] == "runtime-state"
        assert entries["/srv/db.txt"]["class"] == "data"
        assert entries["config.Env[EXTRA]"]["class"] == "config"
        assert entries["config.Cmd"]["class"] == "config"  # the command was overridden
        assert entries["mount:/scratch"]["detail"] == "tmpfs mount"
        assert "/etc" not in entries  # a directory listed only because its contents changed
        result = reprokit.load(out)
        assert set(result.drift["class"]) >= {"runtime-state", "configuration", "software"}
    finally:
        container.remove(force=True)
    # the notebook re-runs from its JSON alone, with the container gone
    assert reprokit.load(notebook.with_suffix(".json")).drift_records == result.drift_records
    markdown = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells)
    name = container.name.replace("_", "\\_")  # Markdown-escaped, like every untrusted text
    assert markdown.startswith(f"# reprokit drift: container {name}\n")
    assert "| /etc/app.conf | added | configuration | — | yes |" in markdown
    assert "| /tmp/ready | added | runtime-state | — | no |" in markdown
    executed = execute_notebook(notebook)
    sources = [c.source for c in executed.cells if c.cell_type == "code"]
    assert sources[1:] == ["result.drift"]  # no findings: no findings table
    [frame] = [
        o.data["text/html"] for o in executed.cells[-1].outputs if o.output_type == "execute_result"
    ]
    assert "dataframe" in frame and "/usr/local/bin/tool" in frame and "mount:/scratch" in frame


def test_drift_of_runtime_state_only_passes(client, stateful: str):
    container = client.containers.run(
        stateful,
        detach=True,
        labels={RUN_LABEL: "test-" + uuid.uuid4().hex[:8]},
        **HARDENED,
    )
    try:
        container.wait(timeout=30)  # stopped containers drift too
        result = reprokit.drift(container.id)
        entries = {d.path: d for d in result.drift_records}
        assert entries["/tmp/state"].cls == "runtime-state"
        assert entries["/etc/passwd"].fields == ["mtime"]  # touched: same content
        assert result.ok, result.text()
        assert run_cli("drift", container.id).returncode == 0
    finally:
        container.remove(force=True)
    proc = run_cli("drift", "no-such-container-" + uuid.uuid4().hex[:6])
    assert proc.returncode == 2 and "no such container" in proc.stderr


def test_images_overview_is_read_only(client, clean: str, tmp_path: Path):
    before = {i["Id"] for i in client.api.images(all=True)}
    listing = reprokit.images()
    assert listing.kind == "images" and listing.ok
    frame = listing.images
    row = frame[frame["tags"].apply(lambda tags: clean in tags)].iloc[0]
    assert row["size"] > 0 and not row["dangling"] and row["containers"] == 0
    out = tmp_path / "images.json"
    proc = run_cli("images", "--json", str(out))
    assert proc.returncode == 0 and clean in proc.stdout
    listed = json.loads(out.read_text())
    assert listed["kind"] == "images" and any(clean in i["tags"] for i in listed["images"])
    assert {i["Id"] for i in client.api.images(all=True)} == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_runtime_check_removes_its_container(client, busybox, signum, no_leftovers):
    args = ["audit", busybox, "--runtime", "--command", "sleep 30", "--timeout", "60"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprokit", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the read-only container runs
        if client.api.containers(filters={"label": RUN_LABEL, "ancestor": busybox}):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("the read-only container never started")
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
