"""Progress bars (tqdm) for builds and for image export and layer indexing (one pass).

In a Jupyter notebook every bar of a cell lives in one output, updated in place (a display
id, no widget): nothing is left dead when the kernel stops, and once a bar closes its line
says what happened — ``✓ build a — 4/4 steps in 1.2 s`` — so a saved notebook keeps one clean
line per build and one for the layers read. On an interactive terminal a tqdm bar. When
stderr is not a terminal (CI, pipes, a log file) each build bar degrades to one clean line
printed once, when it closes — ``✓ build a — 4/4 steps in 1.2 s`` (the layers read print
nothing there). Nothing at all when turned off (``reprokit ... --quiet`` or
:func:`configure`). When off, every hook is a no-op that costs one method call.

A bar reaches its total when it closes after success; it shows failure only when it closes
while an exception propagates (``close()`` in a ``finally``) or on :meth:`_Bar.fail`.

>>> configure(False)
>>> with bar("build a", unit="step") as b:
...     b.step("2/5")
>>> configure(None)
"""

from __future__ import annotations

import contextlib
import html
import io
import re
import sys
import threading
from typing import Any, BinaryIO

from .read.streams import PassThrough

_enabled: bool | None = None


def configure(enabled: bool | None) -> None:
    """Turn progress on (True), off (False) or back to automatic (None)."""
    global _enabled
    _enabled = enabled


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def active() -> bool:
    """Whether live progress (bars of bytes and steps) is shown now."""
    if _enabled is not None:
        return _enabled
    return _in_notebook() or _tty()


def _lines() -> bool:
    """Whether bars degrade to one line each (automatic mode, stderr not a terminal)."""
    return _enabled is None and not _in_notebook() and not _tty()


class _Off:
    """The bar used when progress is off: does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def step(self, where: str) -> None:
        pass

    def close(self) -> None:
        pass

    def fail(self) -> None:
        pass

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.fail()


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]


class _Board:
    """Every bar of one notebook cell, in one output updated in place."""

    def __init__(self) -> None:
        from IPython.display import display

        self.cell = _cell()
        #: bars open and close in reader threads: a change and the update it shows go together,
        #: so the last update shown is the last state (never a stale snapshot after it)
        self.lock = threading.RLock()
        self.bars: list[_NotebookBar] = []
        self.lines: list[tuple[bool, str]] = []  # closed bars: (ok, line)
        self.reads = [0, 0, 0.0]  # layers read, bytes, seconds
        self.handle = display(self.bundle(), raw=True, display_id=True)

    def bundle(self) -> dict[str, str]:
        done = list(self.lines)
        layers, size, took = self.reads
        if layers:
            done.append((True, f"read {layers} layer(s) — {_size(size)} in {took:.1f} s"))
        text = [("✓ " if ok else "✗ ") + line for ok, line in done]
        rows = [
            f'<div style="color:{"inherit" if ok else "#b3261e"}">'
            f"{'✓' if ok else '✗'} {html.escape(line)}</div>"
            for ok, line in done
        ]
        for b in self.bars:
            text.append(b.line())
            rows.append(b.html())
        return {
            "text/plain": "\n".join(text),
            "text/html": '<div class="reprokit-progress tex2jax_ignore mathjax_ignore" '
            'style="font-family:var(--jp-code-font-family,monospace);font-size:12px;'
            'text-align:left">' + "".join(rows) + "</div>",
        }

    def refresh(self) -> None:
        with self.lock:
            self.handle.update(self.bundle(), raw=True)


def _cell() -> int:
    shell = _shell()
    return int(getattr(shell, "execution_count", 0) or 0)


_board: _Board | None = None


def _current_board() -> _Board:
    global _board
    if _board is None or _board.cell != _cell():
        _board = _Board()
    return _board


def _size(n: float) -> str:
    from .text import human_size

    return human_size(int(n))


def _notebook_tqdm() -> Any:
    from tqdm.std import tqdm

    class NotebookTqdm(tqdm):  # type: ignore[misc,type-arg]
        """tqdm counting and timing; drawing goes to the cell's board."""

        def __init__(self, *args: Any, board: _Board, **kwargs: Any):
            self._board = board
            super().__init__(*args, file=io.StringIO(), **kwargs)

        def display(self, msg: str | None = None, pos: int | None = None) -> bool:
            if msg is None and not self.disable and hasattr(self, "n"):
                self._board.refresh()
            return True

    return NotebookTqdm


