"""pytest plugin: run your testinfra tests on both images of a pair, side by side.

Registered through the ``pytest11`` entry point; it does nothing (and imports nothing heavy)
unless a test asks for one of its fixtures with an image pair named on the command line::

    pytest --reprokit-images app:1,oci-archive:app.tar tests/
    pytest --reprokit-build ./context tests/          # build the context twice, no cache

Fixtures:

- ``reprokit_host``: a testinfra host; a test using it runs twice, with ids ``a`` and ``b``.
- ``reprokit_pair``: both hosts (``pair.a``, ``pair.b``) for one session.
- ``assert_parity``: ``assert_parity(lambda host: host.file("/etc/passwd").mode)`` runs the
  check on both and fails, pointing at your line, with a side-by-side message when they
  disagree.

>>> assert_parity.__name__
'assert_parity'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

SIDES = ("a", "b")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reprokit", "reprokit parity (containers of two images)")
    group.addoption(
        "--reprokit-images",
        metavar="A,B",
        help="the image pair, in any transport (docker-daemon:, docker-archive:, oci:, "
        "oci-archive:)",
    )
    group.addoption(
        "--reprokit-build",
        metavar="CONTEXT",
        help="build CONTEXT twice without cache and use the two images as the pair",
    )
    group.addoption(
        "--reprokit-read-only",
        action="store_true",
        help="run the containers with a read-only root filesystem (tmpfs /tmp)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "reprokit_host" in metafunc.fixturenames:
        metafunc.parametrize("reprokit_host", SIDES, ids=SIDES, indirect=True)


FIXTURES = {"reprokit_host", "reprokit_pair", "assert_parity"}


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A configuration error (no image pair, both options, a malformed pair) is reported once,
    as a usage error before any test runs, when a collected test needs the pair."""
    if not any(FIXTURES & set(getattr(item, "fixturenames", ())) for item in items):
        return
    from .errors import UsageError

    try:
        _pair_arguments(config)
    except UsageError as err:
        raise pytest.UsageError(f"reprokit: {err}") from None


def _pair_arguments(config: pytest.Config) -> dict[str, Any]:
    from .containers import Hardening
    from .errors import UsageError
    from .spec import BuildSpec

    images = config.getoption("reprokit_images")
    context = config.getoption("reprokit_build")
    hardening = Hardening(read_only=bool(config.getoption("reprokit_read_only")))
    if images and context:
        raise UsageError("give either --reprokit-images or --reprokit-build, not both")
    if context:
        from pathlib import Path

        return {"build": BuildSpec(context=Path(context)), "hardening": hardening}
    if not images:
        raise UsageError(
            "this test needs an image pair: run pytest with --reprokit-images A,B "
            "or --reprokit-build CONTEXT"
        )
    parts = [p.strip() for p in images.split(",")]
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--reprokit-images takes two images, A,B (got {images!r})")
    return {"a": parts[0], "b": parts[1], "hardening": hardening}


@pytest.fixture(scope="session")
def reprokit_pair(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Both testinfra hosts (``.a``, ``.b``) on hardened containers, for the whole session."""
    from .behaviour.runner import host_pair
    from .errors import ReprokitError

    try:
        with host_pair(**_pair_arguments(request.config)) as pair:
            yield pair
    except ReprokitError as err:
        pytest.fail(f"reprokit: {err}", pytrace=False)


@pytest.fixture
def reprokit_host(request: pytest.FixtureRequest, reprokit_pair: Any) -> Any:
    """The testinfra host of image A, then of image B (test ids ``a`` and ``b``)."""
    return reprokit_pair[request.param]


def assert_parity(pair: Any, check: Callable[[Any], Any], name: str | None = None) -> Any:
    """Run ``check`` on both hosts; fail with a side-by-side message when the outcomes differ
    (or either errs). Returns the agreed value."""
    __tracebackhide__ = True
    from concurrent.futures import ThreadPoolExecutor

    from .behaviour.checks import as_checks, run_check
    from .model import ParityEntry
    from .report.text import render_parity

    (wanted,) = as_checks([(name, check)] if name else [check])
    with ThreadPoolExecutor(max_workers=2) as pool:
        fa = pool.submit(run_check, wanted, pair.a, pair.containers[0])
        fb = pool.submit(run_check, wanted, pair.b, pair.containers[1])
        entry = ParityEntry(wanted.name, fa.result(), fb.result())
    if not entry.same:
        table = "\n".join(render_parity([entry]))
        raise AssertionError(f"parity broken for {wanted.name}:\n{table}")
    return entry.a.value


@pytest.fixture(name="assert_parity")
def assert_parity_fixture(reprokit_pair: Any) -> Callable[..., Any]:
    """``assert_parity(check, name=None)``: the check agrees on both images, or the test fails."""

    def bound(check: Callable[[Any], Any], name: str | None = None) -> Any:
        __tracebackhide__ = True
        return assert_parity(reprokit_pair, check, name)

    return bound
