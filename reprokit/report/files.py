"""Write a report file whose format is chosen by its extension (.ipynb, .html, .md, .json).

>>> format_of("out/report.HTML")
'html'
>>> format_of("report.txt")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
reprokit.errors.UsageError: report.txt: unsupported report format '.txt' (use .ipynb, ...)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError

FORMATS = {".ipynb": "notebook", ".html": "html", ".md": "markdown", ".json": "json"}


def format_of(path: str | Path) -> str:
    """The format a report path asks for; :class:`UsageError` for other extensions."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(
            f"{path}: unsupported report format {suffix or '(no extension)'!r} "
            "(use .ipynb, .html, .md or .json)"
        )
    return FORMATS[suffix]


def check_path(path: str | Path) -> None:
    """Fail early (before any build) on an unsupported extension or a missing directory."""
    format_of(path)
    if not Path(path).resolve().parent.is_dir():
        raise UsageError(f"{path}: directory {Path(path).parent} does not exist")


def write(result: Any, path: str | Path) -> None:
    """Write a result of any kind to ``path`` in the format its extension names, atomically
    (a notebook with its JSON beside it). ``result`` is already as shown (see
    :meth:`reprokit.protocol.Reported.write`): nothing here redacts it again."""
    from .json import write_atomic

    kind, target = format_of(path), Path(path)
    if kind == "notebook":
        from .notebook import write as write_notebook

        write_notebook(result, target)
    elif kind == "html":
        from .html import page

        write_atomic(target, page(result))
    elif kind == "markdown":
        from .markdown import render

        write_atomic(target, render(result) + "\n")
    else:
        result.to_json(target, show_secrets=True)
