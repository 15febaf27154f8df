"""Commands through one long-lived shell per container: the cost of the command, not of an exec.

A :class:`ShellSession` is one ``docker exec`` of ``/bin/sh`` with stdin attached, running
:data:`DRIVER`, a small POSIX sh loop (busybox sh and dash alike; no temp files, so a read-only
root filesystem is fine; no tool besides the shell). Each request is a line ``TOKEN NLINES``
and the command's lines; the driver runs the command as ``/bin/sh -c COMMAND`` with stdin from
``/dev/null`` — the same process an exec per command runs, in the same directory with the same
environment — and brackets its output with ``S<token>`` before and ``E<token> STATUS`` after,
on stdout and on stderr, which the engine keeps apart. The token is 128 random bits sent over
stdin only, so the output between the markers is exact: binary, NUL bytes, no final newline.

:class:`Sessions` hands a container's sessions to the threads running checks (one command at a
time per session, sessions made on first need, at most ``size``) and falls back to an exec per
command (:meth:`Container.exec`) for another user, a command holding a NUL byte, an image
whose shell cannot run the driver, or a session that broke before the command was sent.

A command running longer than ``timeout`` seconds is killed with every process it started
(found under the driver's pid in ``/proc``, stopped, then killed, from a second exec) and
raises :class:`CommandTimeout`; the session goes on with the next command.

>>> request(b"0" * 32, "echo hi\\nexit 3")
b'00000000000000000000000000000000 2\\necho hi\\nexit 3\\n'
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import struct
import threading
import time
from typing import Any

import docker.errors
import requests

from ..containers import Container, ContainerError, ExecResult
from ..engine import open_client

#: Seconds a command may run before it is killed (``REPROKIT_COMMAND_TIMEOUT`` overrides).
DEFAULT_TIMEOUT = 300.0
#: Seconds to start a session, and to see a killed command's end marker.
GRACE = 10.0
#: Bytes of stdout, and of stderr, kept of one command; more is an error (its output is
#: drained, not kept, so memory stays bounded).
MAX_OUTPUT = 64 << 20

#: Bytes kept at each end of an output buffer that outgrew :data:`MAX_OUTPUT`.
_KEEP = 4096

#: The driver: reads ``TOKEN NLINES`` and NLINES lines, runs them as one ``sh -c`` script.
#: Its variables are named so that no environment variable of the image is touched; a shell
#: that counts ``SHLVL`` (busybox, bash) gets it back one lower, so its commands see what an
#: exec of their own sees. The driver's own stderr is /dev/null (a shell reports a child killed
#: by a signal there); the command's is the exec's, kept as fd 3 by the driver, and set up in
#: the child only (a subshell that execs ``sh``: no extra process).
DRIVER = r"""
IFS= read -r __rk_hello || exit 0
if [ "$(/bin/sh -c 'printf %s "${SHLVL-}"')" != "${SHLVL-}" ]; then
  SHLVL=$((SHLVL - 1)); export SHLVL
fi
exec 3>&2 2>/dev/null
printf 'R %s\n' "$$"
while IFS=' ' read -r __rk_t __rk_n; do
  __rk_c=; __rk_i=0
  while [ "$__rk_i" -lt "$__rk_n" ]; do
    IFS= read -r __rk_l || exit 0
    if [ "$__rk_i" = 0 ]; then __rk_c=$__rk_l; else __rk_c="$__rk_c
$__rk_l"; fi
    __rk_i=$((__rk_i + 1))
  done
  printf 'S%s' "$__rk_t"; printf 'S%s' "$__rk_t" >&3
  (exec /bin/sh -c "$__rk_c" </dev/null 2>&3 3>&-)
  __rk_r=$?
  printf 'E%s %s\n' "$__rk_t" "$__rk_r"; printf 'E%s' "$__rk_t" >&3
done
"""

#: Stops, then kills, every process descending from the driver (pid ``D``), the driver spared.
KILLER = r"""
t=" $D "
for pass in 1 2 3; do
  for f in /proc/[0-9]*/stat; do
    IFS= read -r l < "$f" 2>/dev/null || continue
    p=${l%% *}; r=${l##*) }; set -- $r
    case "$t" in *" $2 "*) case "$t" in *" $p "*) ;; *)
      t="$t$p "; kill -STOP "$p" 2>/dev/null;; esac;; esac
  done
done
for p in $t; do [ "$p" = "$D" ] || kill -KILL "$p" 2>/dev/null; done
"""


class CommandTimeout(ContainerError):
    """A command ran longer than the session's timeout; it was killed."""


class OutputTooLarge(ContainerError):
    """A command wrote more than :data:`MAX_OUTPUT` bytes to stdout or stderr."""


class SessionBroken(Exception):
    """The session cannot go on (``sent``: whether the command reached the shell)."""

    def __init__(self, why: str, sent: bool = False):
        super().__init__(why)
        self.sent = sent


