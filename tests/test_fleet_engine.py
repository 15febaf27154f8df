"""Surveys against real engines: the six-target test fleet locally (1 and 2 targets at once),
through the CLI (exit status, reports beside, JUnit, history), and on a Dask LocalCluster of
two worker processes, one bound to a second dockerd: identical rows, both engines built.

Wall times are printed (``pytest -s``) and kept in artifacts/fleet-times.json."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import cloudpickle
import docker
import pytest
import xmlschema
from bases import ensure_busybox
from conftest import run_cli
from engines import ExtraEngine
from fleet_targets import EXPECTED, make_fleet

import reprokit
from reprokit.fleet.manifest import Target

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit.xsd")
TIMES: dict[str, float] = {}


def _save_times() -> None:
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "fleet-times.json").write_text(json.dumps(TIMES, indent=2) + "\n")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, client, busybox) -> Path:
    return make_fleet(tmp_path_factory.mktemp("fleet"), busybox, client)


def outcome(result) -> dict[str, tuple]:
    """What must be identical wherever a survey runs: verdict, ok, unexplained or not, error or
    not. (Which timestamps differ depends on whether two builds fall in one second: the
    history calls such causes flaky.)"""
    return {
        r.target: (r.verdict, r.ok, bool(r.unexplained), bool(r.error))
        for r in result.target_records
    }


@pytest.fixture(scope="module")
def local(fleet) -> reprokit.SurveyResult:
    started = time.monotonic()
    result = reprokit.survey(fleet, concurrency=2)
    TIMES["local, 2 at once"] = round(time.monotonic() - started, 1)
    return result


def test_survey_of_six_targets_locally(local, no_leftovers):
    assert {r.target: r.verdict for r in local.target_records} == EXPECTED
    assert not local.ok  # random differs, broken fails to build
    failing = {r.target for r in local.target_records if not r.ok}
    assert failing == {"random", "broken"}
    broken = local.row("broken")
    assert "build failed" in (broken.error or "") and "exit" in broken.error.lower()
    dated = local.row("dated")
    assert dated.ignored >= 1 and "content" not in dated.causes
    random_row = local.row("random")
    assert random_row.causes and random_row.top_fix and random_row.image_a != random_row.image_b
    frame = local.targets
    assert len(frame) == 6 and {"verdict", "ok", "top_fix", "error"} <= set(frame.columns)
    assert any(c.startswith("cause:") for c in frame.columns)
    assert set(local.reports) == set(EXPECTED) - {"broken"}


def test_one_target_at_a_time(fleet, local):
    started = time.monotonic()
    one = reprokit.survey(fleet, concurrency=1)
    TIMES["local, 1 at once"] = round(time.monotonic() - started, 1)
    _save_times()
    assert outcome(one) == outcome(local)


def test_cli_survey_writes_reports_junit_and_history(fleet, tmp_path, local):
    out = tmp_path / "out"
    out.mkdir()
    db = tmp_path / "history.db"
    proc = run_cli(
        "survey", "--manifest", str(fleet), "-j", "2", "--report", str(out / "fleet.html"),
        "--json", str(out / "fleet.json"), "--junit", str(out / "junit.xml"),
        "--history", str(db),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "survey: FAILS (2 of 6)" in proc.stdout
    assert "reprokit survey: random: different" in proc.stderr
    for name in ("reproducible", "timestamps", "random", "pair", "dated"):
        assert (out / "targets" / f"{name}.html").is_file()
    assert not (out / "targets" / "broken.html").exists()
    back = reprokit.load(out / "fleet.json")
    assert back.kind == "survey" and outcome(back) == outcome(local)
    SCHEMA.validate(str(out / "junit.xml"))
    assert len(reprokit.history(db).status_records) == 6
    # passing targets only: exit 0; no targets: usage error 2
    ok = run_cli("survey", str(fleet.parent / "services" / "timestamps"), "-q")
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert run_cli("survey").returncode == 2
    packer = run_cli("survey", "image.pkr.hcl")
    assert packer.returncode == 2 and "Packer templates are not supported yet" in packer.stderr


def test_junit_on_check_and_diff(fleet, tmp_path):
    ctx = fleet.parent / "services" / "random"
    proc = run_cli("check", str(ctx), "--junit", str(tmp_path / "check.xml"), "-q")
    assert proc.returncode == 1, proc.stderr
    SCHEMA.validate(str(tmp_path / "check.xml"))
    assert "<failure" in (tmp_path / "check.xml").read_text()
    images = fleet.parent / "images"
    proc = run_cli(
        "diff", f"docker-archive:{images}/a.tar", f"docker-archive:{images}/b.tar",
        "--junit", str(tmp_path / "diff.xml"), "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    SCHEMA.validate(str(tmp_path / "diff.xml"))


# --- the Dask cluster --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_engine(client):
    engine = ExtraEngine("fleet").start()
    try:
        other = docker.DockerClient(base_url=engine.url, timeout=600)
        ensure_busybox(other)
        other.close()
        yield engine.url
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def cluster(second_engine):
    import dask
    from distributed import Client, LocalCluster

    from reprokit.fleet.plugin import Engines

    main = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    # a worker lost while running a target fails the task at once: the survey retries it
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0", env={"DOCKER_HOST": main},
        )  # fmt: skip
        client = Client(cluster)
        client.register_plugin(Engines({1: second_engine}))
        try:
            yield client, main, second_engine
        finally:
            client.close()
            # distributed's worker-status watcher can race a worker that died and was restarted
            # at once (SpecCluster._update_worker_status looks up an address the scheduler already
            # dropped); it re-raises when close() awaits it, after workers and scheduler closed.
            with contextlib.suppress(KeyError):
                cluster.close()
            assert not cluster.workers, "the cluster left workers running"


def test_survey_on_two_workers_with_their_own_engines(fleet, cluster, local, capsys):
    client, main, second = cluster
    started = time.monotonic()
    lines: list[str] = []
    result = reprokit.survey(fleet, client=client, say=lines.append)
    TIMES["dask, 2 workers"] = round(time.monotonic() - started, 1)
    _save_times()
    assert outcome(result) == outcome(local)
    assert result.executor == "dask" and result.dashboard and "127.0.0.1" in result.dashboard
    assert any("dashboard" in line for line in lines)
    built = {
        r.engine for r in result.target_records if r.kind == "context" and r.verdict != "error"
    }
    assert built == {main, second}, built  # both engines built
    reports = [result.reports[t] for t in ("reproducible", "timestamps", "random", "dated")]
    assert {b.engine for r in reports for b in r.builds} <= {main, second}
    assert len({r.worker for r in result.target_records}) == 2


def _dies_once(marker: str):
    def task(target, context_tar, engine):
        from reprokit.fleet.task import run_target

        if not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)  # the worker process dies mid-target
        return run_target(target, context_tar, engine)

    return task


def _always_dies(target, context_tar, engine):
    os._exit(1)


def test_a_lost_worker_is_retried_once_then_an_error_row(fleet, cluster, tmp_path):
    import sys

    from reprokit.fleet.executors import DaskExecutor

    client, _, _ = cluster
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    images = fleet.parent / "images"
    pair = [f"docker-archive:{images}/a.tar", f"docker-archive:{images}/b.tar"]
    target = Target.from_options("pair", {"pair": pair})
    executor = DaskExecutor(client, task=_dies_once(str(tmp_path / "died")))
    [(row, report)] = list(executor.run([target]))
    assert (tmp_path / "died").exists() and row["verdict"] == "identical" and report
    executor = DaskExecutor(client, task=_always_dies)
    [(row, report)] = list(executor.run([target]))
    assert row["verdict"] == "error" and report is None
    assert "worker lost" in row["error"] and "retried once" in row["error"]
    client.wait_for_workers(2, timeout=60)
