"""The protocol every result kind follows, whatever produced it.

A result (comparison, parity, audit, drift, inventory, replay, images, fix) has a ``kind``, an
``ok`` verdict (True = passes), ``to_dict()``/``from_dict()``, ``text()``, a rich display
(``_repr_html_()``), ``to_json(path=None)`` and ``write(path)``, whose extension picks the
format (``.json``, ``.html``, ``.md``, ``.ipynb``). Every output shows the result through
:mod:`reprokit.redaction` (secrets hidden unless ``show_secrets``). :class:`Reported`
implements everything but ``to_dict``/``from_dict`` by handing the result to the one
presenter layer, :mod:`reprokit.report`, which dispatches on ``kind``. The import goes one
way only: result modules import this module and the presenters; presenters never import a
result module.

:func:`reprokit.load` reads any kind back (:mod:`reprokit.kinds` holds the registry).

>>> from reprokit.baseline import ReplayResult
>>> r = ReplayResult("app:2", "sha256:2", "app:1", checked=3)
>>> r.kind, r.ok, r.text().splitlines()[0]
('replay', True, 'replay: MATCHES — 3/3 facts of app:1 hold on app:2')
>>> isinstance(r, Reported)
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

#: every kind of result, in the order the documentation lists them
KINDS = (
    "comparison", "parity", "audit", "drift", "inventory", "replay", "images", "survey", "history",
    "fix",
)  # fmt: skip


F = TypeVar("F")


class shown_frame(Generic[F]):
    """A result's table (a DataFrame), built once from what its outputs may show: from the
    result's redacted copy unless secrets are shown (:meth:`Reported.revealing`), so a table
    displayed in a notebook hides secrets like every other output. Records and fields stay
    raw.

    >>> class R(Reported):
    ...     kind, builds = "replay", 0
    ...     def _shown(self, show=None):
    ...         return self
    ...     @shown_frame
    ...     def table(self):
    ...         self.builds += 1
    ...         return [self.builds]
    >>> r = R()
    >>> r.table, r.table
    ([1], [1])
    """

    key: str  # set by __set_name__: where the built frame is cached

    def __init__(self, build: Callable[[Any], F]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = f"_frame_{name}"

    def __get__(self, instance: Any, owner: type | None = None) -> F:
        if instance is None:
            return self  # type: ignore[return-value]
        source = instance._shown()
        cache = source.__dict__  # results are frozen dataclasses: cache beside their fields
        if self.key not in cache:
            cache[self.key] = self.build(source)
        return cache[self.key]


class Reported:
    """The shared half of every result: output in every format, through :mod:`reprokit.report`.

    Subclasses set ``kind`` (a class attribute, or a field for the classes that hold two
    kinds), define ``ok``, ``to_dict`` and ``from_dict``.
    """

    kind: str
    #: show secrets in every output of this result (default: hidden, see
    #: :mod:`reprokit.redaction`); for users who own the image
    show_secrets: bool = False

    def _shown(self, show: bool | None = None) -> Any:
        """This result as its outputs may show it: secrets redacted unless shown."""
        from .redaction import shown

        return shown(self, show)

    def revealing(self, show: bool = True) -> Any:
        """This result, set to show (or hide) secrets in every output; returns it."""
        object.__setattr__(self, "show_secrets", show)
        return self

    @property
    def ok(self) -> bool:  # pragma: no cover - every kind overrides it
        """Whether the result passes (True) or not."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every kind overrides it
        """The JSON document (``schema: reprokit/v1`` with this ``kind``) as a dict."""
        raise NotImplementedError

    def to_json(
        self, path: str | Path | None = None, *, show_secrets: bool | None = None
    ) -> str | None:
        """The JSON document: returned as text, or written atomically to ``path`` and None."""
        from .report.json import document

        return document(self._shown(show_secrets).to_dict(), path)

    def text(self, top: int | None = None, *, show_secrets: bool | None = None) -> str:
        """The human summary the CLI prints; ``top`` bounds the longest list (per kind)."""
        from .report.text import render

        return render(self._shown(show_secrets), top)

    def _repr_html_(self) -> str:
        """The rich display in Jupyter (an HTML fragment, every image-derived string escaped)."""
        from .report.html import fragment

        return fragment(self._shown())

    def to_html(
        self,
        path: str | Path | None = None,
        *,
        plots: bool = True,
        show_secrets: bool | None = None,
    ) -> str | None:
        """A standalone HTML page: returned, or written atomically to ``path`` and None."""
        from .report.html import page
        from .report.json import write_atomic

        text = page(self._shown(show_secrets), plots=plots)
        if path is None:
            return text
        write_atomic(Path(path), text)
        return None

    def to_markdown(
        self,
        path: str | Path | None = None,
        *,
        images: bool = False,
        show_secrets: bool | None = None,
    ) -> str:
        """Markdown (tables; plots of a comparison only with ``images``); also written to
        ``path`` when given."""
        from .report.json import write_atomic
        from .report.markdown import render

        text = render(self._shown(show_secrets), images=images)
        if path is not None:
            write_atomic(Path(path), text + "\n")
        return text

    def to_notebook(self, path: str | Path, *, show_secrets: bool | None = None) -> Path:
        """Write a Jupyter notebook to ``path`` and the JSON beside it (same name, ``.json``),
        from which the notebook reloads the result; returns the JSON path."""
        from .report.notebook import write

        return write(self._shown(show_secrets), Path(path))

    def write(self, path: str | Path, *, show_secrets: bool | None = None) -> None:
        """Write the result to ``path`` in the format its extension names (``.json``,
        ``.html``, ``.md``, ``.ipynb`` with its JSON beside it), atomically."""
        from .report.files import write

        write(self._shown(show_secrets), path)

    def __repr__(self) -> str:
        from .redaction import redact_line
        from .report.text import headline
        from .text import clean

        return f"<reprokit.{type(self).__name__} {clean(redact_line(headline(self)))}>"
