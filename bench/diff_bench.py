"""Benchmark ``reprokit diff`` against the floor of exporting the same images from the engine.

A benchmark, not a test: it builds its own images in the local Docker Engine, times commands,
prints a table and removes everything it built.

What it does, in one run on one machine:

1. Builds two image pairs FROM scratch with Debian's static busybox (``/bin/busybox``) and the
   classic builder with ``--network none --no-cache``: per pair a base image (busybox plus a
   layer of ``--files/10`` random files holding ~1/3 of the bytes) and, on top of it, images A
   and B that each add a layer of ``--files`` random files (log-uniform sizes, same paths and
   sizes in A and B, different content from /dev/urandom). The large pair is ``--size-mb``
   (default 300 MB per image), the small pair ``--small-mb`` (default 30 MB) with the same file
   counts, so peak memory can be compared at equal file count and ten times the bytes.
2. Measures, ``--repeat`` times each (median and min reported):
   the floor ``docker save A | sha256sum``, the same for B, both run concurrently, a bare
   concurrent export (``docker save`` to /dev/null, the engine's own floor), and
   ``reprokit diff A B --json PATH`` (wall time, user+sys CPU, peak RSS via GNU
   ``/usr/bin/time``; see :func:`_rss_wrapper` for why not ``getrusage``/``wait4``),
   plus ``reprokit --version`` as the interpreter/import start-up cost;
   ``reprokit diff --verify-digests`` (every layer through ``docker save``), and both images
   read as ``reprokit diff`` reads them (``read_pair``, nothing compared) in place from the
   engine's storage and through the export. Where the engine runs
   on this machine the CPU seconds ``dockerd`` spent during each measurement are shown too.
3. Removes every image and container it created (label ``io.reprokit.bench=1`` and a per-run
   label ``io.reprokit.bench.run=ID``), also on errors and Ctrl-C, unless ``--keep``.

Usage::

    .venv/bin/python bench/diff_bench.py                      # 300 MB pair, 30 MB pair, 3 repeats
    .venv/bin/python bench/diff_bench.py --size-mb 100 --repeat 5 --json-out /tmp/bench.json
    .venv/bin/python bench/diff_bench.py --size-mb 1000 --files 6000 --small-mb 0
    .venv/bin/python bench/diff_bench.py --profile            # also cProfile one image read
    .venv/bin/python bench/diff_bench.py --keep ...           # then --reuse RUN: measure again

Exit status: 0 on success, 2 on an error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import math
import os
import platform
import random
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

LABEL = "io.reprokit.bench"
RUN_LABEL = "io.reprokit.bench.run"
BUSYBOX = Path("/bin/busybox")
GNU_TIME = Path("/usr/bin/time")
DIFF = "reprokit diff A B --json"
DIFF_EXPORT = "reprokit diff --verify-digests"
READ_INPLACE = "read A ∥ B in place"
READ_EXPORT = "read A ∥ B export"
#: both images read as ``reprokit diff`` reads them (read_pair), nothing compared
READ_CODE = """
import sys
from reprokit.read.pair import read_pair
from reprokit.sources.daemon import DaemonSource
a, b = (DaemonSource(ref, read_path=sys.argv[1]) for ref in sys.argv[2:])
read_pair(a, b)
assert {a.read_by, b.read_by} == {sys.argv[1]}, (a.read_by, b.read_by)
"""
MB = 1_000_000
MIB = 1 << 20

Stages = list[list[str]]  # one pipeline: argv of each stage, stdout of one feeds the next

GEN_SH = """\
#!/bin/sh
# gen.sh PLAN: lines "d DIR" make a directory, lines "f SIZE PATH" a file of random bytes.
set -eu
while read -r kind a b; do
  case "$kind" in
    d) mkdir -p "$a" ;;
    f) head -c "$a" /dev/urandom > "$b" ;;
  esac
done < "$1"
"""


class BenchError(Exception):
    """A failure the benchmark reports in one message (exit status 2)."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


_LIVE: list[subprocess.Popen[bytes]] = []