class _Tqdm(_Off):
    """A bar drawn by a tqdm (``_t``): counting and steps are tqdm's."""

    _t: Any

    def update(self, n: int = 1) -> None:
        self._t.update(n)

    def step(self, where: str) -> None:
        """Move to step ``"N/M"`` (a classic builder's ``Step N/M``)."""
        done, _, total = where.partition("/")
        if done.isdigit() and total.isdigit():
            self._t.total = int(total)
            self._t.n = int(done) - 1  # step N has started, N-1 are done
            self._t.refresh()


class _NotebookBar(_Tqdm):
    """A bar of a notebook cell's board."""

    def __init__(self, desc: str, total: float | None, unit: str):
        self.desc, self.unit = desc[:48], unit
        self._board = board = _current_board()
        scale = unit == "B"
        self._t = _notebook_tqdm()(
            desc=self.desc,
            total=total,
            unit=unit,
            unit_scale=scale,
            unit_divisor=1024 if scale else 1000,
            leave=False,
            board=board,
            mininterval=0.25,
        )
        self._closed = False
        with board.lock:
            board.bars.append(self)
            board.refresh()

    def line(self) -> str:
        d = self._t.format_dict
        if d.get("total"):
            return f"… {self.desc} — {d['n']:.0f}/{d['total']:.0f} {self.unit}"
        return f"… {self.desc} — {_amount(d['n'], self.unit)}"

    def html(self) -> str:
        d = self._t.format_dict
        meter = ""
        if d.get("total"):
            meter = f'<progress max="{d["total"]:.0f}" value="{d["n"]:.0f}"></progress> '
        return f"<div>{meter}{html.escape(self.line())}</div>"

    def fail(self) -> None:
        self._finish(False)

    def close(self) -> None:
        self._finish(sys.exc_info()[0] is None)

    def _finish(self, ok: bool) -> None:
        if self._closed:
            return
        self._closed = True
        t, board = self._t, self._board
        if ok and t.total:
            t.n = t.total  # the last step ran: the bar reaches its total
        took = t.format_dict["elapsed"]
        t.disable = True
        t.close()
        with board.lock:
            self._record(board, ok, took)
            board.refresh()

    def _record(self, board: _Board, ok: bool, took: float) -> None:
        t = self._t
        board.bars.remove(self)
        if ok and self.unit == "B":
            board.reads[0] += 1
            board.reads[1] += t.n
            board.reads[2] += took
        elif ok:
            count = f"{t.n:.0f}/{t.total:.0f} {self.unit}s" if t.total else _amount(t.n, self.unit)
            board.lines.append((True, f"{self.desc} — {count} in {took:.1f} s"))
        else:
            at = f" at {t.n + 1:.0f}/{t.total:.0f}" if t.total else ""
            board.lines.append((False, f"{self.desc} — failed{at} after {took:.1f} s"))


def _amount(n: float, unit: str) -> str:
    return _size(n) if unit == "B" else f"{n:.0f} {unit}"


