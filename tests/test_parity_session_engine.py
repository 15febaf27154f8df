"""Shell sessions on the real engine: every check and every test file of the parity suite gives
the same outcomes through one long-lived shell per container as through an exec per command,
on busybox and Debian; exact output; timeouts; fallbacks; nothing left behind."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import test_parity_engine as suite

import reprokit
from reprokit.behaviour.checks import as_checks, command, file, group, package, user
from reprokit.behaviour.runner import host_pair, run_checks
from reprokit.behaviour.session import MAX_OUTPUT, CommandTimeout, Sessions
from reprokit.behaviour.suite import parity_tests
from reprokit.containers import Hardening, container_pair
from reprokit.model import Outcome

pytestmark = pytest.mark.engine

#: Commands whose results must be byte for byte the same both ways.
COMMANDS = [
    "echo hi",
    "printf 'a\\0b\\377\\n\\001end'",  # NUL, invalid UTF-8, control bytes, no final newline
    "printf ''",
    "echo out; echo err >&2; exit 3",
    "env | sort",
    'echo "$0" "$-" "$#"',
    "pwd; umask; id",
    "cat <<EOF\nx  y\n  z\\\\ \\$HOME\nEOF",
    "echo 'trailing spaces   '   ",
    "  leading; echo $?",
    "cat",  # stdin is empty, not the session's
    'read x; echo $? "$x"',
    "exit 300",
    "kill -TERM $$",
    "no-such-command",
    "set -e; false; echo never",
    "head -c 200000 /dev/zero | tr '\\0' x",
    "ls /tmp /proc/self/fd",
    'printf "%s\\n" "$SHLVL" "$PWD"',
    "trap 'echo trapped' EXIT; true",
    "(echo sub; exit 4); echo $?",
    "echo 'é ü 😀'",
    "\necho blank lines\n\n",
]

CHECKS = [
    *(command(c) for c in COMMANDS),
    *(file(p) for p in ("/etc/passwd", "/bin/sh", "/tmp", "/does/not/exist", "/etc/os-release")),
    *(package(p) for p in ("bash", "dpkg", "no-such-package")),
    *(user(u) for u in ("root", "nobody", "nosuchuser")),
    *(group(g) for g in ("root", "nogroup")),
    ("content", lambda h: h.file("/etc/passwd").content_string),
    ("exists", lambda h: h.exists("sh")),
    ("check_output", lambda h: h.check_output("echo hello")),
    ("bytes", lambda h: _raw(h.run("printf 'a\\0b\\377\\n\\001end'; printf '\\376' >&2"))),
]


def _raw(result: Any) -> dict[str, bytes]:
    return {"stdout": result.stdout_bytes, "stderr": result.stderr_bytes}


def _outcomes(image: str, sessions: bool, read_only: bool = False) -> list[tuple]:
    hardening = Hardening(read_only=read_only)
    with host_pair(image, image, hardening=hardening, sessions=sessions) as pair:
        # one thread per side: testinfra's lazy per-host caches are not thread-safe
        entries = run_checks(as_checks(CHECKS), (pair.a, pair.b), pair.containers, workers=1)
        why = [c.sessions.why for c in pair.containers]
    assert why == [None, None]
    return [(e.name, _plain(e.a), _plain(e.b), e.same) for e in entries]


def _plain(outcome: Outcome) -> Outcome:
    """The outcome without the memory addresses of testinfra's reprs."""
    return dataclasses.replace(outcome, message=_unaddressed(outcome.message))


def _unaddressed(data: Any) -> Any:
    return json.loads(re.sub(r"0x[0-9a-f]{6,}", "0x?", json.dumps(data)))


@pytest.mark.parametrize("read_only", [False, True], ids=["rw", "read-only"])
@pytest.mark.parametrize("base", ["busybox", "debian"])
def test_sessions_give_the_same_results_as_an_exec_per_command(
    base, read_only, request, no_leftovers
):
    image = request.getfixturevalue(base)
    by_session = _outcomes(image, True, read_only)
    by_exec = _outcomes(image, False, read_only)
    for got, expected in zip(by_session, by_exec, strict=True):
        if got[0] in ("run env | sort", "run ls /tmp /proc/self/fd"):
            continue  # HOSTNAME differs per container pair; fds are numbered alike, checked below
        assert got == expected, got[0]
    binary = {e[0]: e for e in by_session}["bytes"]
    assert binary[1].value == {"stdout": "a\x00b\\xff\n\x01end", "stderr": "\\xfe"}


