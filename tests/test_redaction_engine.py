"""No output of any command holds a secret (issue #12, part B), on real images of the engine
and on crafted archives: secrets are planted in every place an image can hold them (config
Env, URLs with a password, labels, history, build args recorded by the classic builder, files
shown as text-diff evidence: ``.env``, ``.git-credentials``, ``.npmrc``), and every command is
run with every output (stdout, stderr, ``--json``, ``--report`` .html/.md/.ipynb). No
8-character piece of any planted secret may appear anywhere; ``--show-secrets`` shows them.
"""

from __future__ import annotations

import json
import secrets
import string
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import tarcraft
from conftest import run_cli

from reprokit.engine import RUN_LABEL
from reprokit.kinds import expanded

pytestmark = pytest.mark.engine

LABEL = "io.reprokit.test-redaction"
HARDENED = {"network_mode": "none", "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}


def token(n: int = 24, prefix: str = "") -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def plant() -> dict[str, str]:
    """One set of secrets, one per place an image holds them."""
    return {
        "env": token(),  # ENV DB_PASSWORD=
        "url": token(),  # ENV DATABASE_URL=postgres://app:…@db
        "aws": token(40),  # ENV AWS_SECRET_ACCESS_KEY=
        "label": token(),  # LABEL api_key=
        "github": token(36, "ghp_"),  # LABEL org.example.github= (a token by its form)
        "history": token(),  # RUN export API_TOKEN=
        "buildarg": token(),  # --build-arg TOKEN= (classic builder: |1 TOKEN=…)
        "dotenv": token(),  # /app/.env
        "gitcred": token(),  # /root/.git-credentials
        "npm": token(36, "npm_"),  # /root/.npmrc
    }


DOCKERFILE = """FROM {base}
ARG TOKEN
ENV DB_PASSWORD={env} DATABASE_URL=postgres://app:{url}@db:5432/app \\
    AWS_SECRET_ACCESS_KEY={aws} PLAIN=visible
LABEL api_key={label} org.example.github={github} org.example.plain=visible
RUN export API_TOKEN={history} && echo "built with $TOKEN" > /dev/null && mkdir -p /app /root
COPY .env /app/.env
COPY git-credentials /root/.git-credentials
COPY npmrc /root/.npmrc
"""


def context_files(s: dict[str, str]) -> dict[str, str]:
    return {
        ".env": f"APP=1\nDB_PASSWORD={s['dotenv']}\n",
        "git-credentials": f"https://me:{s['gitcred']}@github.com\n",
        "npmrc": f"//registry.npmjs.org/:_authToken={s['npm']}\n",
    }


def leaks(text: str, planted: list[str]) -> list[str]:
    """The 8-character pieces of ``planted`` secrets found in ``text``."""
    return [s[i : i + 8] for s in planted for i in range(len(s) - 7) if s[i : i + 8] in text]


@pytest.fixture(scope="module")
def images(client: docker.DockerClient, busybox: str, tmp_path_factory) -> Iterator[dict]:
    """Two images with different secrets in every place (A and B), removed after the module."""
    made, out = [], {}
    for side in ("a", "b"):
        s = plant()
        ctx = tmp_path_factory.mktemp(f"ctx-{side}")
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=busybox, **s))
        for name, text in context_files(s).items():
            (ctx / name).write_text(text)
        tag = f"reprokit-redaction-test/{side}:{uuid.uuid4().hex[:8]}"
        client.images.build(
            path=str(ctx),
            tag=tag,
            network_mode="none",
            rm=True,
            labels={LABEL: "1"},
            buildargs={"TOKEN": s["buildarg"]},
        )
        made.append(tag)
        out[side] = (tag, s, ctx)
    yield out
    for tag in made:
        client.images.remove(tag, force=True)


def outputs(out: Path, name: str, json_option: bool = True) -> list[str]:
    args = ["--report", str(out / f"{name}.html"), "--report", str(out / f"{name}.md")]
    args += ["--report", str(out / f"{name}.ipynb")]
    return args + (["--json", str(out / f"{name}.json")] if json_option else [])


def outputs_by_name(out: Path, procs: list) -> list[tuple[Path, str]]:
    named = [(Path(f"{p.args[3]}-{n}.log"), p.stdout + p.stderr) for n, p in enumerate(procs)]
    for name, text in named:
        (out.parent / name).write_text(text)
    files = [f for f in sorted(out.rglob("*")) if f.is_file()]
    return named + [(f, f.read_text(errors="replace")) for f in files]


