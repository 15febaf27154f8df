"""Benchmark the reports: the presenters on a large crafted Result, and the JSON report's
size (compact ``reprokit/v2`` against ``reprokit/v1``) on real builds.

A benchmark, not a test. Without ``--engine`` it builds a Result of ``--files`` differing
files (default 100,000) spread over ``--layers`` layers with a few causes, then times and
sizes each presenter: the rich display (``_repr_html_``), the standalone page without and with
plots, Markdown, the generated notebook (with its JSON report), the three plots, and the JSON
report in both formats (bytes per difference, write and load CPU time).

With ``--engine`` it builds, on the engine of ``DOCKER_HOST`` (classic builder,
``--network none``, no pull), two images of a Dockerfile writing ``--small-files`` (default
40,000) small files to one RUN layer — three quarters the same in both builds (so they differ
only in mtime), a quarter random — on a busybox base (``reprokit-test/busybox:1`` of the test
fixtures when present, else made from the static busybox the same way). Then it runs
``reprokit diff A B --json`` with the code before the compact format (``--before``, a git
commit of this repository, extracted to a temporary directory; default 11aeb5e) and with this
checkout, each under GNU ``/usr/bin/time`` (wall, user+sys CPU, peak RSS), and reports the
JSON report's bytes per difference, plus the CPU time of writing and loading each format and
the peak RSS of ``reprokit.load`` in a process of its own. Everything it builds carries the
label ``io.reprokit.bench=1`` and is removed at the end (unless ``--keep``).

Usage::

    .venv/bin/python bench/report_bench.py
    .venv/bin/python bench/report_bench.py --files 1000000 --layers 12
    DOCKER_HOST=... .venv/bin/python bench/report_bench.py --engine
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
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


ROOT = Path(__file__).resolve().parents[1]
GNU_TIME = Path("/usr/bin/time")
LABEL = "io.reprokit.bench"
BUSYBOX = "reprokit-test/busybox:1"
#: a RUN step writing N small files: the first quarter random, the rest the same every build
SMALL_FILES = """\
FROM {base}
RUN mkdir /data && seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ') && awk -v seed="$seed" \\
    'BEGIN {{ srand(seed); for (i = 0; i < {n}; i++) {{ f = sprintf("/data/f%05d", i); \\
      if (i < {random}) printf("%d %.6f\\n", i, rand()) > f; else printf("%d\\n", i) > f; \\
      close(f) }} }}'
