"""Benchmark parity: a 30-check testinfra suite on one image, and on the pair at once.

A benchmark, not a test. In one run, with one hardened container per image (the same ones for
every measurement, started once), it times ``--repeat`` times each (median and min reported):

- ``one image``: the 30 checks on container A only (``--workers`` threads);
- ``pair, concurrently``: the 30 checks on A and on B at the same time, as ``reprokit.parity``
  runs them (``--workers`` threads per side);
- ``pair, one side after the other``: A, then B (what running them without concurrency costs);
- ``one image, 1 thread`` and ``pair, 1 thread per side``: the same without threads per side.

The default pair is the Debian base the tests build (``reprokit-test/debian:bookworm``, made by
debootstrap on first use) against itself: two containers, identical outcomes. The containers
are removed at the end, also on errors and Ctrl-C.

Usage::

    .venv/bin/python bench/parity_bench.py                      # Debian base vs itself, 3 repeats
    .venv/bin/python bench/parity_bench.py --a app:1 --b oci-archive:app.tar --repeat 5

Exit status: 0 on success, 2 on an error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reprokit.behaviour.checks import Check, command, file, group, package, run_check, user
from reprokit.behaviour.runner import host_pair, run_checks
from reprokit.errors import ReprokitError

SUITE: list[Check] = [
    *(
        file(p)
        for p in (
            "/etc/passwd",
            "/etc/group",
            "/etc/shadow",
            "/etc/os-release",
            "/etc/debian_version",
            "/bin/bash",
            "/usr/bin/dpkg",
            "/usr/bin/apt",
            "/tmp",
            "/does/not/exist",
        )
    ),
    *(package(p) for p in ("bash", "dpkg", "apt", "coreutils", "libc6", "tar", "gzip", "sed")),
    *(user(u) for u in ("root", "daemon", "nobody")),
    *(group(g) for g in ("root", "adm", "users")),
    *(
        command(c)
        for c in ("uname -s", "id -u", "ls /", "cat /etc/debian_version", "echo $PATH", "exit 3")
    ),
]
assert len(SUITE) == 30


def one_side(pair: Any, workers: int) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(lambda c: run_check(c, pair.a, pair.containers[0]), SUITE):
            assert outcome.status != "error", outcome.message


def both(pair: Any, workers: int) -> None:
    entries = run_checks(SUITE, (pair.a, pair.b), pair.containers, workers)
    assert all(e.same for e in entries), [e.name for e in entries if not e.same]


def one_after_the_other(pair: Any, workers: int) -> None:
    for side in (0, 1):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            host, container = (pair.a, pair.b)[side], pair.containers[side]
            list(pool.map(lambda c, h=host, k=container: run_check(c, h, k), SUITE))


def measure(fn: Callable[[], None], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", help="image A (default: the Debian test base)")
    parser.add_argument("--b", help="image B (default: same as A)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4, help="threads per side (4)")
    args = parser.parse_args(argv)
    try:
        a = args.a
        if a is None:
            import bases
            import docker

            client = docker.from_env()
            a = bases.ensure_debian(client)
            client.close()
        b = args.b or a
        started = time.perf_counter()
        with host_pair(a, b) as pair:
            setup = time.perf_counter() - started
            one_side(pair, args.workers)  # warm-up: testinfra's per-host caches, page cache
            rows = [
                ("one image", lambda: one_side(pair, args.workers)),
                ("pair, concurrently", lambda: both(pair, args.workers)),
                ("pair, one side after the other", lambda: one_after_the_other(pair, args.workers)),
                ("one image, 1 thread", lambda: one_side(pair, 1)),
                ("pair, 1 thread per side", lambda: both(pair, 1)),
            ]
            results = [(name, measure(fn, args.repeat)) for name, fn in rows]
    except ReprokitError as err:
        print(f"parity_bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("parity_bench: interrupted", file=sys.stderr)
        return 130
    print(f"30-check suite, A={a}, B={b}, {args.workers} thread(s) per side, {args.repeat} runs")
    print(f"containers started (and images checked) in {setup:.2f} s")
    print(f"{'':34} {'median':>8} {'min':>8}")
    for name, times in results:
        print(f"{name:34} {statistics.median(times):7.2f}s {min(times):7.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
