"""Progress bars (tqdm) for builds and for image export and layer indexing (one pass).

A widget in a Jupyter notebook (when ipywidgets is installed, a text bar otherwise), a bar on
an interactive terminal, nothing when stderr is not a terminal (tests, CI, pipes) or when
turned off (``reprokit ... --quiet`` or :func:`configure`). When off, every hook is a no-op
that costs one method call.

>>> configure(False)
>>> with bar("build a", unit="step") as b:
...     b.step("2/5")
>>> configure(None)
"""

from __future__ import annotations

import re
import sys
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


def active() -> bool:
    """Whether progress is shown now."""
    if _enabled is not None:
        return _enabled
    if _in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Off:
    """The bar used when progress is off: does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def step(self, where: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Bar(_Off):
    def __init__(self, desc: str, total: float | None, unit: str):
        tqdm: Any
        if _in_notebook():
            try:
                import ipywidgets  # noqa: F401
                from tqdm.notebook import tqdm
            except ImportError:
                from tqdm import tqdm
        else:
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

    def update(self, n: int = 1) -> None:
        self._t.update(n)

    def step(self, where: str) -> None:
        """Move to step ``"N/M"`` (a classic builder's ``Step N/M``)."""
        done, _, total = where.partition("/")
        if done.isdigit() and total.isdigit():
            self._t.total = int(total)
            self._t.n = int(done) - 1  # step N has started, N-1 are done
            self._t.refresh()

    def close(self) -> None:
        self._t.close()


def bar(desc: str, total: float | None = None, unit: str = "B") -> _Off:
    """A progress bar (a no-op when progress is off); use it as a context manager."""
    return _Bar(desc, total, unit) if active() else _Off()


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
