"""Benchmark the explanations on a crafted pair with many differences (no engine needed).

Writes two ``docker save``-style archives (tests/tarcraft.py) whose second layer holds
``--files`` files that all differ, in a mix that exercises every kind of evidence: a quarter
differ only in mtime, a quarter are logs under /var/log with a changed date, a quarter are text
with a changed date, a quarter hold random bytes. Then runs ``reprokit.compare`` once and
reports wall and CPU time, peak RSS, the JSON report's size, and how many differences got
content evidence. A benchmark, not a test; nothing is timed in the test suite.

Usage::

    .venv/bin/python bench/explain_bench.py                 # 100,000 differing files
    .venv/bin/python bench/explain_bench.py --files 20000 --keep /tmp/pair
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import tarcraft as tc

import reprokit


def members(n: int, side: str) -> list[tc.Member]:
    """``n`` files of four kinds; ``side`` ("a"/"b") decides what differs."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the archives and report here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="reprokit-explain-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    base = tc.make_layer([tc.directory("etc/"), tc.file("etc/os-release", b"ID=bench\n")])
    paths = []
    for side in "ab":
        layer = tc.make_layer(members(args.files, side))
        paths.append(tc.write_docker_archive(root / f"{side}.tar", [base, layer], style="blobs"))
    sizes = sum(p.stat().st_size for p in paths)
    print(f"pair: {args.files} differing files, {sizes / 1e6:.1f} MB of archives in {root}")
    wall, cpu = time.monotonic(), time.process_time()
    result = reprokit.compare(f"docker-archive:{paths[0]}", f"docker-archive:{paths[1]}")
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    report = root / "report.json"
    started = time.monotonic()
    result.to_json(report)
    write = time.monotonic() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    causes = Counter(d.cause for d in result.file_records)
    with_evidence = sum(1 for d in result.file_records if d.evidence)
    print(f"compare + explain: {wall:.2f} s wall, {cpu:.2f} s CPU; peak RSS {rss:.0f} MiB")
    print(f"causes: {dict(causes.most_common())}; explained: {result.explained}")
    print(f"evidence on {with_evidence} of {len(result.file_records)} per-layer differences")
    size = report.stat().st_size
    per = size / max(1, len(result.file_records) + len(result.merged_records))
    print(f"JSON report: {size / 1e6:.1f} MB ({per:.0f} B per entry), written in {write:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
