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
