"""Benchmark comparing and explaining a crafted pair with many differences, phase by phase
(no engine needed).

Writes two ``docker save``-style archives (tests/tarcraft.py) whose second layer holds
``--files`` files that all differ, in a mix that exercises every kind of evidence: a quarter
differ only in mtime, a quarter are logs under /var/log with a changed date, a quarter are text
with a changed date, a quarter hold random bytes. Then, in a fresh process (so that its peak
RSS is the comparison's, not the crafting's), runs ``reprokit.compare`` once with each stage of
the pipeline timed on its own, and builds the DataFrames and writes the JSON report:

- ``read``: both archives read (tar headers, hashes, contents paired for evidence); ``of
  which content facts`` is the CPU the first pass spent turning paired contents into facts;
- ``compare``, ``packages``, ``explain``, ``verdict`` (the explained records and the verdict:
  ``reprokit.pipeline.assemble``);
- ``import pandas`` (a fixed cost, apart), ``frames`` (``Result.files`` and
  ``Result.merged``) and ``JSON write``.

Each row shows wall and CPU time, CPU per difference (per-layer differences), the peak RSS
within the phase and the RSS after it. The floor row is the CPU of making one ``FileDiff`` per
difference (per-layer and merged) and nothing else. A benchmark, not a test; nothing is timed
in the test suite.

Usage::

    .venv/bin/python bench/explain_bench.py                 # 100,000 differing files
    .venv/bin/python bench/explain_bench.py --files 20000 --keep /tmp/pair
    .venv/bin/python bench/explain_bench.py --keep /tmp/pair --profile explain
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import importlib
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

PHASES = ("read", "compare", "packages", "explain", "verdict")


def members(n: int, side: str) -> list[Any]:
    """``n`` files of four kinds; ``side`` ("a"/"b") decides what differs."""
    import tarcraft as tc

    out = []
    day = "26" if side == "a" else "27"
    for i in range(n):
        kind = i % 4
        if kind == 0:
            out.append(tc.file(f"app/same/{i}", b"same\n", mtime=tc.MTIME + (side == "b")))
        elif kind == 1:
            out.append(tc.file(f"var/log/app/{i}.log", f"2026-11-{day} run {i}\n".encode()))
        elif kind == 2:
            out.append(tc.file(f"app/stamp/{i}.txt", f"id {i}\nbuilt 2026-11-{day}\n".encode()))
        else:
            out.append(tc.file(f"app/blob/{i}.bin", os.urandom(64)))
    return out


def craft(root: Path, files: int) -> None:
    """The pair in ``root`` (a.tar, b.tar), unless it is there already for ``files``."""
    import tarcraft as tc

    marker = root / "files.txt"
    if marker.exists() and marker.read_text() == str(files):
        return
    root.mkdir(parents=True, exist_ok=True)
    base = tc.make_layer([tc.directory("etc/"), tc.file("etc/os-release", b"ID=bench\n")])
    for side in "ab":
        layer = tc.make_layer(members(files, side))
        tc.write_docker_archive(root / f"{side}.tar", [base, layer], style="blobs")
    marker.write_text(str(files))


# --- the measuring process ---------------------------------------------------------------------


def _status(key: str) -> int:
    """A /proc/self/status figure in KiB (VmHWM: peak RSS, VmRSS: RSS now)."""
    text = Path("/proc/self/status").read_text()
    found = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def _reset_peak() -> None:
    """Start a new peak RSS (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Phases:
    """Wall, CPU and memory of each phase, in order."""

    def __init__(self, profile: str | None):
        self.rows: list[tuple[str, float, float, int, int]] = []
        self.profile = profile
        self.overall_peak = 0

    def run(self, name: str, call: Callable[[], Any]) -> Any:
        self.overall_peak = max(self.overall_peak, _status("VmHWM"))
        _reset_peak()
        profiler = cProfile.Profile() if name == self.profile else None
        wall, cpu = time.monotonic(), time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            return call()
        finally:
            if profiler is not None:
                profiler.disable()
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
            peak = _status("VmHWM")
            self.overall_peak = max(self.overall_peak, peak)
            self.rows.append((name, wall, cpu, peak, _status("VmRSS")))
            if profiler is not None:
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            return self.run(name, lambda: function(*args, **kwargs))

        return timed


class FactsClock:
    """CPU time spent in ``content_facts`` by the reading threads."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.lock = threading.Lock()

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def clocked(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                with self.lock:
                    self.seconds += time.thread_time() - started

        return clocked


def copy_floor(*views: list[Any]) -> float:
    """CPU seconds to make one FileDiff per difference of ``views`` and nothing else (the
    collector paused, as in the stages): what any comparison in Python pays at least."""
    from reprokit.model import FileDiff

    started = time.process_time()
    gc.disable()
    try:
        for view in views:
            copies = [FileDiff(d.path, d.change, d.fields, d.layer, d.a, d.b) for d in view]
            del copies
    finally:
        gc.enable()
    return time.process_time() - started


def measure(root: Path, profile: str | None) -> int:
    """Compare the pair in ``root`` phase by phase and print the table."""
    import reprokit
    import reprokit.explain.pairing as pairing
    import reprokit.pipeline as pipeline

    phases = Phases(profile)
    for name, attr in zip(
        PHASES, ("read_pair", "compare_images", "package_plan", "explain", "assemble"), strict=True
    ):
        setattr(pipeline, attr, phases.timed(name, getattr(pipeline, attr)))
    clock = FactsClock()
    pairing.content_facts = clock.wrap(pairing.content_facts)
    load = os.getloadavg()[0]
    started = phases_cpu = time.process_time()
    a, b = (f"docker-archive:{root / side}.tar" for side in "ab")
    result = reprokit.compare(a, b)
    pipeline_cpu = time.process_time() - started
    phases.run("import pandas", lambda: importlib.import_module("pandas"))
    phases.run("frames", lambda: (result.files, result.merged))
    report = root / "report.json"
    phases.run("JSON write", lambda: result.to_json(report))
    phases_cpu = time.process_time() - phases_cpu
    n = len(result.file_records)
    print(f"{n} per-layer differences, {len(result.merged_records)} merged; load {load:.1f}")
    print(f"{'phase':<28} {'wall s':>7} {'CPU s':>7} {'µs/diff':>8} {'peak MiB':>9} {'RSS MiB':>8}")
    for name, wall, cpu, peak, rss in phases.rows:
        print(
            f"{name:<28} {wall:>7.2f} {cpu:>7.2f} {cpu / n * 1e6:>8.1f} "
            f"{peak / 1024:>9.0f} {rss / 1024:>8.0f}"
        )
        if name == "read":
            facts = clock.seconds
            print(f"{'  of which content facts':<28} {'':>7} {facts:>7.2f} {facts / n * 1e6:>8.1f}")
    floor = copy_floor(result.file_records, result.merged_records)
    print(f"{'floor: one FileDiff each':<28} {'':>7} {floor:>7.2f} {floor / n * 1e6:>8.1f}")
    cpu = {name: cpu for name, _, cpu, _, _ in phases.rows}
    compare_explain = cpu["compare"] + cpu["explain"]
    print(
        f"compare + explain: {compare_explain:.2f} s CPU ({compare_explain / n * 1e6:.1f} µs per "
        f"difference); with the verdict {compare_explain + cpu['verdict']:.2f} s"
    )
    print(
        f"reprokit.compare: {pipeline_cpu:.2f} s CPU; all phases {phases_cpu:.2f} s CPU; "
        f"peak RSS {phases.overall_peak / 1024:.0f} MiB; load {os.getloadavg()[0]:.1f} at the end"
    )
    causes = Counter(d.cause for d in result.file_records)
    with_evidence = sum(1 for d in result.file_records if d.evidence)
    print(f"causes: {dict(causes.most_common())}; explained: {result.explained}")
    print(f"evidence on {with_evidence} of {n} per-layer differences")
    size = report.stat().st_size
    per = size / max(1, n + len(result.merged_records))
    print(f"JSON report: {size / 1e6:.1f} MB ({per:.0f} B per entry)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the archives and report here (reused)")
    parser.add_argument("--profile", choices=(*PHASES, "import pandas", "frames", "JSON write"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.profile)
    root = args.keep or Path(tempfile.mkdtemp(prefix="reprokit-explain-bench-"))
    try:
        craft(root, args.files)
        sizes = sum((root / f"{side}.tar").stat().st_size for side in "ab")
        print(f"pair: {args.files} differing files, {sizes / 1e6:.1f} MB of archives in {root}")
        command = [sys.executable, __file__, "--measure", str(root)]
        command += ["--profile", args.profile] if args.profile else []
        return subprocess.run(command, check=False).returncode
    finally:
        if args.keep is None:  # the pair (up to 300 MB) goes with the run
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
