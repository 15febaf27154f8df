"""Benchmark the layer reader alone (no engine): CPU per file and peak memory of ``index_layer``.

A benchmark, not a test. It writes layer tars to a temporary directory and reads each in a fresh
child process, once with reprokit's reader (``reprokit.read.layers.index_layer``) and once with
the :mod:`tarfile`-based reader it replaced (``tests/tarref.py``), in the same run:

* ``small``: ``--files`` files (default 110,000, as the two images of
  ``bench/diff_bench.py --files 50000``) of log-uniform sizes (1 B to 16 KiB, random bytes),
  a directory per 100 files, one name in 30 longer than 100 bytes (a PAX header each), one
  file in 50 a hardlink and one in 50 a symlink: the per-file cost.
* ``bytes``: the same files plus four large files of ``--large-mb`` MB in all: memory must not
  grow with the bytes.

Each child reads the layer ``--copies`` times (default 2, the pair of a comparison) and keeps
every index, then reports the CPU seconds of the reads (``time.process_time``), CPU µs per file
read, and its peak RSS (``VmHWM``, which counts this process only, not the parent before exec).
The ``floor`` row is what any reader must do: read the tar and sha256 its bytes twice (the
layer's diff_id and the files' contents).

With ``--images A B`` (two refs, e.g. ``docker-daemon:NAME``) it also reads that pair as a
comparison does (``reprokit.read.pair.read_pair``: both at once, a shared layer read once, no
taps) with each reader, against the floor of the engine's concurrent bare export
(``docker save A >/dev/null & docker save B >/dev/null``; needs ``DOCKER_HOST`` of that engine).

Usage::

    PYTHONPATH=. .venv/bin/python bench/read_bench.py                 # 110,000 files, 256 MB
    PYTHONPATH=. .venv/bin/python bench/read_bench.py --files 20000 --large-mb 64
    PYTHONPATH=. .venv/bin/python bench/read_bench.py --profile 25    # also cProfile the reader
    PYTHONPATH=. .venv/bin/python bench/read_bench.py --files 0 --images REF_A REF_B
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import math
import os
import pstats
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READERS = ("floor", "tarfile", "reprokit")


def write_layer(path: Path, files: int, large_mb: int, seed: int = 1) -> int:
    """Write the layer tar; return the number of entries."""
    rng = random.Random(seed)
    entries = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        names: list[str] = []
        for i in range(files):
            folder = f"usr/lib/python3/site-packages/pkg{i // 100:04d}"
            if i % 100 == 0:
                info = tarfile.TarInfo(folder)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                tf.addfile(info)
                entries += 1
            name = f"{folder}/module_{i:06d}.py"
            if i % 30 == 0:
                name = f"{folder}/{'a_rather_long_module_name_' * 4}{i:06d}.py"
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = 0o644, 1_700_000_000 + i % 7
            if i % 50 == 1 and names:
                info.type, info.linkname = tarfile.LNKTYPE, names[-1]
                tf.addfile(info)
            elif i % 50 == 2:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, "module_000000.py", 0o777
                tf.addfile(info)
            else:
                size = int(math.exp(rng.uniform(0, math.log(16 << 10))))
                info.size = size
                tf.addfile(info, io.BytesIO(rng.randbytes(size)))
                names.append(name)
            entries += 1
        for k in range(4 if large_mb else 0):
            info = tarfile.TarInfo(f"opt/data/blob{k}.bin")
            info.size, info.mode, info.mtime = (large_mb << 20) // 4, 0o644, 1_700_000_000
            tf.addfile(info, _Repeat(rng.randbytes(1 << 20), info.size))
            entries += 1
    return entries


class _Repeat(io.RawIOBase):
    """``size`` bytes repeating one random MiB (large content without holding it)."""

    def __init__(self, block: bytes, size: int):
        self.block, self.left = block, size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), len(self.block), self.left)
        b[:n] = self.block[:n]
        self.left -= n
        return n


def _reader(reader: str):  # type: ignore[no-untyped-def]
    """``index_layer`` of ``reader`` (the tarfile one also put in the sources that read)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from reprokit.read import layers

    if reader == "tarfile":
        import tarref

        from reprokit.sources import daemon, layout, store

        for module in (layers, daemon, layout, store):
            if hasattr(module, "index_layer"):
                module.index_layer = tarref.index_layer  # type: ignore[attr-defined]
        return tarref.index_layer
    if reader == "floor":
        return _floor
    return layers.index_layer


def _floor(f, where: str):  # type: ignore[no-untyped-def]
    """Read the tar and hash its bytes twice: the least any reader does."""
    from reprokit.read.layers import LayerIndex

    outer, inner = hashlib.sha256(), hashlib.sha256()
    while chunk := f.read(1 << 20):
        outer.update(chunk)
        inner.update(chunk)
    return LayerIndex("sha256:" + outer.hexdigest(), 0, [])