class _Bar(_Tqdm):
    """A tqdm bar on an interactive terminal."""

    def __init__(self, desc: str, total: float | None, unit: str):
        from tqdm import tqdm

        scale = unit == "B"
        self._t = tqdm(
            desc=desc[:48],
            total=total,
            unit=unit,
            unit_scale=scale,
            unit_divisor=1024 if scale else 1000,
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def close(self) -> None:
        if sys.exc_info()[0] is None and self._t.total:
            self._t.n = self._t.total  # the last step ran: the bar reaches its total
        self._t.close()

    def fail(self) -> None:
        self._t.close()


class _LineBar(_Off):
    """A bar where stderr is not a terminal: silent while it runs, one line when it closes
    (``✓ build a — 4/4 steps in 1.2 s``); a failure prints nothing, the error names the step."""

    def __init__(self, desc: str, total: float | None, unit: str):
        import time

        self.desc, self.total, self.unit, self.n = desc[:48], total, unit, 0.0
        self._clock = time.monotonic
        self._start = self._clock()
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n

    def step(self, where: str) -> None:
        done, _, total = where.partition("/")
        if done.isdigit() and total.isdigit():
            self.total, self.n = int(total), int(done) - 1

    def close(self) -> None:
        self._finish(sys.exc_info()[0] is None)

    def fail(self) -> None:
        self._finish(False)

    def _finish(self, ok: bool) -> None:
        if self._closed:
            return
        self._closed = True
        took = self._clock() - self._start
        if ok:
            if self.total:
                self.n = self.total  # the last step ran: the bar reaches its total
            count = (
                f"{self.n:.0f}/{self.total:.0f} {self.unit}s"
                if self.total
                else _amount(self.n, self.unit)
            )
            line = f"✓ {self.desc} — {count} in {took:.1f} s"
        else:  # the error that follows names the step: one line, not two
            return
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: progress is a courtesy
            print(line, file=sys.stderr, flush=True)


def bar(desc: str, total: float | None = None, unit: str = "B") -> _Off:
    """A progress bar (a no-op when progress is off); use it as a context manager. Where
    stderr is not a terminal, a bar of steps prints one line when it closes and a bar of
    bytes nothing."""
    if not active():
        return _LineBar(desc, total, unit) if unit != "B" and _lines() else _Off()
    if _in_notebook():
        try:
            import IPython.display  # noqa: F401
        except ImportError:  # pragma: no cover - a kernel always has IPython
            return _Bar(desc, total, unit)
        return _NotebookBar(desc, total, unit)
    return _Bar(desc, total, unit)


_LAYER = re.compile(r"^(.*?) (layer \d+|blobs/sha256/([0-9a-f]+)|([0-9a-f]{64})/layer\.tar)$")


def label(where: str, width: int = 20) -> str:
    """A short bar label for a layer named ``where`` in an error message.

    >>> label("docker-daemon:reprokit-build:1a2b-a blobs/sha256/93acb80c08bce89a")
    '…prokit-build:1a2b-a: layer 93acb80c08bc'
    >>> label("oci:./out layer 2")
    'oci:./out: layer 2'
    """
    match = _LAYER.match(where)
    image, part = (match.group(1), match.group(2)) if match else (where, "")
    digest = match and (match.group(3) or match.group(4))
    if digest:
        part = f"layer {digest[:12]}"
    if len(image) > width:
        image = "…" + image[-(width - 1) :]
    return f"{image}: {part}" if part else image


class _TrackedReader(PassThrough):
    """Hands ``raw`` on unchanged and advances a bar of bytes; the bar closes at the end of
    ``raw`` or when the reader is closed or collected (also after an error)."""

    def __init__(self, raw: BinaryIO, desc: str):
        super().__init__(raw)
        self._bar = bar(desc)

    def _seen(self, data: bytes) -> None:
        self._bar.update(len(data))

    def _ended(self) -> None:
        self._bar.close()

    def close(self) -> None:
        self._bar.close()
        super().close()


def tracked(raw: BinaryIO, where: str) -> BinaryIO:
    """``raw`` itself when progress is off, else a reader that shows the bytes read from it
    (named after ``where``, e.g. ``oci:./out layer 2``)."""
    if not active():
        return raw
    return _TrackedReader(raw, label(where))  # type: ignore[return-value]
