"""Behavioural parity: the same testinfra checks on a container of each image, side by side.

A check is a function of a testinfra ``host`` returning a value (``lambda host:
host.file("/etc/passwd").mode``) or asserting. It runs on both containers concurrently; each
side's outcome is a value, a failed assertion, or an error. An error (a container gone, a
``docker exec`` failure, an exception) is never equal to anything, not even to another error.

>>> checks = [file("/etc/passwd"), user("root"), ("shell", lambda host: host.run("echo $0").rc)]
>>> [c.name for c in as_checks(checks)]
['file /etc/passwd', 'user root', 'shell']
>>> result = parity("img:a", "img:b", checks)  # doctest: +SKIP
>>> result.holds, result.frame  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .containers import Container, ContainerError, Hardening, container_pair
from .errors import Cancelled, ReportError, UsageError
from .model import Outcome, ParityEntry
from .report.text import clean, outcome_text, render_parity

if TYPE_CHECKING:
    import pandas as pd
    import testinfra.host

    from .sources import Source
    from .spec import BuildSpec

COLUMNS = ["check", "a", "b", "same", "status_a", "status_b"]


@dataclass(frozen=True)
class Check:
    """A named function of a testinfra host."""

    name: str
    fn: Callable[[Any], Any]

    def __call__(self, host: Any) -> Any:
        return self.fn(host)


def as_checks(checks: Mapping[str, Callable[[Any], Any]] | Iterable[Any]) -> list[Check]:
    """Checks from a ``{name: fn}`` mapping or a list of functions, ``(name, fn)`` or Check."""
    if isinstance(checks, Mapping):
        items: list[Any] = list(checks.items())
    else:
        items = list(checks)
    out = []
    for n, item in enumerate(items, 1):
        if isinstance(item, Check):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and callable(item[1]):
            out.append(Check(str(item[0]), item[1]))
        elif callable(item):
            name = getattr(item, "__name__", "") or ""
            out.append(Check(name if name and name != "<lambda>" else f"check {n}", item))
        else:
            raise UsageError(f"check {n} is not a function of a testinfra host: {item!r}")
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise UsageError(f"check names must be unique; repeated: {', '.join(dup)}")
    return out


# ---------------------------------------------------------------- ready-made checks


def file(path: str) -> Check:
    """Whether ``path`` exists and, if so, its type, mode, owner, group and sha256 (a regular
    file) or target (a symlink, not followed), all in one command.

    >>> file("/etc/passwd").name
    'file /etc/passwd'
    """

    def facts(host: Any) -> dict[str, Any]:
        lines = _fact_lines(host, _FILE_FACTS, path)
        if lines is None:
            return {"exists": False}
        kind, mode, owner, grp = lines[0].split("|", 3)
        out: dict[str, Any] = {"exists": True, "type": _KINDS.get(kind, kind)}
        out.update(mode=f"{int(mode, 8):04o}", user=owner, group=grp)
        if out["type"] == "file" and len(lines) > 1:
            out["sha256"] = lines[1].split()[0]
        if out["type"] == "symlink" and len(lines) > 1:
            out["target"] = lines[1]
        return out

    return Check(f"file {path}", facts)


def _fact_lines(host: Any, command: str, arg: str) -> list[str] | None:
    """The output lines of a facts command, or None when it says ``absent``; a command that
    fails is a failed check (its stderr says why)."""
    done = host.run(command, arg)
    lines: list[str] = done.stdout.splitlines()
    if done.rc != 0 or not lines:
        raise AssertionError(f"cannot read the facts of {arg}: {done.stderr.strip()[:200]}")
    return None if lines[0] == "absent" else lines


#: One shell command giving stat facts (and the digest or link target) of the path in ``$p``.
_FILE_FACTS = (
    'p=%s; if [ -e "$p" ] || [ -L "$p" ]; then stat -c "%%F|%%a|%%U|%%G" "$p" || exit 2; '
    'if [ -L "$p" ]; then readlink "$p"; elif [ -f "$p" ]; then sha256sum "$p" || exit 2; fi; '
    "else echo absent; fi"
)
_KINDS = {"regular file": "file", "regular empty file": "file", "directory": "dir"}
_KINDS.update({"symbolic link": "symlink", "fifo": "fifo", "socket": "socket"})


def package(name: str) -> Check:
    """Whether package ``name`` is installed (testinfra's package module) and its version."""

    def facts(host: Any) -> dict[str, Any]:
        pkg = host.package(name)
        if not pkg.is_installed:
            return {"installed": False}
        return {"installed": True, "version": pkg.version}

    return Check(f"package {name}", facts)


def user(name: str) -> Check:
    """Whether user ``name`` exists and its uid, gid, groups, home and shell (one command)."""

    def facts(host: Any) -> dict[str, Any]:
        lines = _fact_lines(host, _USER_FACTS, name)
        if lines is None:
            return {"exists": False}
        lines += [""] * (4 - len(lines))
        entry = lines[3].split(":")
        return {
            "exists": True,
            "uid": int(lines[0]) if lines[0].isdigit() else lines[0],
            "gid": int(lines[1]) if lines[1].isdigit() else None,
            "groups": sorted(lines[2].split()),
            "home": entry[5] if len(entry) > 6 else None,
            "shell": entry[6] if len(entry) > 6 else None,
        }

    return Check(f"user {name}", facts)


_USER_FACTS = (
    'u=%s; if id -u "$u" >/dev/null 2>&1; then id -u "$u"; echo "$(id -g "$u" 2>/dev/null)"; '
    'echo "$(id -Gn "$u" 2>/dev/null)"; '
    'echo "$(getent passwd "$u" 2>/dev/null || grep "^$u:" /etc/passwd)"; else echo absent; fi'
)


def group(name: str) -> Check:
    """Whether group ``name`` exists and its gid."""

    def facts(host: Any) -> dict[str, Any]:
        g = host.group(name)
        return {"exists": True, "gid": g.gid} if g.exists else {"exists": False}

    return Check(f"group {name}", facts)


def command(cmd: str) -> Check:
    """Exit status and output of a shell command."""
    return Check(f"run {cmd}", lambda host: host.run(cmd))


# ---------------------------------------------------------------- outcomes


def plain(value: Any) -> Any:
    """A JSON-ready form of a check's value (a CommandResult becomes rc/stdout/stderr)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if hasattr(value, "exit_status") and hasattr(value, "stdout"):
        return {"rc": value.exit_status, "stdout": value.stdout, "stderr": value.stderr}
    return repr(value)


def run_check(check: Check, host: Any, container: Container) -> Outcome:
    """One check on one host: a value, a failed assertion, or an error (never hidden)."""
    try:
        value = plain(check(host))
    except ContainerError as err:
        return Outcome("error", message=str(err))
    except AssertionError as err:
        outcome = Outcome("failed", message=str(err).splitlines()[0] if str(err) else None)
    except Exception as err:
        outcome = Outcome("error", message=f"{type(err).__name__}: {err}")
    else:
        outcome = Outcome("ok", value)
    try:  # testinfra reads a dead container as "file does not exist": make sure it is alive
        container.ensure_running()
    except ContainerError as err:
        return Outcome("error", message=str(err))
    return outcome


# ---------------------------------------------------------------- testinfra hosts


def testinfra_host(container: Container) -> testinfra.host.Host:
    """A testinfra Host whose commands run in ``container`` through the Docker SDK (the same
    engine as reprokit's), raising :class:`ContainerError` on infrastructure failures."""
    import testinfra.host
    from testinfra.backend.docker import DockerBackend

    class ReprokitBackend(DockerBackend):
        NAME = "docker"

        def __init__(self, c: Container):
            super().__init__(c.id)
            self.container = c

        def run(self, command: str, *args: str, **kwargs: Any) -> Any:
            cmd = self.get_command(command, *args)
            done = self.container.exec(cmd, user=self.user)
            return self.result(done.rc, self.encode(cmd), done.stdout, done.stderr)

        def get_pytest_id(self) -> str:
            return self.container.side

    backend = ReprokitBackend(container)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host


# ---------------------------------------------------------------- the result


@dataclass
class ParityResult:
    """Checks on both images side by side. ``holds`` when every check agrees and none failed."""

    images: tuple[str, str]
    entries: list[ParityEntry] = field(default_factory=list)
    image_ids: tuple[str | None, str | None] = (None, None)
    run_id: str | None = None
    duration_s: float | None = None
    kind: str = "checks"

    @property
    def holds(self) -> bool:
        return bool(self.entries) and all(e.good for e in self.entries)

    @property
    def errors(self) -> list[ParityEntry]:
        return [e for e in self.entries if "error" in (e.a.status, e.b.status)]

    @property
    def summary(self) -> dict[str, int]:
        return {
            "checks": len(self.entries),
            "same": sum(e.same for e in self.entries),
            "differing": sum(not e.same for e in self.entries),
            "failed": sum("failed" in (e.a.status, e.b.status) for e in self.entries),
            "errors": len(self.errors),
        }

    def exit_status(self) -> int:
        """0 when parity holds, 1 when an outcome differs or fails, 2 on any error."""
        if self.errors or not self.entries:
            return 2
        return 0 if self.holds else 1

    @property
    def frame(self) -> pd.DataFrame:
        """One row per check: ``check, a, b, same, status_a, status_b``."""
        import pandas as pd

        rows = [
            {
                "check": e.name,
                "a": e.a.value if e.a.status == "ok" else outcome_text(e.a),
                "b": e.b.value if e.b.status == "ok" else outcome_text(e.b),
                "same": e.same,
                "status_a": e.a.status,
                "status_b": e.b.status,
            }
            for e in self.entries
        ]
        return pd.DataFrame(rows, columns=COLUMNS)

    def text(self, width: int = 36) -> str:
        """A side-by-side table: each check, its outcome on A and on B, and whether they agree."""
        s = self.summary
        state = "HOLDS" if self.holds else "ERROR" if self.errors else "BROKEN"
        lines = [
            f"parity: {state} — {s['same']}/{s['checks']} {self.kind} agree"
            + (f", {s['failed']} failed" if s["failed"] else "")
            + (f", {s['errors']} error(s)" if s["errors"] else ""),
            f"  A  {clean(self.images[0], 60)}",
            f"  B  {clean(self.images[1], 60)}",
        ]
        lines += render_parity(self.entries, width, "test" if self.kind == "tests" else "check")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``parity``."""
        from . import __version__
        from .report.json import SCHEMA

        return {
            "schema": SCHEMA,
            "kind": "parity",
            "reprokit_version": __version__,
            "images": [
                {"ref": ref, "id": image_id}
                for ref, image_id in zip(self.images, self.image_ids, strict=True)
            ],
            "holds": self.holds,
            "summary": self.summary,
            "parity": [e.to_dict() for e in self.entries],
            "run_id": self.run_id,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
        }

    def to_json(self, path: str | Path | None = None) -> str | None:
        """The JSON document: returned as text, or written atomically to ``path``."""
        from .report.json import document

        return document(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityResult:
        if not isinstance(data, dict) or data.get("kind") != "parity":
            raise ReportError("not a reprokit parity report")
        try:
            images = [i.get("ref", "") for i in data["images"]]
            ids = [i.get("id") for i in data["images"]]
            return cls(
                images=(images[0], images[1]),
                entries=[ParityEntry.from_dict(e) for e in data.get("parity") or []],
                image_ids=(ids[0], ids[1]),
                run_id=data.get("run_id"),
                duration_s=data.get("duration_s"),
            )
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise ReportError(f"malformed parity report: {type(err).__name__} {err}") from None

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<reprokit.ParityResult {'holds' if self.holds else 'does not hold'}: "
            f"{s['same']}/{s['checks']} agree, {s['errors']} error(s)>"
        )


def run_checks(
    checks: list[Check],
    hosts: tuple[Any, Any],
    containers: tuple[Container, Container],
    workers: int = 4,
) -> list[ParityEntry]:
    """Every check on both hosts, the two sides concurrently (``workers`` threads per side).

    On Ctrl-C the running checks are not waited for: the caller removes the containers, which
    ends them.
    """
    pool = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="reprokit-parity")
    try:
        futures = [
            (
                check,
                pool.submit(run_check, check, hosts[0], containers[0]),
                pool.submit(run_check, check, hosts[1], containers[1]),
            )
            for check in checks
        ]
        entries = [ParityEntry(c.name, fa.result(), fb.result()) for c, fa, fb in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return entries


@dataclass
class HostPair:
    """testinfra hosts on a running container of each image, for as long as the block lasts."""

    a: Any
    b: Any
    containers: tuple[Container, Container]
    images: tuple[str, str]
    run_id: str
    image_ids: tuple[str | None, str | None] = (None, None)

    def __getitem__(self, side: str) -> Any:
        if side not in ("a", "b"):
            raise KeyError(side)
        return self.a if side == "a" else self.b


@contextlib.contextmanager
def host_pair(
    a: str | Source | None = None,
    b: str | Source | None = None,
    *,
    build: BuildSpec | None = None,
    base_url: str | None = None,
    hardening: Hardening | None = None,
) -> Iterator[HostPair]:
    """Hardened containers of ``a`` and ``b`` (or of two no-cache builds of ``build``) with a
    testinfra host on each; everything made for them is removed when the block ends.

    >>> with host_pair("app:1", "app:2") as pair:  # doctest: +SKIP
    ...     pair.a.file("/etc/passwd").exists, pair.b.user("app").uid
    """
    from .engine import Run, connect

    client = connect(base_url, timeout=3600)
    run = Run(client)
    try:
        if build is not None:
            from .builders import BUILDERS

            builder = BUILDERS["docker"](client)
            a, b = (builder.build(build, f"reprokit-build:{run.id}-{n}", run, n).tag for n in "ab")
        if a is None or b is None:
            raise UsageError("parity needs two images (or a build spec)")
        with container_pair(a, b, base_url=base_url, hardening=hardening, run=run) as pair:
            ids = (_image_id(pair[0]), _image_id(pair[1]))
            yield HostPair(
                testinfra_host(pair[0]),
                testinfra_host(pair[1]),
                pair,
                (str(a), str(b)),
                run.id,
                ids,
            )
    except KeyboardInterrupt:
        raise Cancelled(
            "interrupted; the containers and images this run made were removed"
        ) from None
    finally:
        run.cleanup()
        client.close()


def parity(
    a: str | Source,
    b: str | Source,
    checks: Mapping[str, Callable[[Any], Any]] | Iterable[Any],
    *,
    base_url: str | None = None,
    read_only: bool = False,
    pids_limit: int = 256,
    mem_limit: str = "512m",
    workers: int = 4,
) -> ParityResult:
    """Run testinfra ``checks`` on a hardened container of each image and compare outcomes.

    Images are given in any transport; archives and OCI layouts are loaded into the engine for
    the run and removed afterwards, as are the containers (also on errors and Ctrl-C).

    >>> r = parity("app:1", "oci-archive:app.tar", {"py": lambda h: h.run("python3 -V").stdout})
    ... # doctest: +SKIP
    >>> print(r.text())  # doctest: +SKIP
    """
    wanted = as_checks(checks)
    if not wanted:
        raise UsageError("parity needs at least one check")
    started = time.monotonic()
    hardening = Hardening(read_only=read_only, pids_limit=pids_limit, mem_limit=mem_limit)
    with host_pair(a, b, base_url=base_url, hardening=hardening) as pair:
        entries = run_checks(wanted, (pair.a, pair.b), pair.containers, workers)
    return ParityResult(
        images=(str(a), str(b)),
        entries=entries,
        image_ids=pair.image_ids,
        run_id=pair.run_id,
        duration_s=time.monotonic() - started,
    )


def _image_id(container: Container) -> str | None:
    try:
        return str(container._api().inspect_container(container.id)["Image"])
    except Exception:
        return None


def load(path: str | Path) -> ParityResult:
    """Read a parity report written by ``reprokit parity --json`` or ``ParityResult.to_json``."""
    from .report.json import read_json

    return ParityResult.from_dict(read_json(path))
