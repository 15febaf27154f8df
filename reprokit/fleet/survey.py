"""``survey()``: check many targets in one run, locally or on a Dask cluster, and (optionally)
append the outcome to the history store.

>>> import reprokit
>>> fleet = reprokit.survey(["services/*/", "old.tar=new.tar"], concurrency=2)  # doctest: +SKIP
>>> fleet.targets[["target", "verdict", "ok", "top_fix"]]  # doctest: +SKIP
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .executors import DaskExecutor, LocalExecutor
from .manifest import Target, expand
from .result import SurveyResult, TargetRow
from .task import CONTEXT_LIMIT, spec_parts


def survey(
    targets: str | Path | list[str | Path | Target],
    *,
    manifest: str | Path | None = None,
    require: str | None = None,
    builder: str | None = None,
    ignore: list[str] | None = None,
    build_args: dict[str, str] | None = None,
    source_date_epoch: int | None = None,
    concurrency: int | None = None,
    client: Any = None,
    scheduler: str | None = None,
    engine: str | None = None,
    max_context: int = CONTEXT_LIMIT,
    history: str | Path | None = None,
    say: Callable[[str], None] | None = None,
) -> Any:
    """Check every target and return a :class:`~reprokit.fleet.result.SurveyResult`.

    ``targets``: build contexts, globs of them (``services/*/``), image pairs ``A=B``,
    manifests (``fleet.toml``) or :class:`~reprokit.fleet.manifest.Target` objects;
    ``manifest``: one more manifest. ``require``, ``builder``, ``ignore``, ``build_args`` and
    ``source_date_epoch`` are defaults for every target that does not set its own.

    Local by default: ``concurrency`` targets at once (default: half the CPUs), building on
    ``engine`` (default ``DOCKER_HOST``). With ``client`` (a ``dask.distributed.Client``) or
    ``scheduler`` (``tcp://HOST:PORT``) each target runs on a Dask worker with the worker's own
    engine. ``history``: a SQLite file or SQLAlchemy URL the outcome is appended to.
    ``say``: called with a line per finished target (and the Dask dashboard's address).
    A target that cannot be checked is a row with its error (verdict ``error``)."""
    items: list[str | Path | Target] = (
        [targets] if isinstance(targets, str | Path | Target) else list(targets)
    )
    if manifest is not None:
        items.append(str(manifest))
    defaults: dict[str, Any] = {
        "require": require,
        "builder": builder,
        "ignore": list(ignore or []),
        "build_args": dict(build_args or {}),
        "source_date_epoch": source_date_epoch,
    }
    if require not in (None, "identical", "equivalent"):
        raise UsageError(f"require takes identical or equivalent, not {require!r}")
    plan: list[Target] = []
    strings = [str(i) for i in items if not isinstance(i, Target)]
    if strings:
        plan += expand(strings, defaults)
    plan += [i for i in items if isinstance(i, Target)]
    names = [t.name for t in plan]
    if len(set(names)) != len(names):
        raise UsageError(f"target names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    note = say or (lambda line: None)
    parts = {t.name: _parts(t) for t in plan}
    if client is not None or scheduler:
        executor: LocalExecutor | DaskExecutor = DaskExecutor(
            client, scheduler, max_context=max_context
        )
        if executor.dashboard:
            note(f"survey: Dask dashboard at {executor.dashboard}")
    else:
        executor = LocalExecutor(concurrency, engine)
    started = datetime.now(UTC)
    clock = time.monotonic()
    rows: list[TargetRow] = []
    reports: dict[str, Any] = {}
    try:
        for target, (row_dict, report) in zip(plan, executor.run(plan), strict=True):
            row = TargetRow.from_dict(row_dict)
            row.target = target.name
            row.fingerprint = parts[target.name].get("fingerprint")
            row.spec = parts[target.name]
            rows.append(row)
            if report is not None:
                from ..result import Result

                reports[target.name] = Result.from_dict(report)
            note(f"survey: {row.target}: {row.verdict}" + (f" ({row.error})" if row.error else ""))
    finally:
        executor.close()
    result = SurveyResult(
        target_records=rows,
        executor=executor.name,
        concurrency=executor.concurrency,
        scheduler=executor.scheduler,
        dashboard=executor.dashboard,
        started=started.isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - clock, 3),
        run_id=uuid.uuid4().hex[:12],
        reports=reports,
    )
    if history is not None:
        from .history import Store

        with Store.open(history) as store:
            store.append(result)
    return result


def _parts(target: Target) -> dict[str, Any]:
    try:
        return spec_parts(target)
    except OSError:
        return {}