def everything(out: Path, procs: list) -> str:
    texts = [p.stdout + p.stderr for p in procs]
    texts += [f.read_text(errors="replace") for f in sorted(out.rglob("*")) if f.is_file()]
    return "\n".join(texts)


def test_secrets_in_a_real_image_appear_in_no_output_of_any_command(images, client, tmp_path: Path):
    (a, sa, ctx_a), (b, sb, _) = images["a"], images["b"]
    planted = list(sa.values()) + list(sb.values())
    history = client.images.get(a).history()
    assert any(f"TOKEN={sa['buildarg']}" in (h.get("CreatedBy") or "") for h in history)
    out = tmp_path / "out"
    out.mkdir()
    tests = tmp_path / "t"
    tests.mkdir()
    (tests / "test_leak.py").write_text(
        "def test_env(host):\n"
        "    assert host.file('/app/.env').content_string == ''\n"
        "def test_cred(host):\n"
        "    print(host.check_output('cat /root/.git-credentials'))\n"
        "    assert 0, host.check_output('env')\n"
    )
    procs = [
        run_cli("diff", a, b, *outputs(out, "diff")),
        run_cli("audit", a, *outputs(out, "audit")),
        run_cli("inventory", a, *outputs(out, "inventory")),
        run_cli("capture", a, str(out / "facts.json")),
        run_cli("capture", a, str(out / "facts.toml")),
    ]
    procs.append(run_cli("replay", b, str(out / "facts.json"), *outputs(out, "replay")))
    procs.append(run_cli("parity", a, b, str(tests), "-v", *outputs(out, "parity")))
    procs.append(
        run_cli(
            "check",
            str(ctx_a),
            "--build-arg",
            f"TOKEN={sa['buildarg']}",
            "--builder",
            "docker",
            *outputs(out, "check"),
        )
    )
    # a report written with --show-secrets, converted without: hidden again
    shown = tmp_path / "shown.json"
    revealed = run_cli("diff", a, b, "--json", str(shown), "--show-secrets")
    assert revealed.returncode == 1, revealed.stderr
    assert sa["env"] in shown.read_text() and sb["label"] in shown.read_text()
    procs.append(run_cli("report", str(shown), "--to", str(out / "converted.html")))
    procs.append(run_cli("report", str(shown), "--to", str(out / "converted.ipynb")))
    # drift: a container of A whose command and environment hold secrets
    container = client.containers.run(
        a,
        ["sh", "-c", f"export SESSION_TOKEN={sa['history']}; touch /tmp/ready; sleep 60"],
        detach=True,
        environment={"EXTRA_TOKEN": sa["env"]},
        labels={RUN_LABEL: "test-" + uuid.uuid4().hex[:8]},
        **HARDENED,
    )
    try:
        time.sleep(1)
        procs.append(run_cli("drift", container.name, *outputs(out, "drift")))
    finally:
        container.remove(force=True)
    for proc in procs:
        assert proc.returncode in (0, 1), [*proc.args[:4], proc.stderr]
        assert "internal error" not in proc.stderr
    text = everything(out, procs)
    where = [
        f"{f.name}: ...{t[max(0, t.find(p) - 120) : t.find(p) + 20]!r}"
        for f, t in outputs_by_name(out, procs)
        for p in leaks(t, planted)[:1]
    ]
    assert not leaks(text, planted), where
    assert "[redacted: " in (out / "diff.json").read_text()
    assert "visible" in (out / "inventory.json").read_text()  # no more than secrets hidden
    diff = expanded(json.loads((out / "diff.json").read_text()))
    assert any(c["field"].startswith("config.Labels") for c in diff["config"])
    assert any(f["path"] == "/app/.env" for f in diff["files"] + diff["merged"])
    replay = json.loads((out / "replay.json").read_text())
    assert replay["mismatches"]  # B's secrets differ from A's: found, but not shown
    # a spec captured redacted still replays against its own image
    again = run_cli("replay", a, str(out / "facts.json"))
    assert again.returncode == 0, again.stdout + again.stderr


