"""What the content of a differing file tells, computed once while both sides are in hand, so
the bytes can be dropped at once: the content sniffs' findings, the user regexes found, and
bounded evidence.

>>> f = content_facts("/app/stamp", b"built 2026-01-01\\n", b"built 2026-01-02\\n")
>>> f.sniffs["only-dates"]
'@@ line 1 @@\\n-built 2026-01-01\\n+built 2026-01-02'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import content as c

#: Sniffs that need the files' content (computed here); others look at paths or values.
CONTENT_SNIFFS = frozenset({"pyc-header", "package-versions", "only-dates"})

_SNIFF_ORDER = tuple(sorted(CONTENT_SNIFFS))
_PACKAGE_DB_SUFFIXES = ("/var/lib/dpkg/status", "/lib/apk/db/installed", "/METADATA", "/PKG-INFO")


@dataclass(slots=True)
class ContentFacts:
    """The findings of the content sniffs (evidence, or None when a sniff does not apply), the
    user patterns found in either side's text, and generic content evidence."""

    sniffs: dict[str, str | None]
    found: frozenset[str]
    evidence: str


def is_package_db(path: str) -> bool:
    """Whether ``path`` is a package database whose versions can be compared.

    >>> is_package_db("/var/lib/dpkg/status"), is_package_db("/etc/passwd")
    (True, False)
    """
    return path.endswith(_PACKAGE_DB_SUFFIXES) or "/var/lib/dpkg/status.d/" in path


def _versions_of(path: str, text: str) -> dict[str, str]:
    if path.endswith("/lib/apk/db/installed"):
        return c.apk_versions(text)
    if path.endswith(("/METADATA", "/PKG-INFO")):
        return c.dist_versions(text)
    return c.dpkg_versions(text)


#: What a sniff's finding says when only the verdict, not the evidence, is kept (``lean``).
LEAN = "(evidence not kept: evidence budget reached)"


def leaned(facts: ContentFacts) -> ContentFacts:
    """``facts`` as :func:`content_facts` makes them ``lean``: the same findings, no evidence
    text (a ``.pyc`` header's and package versions' evidence is short and stays).

    >>> f = leaned(content_facts("/app/stamp", b"built 2026-01-01\\n", b"built 2026-01-02\\n"))
    >>> f.sniffs["only-dates"] == f.evidence == LEAN
    True
    """
    if facts.evidence == LEAN:
        return facts
    dates = facts.sniffs.get("only-dates")
    sniffs = {**facts.sniffs, "only-dates": None if dates is None else LEAN}
    return ContentFacts(sniffs, facts.found, LEAN)


def content_facts(
    path: str, a: bytes, b: bytes, patterns: Iterable[re.Pattern[str]] = (), lean: bool = False
) -> ContentFacts:
    """The facts of two differing contents of ``path``; ``lean`` keeps only what the rules
    need (which sniffs recognise it), not the evidence text."""
    text = c.is_text(a) and c.is_text(b)
    ta, tb = (c.decode(a), c.decode(b)) if text else ("", "")
    sniffs: dict[str, str | None] = dict.fromkeys(_SNIFF_ORDER)
    if path.endswith(".pyc"):
        sniffs["pyc-header"] = c.pyc_header_only(a, b)
    if text and is_package_db(path):
        sniffs["package-versions"] = c.version_changes(
            _versions_of(path, ta), _versions_of(path, tb)
        )
    if text and c.only_dates_differ(ta, tb):
        sniffs["only-dates"] = LEAN if lean else c.text_diff(ta, tb)
    elif not text and (dates := c.binary_only_dates(a, b)):
        sniffs["only-dates"] = LEAN if lean else dates  # gcc's __DATE__/__TIME__ and the like
    found: frozenset[str] = frozenset()
    patterns = list(patterns) if patterns else ()
    if patterns:
        shown_a, shown_b = (ta, tb) if text else (c.decode(a), c.decode(b))
        found = frozenset(p.pattern for p in patterns if p.search(shown_a) or p.search(shown_b))
    if lean:
        evidence = LEAN
    elif path.endswith(".pyc") and (code := c.pyc_code_evidence(a, b)):
        evidence = code
    elif text:
        evidence = c.text_diff(ta, tb)
    else:
        evidence = c.binary_evidence(a, b)
    return ContentFacts(sniffs, found, evidence)
