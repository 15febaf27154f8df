"""Benchmark parity: 30- and 90-check suites, one image and the pair, sessions and execs.

A benchmark, not a test. In one run, with one hardened container per image (the same ones for
every measurement, started once), it times ``--repeat`` times each, all rows interleaved (so a
changing load on a shared machine spreads over them; median and min reported),
for each way of running commands — ``session`` (one long-lived shell per container and worker
thread, :mod:`reprokit.behaviour.session`) and ``exec`` (a ``docker exec`` per command) — and
for the 30-check suite and the 90-check suite (the 30 checks three times over, under other
names: the same commands again, testinfra's per-host caches warm):

- ``one image``: the checks on container A only (``--workers`` threads);
- ``pair``: the checks on A and on B at the same time, as ``reprokit.parity`` runs them
  (``--workers`` threads per side).

The floor beside them (``floor``): the same shell commands the suite runs (recorded once),
each as ``/bin/sh -c COMMAND`` with its output thrown away, split over ``--workers`` scripts
per container, each script one request to a session, all sent at once — what the commands
themselves cost, and how their cost grows from one container to two on this machine.

Then it prints the goals' figures: the cost of one more check on both sides (the slope of the
pair's time between the 30- and the 90-check suite, over 60 checks) and the pair's time over
one image's, on the 90-check suite. ``--modes exec`` or ``--modes session`` runs one way only.

The default pair is the Debian base the tests build (``reprokit-test/debian:bookworm``, made by
debootstrap on first use) against itself: two containers, identical outcomes. The containers
are removed at the end, also on errors and Ctrl-C.

Usage::

    .venv/bin/python bench/parity_bench.py                      # Debian base vs itself, 5 repeats
    .venv/bin/python bench/parity_bench.py --a app:1 --b oci-archive:app.tar --repeat 5

Exit status: 0 on success, 2 on an error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from reprokit.behaviour.backend import testinfra_host
from reprokit.behaviour.checks import Check, command, file, group, package, run_check, user
from reprokit.behaviour.runner import host_pair, run_checks
from reprokit.behaviour.session import Sessions
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


SUITES: dict[int, list[Check]] = {
    30: SUITE,
    90: [Check(f"{c.name} #{n}", c.fn) for n in (1, 2, 3) for c in SUITE],
}


Hosts = tuple[Any, Any]


def one_side(hosts: Hosts, containers: Any, suite: list[Check], workers: int) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(lambda c: run_check(c, hosts[0], containers[0]), suite):
            assert outcome.status != "error", outcome.message


def both(hosts: Hosts, containers: Any, suite: list[Check], workers: int) -> None:
    entries = run_checks(suite, hosts, containers, workers)
    assert all(e.same for e in entries), [e.name for e in entries if not e.same]


def hosts_for(containers: Any, mode: str, workers: int) -> Hosts:
    """Hosts on the pair's containers whose commands run the ``mode`` way; the containers'
    own ``sessions`` stay the last made (the session way, made last)."""
    for container in containers:
        container.sessions = Sessions(container, size=workers, enabled=mode == "session")
    a, b = (testinfra_host(c) for c in containers)
    return a, b


def commands_of(hosts: Hosts, containers: Any, suite: list[Check]) -> list[str]:
    """The shell commands ``suite`` runs on one side (its testinfra caches warm)."""
    sessions = hosts[0].backend.sessions
    seen: list[str] = []
    run = sessions.run

    def recording(command: str, user: str | None = None) -> Any:
        seen.append(command)
        return run(command, user)

    sessions.run = recording
    try:
        one_side(hosts, containers, suite, 1)
    finally:
        del sessions.run
    return seen


def floor(containers: Any, commands: list[str], sides: int, workers: int) -> None:
    """The commands themselves: each as ``/bin/sh -c`` with its output thrown away, split over
    ``workers`` scripts per container, each script one request to a session, all at once."""
    chunks = [commands[n::workers] for n in range(workers)]
    scripts = [
        "".join(f"/bin/sh -c {shlex.quote(c)} </dev/null >/dev/null 2>&1\n" for c in chunk) + ":"
        for chunk in chunks
        if chunk
    ]
    jobs = [(c, script) for c in containers[:sides] for script in scripts]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for done in pool.map(lambda job: job[0].sessions.run(job[1]), jobs):
            assert done.rc == 0, done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", help="image A (default: the Debian test base)")
    parser.add_argument("--b", help="image B (default: same as A)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4, help="threads per side (4)")
    parser.add_argument("--modes", default="exec,session", help="exec,session (both)")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - {"exec", "session"}:
        parser.error("--modes takes exec, session or both")
    results: dict[tuple[str, int, str], list[float]] = {}
    counts: dict[int, int] = {}
    loads = [_load()]
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
            boxes = pair.containers
            hosts = {mode: hosts_for(boxes, mode, args.workers) for mode in sorted(modes)}
            if "session" not in hosts:
                hosts_for(boxes, "session", args.workers)  # the floor runs through sessions
            runs: dict[tuple[str, int, str], Callable[[], None]] = {}
            for n, suite in SUITES.items():
                for mode, pair_hosts in hosts.items():
                    both(pair_hosts, boxes, suite, args.workers)  # warm-up: caches, sessions
                    runs[mode, n, "one image"] = partial(
                        one_side, pair_hosts, boxes, suite, args.workers
                    )
                    runs[mode, n, "pair"] = partial(both, pair_hosts, boxes, suite, args.workers)
                cmds = commands_of(hosts[modes[0]], boxes, suite)
                assert cmds, "no command recorded"
                counts[n] = len(cmds)
                runs["floor", n, "one image"] = partial(floor, boxes, cmds, 1, args.workers)
                runs["floor", n, "pair"] = partial(floor, boxes, cmds, 2, args.workers)
            for _ in range(args.repeat):  # interleaved: a changing load spreads over all rows
                for key, fn in runs.items():
                    began = time.perf_counter()
                    fn()
                    results.setdefault(key, []).append(time.perf_counter() - began)
            loads.append(_load())
            why = [c.sessions.why for c in boxes if c.sessions.why]
            if why:
                print(f"parity_bench: sessions fell back to execs: {why[0]}", file=sys.stderr)
    except ReprokitError as err:
        print(f"parity_bench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("parity_bench: interrupted", file=sys.stderr)
        return 130
    print(f"A={a}, B={b}, {args.workers} thread(s) per side, {args.repeat} runs interleaved")
    print(f"load average (1 min) {loads[0]} before, {loads[-1]} after")
    print(f"containers started (and images checked) in {setup:.2f} s")
    print(f"commands per side: {counts[30]} (30 checks), {counts[90]} (90 checks)")
    print(f"{'':30} {'median':>8} {'min':>8}")
    for key in sorted(results, key=lambda k: (["floor", *modes].index(k[0]), k[1], k[2])):
        times = results[key]
        label = f"{key[0]}, {key[1]} checks, {key[2]}"
        print(f"{label:30} {statistics.median(times):7.3f}s {min(times):7.3f}s")
    for mode in ["floor", *modes]:
        for how, pick in (("median", statistics.median), ("min", min)):
            pair = {n: pick(results[mode, n, "pair"]) for n in SUITES}
            one = pick(results[mode, 90, "one image"])
            slope = (pair[90] - pair[30]) / (90 - 30) * 1000
            print(
                f"{mode} ({how}s): one more check on both sides {slope:.1f} ms (goal <= 5 ms); "
                f"pair / one image, 90 checks: {pair[90] / one:.2f} (goal <= 1.2)"
            )
    return 0


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
