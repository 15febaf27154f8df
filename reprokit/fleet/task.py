"""One target, checked where it runs (this process, or a Dask worker with its own engine).

:func:`run_target` never raises for the target's own failures: a build that fails, an image
that is missing, a spec that is wrong become a row whose verdict is ``error``. What crosses a
process boundary is plain data: the target's options (a dict), its context as a tar (bytes,
size-limited) and back the row and the full report (dicts).

>>> import tempfile
>>> ctx = Path(tempfile.mkdtemp()); _ = (ctx / "Dockerfile").write_text("FROM scratch\\n")
>>> data = pack_context(ctx)
>>> out = Path(tempfile.mkdtemp()); unpack_context(data, out); (out / "Dockerfile").read_text()
'FROM scratch\\n'
>>> pack_context(ctx, limit=10)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
reprokit.errors.UsageError: context ... is larger than the limit of 10 bytes ...
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import BuildError, UsageError
from ..text import one_line
from .manifest import Target
from .result import ERROR, TargetRow, report_name

#: the largest context shipped to a worker (bytes, tarred): build contexts of a fleet are
#: small; a context this big usually means a missing .dockerignore
CONTEXT_LIMIT = 64 << 20


def pack_context(context: str | Path, limit: int = CONTEXT_LIMIT) -> bytes:
    """The context as an uncompressed tar (``.git`` left out), at most ``limit`` bytes."""
    root = Path(context)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(dirs) + sorted(files):
                path = Path(dirpath) / name
                tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
                if buffer.tell() > limit:
                    raise UsageError(
                        f"context {root} is larger than the limit of {limit} bytes to ship to "
                        "a worker (add a .dockerignore, or raise max_context)"
                    )
    data = buffer.getvalue()
    if len(data) > limit:
        raise UsageError(
            f"context {root} is larger than the limit of {limit} bytes to ship to a worker "
            "(add a .dockerignore, or raise max_context)"
        )
    return data


def unpack_context(data: bytes, into: Path) -> None:
    """Extract a packed context, refusing links and paths that leave ``into``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(into, filter="data")


def spec_parts(target: Target) -> dict[str, Any]:
    """The fingerprint of what is built and its parts (context digest without the Dockerfile,
    Dockerfile digest, build args and options), to tell later which one changed."""
    if target.kind == "pair":
        refs = f"{target.a} = {target.b}"
        return {"fingerprint": hashlib.sha256(refs.encode()).hexdigest(), "refs": refs}

    spec = _spec(target, Path(str(target.context)))
    dockerfile = spec.dockerfile_path
    context = hashlib.sha256()
    root = spec.context
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = Path(dirpath) / name
            if path == dockerfile:
                continue
            context.update(path.relative_to(root).as_posix().encode("utf-8", "surrogateescape"))
            try:
                context.update(b"\0" + path.read_bytes() + b"\0")
            except OSError:
                context.update(b"\0unreadable\0")
    try:
        dockerfile_digest = hashlib.sha256(dockerfile.read_bytes()).hexdigest()
    except OSError:
        dockerfile_digest = None
    options = spec.options()
    return {
        "fingerprint": spec.fingerprint() if dockerfile_digest else None,
        "context": context.hexdigest(),
        "dockerfile": dockerfile_digest,
        "build_args": options["build_args"],
        "options": {k: v for k, v in options.items() if k not in ("build_args", "labels")},
    }


def _spec(target: Target, context: Path) -> Any:
    from ..spec import BuildSpec

    return BuildSpec(
        context=context,
        dockerfile=target.dockerfile or "Dockerfile",
        build_args=dict(target.build_args),
        target=target.target,
        network=target.network,
        platform=target.platform,
    )


def worker_engine() -> str | None:
    """The engine this process builds with: ``REPROKIT_DOCKER_HOST`` (a per-worker setting),
    else ``DOCKER_HOST``, else the local socket (None)."""
    return os.environ.get("REPROKIT_DOCKER_HOST") or os.environ.get("DOCKER_HOST") or None


def run_target(
    target: dict[str, Any], context_tar: bytes | None = None, engine: str | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Check one target; returns its row and its full report (None on an error), as dicts.

    ``context_tar``: the context shipped from elsewhere (else ``target["context"]`` is read in
    place); ``engine``: the engine to build with (default: :func:`worker_engine`)."""
    t = Target.from_dict(target)
    engine = engine or worker_engine()
    started = time.monotonic()
    row = TargetRow(
        target=t.name,
        kind=t.kind,
        verdict=ERROR,
        ok=False,
        require=t.require,
        builder=t.builder if t.kind == "context" else None,
        engine=engine,
        worker=socket.gethostname() + f":{os.getpid()}",
        what=t.describe(),
        report=report_name(t.name),
    )
    try:
        with tempfile.TemporaryDirectory(prefix="reprokit-target-") as tmp:
            context = Path(str(t.context)) if t.context else None
            if context_tar is not None:
                context = Path(tmp) / "context"
                context.mkdir()
                unpack_context(context_tar, context)
            result = _check(t, context, engine)
    except BuildError as err:
        tail = " | ".join(one_line(line) for line in err.log_tail[-3:])
        row.error = f"build failed: {one_line(str(err))}" + (f" — {tail}" if tail else "")
        row.duration_s = round(time.monotonic() - started, 3)
        return row.to_dict(), None
    except Exception as err:  # one target's failure is a row, never the end of the survey
        row.error = f"{type(err).__name__}: {one_line(str(err))}"
        row.duration_s = round(time.monotonic() - started, 3)
        return row.to_dict(), None
    summarize(result, row)
    row.duration_s = round(time.monotonic() - started, 3)
    return row.to_dict(), json.loads(json.dumps(result.to_dict(), default=str))


def _check(t: Target, context: Path | None, engine: str | None) -> Any:
    from ..api import check, compare

    if t.kind == "pair":
        return compare(str(t.a), str(t.b), ignore=t.ignore, platform=t.platform)
    assert context is not None
    return check(
        spec=_spec(t, context),
        builder=t.builder,
        base_url=engine,
        ignore=t.ignore,
        source_date_epoch=t.source_date_epoch,
        platform=t.platform,
    )


def summarize(result: Any, row: TargetRow) -> TargetRow:
    """Fill ``row`` from a comparison: verdict, ok, counts by cause, first fix, images."""
    from dataclasses import replace

    result = replace(result, require=row.require)
    row.verdict = result.verdict
    row.ok = result.ok
    counted = [d for d in (*result.file_records, *result.config_records) if not d.ignored]
    causes = Counter(d.cause or "unexplained" for d in counted)
    row.causes = dict(causes.most_common())
    row.unexplained = causes.get("unexplained", 0)
    row.ignored = result.ignored_count
    fixes = [s.fix for s in result.step_records if s.fix]
    fixes += [d.fix for d in counted if d.fix]
    row.top_fix = fixes[0] if fixes else None
    if result.builds:
        row.builder = result.builds[0].builder
    row.image_a, row.image_b = (i.id if i else None for i in result.images)
    return row
