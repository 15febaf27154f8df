"""Parity checks: named functions of a testinfra ``host``, run on one container.

A check returns a value (``lambda host: host.file("/etc/passwd").mode``) or asserts; its outcome
on one side is a value, a failed assertion, or an error (never equal to anything).

>>> [c.name for c in as_checks([file("/etc/passwd"), user("root"), ("sh", lambda h: 0)])]
['file /etc/passwd', 'user root', 'sh']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..containers import Container, ContainerError
from ..errors import UsageError
from ..model import Outcome

if TYPE_CHECKING:
    pass


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


def file(path: str) -> Check:
    """Whether ``path`` exists and, if so, its type, mode, owner, group and sha256 (a regular
    file) or linkname (a symlink's target, not followed), all in one command.

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
            out["linkname"] = lines[1]
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
    sessions = container.sessions
    before = sessions.tally() if sessions is not None else None
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
    if before is not None and sessions.proves_alive(before):
        return outcome  # every command was answered by a shell in the running container
    try:  # testinfra reads a dead container as "file does not exist": make sure it is alive
        container.ensure_running()
    except ContainerError as err:
        return Outcome("error", message=str(err))
    return outcome
