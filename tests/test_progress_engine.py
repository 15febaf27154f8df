"""Progress where stderr is not a terminal (CI, a pipe, a log file): each build bar degrades to
one clean line, printed once when the build ends — a real build through the CLI."""

from __future__ import annotations

import re

from conftest import run_cli

LINE = re.compile(r"^✓ build (a|b) — (\d+)/(\d+) steps in \d+\.\d s$")


def test_builds_print_one_clean_line_each_when_stderr_is_a_pipe(busybox, context, no_leftovers):
    ctx = context(
        f"FROM {busybox}\nRUN echo one > /one\nRUN cat /proc/sys/kernel/random/uuid > /date\n"
    )
    proc = run_cli("check", str(ctx))
    assert proc.returncode == 1, proc.stderr  # the random id differs
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, lines  # one per build: no bar redrawn, no carriage return
    assert "\r" not in proc.stderr and "\x1b" not in proc.stderr
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [m.group(1) for m in matches] == ["a", "b"]
    assert all(m.group(2) == m.group(3) for m in matches), lines  # reached the total
    assert proc.stdout.startswith("reprokit: DIFFERENT")
    quiet = run_cli("check", str(ctx), "--quiet")
    assert quiet.stderr == ""
