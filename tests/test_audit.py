"""The audit on crafted images (no engine): secrets in every layer, buried ones, redaction,
config/history/Dockerfile checks, practice rules, JSON round trip, CLI exit codes."""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
import tarcraft as tc
from conftest import execute_notebook, run_cli

import reprokit
from reprokit.auditing import dockerfile as df
from reprokit.auditing.drift import classify
from reprokit.auditing.runtime import written_paths
from reprokit.auditing.secrets import redact_text
from reprokit.errors import UsageError
from reprokit.explain.steps import parse_dockerfile

KEY_ID = "AKIA" + uuid.uuid4().hex[:16].upper()
# 40 characters like an AWS secret key; "/" and "+" only in the middle, where they cannot
# start a value (a value starting with "/" reads as a path) or end a URL password
SECRET = base64.b64encode(os.urandom(15), altchars=b"xy").decode() + "/K7+"
SECRET += base64.b64encode(os.urandom(12), altchars=b"xy").decode()
TOKEN = "ghp_" + uuid.uuid4().hex + uuid.uuid4().hex[:4]
CREDENTIALS = f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"


def leaks(text: str, secret: str) -> list[str]:
    """The 8-character pieces of ``secret`` found in ``text`` (the whole secret included)."""
    return [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in text]


def archive(tmp_path: Path, layers, config: dict | None = None, steps=None) -> str:
    made = [tc.make_layer(members) for members in layers]
    cfg = tc.image_config(made)
    if steps:
        cfg["history"] = [{"created_by": s} for s in steps]
    if config:
        cfg["config"].update(config)
    path = tc.write_docker_archive(tmp_path / f"img-{uuid.uuid4().hex[:6]}.tar", made, cfg)
    return f"docker-archive:{path}"


def by_rule(result, rule: str):
    return [f for f in result.finding_records if f.rule == rule]