@dataclass
class Sample:
    """One timed run of one or more concurrent pipelines."""

    wall_s: float
    cpu_s: float  # user + sys of every process started (children of the benchmark only)
    maxrss_kib: int | None  # the largest peak RSS among them (only where asked for)
    dockerd_cpu_s: float | None  # CPU the engine spent meanwhile (None: not on this machine)


def _dockerd_pid() -> int | None:
    """The local dockerd serving DOCKER_HOST: the one started with ``-H`` that socket, else
    (the default socket) the one started without ``-H``."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    default = host in ("unix:///var/run/docker.sock", "unix:///run/docker.sock")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() != "dockerd":
                    continue
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                if host in argv or (default and not any(a.startswith("-H") for a in argv)):
                    return int(entry.name)
    return None


_DOCKERD = _dockerd_pid()
_TICK = os.sysconf("SC_CLK_TCK")


def _dockerd_cpu() -> float | None:
    if _DOCKERD is None:
        return None
    try:
        stat = Path(f"/proc/{_DOCKERD}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _spawn(stages: Stages, stderr: IO[bytes]) -> list[subprocess.Popen[bytes]]:
    procs: list[subprocess.Popen[bytes]] = []
    previous: IO[bytes] | None = None
    for i, argv in enumerate(stages):
        last = i == len(stages) - 1
        proc = subprocess.Popen(
            argv,
            stdin=previous if previous is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if last else subprocess.PIPE,
            stderr=stderr,
        )
        _LIVE.append(proc)
        if previous is not None:
            previous.close()  # the next stage holds it now; lets SIGPIPE reach the writer
        previous = proc.stdout
        procs.append(proc)
    return procs


def _reap(proc: subprocess.Popen[bytes]) -> resource.struct_rusage:
    """Wait for one child and return its own resource usage (not that of other children)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    _LIVE.remove(proc)
    return usage


def show(stages: Stages) -> str:
    return " | ".join(shlex.join(argv) for argv in stages)


def _rss_wrapper(report: Path) -> list[str]:
    """``/usr/bin/time -f %M -o REPORT``: GNU time reports the peak RSS of its child alone.

    Without it the peak RSS comes from ``os.wait4``, whose ``ru_maxrss`` of a child is at
    least the parent's own peak RSS at the time of the fork (Linux carries the old address
    space's high-water mark over ``exec``), so the figure is then only an upper bound.
    """
    return [str(GNU_TIME), "-f", "%M", "-o", str(report)] if GNU_TIME.is_file() else []


