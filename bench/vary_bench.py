"""Benchmark the context copies of ``--vary context-*`` against ``cp -a`` of the same tree.

A benchmark, not a test: it writes a context of ``--files`` random files (log-uniform sizes,
``--size-mb`` in all) under a temporary directory, then times, ``--repeat`` times each
(median and minimum): ``cp -a CONTEXT COPY`` (the floor: one copy keeping mtimes and modes),
and reprokit's :func:`reprokit.variations.prepare` for ``context-mtime``, ``context-umask`` and
all three copy-based variations together. Everything is removed at the end.

Usage::

    .venv/bin/python bench/vary_bench.py                     # 5000 files, 200 MB, 3 repeats
    .venv/bin/python bench/vary_bench.py --files 20000 --size-mb 500 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from reprokit.spec import BuildSpec
from reprokit.variations import VaryOptions, parse_vary, prepare


def make_context(root: Path, files: int, size_mb: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    sizes = [int(10 ** rng.uniform(1, 6)) for _ in range(files)]
    scale = size_mb * 1_000_000 / max(sum(sizes), 1)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    for n, size in enumerate(sizes):
        path = root / f"d{n % 50:02d}" / f"s{n % 7}" / f"f{n}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(max(1, int(size * scale))))


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reprokit-vary-bench-") as tmp:
        ctx = Path(tmp) / "context"
        ctx.mkdir()
        make_context(ctx, args.files, args.size_mb)
        work = Path(tmp) / "work"
        counter = iter(range(1_000_000))

        def fresh() -> Path:
            if work.exists():
                shutil.rmtree(work)
            work.mkdir()
            return work

        def cp() -> None:
            subprocess.run(["cp", "-a", str(ctx), str(fresh() / "copy")], check=True)

        def vary(names: str):
            variations = parse_vary(names)
            return lambda: prepare(
                BuildSpec(ctx), variations, fresh(), next(counter), VaryOptions()
            )

        rows = [
            ("cp -a (floor)", cp),
            ("context-mtime", vary("context-mtime")),
            ("context-umask", vary("context-umask")),
            (
                "context-mtime,context-umask,context-path",
                vary("context-mtime,context-umask,context-path"),
            ),
        ]
        print(f"context: {args.files} files, {args.size_mb} MB; {args.repeat} repeats")
        print(f"{'what':<44} {'median s':>9} {'min s':>9}")
        for label, fn in rows:
            median, low = timed(fn, args.repeat)
            print(f"{label:<44} {median:>9.3f} {low:>9.3f}")


if __name__ == "__main__":
    main()