def test_show_secrets_shows_them(images, tmp_path: Path):
    (a, sa, _), (b, sb, _) = images["a"], images["b"]
    out = tmp_path / "out"
    out.mkdir()
    procs = [
        run_cli("diff", a, b, "--show-secrets", *outputs(out, "diff")),
        run_cli("inventory", a, "--show-secrets", "--json", str(out / "inv.json")),
    ]
    for proc in procs:
        assert proc.returncode in (0, 1), proc.stderr
    text = everything(out, procs)
    for secret in (sa["env"], sb["env"], sa["github"], sa["history"], sa["dotenv"]):
        assert secret in text
    assert sa["aws"] in (out / "inv.json").read_text()


def crafted(path: Path, s: dict[str, str]) -> Path:
    files = context_files(s)
    layer = tarcraft.make_layer(
        [
            tarcraft.directory("app"),
            tarcraft.file("app/.env", files[".env"].encode()),
            tarcraft.directory("root"),
            tarcraft.file("root/.git-credentials", files["git-credentials"].encode()),
            tarcraft.file("root/.npmrc", files["npmrc"].encode()),
        ]
    )
    config = tarcraft.image_config(
        [layer],
        env=(
            f"DB_PASSWORD={s['env']}",
            f"DATABASE_URL=postgres://app:{s['url']}@db/app",
            f"AWS_SECRET_ACCESS_KEY={s['aws']}",
        ),
    )
    config["config"]["Labels"] = {"api_key": s["label"], "org.example.github": s["github"]}
    config["history"] = [
        {
            "created": "2024-01-01T00:00:00Z",
            "created_by": f"|1 TOKEN={s['buildarg']} /bin/sh -c export API_TOKEN={s['history']}",
        }
    ]
    return tarcraft.write_docker_archive(path, [layer], config)


def test_secrets_in_crafted_archives_appear_in_no_output(tmp_path: Path):
    sa, sb = plant(), plant()
    a = crafted(tmp_path / "a.tar", sa)
    b = crafted(tmp_path / "b.tar", sb)
    out = tmp_path / "out"
    out.mkdir()
    ra, rb = f"docker-archive:{a}", f"docker-archive:{b}"
    procs = [
        run_cli("diff", ra, rb, *outputs(out, "diff")),
        run_cli("audit", ra, *outputs(out, "audit")),
        run_cli("inventory", ra, *outputs(out, "inventory")),
        run_cli("capture", ra, str(out / "facts.json")),
    ]
    procs.append(run_cli("replay", rb, str(out / "facts.json"), *outputs(out, "replay")))
    for proc in procs:
        assert proc.returncode in (0, 1), [*proc.args[:4], proc.stderr]
    text = everything(out, procs)
    planted = list(sa.values()) + list(sb.values())
    assert not leaks(text, planted), leaks(text, planted)[:5]
    shown = run_cli("inventory", ra, "--show-secrets", "--json", str(tmp_path / "inv.json"))
    assert shown.returncode == 0 and sa["github"] in (tmp_path / "inv.json").read_text()


def tables(result) -> dict[str, str]:
    """Every DataFrame of ``result`` (its :class:`~reprokit.protocol.shown_frame` properties),
    as the notebook would display it."""
    from reprokit.protocol import shown_frame

    names = [
        n for k in type(result).__mro__ for n, v in vars(k).items() if isinstance(v, shown_frame)
    ]
    return {n: getattr(result, n).to_html() + getattr(result, n).to_string() for n in names}


def test_dataframes_in_a_notebook_hide_secrets_unless_revealed(tmp_path: Path):
    import reprokit

    sa, sb = plant(), plant()
    planted = list(sa.values()) + list(sb.values())
    ra = f"docker-archive:{crafted(tmp_path / 'a.tar', sa)}"
    rb = f"docker-archive:{crafted(tmp_path / 'b.tar', sb)}"
    results = [reprokit.compare(ra, rb), reprokit.audit(ra), reprokit.inventory(ra)]
    for result in results:
        shown = tables(result)
        assert shown, result.kind
        assert not leaks("".join(shown.values()), planted), (result.kind, sorted(shown))
    comparison = results[0]
    assert "[redacted: " in comparison.config.to_string()
    revealed = tables(comparison.revealing())
    assert sa["env"] in revealed["config"] and sb["env"] in revealed["config"]
    assert sa["dotenv"] in revealed["files"] + revealed["merged"]
    hidden = tables(comparison.revealing(False))  # hidden again: no table cached revealed
    assert not leaks("".join(hidden.values()), planted)
