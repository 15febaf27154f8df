"""Run testinfra test files (pytest, the ``host`` fixture) against both images; compare outcomes.

pytest runs in this process with testinfra's own plugin switched off: the ``host`` fixture is
reprokit's, parametrized ``a`` and ``b`` over a hardened container of each image. Each test's
outcome on A and on B (passed, failed, skipped, error) lands in a :class:`ParityResult`.
A test that hits a dead container or a ``docker exec`` failure is an ``error``, never a pass.

>>> base_id("test_x.py::test_a[a]", "a"), base_id("t.py::test[b-1]", "b")
('test_x.py::test_a', 't.py::test[1]')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from .containers import ContainerError, Hardening
from .errors import Cancelled, UsageError
from .parity import HostPair, Outcome, ParityEntry, ParityResult, host_pair
from .sources import Source

SIDES = ("a", "b")


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


class _Collector:
    """A pytest plugin object: provides ``host`` over the pair and records every outcome."""

    def __init__(self, pair: HostPair):
        self.pair = pair
        self.outcomes: dict[str, dict[str, Outcome]] = {}
        self.order: list[str] = []
        self.collect_errors: list[str] = []
        self._sides: dict[str, tuple[str, str]] = {}

    @pytest.fixture(name="host")
    def host(self, request: pytest.FixtureRequest) -> Any:
        return self.pair[request.param]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "host" in metafunc.fixturenames:
            metafunc.parametrize("host", SIDES, ids=SIDES, indirect=True)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            spec = getattr(item, "callspec", None)
            side = spec.params.get("host") if spec is not None else None
            if side in SIDES:
                test = base_id(item.nodeid, side)
                self._sides[item.nodeid] = (test, side)
                if test not in self.order:
                    self.order.append(test)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {_last_line(report.longreprtext)}")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
        outcome = yield
        report = outcome.get_result()
        where = self._sides.get(item.nodeid)
        if where is None:
            return
        test, side = where
        status, message = None, None
        if call.excinfo is not None and call.excinfo.errisinstance(ContainerError):
            status, message = "error", str(call.excinfo.value)
        elif report.when == "setup" and report.failed:
            status, message = "error", _exc_line(call)
        elif report.skipped and report.when in ("setup", "call"):
            status = "skipped"
        elif report.when == "call":
            status = "passed" if report.passed else "failed"
            message = _exc_line(call) if report.failed else None
        elif report.when == "teardown" and report.failed:
            status, message = "error", _exc_line(call)
        if status is not None:
            current = self.outcomes.setdefault(test, {}).get(side)
            if current is None or current.status != "error":
                self.outcomes[test][side] = Outcome(status, message=message)


def _exc_line(call: pytest.CallInfo[Any]) -> str | None:
    if call.excinfo is None:
        return None
    return _last_line(call.excinfo.exconly())


def _last_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


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
    >>> r.exit_status(), r.text()  # doctest: +SKIP
    """
    missing = [str(t) for t in tests if not Path(str(t).split("::")[0]).exists()]
    if not tests or missing:
        raise UsageError(f"no such test file or directory: {', '.join(missing) or '(none given)'}")
    started = time.monotonic()
    with host_pair(a, b, base_url=base_url, hardening=Hardening(read_only=read_only)) as pair:
        collector = _Collector(pair)
        args = [
            *(str(t) for t in tests),
            "-p",
            "no:pytest11.testinfra",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *(["-q", "--tb=short"] if verbose else ["-p", "no:terminal"]),
            *pytest_args,
        ]
        code = pytest.main(args, plugins=[collector])
    if collector.collect_errors:
        raise UsageError("cannot collect the tests: " + "; ".join(collector.collect_errors[:3]))
    if code == pytest.ExitCode.INTERRUPTED:
        raise Cancelled("interrupted; the containers this run started were removed")
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        raise UsageError(f"pytest could not run the tests (exit status {int(code)})")
    if not collector.order:
        raise UsageError("no test uses the `host` fixture in " + ", ".join(str(t) for t in tests))
    missing_side = Outcome("error", message="did not run")
    entries = [
        ParityEntry(
            test,
            collector.outcomes.get(test, {}).get("a", missing_side),
            collector.outcomes.get(test, {}).get("b", missing_side),
        )
        for test in collector.order
    ]
    return ParityResult(
        images=(str(a), str(b)),
        entries=entries,
        image_ids=pair.image_ids,
        run_id=pair.run_id,
        duration_s=time.monotonic() - started,
        kind="tests",
    )