def test_secret_deleted_later_is_buried_with_both_layers_and_never_leaks(tmp_path: Path):
    ref = archive(
        tmp_path,
        [
            [tc.directory("etc"), tc.file("etc/os-release", b"ID=test\n")],
            [
                tc.directory("root/.aws"),
                tc.file("root/.aws/credentials", CREDENTIALS.encode(), mode=0o600),
                tc.file("app/.env", f"DB_PASSWORD={SECRET[:12]}\nDEBUG=1\n".encode()),
                tc.file("srv/cache/token.txt", f"token {TOKEN}\n".encode()),
            ],
            [tc.whiteout("root/.aws"), tc.file("app/.env", b"DEBUG=1\n"), tc.opaque("srv/cache")],
            [tc.file("home/u/.ssh/id_ed25519", b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blb\n")],
            # a chmod in a later layer copies the file up: still the same (final) secret
            [
                tc.file(
                    "home/u/.ssh/id_ed25519",
                    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blb\n",
                    mode=0o600,
                )
            ],
        ],
        steps=["ADD base", f"RUN write {KEY_ID}", "RUN rm -rf /root/.aws", "COPY key", "RUN chmod"],
    )
    result = reprokit.audit(ref)
    aws = by_rule(result, "secret-aws-key")
    assert [(f.where, f.layer, f.removed_in, f.path) for f in aws] == [
        ("buried", 1, 2, "/root/.aws/credentials")
    ]
    assert "added in layer 1" in aws[0].message and "in layer 2" in aws[0].message
    # the secret key beside it makes the file's key id part of the high finding; the step
    # text (history) holds the key id alone
    assert [f.where for f in by_rule(result, "secret-aws-key-id")] == ["history"]
    env = by_rule(result, "secret-assignment")
    assert [(f.where, f.path, f.removed_in) for f in env] == [("buried", "/app/.env", 2)]
    token = by_rule(result, "secret-api-token")
    assert [(f.where, f.path, f.removed_in) for f in token] == [
        ("buried", "/srv/cache/token.txt", 2)
    ]
    key = by_rule(result, "secret-private-key")
    assert [(f.where, f.layer, f.severity) for f in key] == [("final", 4, "high")]
    assert not result.ok  # fail_on defaults to high
    outputs = [result.to_json() or "", result.text(), result.to_html(), repr(result)]
    for secret in (KEY_ID, SECRET, SECRET[:12], TOKEN):
        for out in outputs:
            assert not leaks(out, secret), (secret, out)
    assert aws[0].evidence.startswith("AWS secret access key ")
    assert "…(40 chars)" in aws[0].evidence


def test_credentials_files_of_each_kind(tmp_path: Path):
    files = {
        "root/.npmrc": f"//registry.npmjs.org/:_authToken={SECRET}\n",
        "root/.pypirc": f"[pypi]\nusername = __token__\npassword = {SECRET}\n",
        "root/.git-credentials": f"https://bot:{TOKEN[4:24]}@git.example.com\n",
        "root/.docker/config.json": json.dumps({"auths": {"r.io": {"auth": SECRET}}}),
        "root/.kube/config": f"kind: Config\nusers:\n- user:\n    token: {SECRET}\n",
        "srv/app/deploy.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE",
        # not secrets: references, empty values, placeholders
        "home/a/.npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
        "home/a/.env": "PASSWORD_FILE=/run/secrets/db\nAPI_TOKEN=\nLOG_LEVEL=debug\n",
        "usr/share/doc/readme.txt": "set aws_secret_access_key in ~/.aws/credentials\n",
    }
    ref = archive(tmp_path, [[tc.file(p, t.encode()) for p, t in files.items()]])
    result = reprokit.audit(ref)
    secrets = {(f.rule, f.path) for f in result.finding_records if f.rule.startswith("secret")}
    assert secrets == {
        ("secret-npmrc", "/root/.npmrc"),
        ("secret-pypirc", "/root/.pypirc"),
        ("secret-git-credentials", "/root/.git-credentials"),
        ("secret-docker-config", "/root/.docker/config.json"),
        ("secret-kubeconfig", "/root/.kube/config"),
        ("secret-private-key", "/srv/app/deploy.pem"),
    }
    assert all(
        f.where == "final" and f.severity == "high"
        for f in result.finding_records
        if f.rule.startswith("secret")
    )
    assert not leaks(result.to_json() or "", SECRET)


def test_config_env_labels_and_build_arg_history(tmp_path: Path):
    ref = archive(
        tmp_path,
        [[tc.file("app/run.sh", b"#!/bin/sh\n")], [tc.file("app/x", b"x")]],
        config={
            "Env": ["PATH=/bin", f"AWS_ACCESS_KEY_ID={KEY_ID}", f"AWS_SECRET_ACCESS_KEY={SECRET}"],
            "Labels": {"ci.token": TOKEN},
        },
        steps=[
            "COPY run.sh /app/",
            f"|2 NPM_TOKEN={SECRET[:16]} VERSION=1 /bin/sh -c npm ci",
        ],
    )
    result = reprokit.audit(ref)
    got = {(f.rule, f.where, f.path) for f in result.finding_records if f.rule.startswith("secret")}
    assert got == {
        ("secret-aws-key", "config", "config.Env[AWS_SECRET_ACCESS_KEY]"),
        ("secret-api-token", "config", "config.Labels[ci.token]"),
        ("secret-build-arg", "history", "history[1]"),
    }
    build_arg = by_rule(result, "secret-build-arg")[0]
    assert build_arg.layer == 1 and build_arg.evidence.startswith("NPM_TOKEN=")
    for secret in (KEY_ID, SECRET, TOKEN):
        assert not leaks(result.to_json() or "", secret)
        assert not leaks(result.text(), secret)


def test_practice_rules_on_a_crafted_image(tmp_path: Path):
    big = bytes(200_000)
    ref = archive(
        tmp_path,
        [
            [
                tc.directory("tmp", mode=0o1777),
                tc.directory("data", mode=0o777),
                tc.file("usr/bin/helper", b"\x7fELF", mode=0o4755),
                tc.file("usr/bin/grp", b"\x7fELF", mode=0o2755),
                tc.symlink("usr/bin/sh", "busybox"),
                tc.file("opt/big.bin", big),
                tc.file("var/lib/apt/lists/deb.debian.org_Packages", bytes(5000)),
            ],
            [tc.whiteout("opt/big.bin"), tc.file("tmp/scratch", b"x", mode=0o666)],
        ],
        config={"User": "0"},
    )
    result = reprokit.audit(ref)
    rules = {(f.rule, f.path) for f in result.finding_records}
    assert ("setuid-file", "/usr/bin/helper") in rules and ("setuid-file", "/usr/bin/grp") in rules
    assert ("world-writable", "/data") in rules
    assert not any(r == "world-writable" and p.startswith("/tmp") for r, p in rules)
    assert ("root-user", "config.User") in rules
    assert ("traceability-labels", "config.Labels") in rules
    waste = by_rule(result, "wasted-bytes")
    assert [(f.path, f.layer, f.removed_in) for f in waste] == [("/opt/big.bin", 0, 1)]
    assert ("cache-left", "/var/cache/apt/archives") in rules
    assert result.stats["wasted_bytes"] == len(big)
    assert 0 < result.stats["efficiency"] < 1
    assert result.ok and not replace(result, fail_on="medium").ok
    quiet = reprokit.audit(ref, disable=["root-user", "setuid-file"])
    assert not by_rule(quiet, "root-user") and not by_rule(quiet, "setuid-file")
    assert quiet.disabled == ["root-user", "setuid-file"]
    with pytest.raises(reprokit.UsageError, match="unknown rule"):
        reprokit.audit(ref, disable=["no-such-rule"])


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("FROM busybox", "base-latest"),
        ("FROM registry.local:5000/team/app:latest", "base-latest"),
        ("FROM registry.local:5000/team/app", "base-latest"),
        ("FROM --platform=$BUILDPLATFORM debian:bookworm AS build", "base-unpinned"),
        ("ARG BASE=debian:12\nFROM ${BASE}", "base-build-arg"),
        ("FROM debian:bookworm@sha256:" + "ab" * 32, None),
        ("FROM scratch", None),
    ],
)
def test_dockerfile_base_pinning(tmp_path: Path, line: str, rule: str | None):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"# syntax=docker/dockerfile:1\n{line}\nRUN true\n")
    ref = archive(tmp_path, [[tc.file("x", b"x")]])
    result = reprokit.audit(ref, dockerfile=dockerfile)
    found = [f for f in result.finding_records if f.rule.startswith("base-")]
    assert [f.rule for f in found] == ([rule] if rule else [])
    if rule:
        assert (
            found[0].where == "dockerfile"
            and found[0].path == f"{dockerfile}:{line.count(chr(10)) + 2}"
        )


