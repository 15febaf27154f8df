"""The history store on real surveys: two surveys with a change of spec between them answer
since when a target fails, which change did it, which causes come and go; plots of the fleet;
concurrent writers on one SQLite file; and the same store on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from fleet_targets import make_fleet

import reprokit
from reprokit.fleet.history import Store
from reprokit.fleet.result import SurveyResult, TargetRow

pytestmark = pytest.mark.engine


def two_surveys(fleet: Path, store: str) -> tuple[SurveyResult, SurveyResult]:
    """Survey; then make 'timestamps' non-reproducible (a RUN writing random bytes) and change
    a build arg of 'dated' (still equivalent); survey again."""
    first = reprokit.survey(fleet, concurrency=2, history=store)
    services = fleet.parent / "services"
    with open(services / "timestamps" / "Dockerfile", "a") as f:
        f.write("RUN head -c 16 /dev/urandom > /nonce\n")
    text = fleet.read_text().replace(
        'ignore = ["/build-date"]', 'ignore = ["/build-date"]\nbuild_args = { STAMP = "2" }'
    )
    fleet.write_text(text)
    second = reprokit.survey(fleet, concurrency=2, history=store)
    return first, second


def test_history_answers_after_two_surveys(tmp_path, client, busybox, no_leftovers):
    fleet = make_fleet(tmp_path / "fleet", busybox, client)
    db = tmp_path / "history.db"
    first, second = two_surveys(fleet, str(db))
    assert first.row("timestamps").ok and not second.row("timestamps").ok
    h = reprokit.history(db)
    assert h.kind == "history" and h.runs == 2 and len(h.timeline) == 12
    status = h.target("timestamps")
    assert status["since"] == second.started and status["last_ok"] == first.started
    assert status["changed"] == "dockerfile"
    assert h.target("random")["changed"] == "failing since first run"
    assert h.target("dated")["ok"]
    broken = h.target("broken")
    assert broken["latest"] == "error" and broken["since"] == first.started
    # the fleet over time
    assert h.plot("verdicts").axes and h.plot("causes").axes
    # CLI: text, report and plots; only one target
    from conftest import run_cli

    proc = run_cli(
        "history", str(db), "--report", str(tmp_path / "h.html"), "--junit",
        str(tmp_path / "h.xml"), "--plot", f"verdicts={tmp_path / 'v.png'}",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "timestamps: different since" in proc.stdout and "changed: dockerfile" in proc.stdout
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
    one = reprokit.history(db, target="dated")
    assert [s["target"] for s in one.status_records] == ["dated"]


def test_flaky_causes_come_and_go_under_one_spec(tmp_path):
    db = tmp_path / "h.db"
    for day, causes in enumerate(({"timestamp": 2}, {}, {"timestamp": 1, "content": 1}), 1):
        row = TargetRow("web", "context", "equivalent", True, causes=causes, fingerprint="f")
        with Store.open(db) as store:
            store.append(SurveyResult([row], started=f"2024-05-0{day}T00:00:00+00:00",
                                      run_id=str(day)))  # fmt: skip
    flaky = reprokit.history(db).flaky_records
    assert [(f["cause"], f["present"], f["runs"]) for f in flaky] == [
        ("content", 1, 3),
        ("timestamp", 2, 3),
    ]


def test_concurrent_writers_share_one_sqlite_file(tmp_path):
    db = tmp_path / "h.db"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                row = TargetRow(f"t{n}", "context", "identical", True)
                with Store.open(db) as store:
                    store.append(SurveyResult([row], started=f"2024-05-01T00:00:{i:02d}+00:00",
                                              run_id=f"{n}-{i}"))  # fmt: skip
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert reprokit.history(db).runs == 60


# --- PostgreSQL ----------------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL server on 127.0.0.1 (a random port), run by an unprivileged user
    (``postgres`` or ``nobody``) from a temporary directory; stopped at the end."""
    pg = _pg_bin()
    if pg is None:
        pytest.skip("PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql)")
    pytest.importorskip("psycopg", reason="psycopg is missing: pip install 'reprokit[fleet]'")
    user = "postgres" if shutil.which("runuser") and _has_user("postgres") else "nobody"
    root = Path(tempfile.mkdtemp(prefix="reprokit-pg-"))
    data, sock = root / "data", root / "run"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, user)
        shutil.chown(sock, user)
        as_user = ["runuser", "-u", user, "--"]
    port = _free_port()
    init = subprocess.run(
        [*as_user, str(pg / "initdb"), "-D", str(data), "-U", "reprokit", "--auth=trust", "-E",
         "UTF8"], capture_output=True, text=True,
    )  # fmt: skip
    if init.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb could not run as {user}: {init.stderr.strip()[-300:]}")
    start = subprocess.run(
        [*as_user, str(pg / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
         "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {sock}", "start"],
        capture_output=True, text=True,
    )  # fmt: skip
    if start.returncode:
        log = (root / "log").read_text() if (root / "log").exists() else start.stderr
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {log.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://reprokit@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(pg / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_history_on_postgresql(postgres, tmp_path, client, busybox):
    fleet = make_fleet(tmp_path / "fleet", busybox, client)
    first, second = two_surveys(fleet, postgres)
    h = reprokit.history(postgres)
    assert h.runs == 2
    status = h.target("timestamps")
    assert status["changed"] == "dockerfile" and status["since"] == second.started
    assert status["last_ok"] == first.started

    # many writers at once
    def writer(n: int) -> None:
        with Store.open(postgres) as store:
            row = TargetRow(f"w{n}", "context", "identical", True)
            store.append(SurveyResult([row], started="2024-01-01T00:00:00+00:00", run_id=f"w{n}"))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reprokit.history(postgres).runs == 7
