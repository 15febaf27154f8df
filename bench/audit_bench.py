"""Benchmark ``reprokit audit``: the secret scan's cost over a plain read of the same image.

A benchmark, not a test. It reads an existing image (any transport; nothing is built, pulled
or removed) ``--repeat`` times each way, interleaved, and prints the median and minimum wall
time of: a plain read (every file hashed), a read with the audit's secret tap (every file up to
1 MiB also scanned), and the whole ``reprokit.audit`` (tap + practice rules), plus the number
of files scanned and the process's peak RSS.

Usage::

    .venv/bin/python bench/audit_bench.py reprokit-test/debian:bookworm --repeat 3

Exit status: 0 on success, 2 on an error.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="image reference, e.g. reprokit-test/debian:bookworm")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import reprokit
    from reprokit.auditing.rules import RULES
    from reprokit.auditing.secrets import SecretTap
    from reprokit.sources.refs import parse_ref

    source = parse_ref(args.image)
    times: dict[str, list[float]] = {"read": [], "read + secret tap": [], "audit": []}
    scanned = 0
    try:
        for _ in range(args.repeat):
            start = time.perf_counter()
            source.read()
            times["read"].append(time.perf_counter() - start)
            tap = SecretTap(RULES)
            start = time.perf_counter()
            source.read(tap_for=lambda _d, tap=tap: tap)
            times["read + secret tap"].append(time.perf_counter() - start)
            scanned = tap.scanned
            start = time.perf_counter()
            result = reprokit.audit(args.image)
            times["audit"].append(time.perf_counter() - start)
    except reprokit.ReprokitError as err:
        print(f"audit_bench: error: {err}", file=sys.stderr)
        return 2
    print(f"{args.image}: {scanned} files scanned, {len(result.finding_records)} findings")
    print(f"{'what':<20} {'median s':>9} {'min s':>7}")
    for name, values in times.items():
        print(f"{name:<20} {statistics.median(values):>9.2f} {min(values):>7.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of this process: {peak / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