"""


def json_formats(result: Result, tmp: Path) -> None:
    """Bytes per difference, write and load CPU time of the JSON report in both formats."""
    import reprokit
    from reprokit.report.json import chunks, write_atomic

    shown = result._shown()
    n = max(len(result.file_records), 1)
    for compact, name in ((False, "reprokit/v1"), (True, "reprokit/v2 (compact)")):
        path = tmp / f"r-{compact}.json"
        started = time.process_time()
        write_atomic(path, chunks(shown, compact))
        written = time.process_time() - started
        started = time.process_time()
        reprokit.load(path)
        loaded = time.process_time() - started
        size = path.stat().st_size
        print(
            f"JSON {name:<22} {size / 1e6:8.2f} MB  {size / n:7.0f} B/difference  "
            f"write {written:5.2f} s CPU  load {loaded:5.2f} s CPU"
        )


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run ``argv`` under GNU time in ``cwd`` (``python -m`` imports from there first): wall
    seconds, user+sys CPU seconds, peak RSS MiB."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        proc = subprocess.run(
            [str(GNU_TIME), "-f", "%U %S %M", "-o", report.name, *argv],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode not in (0, 1):
            raise SystemExit(
                f"{' '.join(argv[:4])}…: exit {proc.returncode}: {proc.stderr[-2000:]}"
            )
        user, system, rss = report.read().split()[-3:]
    return {"wall": wall, "cpu": float(user) + float(system), "rss": int(rss) / 1024}


def _base(client) -> str:
    import docker.errors

    try:
        client.images.get(BUSYBOX)
        return BUSYBOX
    except docker.errors.ImageNotFound:
        pass
    from reprokit.example import find_static_busybox

    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy2(find_static_busybox(), Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        client.images.build(
            path=ctx, tag="reprokit-bench/busybox:1", network_mode="none", labels={LABEL: "1"}
        )
    return "reprokit-bench/busybox:1"


def engine(args: argparse.Namespace) -> None:
    """The JSON report of ``reprokit diff`` on two real builds, before and after."""
    import docker
    import docker.errors

    if not GNU_TIME.exists():
        raise SystemExit("needs GNU time (/usr/bin/time, Debian's time package)")
    client = docker.from_env()
    run = uuid.uuid4().hex[:8]
    tags = [f"reprokit-bench/small-files:{run}-{side}" for side in "ab"]
    n, random = args.small_files, args.small_files // 4
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}; the machine is shared")
    try:
        base = _base(client)
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Path(tmp) / "ctx"
            ctx.mkdir()
            (ctx / "Dockerfile").write_text(SMALL_FILES.format(base=base, n=n, random=random))
            for tag in tags:
                started = time.perf_counter()
                client.images.build(
                    path=str(ctx), tag=tag, network_mode="none", nocache=True, rm=True,
                    labels={LABEL: "1", f"{LABEL}.run": run},
                )  # fmt: skip
                print(f"built {tag} in {time.perf_counter() - started:.1f} s")
            before = Path(tmp) / "before"
            before.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.before, "reprokit"],
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
            rows = []
            for name, code in (("before " + args.before, before), ("compact (this tree)", ROOT)):
                version = subprocess.run(
                    [sys.executable, "-c", "import reprokit; print(reprokit.__file__)"],
                    env={**os.environ, "PYTHONPATH": str(code)},
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                ).stdout.strip()
                if not version.startswith(str(code)):
                    raise SystemExit(f"{name}: imports {version}, not the code in {code}")
                env = {**os.environ, "PYTHONPATH": str(code)}
                out = Path(tmp) / f"{code.name}.json"
                figures = _timed(
                    [sys.executable, "-m", "reprokit", "diff", *tags, "--json", str(out)],
                    env,
                    Path(tmp),
                )
                load = _timed(
                    [sys.executable, "-c", f"import reprokit; reprokit.load({str(out)!r}).files"],
                    {**os.environ, "PYTHONPATH": str(ROOT)},
                    Path(tmp),
                )
                data = json.loads(out.read_text())
                differences = data["summary"]["files_differing"]
                size = out.stat().st_size
                rows.append((name, data["schema"], size, size / differences, figures, load))
            print(f"{differences} differences ({data['summary']['merged_differing']} merged)")
            print(
                f"{'code':<24} {'schema':<12} {'JSON MB':>8} {'B/diff':>7} "
                f"{'diff wall':>9} {'diff CPU':>8} {'diff RSS':>8} "
                f"{'load wall':>9} {'load CPU':>8} {'load RSS':>8}"
            )
            for name, schema, size, per, fig, load in rows:
                print(
                    f"{name:<24} {schema:<12} {size / 1e6:8.2f} {per:7.0f} "
                    f"{fig['wall']:8.2f}s {fig['cpu']:7.2f}s {fig['rss']:6.0f}Mi "
                    f"{load['wall']:8.2f}s {load['cpu']:7.2f}s {load['rss']:6.0f}Mi"
                )
            import reprokit

            print("write/load of the same result in both formats, in this process:")
            json_formats(reprokit.load(Path(tmp) / f"{ROOT.name}.json"), Path(tmp))
    finally:
        if not args.keep:
            for tag in tags:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(tag, force=True)
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--engine", action="store_true", help="the JSON report of real builds")
    parser.add_argument("--small-files", type=int, default=40_000)
    parser.add_argument("--before", default="11aeb5e", help="git commit of the code before")
    parser.add_argument("--keep", action="store_true", help="keep the images built")
    args = parser.parse_args()
    if args.engine:
        engine(args)
        return
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
        json_formats(result, Path(tmp))


if __name__ == "__main__":
    main()