def _time_rss(report: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(report.read_text().split()[-1])
    return None


def measure(pipelines: Sequence[Stages], ok: Sequence[int] = (0,), rss: bool = False) -> Sample:
    """Start the pipelines together (stdout to /dev/null) and wait for all of them."""
    with contextlib.ExitStack() as stack:
        errs = stack.enter_context(tempfile.TemporaryFile())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reprokit-bench-rss-")))
        reports: list[Path] = []
        wrapped: list[Stages] = []
        for stages in pipelines:
            wrapped.append([])
            for argv in stages:
                reports.append(tmp / f"{len(reports)}.rss")
                wrapped[-1].append((_rss_wrapper(reports[-1]) if rss else []) + argv)
        engine_before = _dockerd_cpu()
        started = time.perf_counter()
        running = [_spawn(stages, errs) for stages in wrapped]
        usages = [_reap(proc) for procs in running for proc in procs]
        wall = time.perf_counter() - started
        engine_after = _dockerd_cpu()
        for stages, procs in zip(pipelines, running, strict=True):
            for argv, proc in zip(stages, procs, strict=True):
                if proc.returncode not in ok:
                    errs.seek(0)
                    tail = errs.read().decode(errors="replace").strip().splitlines()[-5:]
                    raise BenchError(
                        f"{shlex.join(argv)} exited with {proc.returncode} (in: {show(stages)})"
                        + "".join(f"\n  | {line}" for line in tail)
                    )
        maxrss: int | None = None
        if rss:
            found = [_time_rss(r) for r in reports]
            if all(k is not None for k in found):
                maxrss = max(k for k in found if k is not None)
            else:
                maxrss = max(u.ru_maxrss for u in usages)
    return Sample(
        wall_s=wall,
        cpu_s=sum(u.ru_utime + u.ru_stime for u in usages),
        maxrss_kib=maxrss,
        dockerd_cpu_s=(
            None if engine_before is None or engine_after is None else engine_after - engine_before
        ),
    )


def docker(*args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise BenchError(f"docker {shlex.join(args)}: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def kill_live() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(ChildProcessError, OSError):
            _reap(proc)


# --------------------------------------------------------------------------- images


@dataclass
class Plan:
    """Files a RUN step writes: same paths and sizes in A and B, random content."""

    root: str
    sizes: list[int]
    per_dir: int = 50

    def path(self, i: int) -> str:
        return f"{self.root}/d{i // self.per_dir:03d}/f{i:05d}.bin"

    def text(self) -> str:
        dirs = sorted({self.path(i).rsplit("/", 1)[0] for i in range(len(self.sizes))})
        lines = [f"d {d}" for d in dirs]
        lines += [f"f {size} {self.path(i)}" for i, size in enumerate(self.sizes)]
        return "\n".join(lines) + "\n"


def plan(root: str, count: int, total: int, seed: int) -> Plan:
    """``count`` files, log-uniform sizes (512 B .. 4 MiB before scaling) summing to ``total``."""
    rng = random.Random(seed)
    weights = [math.exp(rng.uniform(math.log(512), math.log(4 * MIB))) for _ in range(count)]
    scale = total / sum(weights)
    sizes = [max(1, round(w * scale)) for w in weights]
    sizes[-1] = max(1, sizes[-1] + total - sum(sizes))
    return Plan(root, sizes)


@dataclass
class ImageFacts:
    role: str
    tag: str
    id: str = ""
    engine_size: int = 0  # docker image inspect .Size
    export_bytes: int = 0  # bytes of its docker save stream
    layers: int = 0
    regular_files: int = 0  # regular files over all layers
    entries: int = 0  # all tar entries over all layers (files, dirs, symlinks, ...)
    top_layer_files: int = 0


@dataclass
class Pair:
    name: str
    size_mb: int
    base: ImageFacts
    a: ImageFacts
    b: ImageFacts
    measurements: dict[str, list[Sample]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    report_summary: dict[str, Any] = field(default_factory=dict)


class Builder:
    """Builds the benchmark images in one context directory and remembers every tag."""

    def __init__(self, context: Path, run_id: str, files: int, base_fraction: float):
        self.context, self.run_id = context, run_id
        self.files, self.base_fraction = files, base_fraction
        self.tags: list[str] = []
        shutil.copy2(BUSYBOX, context / "busybox")
        (context / "gen.sh").write_text(GEN_SH)

    def _labels(self) -> str:
        return f'LABEL {LABEL}="1" {RUN_LABEL}="{self.run_id}"'

    def _build(self, name: str, dockerfile: str) -> ImageFacts:
        tag = f"reprokit-bench:{self.run_id}-{name}"
        self.tags.append(tag)  # before building: an interrupted build may still have tagged
        path = self.context / f"Dockerfile.{name}"
        path.write_text(dockerfile)
        argv = [
            "docker", "build", "--network", "none", "--no-cache", "--force-rm", "--quiet",
            "--label", f"{LABEL}=1", "--label", f"{RUN_LABEL}={self.run_id}",
            "-t", tag, "-f", str(path), str(self.context),
        ]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"}
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
            raise BenchError(f"building {tag} failed:\n  | " + "\n  | ".join(tail))
        log(f"built {tag} in {time.perf_counter() - started:.1f} s")
        return ImageFacts(role=name, tag=tag)

    def reuse(self, name: str, size_mb: int) -> Pair:
        """The pair a run with ``--keep`` built before (same run id, sizes and file counts)."""
        facts = []
        for role in (f"{name}-base", f"{name}-a", f"{name}-b"):
            tag = f"reprokit-bench:{self.run_id}-{role}"
            docker("image", "inspect", tag)  # BenchError when it is not there
            self.tags.append(tag)
            facts.append(ImageFacts(role=role, tag=tag))
        log(f"reusing the {name} pair of run {self.run_id}")
        return Pair(name, size_mb, *facts)

    def pair(self, name: str, size_mb: int) -> Pair:
        total = size_mb * MB - BUSYBOX.stat().st_size
        base_bytes = int(total * self.base_fraction)
        base_plan = plan("/base", max(1, self.files // 10), base_bytes, seed=1)
        top_plan = plan("/data", self.files, total - base_bytes, seed=2)
        (self.context / f"{name}-base.plan").write_text(base_plan.text())
        (self.context / f"{name}-top.plan").write_text(top_plan.text())
        base = self._build(
            f"{name}-base",
            "FROM scratch\n"
            f"{self._labels()}\n"
            "COPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            f"COPY gen.sh {name}-base.plan {name}-top.plan /bench/\n"
            f'RUN ["/bin/sh", "/bench/gen.sh", "/bench/{name}-base.plan"]\n',
        )
        images = [
            self._build(
                f"{name}-{side}",
                f"FROM {base.tag}\n"
                f"{self._labels()}\n"
                f'RUN ["/bin/sh", "/bench/gen.sh", "/bench/{name}-top.plan"]\n',
            )
            for side in ("a", "b")
        ]
        return Pair(name, size_mb, base, images[0], images[1])


class _Counting(io.RawIOBase):
    def __init__(self, raw: IO[bytes]):
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0


def scan(facts: ImageFacts) -> None:
    """Export the image once (also warming the page cache) and count its bytes and entries."""
    info = json.loads(docker("image", "inspect", facts.tag))[0]
    facts.id, facts.engine_size = info["Id"], int(info["Size"])
    diff_ids = list(info["RootFS"].get("Layers") or [])
    facts.layers = len(diff_ids)
    proc = subprocess.Popen(["docker", "save", facts.tag], stdout=subprocess.PIPE)
    _LIVE.append(proc)
    assert proc.stdout is not None
    stream = _Counting(proc.stdout)
    by_blob: dict[str, Counter[str]] = {}  # uncompressed layer blobs: digest == diff_id
    with tarfile.open(fileobj=stream, mode="r|") as outer:
        for member in outer:
            if not member.isreg():
                continue
            blob = outer.extractfile(member)
            assert blob is not None
            head = blob.peek(512)[:512]  # type: ignore[attr-defined]
            if len(head) < 512 or head[257:262] != b"ustar":
                continue  # JSON, or an empty layer
            kinds: Counter[str] = Counter()
            with tarfile.open(fileobj=blob, mode="r|") as inner:
                for entry in inner:
                    kinds["file" if entry.isreg() else "other"] += 1
            by_blob["sha256:" + member.name.rsplit("/", 1)[-1]] = kinds
    while stream.read(MIB):
        pass
    _reap(proc)
    if proc.returncode != 0:
        raise BenchError(f"docker save {facts.tag} exited with {proc.returncode}")
    per_layer = [by_blob.get(d, Counter()) for d in diff_ids]
    facts.export_bytes = stream.count
    facts.regular_files = sum(k["file"] for k in per_layer)
    facts.entries = sum(k["file"] + k["other"] for k in per_layer)
    facts.top_layer_files = per_layer[-1]["file"] if per_layer else 0


# --------------------------------------------------------------------------- measuring


def save_sha(tag: str) -> Stages:
    return [["docker", "save", tag], ["sha256sum"]]


def run_pair(pair: Pair, reprokit: str, repeat: int, workdir: Path) -> None:
    """Every measurement of one pair, interleaved per repeat so drift hits all alike."""
    a, b = pair.a.tag, pair.b.tag
    report = workdir / f"{pair.name}.json"
    diff = [[[reprokit, "diff", a, b, "--json", str(report)]]]
    plans: dict[str, tuple[list[Stages], Sequence[int]]] = {
        "save A | sha256sum": ([save_sha(a)], (0,)),
        "save B | sha256sum": ([save_sha(b)], (0,)),
        "save A|sha ∥ save B|sha": ([save_sha(a), save_sha(b)], (0,)),
        "save A ∥ save B >/dev/null": ([[["docker", "save", a]], [["docker", "save", b]]], (0,)),
        DIFF: (diff, (0, 1)),  # 1: the verdict is "different", as it must be here
        DIFF_EXPORT: ([[diff[0][0] + ["--verify-digests"]]], (0, 1)),
        READ_INPLACE: ([[[sys.executable, "-c", READ_CODE, "in-place", a, b]]], (0,)),
        READ_EXPORT: ([[[sys.executable, "-c", READ_CODE, "export", a, b]]], (0,)),
    }
    for name, (pipelines, _) in plans.items():
        pair.commands[name] = "  &  ".join(show(p) for p in pipelines)
        pair.measurements[name] = []
    for r in range(repeat):
        for name, (pipelines, ok) in plans.items():
            sample = measure(pipelines, ok, rss=name in (DIFF, DIFF_EXPORT, READ_INPLACE))
            pair.measurements[name].append(sample)
            rss = "" if sample.maxrss_kib is None else f", peak RSS {_mib(sample.maxrss_kib)}"
            log(f"{pair.name} #{r + 1}: {name}: {sample.wall_s:.2f} s{rss}")
    data = json.loads(report.read_text())
    pair.report_summary = {"verdict": data["verdict"], **data["summary"]}
    pair.report_summary["image_bytes_read"] = [i.get("size") for i in data["images"]]


def run_startup(reprokit: str, repeat: int) -> list[Sample]:
    samples = []
    for _ in range(repeat):
        samples.append(measure([[[reprokit, "--version"]]], rss=True))
    return samples


PROFILE_CODE = """
import cProfile, pstats, sys, time
import reprokit.sources.inplace
from reprokit.sources.refs import parse_ref
reprokit.sources.inplace.WORKER_BYTES = 1 << 60  # in this thread, where cProfile sees it
source = parse_ref(sys.argv[1])
profile = cProfile.Profile()
started = time.perf_counter()
profile.enable()
image = source.read()
profile.disable()
print(f"read {sys.argv[1]}: {time.perf_counter() - started:.2f} s under cProfile, "
      f"{sum(len(layer.records) for layer in image.layers if layer)} records")
stats = pstats.Stats(profile)
stats.sort_stats("tottime").print_stats(int(sys.argv[2]))
"""


def run_profile(python: str, tag: str, top: int) -> str:
    """cProfile reprokit reading one image, single-threaded (``compare`` reads in threads,
    which ``python -m cProfile`` does not see)."""
    proc = subprocess.run(
        [python, "-c", PROFILE_CODE, tag, str(top)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BenchError(f"profiling failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


# --------------------------------------------------------------------------- reporting


def machine_info(reprokit: str) -> dict[str, Any]:
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run([reprokit, "--version"], capture_output=True, text=True)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "mem_total_kib": int(meminfo["MemTotal"].split()[0]),
        "docker_server": docker("version", "--format", "{{.Server.Version}}").strip(),
        "storage_driver": docker("info", "--format", "{{.Driver}}").strip(),
        "kernel": platform.release(),
        "loadavg_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "reprokit": version.stdout.strip(),
        "reprokit_sources": source_digest(),
        "sha256sum": "coreutils " + _first_line(["sha256sum", "--version"]).split()[-1],
        "rss_method": (
            "GNU time %M (the measured process alone)"
            if GNU_TIME.is_file()
            else "os.wait4 ru_maxrss (an upper bound: includes this script's peak RSS)"
        ),
    }


def source_digest() -> str | None:
    """A short digest of the reprokit sources this Python imports (None: not importable)."""
    spec = importlib.util.find_spec("reprokit")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _first_line(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    return (proc.stdout.splitlines() or ["?"])[0]


def stats(samples: list[Sample]) -> dict[str, float | None]:
    walls = [s.wall_s for s in samples]
    engine = [s.dockerd_cpu_s for s in samples if s.dockerd_cpu_s is not None]
    rss = [s.maxrss_kib for s in samples if s.maxrss_kib is not None]
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "cpu_median_s": statistics.median(s.cpu_s for s in samples),
        "maxrss_median_kib": statistics.median(rss) if rss else None,
        "maxrss_max_kib": max(rss) if rss else None,
        "dockerd_cpu_median_s": statistics.median(engine) if engine else None,
    }


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def render(
    machine: dict[str, Any], pairs: list[Pair], startup: list[Sample], args: argparse.Namespace
) -> str:
    out: list[str] = []
    mem = machine["mem_total_kib"] / (1 << 20)
    out.append(f"reprokit diff benchmark — repeat={args.repeat} (median / min of each)")
    out.append(
        f"machine: {machine['nproc']} CPUs ({machine['cpu']}), MemTotal {mem:.1f} GiB, "
        f"Docker Engine {machine['docker_server']} ({machine['storage_driver']}), "
        f"Linux {machine['kernel']}, Python {machine['python']}, {machine['reprokit']} "
        f"(sources {machine['reprokit_sources']}), "
        f"{machine['sha256sum']}"
    )
    out.append(
        f"peak RSS: {machine['rss_method']}; 1-min load average {machine['loadavg_start']} at "
        f"start, {machine['loadavg_end']} before this table"
    )
    out.append("")
    out.append(
        f"{'image':<11} {'engine size':>12} {'save stream':>12} {'layers':>6} "
        f"{'reg. files':>10} {'top layer':>9} {'tar entries':>11}"
    )
    for pair in pairs:
        for facts in (pair.a, pair.b):
            out.append(
                f"{facts.role:<11} {_mb(facts.engine_size):>12} {_mb(facts.export_bytes):>12} "
                f"{facts.layers:>6} {facts.regular_files:>10} {facts.top_layer_files:>9} "
                f"{facts.entries:>11}"
            )
    for pair in pairs:
        out.append("")
        bytes_ab = pair.a.export_bytes + pair.b.export_bytes
        out.append(
            f"{pair.name} pair ({pair.size_mb} MB per image; A and B share "
            f"{pair.base.layers} base layer(s), {_mb(pair.a.export_bytes - _top(pair))} of each "
            f"export; {_mb(bytes_ab)} exported for A+B)"
        )
        out.append(
            f"  {'measurement':<28} {'median':>8} {'min':>8} {'MB/s':>7} {'CPU':>7} "
            f"{'dockerd':>8} {'peak RSS':>9}"
        )
        table: dict[str, dict[str, float | None]] = {
            name: stats(samples) for name, samples in pair.measurements.items()
        }
        for name, st in table.items():
            volume = {"save A | sha256sum": pair.a.export_bytes}.get(
                name, pair.b.export_bytes if name == "save B | sha256sum" else bytes_ab
            )
            out.append(_row(name, st, volume, rss=st["maxrss_median_kib"] is not None))
        sa, sb = table["save A | sha256sum"], table["save B | sha256sum"]
        total = {
            "median_s": _f(sa["median_s"]) + _f(sb["median_s"]),
            "min_s": _f(sa["min_s"]) + _f(sb["min_s"]),
        }
        out.append(_row("sum of A and B (sequential)", total, bytes_ab, rss=False))
        bare = _f(table["save A ∥ save B >/dev/null"]["median_s"])
        for name in (READ_INPLACE, READ_EXPORT, DIFF, DIFF_EXPORT):
            ratio = _f(table[name]["median_s"]) / bare
            out.append(f"  {name} / bare concurrent export: {ratio:.2f}x")
        rk = _f(table[DIFF]["median_s"])
        out.append(
            f"  reprokit / floor: {rk / _f(table['save A|sha ∥ save B|sha']['median_s']):.2f}x "
            f"the concurrent save|sha256sum, {rk / total['median_s']:.2f}x the sequential sum, "
            f"{rk / _f(table['save A ∥ save B >/dev/null']['median_s']):.2f}x the bare export"
        )
        summary = pair.report_summary
        out.append(
            f"  report: {summary.get('verdict')}, {summary.get('layers_differing')}/"
            f"{summary.get('layers')} layers differ, {summary.get('files_differing')} file "
            f"differences, {summary.get('merged_differing')} in the merged view"
        )
    st = stats(startup)
    out.append("")
    out.append(
        f"start-up: reprokit --version  median {_f(st['median_s']):.2f} s, "
        f"min {_f(st['min_s']):.2f} s, peak RSS {_mib(_f(st['maxrss_median_kib']))}"
    )
    out.append("")
    out.append("memory vs image bytes (reprokit diff A B, peak RSS over the repeats):")
    out.append(
        f"  {'pair':<6} {'bytes A+B':>10} {'reg. files A+B':>15} {'top-layer files':>15} "
        f"{'RSS median':>11} {'RSS max':>8}"
    )
    for pair in pairs:
        st = stats(pair.measurements[DIFF])
        out.append(
            f"  {pair.name:<6} {_mb(pair.a.export_bytes + pair.b.export_bytes):>10} "
            f"{pair.a.regular_files + pair.b.regular_files:>15} "
            f"{pair.a.top_layer_files:>15} {_mib(_f(st['maxrss_median_kib'])):>11} "
            f"{_mib(_f(st['maxrss_max_kib'])):>8}"
        )
    out.append("")
    out.append("commands (IMAGE = reprokit-bench:RUN-PAIR-SIDE):")
    for name, command in pairs[-1].commands.items():
        out.append(f"  {name:<28} {command}")
    return "\n".join(out)


def _top(pair: Pair) -> int:
    return pair.a.export_bytes - pair.base.export_bytes


def _f(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _row(name: str, st: Mapping[str, float | None], volume: int, rss: bool) -> str:
    median = _f(st.get("median_s"))
    cpu, engine = st.get("cpu_median_s"), st.get("dockerd_cpu_median_s")
    return (
        f"  {name:<28} {median:>6.2f} s {_f(st.get('min_s')):>6.2f} s "
        f"{volume / MB / median:>7.0f} "
        f"{'' if cpu is None else f'{cpu:.2f} s':>7} "
        f"{'' if engine is None else f'{engine:.2f} s':>8} "
        f"{_mib(_f(st['maxrss_median_kib'])) if rss else '-':>9}"
    )


# --------------------------------------------------------------------------- cleanup


def cleanup(run_id: str, tags: list[str], settle: bool = False) -> list[str]:
    """Remove this run's containers and images; returns the ids that could not be removed.

    ``settle``: a build was cut short, so give the engine a moment to stop its step first.
    """
    if settle:
        time.sleep(2)
    for cid in docker("ps", "-aq", "--filter", f"label={RUN_LABEL}={run_id}", check=False).split():
        docker("rm", "-f", cid, check=False)
    for tag in reversed(tags):
        docker("rmi", tag, check=False)
    left: list[str] = []
    for _ in range(5):  # leftovers of failed builds: children before parents
        left = docker(
            "images", "-aq", "--no-trunc", "--filter", f"label={RUN_LABEL}={run_id}", check=False
        ).split()
        if not left:
            break
        for image in left:
            docker("rmi", image, check=False)
    return left


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark `reprokit diff` against `docker save | sha256sum`.",
    )
    parser.add_argument("--size-mb", type=int, default=300, help="large pair, MB/image (300)")
    parser.add_argument(
        "--small-mb", type=int, default=30, help="small pair, MB/image, for memory (30; 0: skip)"
    )
    parser.add_argument("--files", type=int, default=3000, help="files in the top layer (3000)")
    parser.add_argument(
        "--base-fraction", type=float, default=1 / 3, help="share of bytes in the base (1/3)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (3)")
    parser.add_argument("--json-out", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the built images")
    parser.add_argument(
        "--reuse", metavar="RUN", help="measure the images a --keep run RUN built (same sizes)"
    )
    parser.add_argument(
        "--profile", type=int, nargs="?", const=25, default=0, metavar="N",
        help="also cProfile reprokit reading large image A; print the top N functions (25)",
    )  # fmt: skip
    default = Path(sys.executable).with_name("reprokit")
    parser.add_argument(
        "--reprokit",
        default=str(default) if default.exists() else shutil.which("reprokit"),
        help="the reprokit executable (default: the one beside this Python)",
    )
    args = parser.parse_args(argv)
    if args.size_mb < 5 or args.small_mb < 0 or args.files < 10 or args.repeat < 1:
        parser.error("need --size-mb >= 5, --small-mb >= 0, --files >= 10, --repeat >= 1")
    if not 0 < args.base_fraction < 1:
        parser.error("--base-fraction must be between 0 and 1")
    if not args.reprokit:
        parser.error("no reprokit executable found; pass --reprokit")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not BUSYBOX.is_file():
        print(f"diff_bench: {BUSYBOX} is missing (apt-get install busybox-static)", file=sys.stderr)
        return 2
    run_id = args.reuse or uuid.uuid4().hex[:8]
    tags: list[str] = []
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # Ctrl-C must reach us even when started in the background by a non-interactive shell,
    # which would leave SIGINT ignored.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    status = 0
    try:
        machine = machine_info(args.reprokit)
        with tempfile.TemporaryDirectory(prefix="reprokit-bench-") as tmp:
            workdir = Path(tmp)
            (workdir / "ctx").mkdir()
            builder = Builder(workdir / "ctx", run_id, args.files, args.base_fraction)
            tags = builder.tags
            log(f"run {run_id}: building (label {RUN_LABEL}={run_id})")
            sizes = [("small", args.small_mb)] if args.small_mb else []
            sizes.append(("large", args.size_mb))
            make = builder.reuse if args.reuse else builder.pair
            pairs = [make(name, size) for name, size in sizes]
            for pair in pairs:
                for facts in (pair.base, pair.a, pair.b):
                    scan(facts)
            startup = run_startup(args.reprokit, args.repeat)
            for pair in pairs:
                run_pair(pair, args.reprokit, args.repeat, workdir)
            machine["loadavg_end"] = round(os.getloadavg()[0], 2)
            if source_digest() != machine["reprokit_sources"]:
                machine["reprokit_sources"] = f"{machine['reprokit_sources']} (CHANGED)"
                log("warning: the reprokit sources changed during the run")
            machine["bench_self_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            text = render(machine, pairs, startup, args)
            print(text, flush=True)
            if args.profile:
                print(f"\ncProfile of reprokit reading {pairs[-1].a.tag} in one thread:")
                print(run_profile(sys.executable, pairs[-1].a.tag, args.profile), flush=True)
            if args.json_out:
                Path(args.json_out).write_text(
                    json.dumps(
                        {
                            "run_id": run_id,
                            "args": vars(args),
                            "machine": machine,
                            "startup": {"samples": [asdict(s) for s in startup]},
                            "pairs": [
                                {
                                    **asdict(p),
                                    "stats": {n: stats(s) for n, s in p.measurements.items()},
                                }
                                for p in pairs
                            ],
                            "table": text,
                        },
                        indent=2,
                    )
                    + "\n"
                )
                log(f"wrote {args.json_out}")
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    except BenchError as err:
        print(f"diff_bench: error: {err}", file=sys.stderr)
        status = 2
    finally:
        signal.signal(signal.SIGTERM, previous)
        with sigint_ignored():
            kill_live()
            if args.keep:
                log("kept: " + " ".join(tags))
            else:
                left = cleanup(run_id, tags, settle=status == 130)
                if left:
                    log(f"could not remove {len(left)} image(s): {' '.join(left)}")
                    status = status or 2
                else:
                    log(f"removed the images of run {run_id}")
        signal.signal(signal.SIGINT, previous_int)
    return status


if __name__ == "__main__":
    sys.exit(main())