def command_timeout() -> float:
    """The default timeout: ``REPROKIT_COMMAND_TIMEOUT`` seconds, else :data:`DEFAULT_TIMEOUT`.

    >>> command_timeout() > 0
    True
    """
    try:
        value = float(os.environ.get("REPROKIT_COMMAND_TIMEOUT", ""))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if 0 < value < 10**6 else DEFAULT_TIMEOUT


def request(token: bytes, command: str) -> bytes:
    """The request bytes of ``command``: ``TOKEN NLINES`` then each line, newline-ended."""
    lines = command.encode("utf-8", "surrogateescape").split(b"\n")
    return token + b" %d\n" % len(lines) + b"".join(line + b"\n" for line in lines)


class ShellSession:
    """One ``/bin/sh`` running :data:`DRIVER` in ``container``, as the image's user."""

    def __init__(self, container: Container):
        self.container = container
        self.client: Any = None
        self._response: Any = None
        self._sock: Any = None
        self._frames = bytearray()
        self.buffers = (bytearray(), bytearray())
        self.pid = ""
        self._overflow = False
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        self.client = open_client(self.container.base_url, "exec")
        api = self.client.api
        try:
            created = api.exec_create(
                self.container.id,
                ["/bin/sh", "-c", DRIVER],
                stdin=True,
                stdout=True,
                stderr=True,
                user="",
            )
            self._response = api._post_json(
                api._url("/exec/{0}/start", created["Id"]),
                headers={"Connection": "Upgrade", "Upgrade": "tcp"},
                data={"Tty": False, "Detach": False},
                stream=True,
            )
            raw = api._get_raw_response_socket(self._response)
        except (docker.errors.APIError, requests.RequestException) as err:
            raise SessionBroken(f"cannot start the shell: {err}") from None
        sock = getattr(raw, "_sock", raw)
        if not (hasattr(sock, "recv") and hasattr(sock, "sendall")):
            raise SessionBroken("the engine connection is not a socket")
        self._sock = sock
        self._send(b"hello\n")
        deadline = time.monotonic() + GRACE
        line = self._until(0, b"\n", 0, deadline)
        ready = bytes(self.buffers[0][:line])
        del self.buffers[0][: line + 1]
        if not ready.startswith(b"R ") or not ready[2:].isdigit():
            raise SessionBroken(f"the shell did not start the driver: {ready[:80]!r}")
        self.pid = ready[2:].decode()

    def run(self, command: str, timeout: float) -> ExecResult:
        """Run ``command`` as ``/bin/sh -c`` would; :class:`CommandTimeout` after ``timeout``."""
        token = secrets.token_hex(16).encode()
        self._send(request(token, command))
        start, end = b"S" + token, b"E" + token
        deadline = time.monotonic() + timeout
        try:
            out, err, rc = self._reply(start, end, deadline)
        except TimeoutError:
            self._kill()
            try:
                self._reply(start, end, time.monotonic() + GRACE)
            except (TimeoutError, ContainerError):
                raise SessionBroken("a timed-out command could not be killed", sent=True) from None
            raise CommandTimeout(
                f"{self.container.where}: the command ran longer than {timeout:g} s and was "
                f"killed: {command[:200]}"
            ) from None
        return ExecResult(rc, out, err)

    def _reply(self, start: bytes, end: bytes, deadline: float) -> tuple[bytes, bytes, int]:
        begin = [self._marker(n, start, deadline) for n in (0, 1)]
        stop_out = self._until(0, end, begin[0], deadline)
        newline = self._until(0, b"\n", stop_out, deadline)
        stop_err = self._until(1, end, begin[1], deadline)
        out_buf, err_buf = self.buffers
        status = bytes(out_buf[stop_out + len(end) : newline]).strip()
        out = bytes(out_buf[begin[0] : stop_out])
        err = bytes(err_buf[begin[1] : stop_err])
        del out_buf[: newline + 1]
        del err_buf[: stop_err + len(end)]
        overflow = self._overflow or len(out) > MAX_OUTPUT or len(err) > MAX_OUTPUT
        self._overflow = False
        if overflow:
            raise OutputTooLarge(
                f"{self.container.where}: the command wrote more than {MAX_OUTPUT} bytes "
                "to stdout or stderr"
            )
        if not status.isdigit():
            raise SessionBroken(f"bad status from the shell: {status[:40]!r}", sent=True)
        return out, err, int(status)

    def _marker(self, stream: int, marker: bytes, deadline: float) -> int:
        """The offset just past ``marker`` in ``stream``; what came before it is dropped."""
        at = self._until(stream, marker, 0, deadline)
        del self.buffers[stream][:at]
        return len(marker)

    def _until(self, stream: int, marker: bytes, start: int, deadline: float) -> int:
        """The offset of ``marker`` in ``stream`` at or after ``start``, reading as needed."""
        buf = self.buffers[stream]
        seen = start
        while True:
            at = buf.find(marker, seen)
            if at >= 0:
                return at
            seen = max(start, len(buf) - len(marker) + 1)
            if self._read(deadline):
                seen = start  # the middle of a buffer was dropped: look again from the start

    def _read(self, deadline: float) -> bool:
        """Read one frame of the engine's multiplexed stream into the buffers; True when a
        buffer outgrew :data:`MAX_OUTPUT` and lost its middle (its head, with the start
        marker, and its tail, where an end marker may be arriving, are kept)."""
        while True:
            if len(self._frames) >= 8:
                kind, size = struct.unpack(">BxxxL", self._frames[:8])
                if len(self._frames) >= 8 + size:
                    if kind not in (1, 2):
                        del self._frames[: 8 + size]
                        continue
                    buf = self.buffers[kind - 1]
                    buf.extend(self._frames[8 : 8 + size])
                    del self._frames[: 8 + size]
                    if len(buf) <= MAX_OUTPUT + 2 * _KEEP:
                        return False
                    del buf[_KEEP : len(buf) - _KEEP]
                    self._overflow = True
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(1 << 16)
            except TimeoutError:
                raise
            except OSError as err:
                raise SessionBroken(f"the shell's connection failed: {err}", sent=True) from None
            if not chunk:
                raise SessionBroken("the shell ended", sent=True)
            self._frames.extend(chunk)

    def _send(self, data: bytes) -> None:
        try:
            self._sock.settimeout(GRACE)
            self._sock.sendall(data)
        except OSError as err:
            raise SessionBroken(f"cannot write to the shell: {err}") from None

    def _kill(self) -> None:
        """Stop and kill every process under the driver, from a second exec."""
        self.container.exec(f"D={self.pid}\n{KILLER}")

    def close(self) -> None:
        """End the driver (end of its stdin) and drop the connection."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):  # SHUT_WR: the driver reads the end, exits
                sock.shutdown(socket.SHUT_WR)
            sock.close()
        for thing in (self._response, self.client):
            if thing is not None:
                with contextlib.suppress(Exception):  # closing what may be half-open
                    thing.close()
        self._response = self.client = None


class Sessions:
    """A container's shell sessions, one command at a time each, made on first need.

    ``enabled=False`` runs every command through an exec of its own (the reference path).
    """

    def __init__(
        self,
        container: Container,
        *,
        size: int = 4,
        timeout: float | None = None,
        enabled: bool | None = None,
    ):
        self.container = container
        self.size = max(1, size)
        self.timeout = command_timeout() if timeout is None else timeout
        if enabled is None:
            enabled = os.environ.get("REPROKIT_PARITY_SESSIONS", "1") != "0"
        self.enabled = enabled
        #: why sessions are off for this container (None while they work or were never tried)
        self.why: str | None = None
        self._idle: list[ShellSession] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self._tally = threading.local()

    def tally(self) -> tuple[int, int]:
        """This thread's count of commands answered by a session, and of those run otherwise."""
        return getattr(self._tally, "session", 0), getattr(self._tally, "other", 0)

    def proves_alive(self, before: tuple[int, int]) -> bool:
        """Whether every command this thread ran since ``tally()`` was ``before`` (at least
        one) was answered by a session: a shell that answers is a running container (one
        killed under a command ends the session instead of answering)."""
        session, other = self.tally()
        return session > before[0] and other == before[1]

    def _count_as(self, kind: str) -> None:
        setattr(self._tally, kind, getattr(self._tally, kind, 0) + 1)

    def run(self, command: str, user: str | None = None) -> ExecResult:
        """``/bin/sh -c command`` in the container, through a session when one can run it."""
        if user or not self.enabled or "\0" in command:
            self._count_as("other")
            return self.container.exec(command, user=user)
        session = self._acquire()
        if session is None:
            self._count_as("other")
            return self.container.exec(command, user=user)
        keep = False
        try:
            result = session.run(command, self.timeout)
            keep = True
        except (CommandTimeout, OutputTooLarge):
            keep = True
            raise
        except SessionBroken as broken:
            self.container.ensure_running()
            if broken.sent:
                raise ContainerError(
                    f"{self.container.where}: the shell session broke during the command: {broken}"
                ) from None
            return self.container.exec(command, user=user)
        finally:
            self._release(session, keep)
        if result.rc != 0:
            self.container.ensure_running()  # a command killed with its container is no result
        self._count_as("session")
        return result

    def _acquire(self) -> ShellSession | None:
        with self._cond:
            while True:
                if not self.enabled or self._closed:
                    return None
                if self._idle:
                    return self._idle.pop()
                if self._count < self.size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return ShellSession(self.container)
        except SessionBroken as err:
            with self._cond:
                self._count -= 1
                self.enabled, self.why = False, str(err)
                self._cond.notify_all()
            return None
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            raise

    def _release(self, session: ShellSession, keep: bool) -> None:
        with self._cond:
            if keep and not self._closed:
                self._idle.append(session)
                session = None  # type: ignore[assignment]
            else:
                self._count -= 1
            self._cond.notify()
        if session is not None:
            session.close()

    def close(self) -> None:
        """End every idle session (busy ones end when released)."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for session in idle:
            session.close()
