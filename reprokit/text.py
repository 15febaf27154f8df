"""Neutral text helpers every layer may use: printable one-line text, sizes.

Paths and commands come from images and are untrusted: control characters are escaped so a
hostile file name cannot rewrite the terminal.

>>> clean("a\\x1b[2Jb"), human_size(1536)
('a\\\\x1b[2Jb', '1.5 KB')
"""

from __future__ import annotations


def clean(text: object, limit: int | None = None) -> str:
    """One printable line: control characters shown as escapes, optionally shortened."""
    out = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text)
    )
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out


def human_size(n: int | None) -> str:
    """``1536`` → ``1.5 KB``."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def one_line(text: str | None, limit: int = 70) -> str:
    """Evidence on one terminal line: newlines shown as ``⏎``, control characters escaped."""
    return clean((text or "").replace("\n", " ⏎ "), limit)


def middle(path: object, limit: int) -> str:
    """A path shortened in the middle so its start and its file name stay readable.

    >>> middle("/usr/local/lib/python3.11/site-packages/blinker/_saferef.py", 40)
    '/usr/…/site-packages/blinker/_saferef.py'
    >>> middle("/short", 40)
    '/short'
    """
    text = clean(path)
    if len(text) <= limit:
        return text
    parts = text.split("/")
    head, tail = parts[:1], parts[1:]
    kept: list[str] = []
    while tail and len("/".join([*head, "…", tail[-1], *kept])) <= limit:
        kept.insert(0, tail.pop())
    while tail and len("/".join([*head, tail[0], "…", *kept])) <= limit:
        head.append(tail.pop(0))
    if not kept:  # even the file name is too long: keep its end
        return "…" + text[-(limit - 1) :]
    return "/".join([*head, "…", *kept])


def terminal_width(default: int = 100) -> int:
    """The terminal's width when standard output is a terminal (COLUMNS, else the terminal's
    size), else ``default``: text written to a file or a pipe is the same wherever it is made.

    >>> import sys; terminal_width(90) == 90 or sys.stdout.isatty()
    True
    """
    import shutil
    import sys

    if not (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()):
        return default
    return max(60, shutil.get_terminal_size((default, 24)).columns)
