"""Where a survey's targets run: :class:`LocalExecutor` (threads in this process, a bounded
number of targets at once) or :class:`DaskExecutor` (each target sent to a Dask worker, which
builds with its own engine).

Both take targets and give back ``(row, report)`` pairs of dicts, in the order of the targets,
through :func:`reprokit.fleet.task.run_target`.

>>> default_concurrency(8), default_concurrency(1)
(4, 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import UsageError
from .manifest import Target
from .result import ERROR, TargetRow, report_name
from .task import CONTEXT_LIMIT, pack_context, run_target

Outcome = tuple[dict[str, Any], dict[str, Any] | None]
Task = Callable[..., Outcome]


def default_concurrency(cpus: int | None = None) -> int:
    """Targets at once by default: half the CPUs (a build is CPU- and I/O-heavy), at least 1."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // 2)


def error_row(target: Target, message: str) -> dict[str, Any]:
    row = TargetRow(
        target.name,
        target.kind,
        ERROR,
        False,
        require=target.require,
        error=message,
        what=target.describe(),
        report=report_name(target.name),
    )
    return row.to_dict()


class LocalExecutor:
    """Targets in threads of this process, at most ``concurrency`` at once."""

    name = "local"

    def __init__(self, concurrency: int | None = None, engine: str | None = None):
        if concurrency is not None and concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency or default_concurrency()
        self.engine = engine
        self.scheduler: str | None = None
        self.dashboard: str | None = None

    def run(self, targets: list[Target]) -> Iterator[Outcome]:
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="reprokit-target") as pool:
            futures = [pool.submit(run_target, t.to_dict(), None, self.engine) for t in targets]
            for future in futures:
                yield future.result()

    def close(self) -> None:
        pass


class DaskExecutor:
    """Each target sent to a Dask worker with its context (tarred, at most ``max_context``
    bytes) and options, and nothing else; the worker builds with its own engine
    (``REPROKIT_DOCKER_HOST`` or ``DOCKER_HOST`` of the worker's process). A worker lost while
    it ran a target: the target is sent once more (to another worker when there is one), then
    reported as an error row.

    ``client``: a ``dask.distributed.Client``; or ``scheduler``: its address
    (``tcp://HOST:PORT``), for which a client is opened and closed by :meth:`close`.
    """

    name = "dask"

    def __init__(
        self,
        client: Any = None,
        scheduler: str | None = None,
        max_context: int = CONTEXT_LIMIT,
        task: Task | None = None,
    ):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - the fleet extra installs it
            raise UsageError(
                "the Dask executor needs dask.distributed: pip install 'reprokit[fleet]'"
            ) from None
        self._own = client is None
        if client is None:
            if not scheduler:
                raise UsageError("the Dask executor needs a client or a scheduler address")
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as err:
                raise UsageError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None
        self.client = client
        self.scheduler = getattr(client.scheduler, "address", scheduler)
        self.dashboard = getattr(client, "dashboard_link", None)
        self.max_context = max_context
        self.task = task or run_target
        self.concurrency = sum(client.nthreads().values()) or None

    def _submit(self, target: Target, payload: bytes | None, attempt: int, avoid: set[str]):
        workers = [w for w in self.client.scheduler_info()["workers"] if w not in avoid]
        return self.client.submit(
            self.task,
            target.to_dict(),
            payload,
            None,
            key=f"reprokit-target-{report_name(target.name)}-{attempt}-{os.urandom(4).hex()}",
            pure=False,
            retries=0,
            workers=workers or None,
            allow_other_workers=bool(workers),  # Dask refuses it without a worker list
        )

    def run(self, targets: list[Target]) -> Iterator[Outcome]:
        from distributed import KilledWorker

        futures: list[Any] = []
        payloads: list[bytes | None] = []
        for t in targets:
            try:
                payload = pack_context(str(t.context), self.max_context) if t.context else None
            except (UsageError, OSError) as err:
                futures.append(error_row(t, str(err)))
                payloads.append(None)
                continue
            payloads.append(payload)
            futures.append(self._submit(t, payload, 1, set()))
        for t, future, payload in zip(targets, futures, payloads, strict=True):
            if isinstance(future, dict):
                yield future, None
                continue
            try:
                yield future.result()
                continue
            except KilledWorker as err:
                last = getattr(err, "last_worker", None)
                lost = {str(getattr(last, "address", last) or "")}
                first = f"worker lost while it ran the target ({err})"
            except Exception as err:  # the task itself never raises: the cluster failed
                lost, first = set(), f"{type(err).__name__}: {err}"
            retry = self._submit(t, payload, 2, lost)
            try:
                yield retry.result()
            except Exception as err:
                yield error_row(t, f"{first}; retried once: {type(err).__name__}: {err}"), None

    def close(self) -> None:
        if self._own:
            self.client.close()
