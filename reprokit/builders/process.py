"""Running a builder's command line: its output streamed into a bounded log, stopped on Ctrl-C.

>>> from collections import deque
>>> log: deque[str] = deque(maxlen=10)
>>> run_logged(["sh", "-c", "echo one; echo two"], None, log), list(log)
(0, ['one', 'two'])
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import Run
    from ..spec import BuildSpec

from ..errors import BuildError, EngineError

LOG_TAIL = 30


def run_logged(
    cmd: list[str],
    env: dict[str, str] | None,
    log: deque[str],
    on_line: Callable[[str], None] | None = None,
) -> int:
    """Run ``cmd`` (stderr merged into stdout), append each line to ``log``; its exit status.

    The process is terminated (then killed) when the caller is interrupted.
    """
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
        )
    except OSError as err:
        raise EngineError(f"cannot run {cmd[0]}: {err.strerror or err}") from None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            log.append(line)
            if on_line:
                on_line(line)
        return proc.wait()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def output(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> str | None:
    """The stdout of a short command, or None when it is missing or fails."""
    if not shutil.which(cmd[0]):
        return None
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def engine_env(base_url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``docker`` CLI call aimed at ``base_url`` (None: as inherited).

    >>> engine_env("unix:///x.sock")["DOCKER_HOST"]
    'unix:///x.sock'
    """
    env = dict(os.environ)
    if base_url:
        env["DOCKER_HOST"] = base_url
        env.pop("DOCKER_CONTEXT", None)
    env.update(extra or {})
    return env


def common_flags(spec: BuildSpec, run: Run, build_args: dict[str, str]) -> list[str]:
    """The flags ``docker buildx build`` and ``buildah bud`` share: build args, labels (the
    run's label included), target and platform."""
    flags: list[str] = []
    for key, value in build_args.items():
        flags += ["--build-arg", f"{key}={value}"]
    for key, value in {**spec.labels, **run.labels}.items():
        flags += ["--label", f"{key}={value}"]
    if spec.target:
        flags += ["--target", spec.target]
    if spec.platform:
        flags += ["--platform", spec.platform]
    return flags


def build_failure(
    name: str, step: tuple[str, str] | None, errors: list[str], status: int, log: deque[str]
) -> BuildError:
    """The error of a failed command-line build: its step, its last error line, its log tail.

    >>> str(build_failure("a", ("2/2", "RUN false"), ["exit code: 1"], 1, deque()))
    'build a failed at step 2/2 (RUN false): exit code: 1'
    """
    message = errors[-1] if errors else f"exit status {status}"
    where = f" at step {step[0]} ({step[1]})" if step else ""
    return BuildError(
        f"build {name} failed{where}: {message}",
        step=f"{step[0]} {step[1]}" if step else None,
        log_tail=[line for line in log if line.strip()][-LOG_TAIL:],
    )