def test_dockerfile_helpers():
    text = "FROM a:1 AS build\nRUN x \\\n  && y\nFROM build\nCOPY --from=build /a /a\n"
    assert [(i.line, i.keyword) for i in parse_dockerfile(text)] == [
        (1, "FROM"),
        (2, "RUN"),
        (4, "FROM"),
        (5, "COPY"),
    ]
    assert [b.image for b in df.bases(text)] == ["a:1"]


def test_secrets_in_the_dockerfile_are_reported_redacted(tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM x@sha256:{'0' * 64}\nENV GITHUB_TOKEN={TOKEN}\n")
    result = reprokit.audit(archive(tmp_path, [[tc.file("x", b"x")]]), dockerfile=dockerfile)
    found = [(f.rule, f.where, f.path) for f in result.finding_records if f.where == "dockerfile"]
    assert ("secret-api-token", "dockerfile", f"{dockerfile}:2") in found
    assert not leaks(result.to_json() or "", TOKEN)


def test_report_loads_back_and_cli_exit_codes(tmp_path: Path):
    ref = archive(tmp_path, [[tc.file("etc/app.conf", b"x")]], config={"User": "1000"})
    out = tmp_path / "audit.json"
    proc = run_cli("audit", ref, "--json", str(out))
    assert proc.returncode == 0, proc.stderr  # only a low finding (labels)
    assert proc.stdout.startswith("reprokit audit: ")
    report = json.loads(out.read_text())
    assert report["schema"] == "reprokit/v1" and report["kind"] == "audit"
    assert {f["rule"] for f in report["findings"]} == {"traceability-labels"}
    assert set(report["findings"][0]) >= {
        "rule",
        "severity",
        "where",
        "layer",
        "path",
        "message",
        "fix",
        "evidence",
    }
    loaded = reprokit.load(out)
    assert isinstance(loaded, reprokit.AuditResult)
    assert loaded.text() == reprokit.audit(ref).text()
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**report, "schema": "reprokit/v0"}))
    with pytest.raises(reprokit.ReportError, match="reprokit/v0"):
        reprokit.load(wrong)
    assert run_cli("audit", ref, "--fail-on", "low").returncode == 1
    bad = run_cli("audit", f"docker-archive:{tmp_path}/missing.tar")
    assert bad.returncode == 2 and bad.stderr.startswith("reprokit: error:")
    assert len(bad.stderr.strip().splitlines()) == 1
    rule = run_cli("audit", ref, "--disable", "nope")
    assert rule.returncode == 2 and "unknown rule" in rule.stderr


