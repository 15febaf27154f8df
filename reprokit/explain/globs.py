"""Path patterns for rules and ignores: ``*`` stays within one path segment, ``**`` crosses
segments, ``?`` is one character; everything else (brackets included) is literal.

>>> matches("/var/log/**", "/var/log/apt/term.log"), matches("/var/log/*", "/var/log/apt/x")
(True, False)
>>> matches("**/*.pyc", "/usr/lib/x.pyc"), matches("history[*].created", "history[3].created")
(True, True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regular expression of one pattern (anchored at both ends)."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``; a pattern ending in ``/`` also matches below it."""
    if pattern.endswith("/"):
        pattern += "**"
    return compile_glob(pattern).match(text) is not None


def any_match(patterns: Iterable[str], text: str) -> str | None:
    """The first pattern that matches ``text``, or None."""
    for pattern in patterns:
        if matches(pattern, text):
            return pattern
    return None
