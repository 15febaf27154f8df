"""Where the CPU of an in-place read goes: per member of an image's largest layer, by stage.

A benchmark, not a test: it reads an image that is already in the local engine (overlay2,
classic store, data root readable: run as root), in this process and thread, ``--repeat``
times, and prints the best CPU time per member of each stage, cumulatively:

1. the tar-split record: inflate the gzip, split the lines, decode the base64 segments;
2. and the headers (:func:`reprokit.read.tarsplit.header_member`, the export's tar reader);
3. and opening, checking and hashing every regular file (:class:`LayerTree`);
4. the whole :func:`~reprokit.read.tarsplit.index_in_place` (records, bookkeeping).

Usage::

    .venv/bin/python bench/inplace_bench.py reprokit-test/debian:bookworm
    .venv/bin/python bench/inplace_bench.py IMAGE --repeat 5
"""

from __future__ import annotations

import argparse
import binascii
import io
import os
import sys
import time
from collections.abc import Callable, Sequence

from reprokit.read import layer_tree, tarsplit
from reprokit.read.limits import current
from reprokit.sources.daemon import DaemonSource
from reprokit.sources.inplace import StoredLayer, locate, storage_for


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def stages(layer: StoredLayer) -> dict[str, Callable[[], object]]:
    longest = 2 * current().header_bytes + 1024

    def records() -> list[tuple[int | None, bytes | None]]:
        out: list[tuple[int | None, bytes | None]] = []
        skip = len(tarsplit._SEGMENT_B)
        for line in tarsplit._lines(layer.split, longest):  # as index_in_place reads them
            if line.startswith(tarsplit._SEGMENT_B):
                end = line.index(b'"', skip)
                out.append((None, binascii.a2b_base64(line[skip:end])))
            elif line.startswith(tarsplit._ENTRY_B):
                at = line.rfind(b',"size":')
                size = int(line[at + 8 : line.index(b",", at + 8)]) if at > 0 else 0
                out.append((size, None))
            elif line.strip():
                out.append(tarsplit._record(line, longest))
        return out

    def headers() -> list[tuple[bytes, int]]:
        files, pending, pad, size = [], b"", 0, 0
        reader = tarsplit.TarReader(io.BytesIO(), current())
        for payload, segment in records():
            if segment is not None:
                pending += segment
                size += len(segment)
                continue
            blocks = pending[pad:]
            header = tarsplit.header_member(reader, blocks, size - len(blocks))
            pending, pad = b"", tarsplit._pad(payload or 0)
            size += payload or 0
            if header.has_data and payload:
                files.append((layer_tree.relative(header.name), payload))
        return files

    def contents() -> None:
        files = headers()
        tree = tarsplit.LayerTree(layer.diff)
        try:
            for rel, size in files:
                tree.digest(rel, size)
        finally:
            tree.close()

    def whole() -> None:
        tree = tarsplit.LayerTree(layer.diff)
        try:
            tarsplit.index_in_place(layer.split, tree, layer.diff_id)
        finally:
            tree.close()

    return {
        "tar-split records": records,
        "+ headers": headers,
        "+ files opened and hashed": contents,
        "index_in_place (all)": whole,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="an image in the local engine (DOCKER_HOST)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage (3)")
    args = parser.parse_args(argv)
    storage = storage_for(os.environ.get("DOCKER_HOST"))
    if storage is None:
        print("inplace_bench: the engine's storage cannot be read in place here", file=sys.stderr)
        return 2
    source = DaemonSource(args.image)
    _, layers = locate(storage, source._inspect()["Id"], args.image)
    layer = max(layers, key=lambda stored: stored.split.stat().st_size)
    tree = tarsplit.LayerTree(layer.diff)
    try:
        index = tarsplit.index_in_place(layer.split, tree, layer.diff_id)
    finally:
        tree.close()
    members = len(index.records)
    print(
        f"{args.image}: largest layer {layer.diff_id[:19]}, {members} members, "
        f"{index.content_bytes / 1e6:.1f} MB of contents; 1-min load {os.getloadavg()[0]:.2f}"
    )
    for name, work in stages(layer).items():
        cpu = best(args.repeat, work)
        print(f"  {name:<28} {cpu / members * 1e6:6.2f} µs CPU a member ({cpu:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
