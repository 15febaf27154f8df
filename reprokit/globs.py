"""Path patterns for rules and ignores: ``*`` stays within one path segment, ``**`` crosses
segments, ``?`` is one character; everything else (brackets included) is literal.

>>> matches("/var/log/**", "/var/log/apt/term.log"), matches("/var/log/*", "/var/log/apt/x")
(True, False)
>>> matches("**/*.pyc", "/usr/lib/x.pyc"), matches("history[*].created", "history[3].created")
(True, True)
>>> matches_any(("/etc/", "/var/log/*"), "/etc/ssh/sshd_config")
True
>>> matches_any(("/var/log/*", "/etc/x"), "/var/log/a/b")
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


def _glob_regex(pattern: str) -> str:
    """The regular expression (unanchored text) of one pattern."""
    if pattern.endswith("/"):
        pattern += "**"
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
    return "".join(out)


def globs_regex(patterns: Iterable[str]) -> str:
    """The regular expression text (unanchored, one group, no capturing group, for
    :data:`re.DOTALL`) matching any of ``patterns``; none: nothing.

    >>> globs_regex(["/a/*", "**/*.log"])
    '(?:(?:/a/[^/]*)|(?:(?:.*/)?[^/]*\\\\.log))'
    """
    alternatives = "|".join(f"(?:{_glob_regex(p)})" for p in patterns)
    return f"(?:{alternatives})" if alternatives else "(?!)"


@lru_cache(maxsize=256)
def compile_globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One anchored regular expression matching any of ``patterns``."""
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile(f"{globs_regex(patterns)}\\Z", re.DOTALL)


def matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``; a pattern ending in ``/`` also matches below it."""
    return matches_any((pattern,), text)


def matches_any(patterns: Iterable[str], text: str) -> bool:
    """Whether ``text`` matches any of ``patterns`` (compiled once per set of patterns)."""
    key = patterns if isinstance(patterns, tuple) else tuple(patterns)
    return compile_globs(key).match(text) is not None
