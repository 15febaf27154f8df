"""Benchmark the report presenters on a large crafted Result (no engine needed).

A benchmark, not a test: it builds a Result of ``--files`` differing files (default 100,000)
spread over ``--layers`` layers with a few causes, then times and sizes each presenter:
the rich display (``_repr_html_``), the standalone page without and with plots, Markdown,
the generated notebook (with its JSON report) and the three plots.

Usage::

    .venv/bin/python bench/report_bench.py
    .venv/bin/python bench/report_bench.py --files 1000000 --layers 12
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from reprokit.model import FileDiff, ImageInfo, LayerDiff
from reprokit.records import FileRecord
from reprokit.result import Result

CAUSES = ("timestamp", "timestamp", "timestamp", "python-bytecode", "log-file", None)


def big_result(files: int, layers: int) -> Result:
    """``files`` differing files over ``layers`` differing layers (plus one shared layer)."""
    diff_ids = [f"sha256:{i:064x}" for i in range(layers + 1)]
    image = ImageInfo("docker-archive:big.tar", "sha256:" + "1" * 64, diff_ids, size=10**9)
    diffs = []
    for i in range(files):
        layer = 1 + i % layers
        path = f"/usr/lib/python3/site-packages/pkg{i % 997}/module_{i}.py"
        cause = CAUSES[i % len(CAUSES)]
        content = cause not in ("timestamp",)
        a = FileRecord(path, "file", 0o644, size=1000 + i % 5000, mtime=1.7e9, sha256="a" * 64)
        b = FileRecord(path, "file", 0o644, size=a.size, mtime=1.7e9 + 1, sha256="b" * 64)
        diffs.append(
            FileDiff(
                path,
                "modified",
                ["mtime", "content"] if content else ["mtime"],
                layer=layer,
                a=a,
                b=b,
                cause=cause,
                fix=None if cause is None else f"fix for {cause}",
                evidence="- 2024-01-01\n+ 2024-01-02" if content else None,
            )
        )
    layer_records = [
        LayerDiff(0, diff_ids[0], diff_ids[0], True, "ADD rootfs.tar /", 0, 10**8, 10**8)
    ]
    for n in range(1, layers + 1):
        count = sum(1 for d in diffs if d.layer == n)
        layer_records.append(
            LayerDiff(
                n, diff_ids[n], diff_ids[n] + "x", False, f"RUN step {n}", count, 10**7, 10**7
            )
        )
    return Result("different", "content differs", (image, image), layer_records, [], diffs)


def timed(label: str, fn, size=None) -> None:
    started = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - started
    n = size(out) if size else None
    print(f"{label:<34} {elapsed:7.2f} s" + (f"   {n / 1e6:8.2f} MB" if n is not None else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--layers", type=int, default=6)
    args = parser.parse_args()
    started = time.perf_counter()
    result = big_result(args.files, args.layers)
    print(
        f"{args.files} differing files in {args.layers} layers, made in "
        f"{time.perf_counter() - started:.2f} s"
    )
    timed("rich display (_repr_html_)", result._repr_html_, lambda s: len(s.encode()))
    timed("to_html(plots=False)", lambda: result.to_html(plots=False), lambda s: len(s.encode()))
    timed("to_html() with plots", result.to_html, lambda s: len(s.encode()))
    timed("to_markdown()", result.to_markdown, lambda s: len(s.encode()))
    for kind in ("layers", "causes", "sizes"):
        timed(f"plot({kind!r})", lambda kind=kind: result.plot(kind))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.ipynb"
        timed(
            "to_notebook() (+ JSON beside)",
            lambda: result.to_notebook(path),
            lambda _: path.stat().st_size,
        )
        size = path.with_suffix(".json").stat().st_size
        print(f"{'  its JSON report':<34} {'':>9}   {size / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