def test_readonly_log_parsing_and_drift_classes():
    assert written_paths(
        [
            "mkdir: can't create directory '/var/cache/app': Read-only file system",
            "touch: /etc/app.pid: Read-only file system",
            "sh: can't create /tmp/ok: Read-only file system",
            "nothing here /usr/bin",
        ]
    ) == ["/var/cache/app", "/etc/app.pid"]
    assert classify("/var/lib/dpkg/status") == "software"
    assert classify("/home/u/.cache/pip/x") == "runtime-state"
    assert classify("/etc") == "configuration"
    assert classify("/var/lib/postgresql/data") == "data"


def test_hostile_names_are_escaped_in_every_rendering(tmp_path: Path):
    name = "srv/<img src=x onerror=alert(1)>|`x`\x1b[2J"
    ref = archive(tmp_path, [[tc.file(name, b"x", mode=0o666)]], config={"User": "1"})
    result = reprokit.audit(ref)
    [finding] = by_rule(result, "world-writable")
    assert finding.path == "/" + name
    assert "<img" not in result.to_html() and "&lt;img" in result.to_html()
    assert "\x1b" not in result.text() and "\\x1b[2J" in result.text()
    report = tmp_path / "audit.md"
    proc = run_cli("audit", ref, "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in report.read_text().splitlines() if "world-writable" in line)
    assert "<img" not in row and "\\|" in row and "\x1b" not in row
    page = tmp_path / "audit.html"
    assert run_cli("audit", ref, "--report", str(page)).returncode == 0
    assert page.read_text().lower().startswith("<!doctype html>") and "<img" not in page.read_text()
    bad = run_cli("audit", ref, "--report", str(tmp_path / "audit.pdf"))
    assert bad.returncode == 2 and not (tmp_path / "audit.pdf").exists()


HOSTILE = "srv/<img src=x onerror=alert(1)>|`x`[a](b)\x1b[2J"


def hostile_buried_archive(tmp_path: Path) -> str:
    """A credentials file deleted by the next layer (buried) beside a hostile file name."""
    return archive(
        tmp_path,
        [
            [tc.directory("root/.aws"), tc.file("root/.aws/credentials", CREDENTIALS.encode())],
            [tc.whiteout("root/.aws"), tc.file(HOSTILE, b"x", mode=0o666)],
        ],
        steps=["RUN write credentials", "RUN rm -rf /root/.aws"],
    )


def code_outputs(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_audit_notebook_is_escaped_redacted_and_reruns_without_an_engine(tmp_path: Path):
    result = reprokit.audit(hostile_buried_archive(tmp_path))
    with pytest.raises(UsageError, match=r"\.ipynb"):
        result.to_notebook(tmp_path / "audit.json")  # would overwrite its own data
    assert not (tmp_path / "audit.json").exists()
    notebook = tmp_path / 'it\'s a "report"; $(x).ipynb'  # the name is quoted in the code
    json_path = result.to_notebook(notebook)
    assert json_path == notebook.with_suffix(".json")
    assert reprokit.load(json_path).finding_records == result.finding_records
    text = notebook.read_text()
    for secret in (KEY_ID, SECRET):
        assert not leaks(text, secret) and not leaks(json_path.read_text(), secret), secret
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert markdown.startswith("# reprokit audit: docker-archive:")
    summary = result.summary
    assert f"| high | {summary['high']} |" in markdown and summary["high"] >= 1
    assert f"| all | {summary['findings']} |" in markdown
    findings = markdown.split("## Findings", 1)[1].split("## Fixes per rule", 1)[0]
    rows = [line for line in findings.splitlines() if line.startswith("| ")]
    buried = "| high | secret-aws-key | buried layer 0→1 | /root/.aws/credentials |"
    assert buried in "\n".join(rows)
    [hostile] = [row for row in rows if "world-writable" in row]
    assert "<img" not in markdown and "&lt;img src=x" in hostile and "\x1b" not in markdown
    assert r"\|\`x\`\[a\](b)\\x1b\[2J" in hostile  # no cell break, code, link, escape
    fixes = markdown.split("## Fixes per rule", 1)[1].splitlines()
    fix_rows = [line for line in fixes if line.startswith("| ") and "| rule |" not in line]
    rules = {f.rule for f in result.finding_records}
    assert sorted(row.split(" | ")[0][2:] for row in fix_rows) == sorted(rules)  # one a rule
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    assert sources == [
        f"import reprokit\nresult = reprokit.load({json_path.name!r})\nresult",
        "result.findings",
    ]
    prefilled = [o.data["text/html"] for o in code_outputs(nb)]
    root = "reprokit-report tex2jax_ignore mathjax_ignore rk-audit"
    assert root in prefilled[0] and "dataframe" in prefilled[1]

    executed = execute_notebook(notebook)  # (each cell within its timeout)
    outputs = code_outputs(executed)
    assert not [o for o in outputs if o.output_type == "error"]
    htmls = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(htmls) == 2 and "reprokit-report tex2jax_ignore mathjax_ignore rk-audit" in htmls[0]
    table = htmls[1]  # the findings DataFrame, from the JSON alone
    assert "<table" in table and "dataframe" in table
    for f in result.finding_records:
        assert f">{f.rule}<" in table
    assert "&lt;img src=x" in table
    for page in htmls:
        assert "<img" not in page and "<script" not in page
        assert not leaks(page, SECRET) and not leaks(page, KEY_ID)


def test_cli_audit_reports_by_extension_and_report_converts_them(tmp_path: Path):
    ref = hostile_buried_archive(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli(
        "audit", ref, "--report", str(out / "a.ipynb"), "--report", str(out / "a.md"),
        "--report", str(out / "r.json"), "--report", str(out / "a.html"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # the buried AWS key is high
    assert proc.stderr == "" and proc.stdout.startswith("reprokit audit: ")
    written = sorted(p.name for p in out.iterdir())
    assert written == ["a.html", "a.ipynb", "a.json", "a.md", "r.json"]
    assert (out / "a.json").read_text() == (out / "r.json").read_text()
    assert json.loads((out / "r.json").read_text())["kind"] == "audit"
    nb = nbformat.read(out / "a.ipynb", as_version=4)
    nbformat.validate(nb)
    assert "reprokit.load('a.json')" in nb.cells[1].source
    assert (out / "a.html").read_text().lower().startswith("<!doctype html>")
    for path in out.iterdir():
        assert not leaks(path.read_text(), SECRET) and not leaks(path.read_text(), KEY_ID)
    converted = tmp_path / "converted"
    converted.mkdir()
    proc = run_cli(
        "report", str(out / "r.json"),
        "--to", str(converted / "c.md"), "--to", str(converted / "c.ipynb"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (converted / "c.md").read_text() == (out / "a.md").read_text()
    again = nbformat.read(converted / "c.ipynb", as_version=4)
    assert [c.source for c in again.cells[2:]] == [c.source for c in nb.cells[2:]]
    assert (
        reprokit.load(converted / "c.json").finding_records
        == reprokit.load(out / "r.json").finding_records
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("audit.pdf", "unsupported report format '.pdf'"),
        ("audit", "unsupported report format '(no extension)'"),
        ("missing-dir/audit.ipynb", "missing-dir does not exist"),
    ],
)
@pytest.mark.parametrize("command", ["audit", "drift"])
def test_cli_bad_report_path_fails_before_any_work(tmp_path: Path, command, name, message):
    # the subject does not exist either: the report path is what is reported, at parse time
    subject = f"docker-archive:{tmp_path}/missing.tar" if command == "audit" else "no-such-ctr"
    proc = run_cli(
        command, subject, "--report", str(tmp_path / "ok.md"), "--report", str(tmp_path / name)
    )
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "missing.tar" not in proc.stderr and "no-such-ctr" not in proc.stderr
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


def test_redaction_hides_whatever_looks_like_a_secret():
    step = (
        f"RUN printf 'aws_access_key_id = {KEY_ID}\\naws_secret_access_key = {SECRET}' > c"
        f" && DB_PASSWORD={SECRET[:10]} ./setup --token {TOKEN} && curl https://u:{TOKEN[4:13]}@x/y"
    )
    shown = redact_text(step)
    for secret in (KEY_ID, SECRET, SECRET[:10], TOKEN, TOKEN[4:13]):
        assert not leaks(shown, secret), shown
    assert "RUN printf 'aws_access_key_id = [redacted: AKIA…(20 chars)]" in shown