def test_env_and_fds_are_those_of_an_exec(busybox, no_leftovers):
    with container_pair(busybox, busybox) as (a, _):
        sessions = Sessions(a)
        for cmd in ("env | sort", "ls /proc/self/fd", "echo $SHLVL"):
            assert sessions.run(cmd) == a.exec(cmd), cmd
        sessions.close()


def test_the_parity_test_suite_gives_the_same_outcomes_both_ways(
    busybox, debian, tmp_path: Path, monkeypatch, no_leftovers
):
    """The parity test suite's own scenarios (tests/test_parity_engine.py), both ways."""
    tests = tmp_path / "test_infra.py"
    tests.write_text(
        suite.TESTS + "\ndef test_binary(host):\n    assert host.run('printf x').stdout == 'x'\n"
    )
    results = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("REPROKIT_PARITY_SESSIONS", flag)
        results[flag] = (
            parity_tests(debian, busybox, [str(tests)]).to_dict()["parity"],
            reprokit.parity(debian, busybox, suite.CHECKS).to_dict()["parity"],
            reprokit.parity(busybox, busybox, suite.CHECKS).to_dict()["parity"],
        )
    assert _unaddressed(results["1"]) == _unaddressed(results["0"])
    assert any(not row["same"] for row in results["1"][1])


def test_a_hanging_command_is_killed_and_the_session_goes_on(busybox, debian, no_leftovers):
    with container_pair(busybox, debian) as pair:
        for container in pair:
            sessions = Sessions(container, size=1, timeout=1.5)
            with pytest.raises(CommandTimeout, match=r"longer than 1\.5 s"):
                sessions.run("echo partial; sleep 1000; echo never")
            assert sessions.run("echo next").stdout == b"next\n"
            left = container.exec("ps -o args 2>/dev/null || ps -e -o args 2>/dev/null || true")
            assert b"sleep 1000" not in left.stdout
            assert sessions._count == 1  # the same session, not a new one
            sessions.close()


def test_a_hanging_check_is_an_error_of_that_side(busybox, no_leftovers):
    result = reprokit.parity(
        busybox, busybox, [command("sleep 1000"), command("echo ok")], command_timeout=1
    )
    hung, ok = result.parity_records
    assert hung.a.status == "error" and "longer than 1 s" in hung.a.message and not hung.same
    assert ok.same and ok.a.status == "ok"


def test_huge_output_is_bounded(busybox, monkeypatch, no_leftovers):
    import reprokit.behaviour.session as session

    monkeypatch.setattr(session, "MAX_OUTPUT", 1 << 20)
    with container_pair(busybox, busybox) as (a, _):
        sessions = Sessions(a)
        with pytest.raises(session.OutputTooLarge):
            sessions.run("head -c 5000000 /dev/zero")
        with pytest.raises(session.OutputTooLarge):
            sessions.run("echo small; head -c 5000000 /dev/zero >&2; echo end")
        with pytest.raises(session.OutputTooLarge):
            sessions.run("head -c 1048577 /dev/zero")
        big = sessions.run("head -c 1048576 /dev/zero")
        assert big.stdout == bytes(1 << 20) and big.rc == 0
        assert sessions.run("echo still").stdout == b"still\n"
        sessions.close()
    assert MAX_OUTPUT == 64 << 20  # the default, as documented in docs/parity.md


def test_other_users_and_broken_shells_fall_back_to_execs(busybox, monkeypatch, no_leftovers):
    import reprokit.behaviour.session as session

    with container_pair(busybox, busybox) as (a, _):
        sessions = Sessions(a)
        as_other = sessions.run("id -u", user="1000")
        assert as_other == a.exec("id -u", "1000") and as_other.stdout == b"1000\n"
        assert sessions._count == 0  # no session for another user
        monkeypatch.setattr(session, "DRIVER", "exit 0")  # a shell that cannot run the driver
        broken = Sessions(a)
        assert broken.run("echo fine") == a.exec("echo fine")
        assert not broken.enabled and broken.why == "the shell ended"
        sessions.close()


def test_sessions_end_with_the_pair(busybox, client, no_leftovers):
    with host_pair(busybox, busybox) as pair:
        assert pair.a.run("echo x").stdout == "x\n"
        container = pair.containers[0]
        assert container.sessions._count == 1
        before = client.api.inspect_container(container.id)["ExecIDs"] or []
        container.sessions.close()
        deadline = time.monotonic() + 10
        running = before
        while running and time.monotonic() < deadline:
            running = [e for e in before if client.api.exec_inspect(e).get("Running")]
            time.sleep(0.1)
        assert not running, "the session's shell did not end"
