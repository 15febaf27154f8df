"""Run checks on hardened containers of two images, both sides concurrently.

>>> result = parity("img:a", "img:b", {"sh": lambda host: host.run("echo $0").rc})  # doctest: +SKIP
>>> result.ok, result.parity  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..containers import Container, Hardening, container_pair
from ..errors import Cancelled, UsageError
from ..model import ParityEntry

if TYPE_CHECKING:
    from ..sources.image import Source
    from ..spec import BuildSpec
from .backend import testinfra_host
from .checks import Check, as_checks, run_check
from .result import ParityResult
from .session import Sessions


def run_checks(
    checks: list[Check],
    hosts: tuple[Any, Any],
    containers: tuple[Container, Container],
    workers: int = 4,
) -> list[ParityEntry]:
    """Every check on both hosts, the two sides concurrently (``workers`` threads per side).

    On Ctrl-C the running checks are not waited for: the caller removes the containers, which
    ends them.
    """
    pool = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="reprokit-parity")
    try:
        futures = [
            (
                check,
                pool.submit(run_check, check, hosts[0], containers[0]),
                pool.submit(run_check, check, hosts[1], containers[1]),
            )
            for check in checks
        ]
        entries = [ParityEntry(c.name, fa.result(), fb.result()) for c, fa, fb in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return entries


@dataclass
class HostPair:
    """testinfra hosts on a running container of each image, for as long as the block lasts."""

    a: Any
    b: Any
    containers: tuple[Container, Container]
    images: tuple[str, str]
    run_id: str
    image_ids: tuple[str | None, str | None] = (None, None)

    def __getitem__(self, side: str) -> Any:
        if side not in ("a", "b"):
            raise KeyError(side)
        return self.a if side == "a" else self.b


@contextlib.contextmanager
def host_pair(
    a: str | Source | None = None,
    b: str | Source | None = None,
    *,
    build: BuildSpec | None = None,
    base_url: str | None = None,
    hardening: Hardening | None = None,
    sessions: bool | None = None,
    command_timeout: float | None = None,
    workers: int = 4,
) -> Iterator[HostPair]:
    """Hardened containers of ``a`` and ``b`` (or of two no-cache builds of ``build``) with a
    testinfra host on each; everything made for them is removed when the block ends.

    Commands run through up to ``workers`` shell sessions per container
    (:mod:`reprokit.behaviour.session`; ``sessions=False``, or ``REPROKIT_PARITY_SESSIONS=0``,
    runs an exec per command) and are killed after ``command_timeout`` seconds
    (``REPROKIT_COMMAND_TIMEOUT``, 300 by default).

    >>> with host_pair("app:1", "app:2") as pair:  # doctest: +SKIP
    ...     pair.a.file("/etc/passwd").exists, pair.b.user("app").uid
    """
    from ..engine import Run, open_client
    from ..runs import Session

    try:
        with contextlib.ExitStack() as stack:
            if build is not None:  # built as a check builds (runs.Session), twice, no cache
                session = Session(stack, builder="docker", base_url=base_url)
                run = session.run
                a, b = (session.build(build, []).tag for _ in "ab")
            else:
                client = open_client(base_url, "build")
                stack.callback(client.close)
                run = Run(client)
                stack.callback(run.cleanup)
            if a is None or b is None:
                raise UsageError("parity needs two images (or a build spec)")
            with container_pair(a, b, base_url=base_url, hardening=hardening, run=run) as pair:
                for container in pair:
                    container.sessions = Sessions(
                        container, size=workers, timeout=command_timeout, enabled=sessions
                    )
                ids = (_image_id(pair[0]), _image_id(pair[1]))
                yield HostPair(
                    testinfra_host(pair[0]),
                    testinfra_host(pair[1]),
                    pair,
                    (str(a), str(b)),
                    run.id,
                    ids,
                )
    except KeyboardInterrupt:
        raise Cancelled(
            "interrupted; the containers and images this run made were removed"
        ) from None


def parity(
    a: str | Source,
    b: str | Source,
    checks: Mapping[str, Callable[[Any], Any]] | Iterable[Any],
    *,
    base_url: str | None = None,
    read_only: bool = False,
    pids_limit: int = 256,
    mem_limit: str = "512m",
    workers: int = 4,
    sessions: bool | None = None,
    command_timeout: float | None = None,
) -> ParityResult:
    """Run testinfra ``checks`` on a hardened container of each image and compare outcomes.

    Commands run through one long-lived shell per container and worker (``sessions=False``
    runs an exec per command); one running longer than ``command_timeout`` seconds is killed
    and makes its check an error (see :func:`host_pair`).

    Images are given in any transport; archives and OCI layouts are loaded into the engine for
    the run and removed afterwards, as are the containers (also on errors and Ctrl-C).

    >>> r = parity("app:1", "oci-archive:app.tar", {"py": lambda h: h.run("python3 -V").stdout})
    ... # doctest: +SKIP
    >>> print(r.text())  # doctest: +SKIP
    """
    wanted = as_checks(checks)
    if not wanted:
        raise UsageError("parity needs at least one check")
    started = time.monotonic()
    hardening = Hardening(read_only=read_only, pids_limit=pids_limit, mem_limit=mem_limit)
    with host_pair(
        a,
        b,
        base_url=base_url,
        hardening=hardening,
        sessions=sessions,
        command_timeout=command_timeout,
        workers=workers,
    ) as pair:
        entries = run_checks(wanted, (pair.a, pair.b), pair.containers, workers)
    return ParityResult(
        images=(str(a), str(b)),
        parity_records=entries,
        image_ids=pair.image_ids,
        run_id=pair.run_id,
        duration_s=time.monotonic() - started,
    )


def _image_id(container: Container) -> str | None:
    try:
        return str(container._api().inspect_container(container.id)["Image"])
    except Exception:
        return None
