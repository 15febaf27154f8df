"""Run testinfra test files (pytest, the ``host`` fixture) against both images; compare outcomes.

reprokit starts a hardened container of each image, then runs one pytest process per image,
both at the same time. In each, testinfra's own plugin is off and ``host`` is a testinfra host
on that image's container (tests get the id ``a`` or ``b``). Each test's outcome on A and on B
(passed, failed, skipped, error) lands in a :class:`~reprokit.behaviour.result.ParityResult`. A test
that hits a dead container or a ``docker exec`` failure is an ``error``, never a pass.

This module is also the pytest plugin of those worker processes
(``-p reprokit.behaviour.suite``); it does nothing unless given ``--reprokit-worker``.

>>> base_id("test_x.py::test_a[a]", "a"), base_id("t.py::test[b-1]", "b")
('test_x.py::test_a', 't.py::test[1]')
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..containers import Container, ContainerError, Hardening
from ..errors import Cancelled, UsageError
from ..model import Outcome, ParityEntry
from ..redaction import redact_line
from ..sources.image import Source
from .backend import testinfra_host
from .result import ParityResult
from .runner import host_pair

SIDES = ("a", "b")
#: pytest exit statuses that mean the tests ran (all passed, some failed, none collected).
_RAN = (0, 1, 5)


def base_id(nodeid: str, side: str) -> str:
    """The node id of a test without its ``a``/``b`` parameter."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    head, _, params = nodeid[:-1].partition("[")
    if params == side:
        return head
    if params.startswith(side + "-"):
        return f"{head}[{params[len(side) + 1 :]}]"
    if params.endswith("-" + side):
        return f"{head}[{params[: -len(side) - 1]}]"
    return nodeid


# ---------------------------------------------------------------- the worker (child) side


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reprokit-worker", help=argparse.SUPPRESS)


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("reprokit_worker", None)
    if spec:
        config.pluginmanager.register(_Worker(json.loads(spec)), "reprokit-worker")


class _Worker:
    """Provides ``host`` on one side's container and records every test's outcome."""

    def __init__(self, spec: dict[str, Any]):
        self.side: str = spec["side"]
        self.out = Path(spec["out"])
        self.container = Container(spec["container"], spec["image"], self.side, spec["base_url"])
        self._host: Any = None
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.collect_errors: list[str] = []

    @pytest.fixture(name="host")
    def host(self) -> Any:
        if self._host is None:
            self._host = testinfra_host(self.container)
        return self._host

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "host" in metafunc.fixturenames:
            metafunc.parametrize("host", [self.side], ids=[self.side], indirect=True)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            spec = getattr(item, "callspec", None)
            if spec is not None and spec.params.get("host") == self.side:
                self.order.append(base_id(item.nodeid, self.side))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = [line for line in report.longreprtext.splitlines() if line.strip()]
            self.collect_errors.append(
                f"{report.nodeid}: {_first_line(lines[-1] if lines else '')}"
            )

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        outcome = yield
        report = outcome.get_result()
        spec = getattr(item, "callspec", None)
        if spec is None or spec.params.get("host") != self.side:
            return
        status, message = _status(report, call)
        if status is None:
            return
        test = base_id(item.nodeid, self.side)
        if self.outcomes.get(test, {}).get("status") != "error":
            self.outcomes[test] = {"status": status, "message": message}

    def pytest_sessionfinish(self) -> None:
        data = {"order": self.order, "outcomes": self.outcomes, "errors": self.collect_errors}
        self.out.write_text(json.dumps(data))
        self.container.close()


def _status(report: pytest.TestReport, call: pytest.CallInfo[Any]) -> tuple[str | None, Any]:
    """The parity status a test report stands for (None for phases that do not decide it)."""
    if call.excinfo is not None and call.excinfo.errisinstance(ContainerError):
        return "error", str(call.excinfo.value)
    if report.when in ("setup", "teardown") and report.failed:
        return "error", _exc_line(call)
    if report.skipped and report.when in ("setup", "call"):
        return "skipped", None
    if report.when == "call":
        return ("passed", None) if report.passed else ("failed", _exc_line(call))
    return None, None


def _exc_line(call: pytest.CallInfo[Any]) -> str | None:
    return None if call.excinfo is None else _first_line(call.excinfo.exconly())


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


# ---------------------------------------------------------------- the parent side


def _worker_command(
    tests: Sequence[str], container: Container, out: Path, verbose: bool, extra: Sequence[str]
) -> list[str]:
    spec = {
        "side": container.side,
        "container": container.id,
        "image": container.image,
        "base_url": container.base_url,
        "out": str(out),
    }
    return [
        sys.executable,
        "-m",
        "pytest",
        *tests,
        "-p",
        "reprokit.behaviour.suite",
        "-p",
        "no:pytest11.testinfra",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        # test ids relative to the tests themselves, wherever reprokit runs from
        "--rootdir",
        os.path.commonpath([os.path.dirname(os.path.abspath(t)) for t in tests]),
        "--reprokit-worker",
        json.dumps(spec),
        *(["-q", "--tb=short", "-rN"] if verbose else ["-qq", "--tb=no", "-rN"]),
        *extra,
    ]


def _run_workers(commands: list[list[str]], logs: list[Path], env: dict[str, str]) -> list[int]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for cmd, log in zip(commands, logs, strict=True):
            with log.open("wb") as out:
                procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env))
        return [p.wait() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def parity_tests(
    a: str | Source,
    b: str | Source,
    tests: Sequence[str | Path],
    *,
    base_url: str | None = None,
    read_only: bool = False,
    verbose: bool = False,
    pytest_args: Sequence[str] = (),
) -> ParityResult:
    """Run pytest ``tests`` (testinfra style, using ``host``) on both images, side by side.

    >>> r = parity_tests("app:1", "app:2", ["tests/infra/"])  # doctest: +SKIP
    >>> r.ok, r.text()  # doctest: +SKIP
    """
    names = [str(t) for t in tests]
    missing = [t for t in names if not Path(t.split("::")[0]).exists()]
    if not names or missing:
        raise UsageError(f"no such test file or directory: {', '.join(missing) or '(none given)'}")
    started = time.monotonic()
    env = dict(os.environ)
    if base_url:
        env["DOCKER_HOST"] = base_url
    hardening = Hardening(read_only=read_only)
    with (
        host_pair(a, b, base_url=base_url, hardening=hardening) as pair,
        tempfile.TemporaryDirectory(prefix="reprokit-parity-") as tmp,
    ):
        outs = [Path(tmp, f"{side}.json") for side in SIDES]
        logs = [Path(tmp, f"{side}.log") for side in SIDES]
        commands = [
            _worker_command(names, c, out, verbose, pytest_args)
            for c, out in zip(pair.containers, outs, strict=True)
        ]
        try:
            codes = _run_workers(commands, logs, env)
        except KeyboardInterrupt:
            raise Cancelled("interrupted; the containers this run started were removed") from None
        if verbose:
            for side, log in zip(SIDES, logs, strict=True):
                print(f"--- pytest on image {side.upper()} ---")
                print(redact_line(log.read_text(errors="replace").rstrip()))
        results = [
            _read_worker(out, log, code) for out, log, code in zip(outs, logs, codes, strict=True)
        ]
    order = list(dict.fromkeys(results[0]["order"] + results[1]["order"]))
    if not order:
        raise UsageError("no test uses the `host` fixture in " + ", ".join(names))
    never = {"status": "error", "message": "did not run on this image"}
    entries = [
        ParityEntry(
            test,
            *(Outcome(**{**never, **r["outcomes"].get(test, never)}) for r in results),
        )
        for test in order
    ]
    return ParityResult(
        images=(str(a), str(b)),
        parity_records=entries,
        image_ids=pair.image_ids,
        run_id=pair.run_id,
        duration_s=time.monotonic() - started,
        what="tests",
    )


def _read_worker(out: Path, log: Path, code: int) -> dict[str, Any]:
    tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    last = _first_line(tail[-1]) if tail else f"exit status {code}"
    if not out.exists():
        if code in (-2, 130, 2) and "KeyboardInterrupt" in "\n".join(tail):
            raise Cancelled("interrupted; the containers this run started were removed")
        raise UsageError(f"pytest could not run the tests: {last}")
    data: dict[str, Any] = json.loads(out.read_text())
    if data["errors"]:
        raise UsageError("cannot collect the tests: " + "; ".join(data["errors"][:3]))
    if code not in _RAN:
        raise UsageError(f"pytest could not run the tests (exit status {code}): {last}")
    return data