def child(reader: str, paths: list[str], copies: int, profile: int) -> None:
    """Read the layer ``paths[0]`` ``copies`` times, or the image pair ``paths``, with
    ``reader``; print the figures as JSON."""
    index_layer = _reader(reader)
    kept: list = []
    prof = cProfile.Profile() if profile else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if prof is not None:
        prof.enable()
    if len(paths) == 2:
        from reprokit.read.pair import read_pair
        from reprokit.sources.refs import parse_ref

        a, b = parse_ref(paths[0]), parse_ref(paths[1])
        if prof is None:
            images = read_pair(a, b)[:2]
        else:  # in this thread, which cProfile sees (read_pair reads in two)
            first = a.read()
            images = (first, b.read(skip=set(first.diff_ids)))
        kept = [layer for image in images for layer in image.layers if layer is not None]
        kept = list({id(layer): layer for layer in kept}.values())  # shared layers count once
    else:
        for _ in range(copies):
            with open(paths[0], "rb") as f:
                kept.append(index_layer(f, paths[0]))
    if prof is not None:
        prof.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    entries = sum(len(layer.records) for layer in kept)
    status = Path("/proc/self/status").read_text()
    hwm = int(status.split("VmHWM:")[1].split()[0]) / 1024
    if prof is not None:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(profile)
        print(out.getvalue(), file=sys.stderr)
    print(json.dumps({"cpu": cpu, "wall": wall, "entries": entries, "rss_mb": hwm}))


def measure(reader: str, paths: list, copies: int, profile: int = 0) -> dict:
    cmd = [sys.executable, __file__, "--copies", str(copies), "--child", reader, *map(str, paths)]
    if profile:
        cmd += ["--profile", str(profile)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    if profile:
        print(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_pair(refs: list[str]) -> list[dict]:
    """The pair read by each reader, and the engine's concurrent bare export (the floor)."""
    names = [ref.removeprefix("docker-daemon:") for ref in refs]
    t0 = time.perf_counter()
    saves = [
        subprocess.Popen(["docker", "save", name], stdout=subprocess.DEVNULL) for name in names
    ]
    if any(proc.wait() for proc in saves):
        raise SystemExit("docker save failed")
    floor = time.perf_counter() - t0
    rows = [{"layer": "pair", "reader": "bare save", "wall": floor, "cpu": 0.0, "entries": 0}]
    rows[0] |= {"rss_mb": 0.0, "tar_mb": 0.0, "us_per_file": 0.0}
    for reader in READERS[1:]:
        got = measure(reader, refs, 1) | {"layer": "pair", "reader": reader, "tar_mb": 0.0}
        got["us_per_file"] = got["cpu"] / max(got["entries"], 1) * 1e6
        got["x_floor"] = got["wall"] / floor
        rows.append(got)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=110_000)
    parser.add_argument("--large-mb", type=int, default=256)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--json-out")
    parser.add_argument("--images", nargs=2, metavar=("A", "B"), help="also read this pair")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1:], args.copies, args.profile)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="reprokit-read-bench-") as tmp:
        layers = {"small": (Path(tmp) / "small.tar", 0), "bytes": (Path(tmp) / "bytes.tar", 1)}
        for name, (path, large) in layers.items() if args.files else ():
            t0 = time.perf_counter()
            entries = write_layer(path, args.files, args.large_mb if large else 0)
            size = path.stat().st_size
            print(
                f"[{time.strftime('%H:%M:%S')}] wrote {name}: {entries} entries, "
                f"{size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            for reader in READERS:
                got = measure(reader, [path], args.copies)
                got |= {"layer": name, "reader": reader, "tar_mb": size / 1e6}
                got["entries"] = entries * args.copies  # the floor makes no records
                got["us_per_file"] = got["cpu"] / got["entries"] * 1e6
                rows.append(got)
        if args.images:
            rows += measure_pair(args.images)
        if args.profile:
            what = args.images or [layers["small"][0]]
            print(f"cProfile of the reprokit reader on {' and '.join(map(str, what))}, one thread")
            print(f"(top {args.profile} by tottime):")
            measure("reprokit", what, 1, args.profile)
    load = os.getloadavg()[0]
    print(f"\nindex_layer, {args.copies} reads of each layer kept in one process (pair: both")
    print(f"images read at once, wall against the bare export); 1-min load {load:.2f}")
    print(f"{'layer':6} {'tar MB':>7} {'reader':9} {'entries':>8} {'CPU s':>7} {'µs/file':>8} "
          f"{'wall s':>7} {'peak RSS':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['layer']:6} {r['tar_mb']:7.1f} {r['reader']:9} {r['entries']:8d} {r['cpu']:7.2f} "
            f"{r['us_per_file']:8.1f} {r['wall']:7.2f} {r['rss_mb']:6.0f} MiB"
            + (f"  {r['x_floor']:.2f}x the bare export" if "x_floor" in r else "")
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"load": load, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
