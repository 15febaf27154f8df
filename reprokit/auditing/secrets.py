"""Secret scanning: a layer tap that scans files as they stream past, and text scanning for the
config, history and Dockerfile. Only redacted evidence is kept, never content.

>>> tap = SecretTap(rules_enabled())
>>> tap.wants("/app/.env", 40)
True
>>> tap.take("/app/.env", b"DB_PASSWORD=hunter2-hunter2\\n")
>>> [(rule, ev) for (path, _), hits in tap.hits.items() for rule, ev in hits]
[('secret-assignment', 'secret variable hun…(15 chars)')]
>>> redact_text("git clone https://me:tok3n-abcdef@example.com/x")
'git clone https://me:to…(12 chars)@example.com/x'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from .model import redact
from .rules import RULES, SCAN_EXCLUDE, Rule, SecretPattern, rules_enabled  # noqa: F401 (doctest)

#: Files larger than this are not scanned (keys, tokens and credentials files are small).
SCAN_LIMIT = 1 << 20

#: Long runs of token-like characters: redacted from step text shown in a report.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


def secret_rules(rules: Mapping[str, Rule]) -> list[Rule]:
    """The enabled rules whose matcher is a :class:`SecretPattern`."""
    return [r for r in rules.values() if isinstance(r.matcher, SecretPattern)]


def scan(data: bytes, rules: list[Rule], path: str | None = None) -> list[tuple[str, bytes]]:
    """``(rule id, secret)`` for each secret in ``data``; ``path`` limits file-only patterns."""
    out: list[tuple[str, bytes]] = []
    generic: list[tuple[str, bytes]] = []
    for rule in rules:
        pattern: SecretPattern = rule.matcher
        if path is not None and not pattern.applies_to(path):
            continue
        found = [(rule.id, secret) for secret in pattern.find(data)]
        (generic if pattern.generic else out).extend(found)
    # a generic match (a secret-named variable) that a specific pattern explains is not repeated
    specific = [r.matcher.regex for r in rules if not r.matcher.generic]
    for rule_id, secret in generic:
        if not any(s in secret or secret in s for _, s in out) and not any(
            p.search(secret) for p in specific
        ):
            out.append((rule_id, secret))
    return out


class SecretTap:
    """A :class:`~reprokit.read.layers.Tap` for every layer: scans each file up to
    :data:`SCAN_LIMIT` bytes and keeps, per ``(path, sha256)``, the redacted hits."""

    def __init__(self, rules: Mapping[str, Rule]):
        self.rules = secret_rules(rules)
        self.hits: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.scanned = 0

    def wants(self, path: str, size: int) -> bool:
        return 0 < size <= SCAN_LIMIT and bool(self.rules) and not path.startswith(SCAN_EXCLUDE)

    def take(self, path: str, data: bytes) -> None:
        self.scanned += 1
        found = scan(data, self.rules, path)
        if found:
            kinds = {r.id: r.matcher.kind for r in self.rules}
            key = (path, hashlib.sha256(data).hexdigest())
            self.hits.setdefault(key, set()).update(
                (rule, f"{kinds[rule]} {redact(secret)}") for rule, secret in found
            )


def scan_text(text: str, rules: Mapping[str, Rule]) -> list[tuple[str, str, str]]:
    """``(rule id, secret, redacted evidence)`` for each secret in a piece of text."""
    active = secret_rules(rules)
    kinds = {r.id: r.matcher.kind for r in active}
    out = []
    for rule, secret in scan(text.encode("utf-8", "surrogateescape"), active):
        value = secret.decode("utf-8", "replace")
        out.append((rule, value, f"{kinds[rule]} {redact(value)}"))
    return out


def redact_text(text: str, rules: Mapping[str, Rule] | None = None) -> str:
    """``text`` with everything any secret pattern matches (and every long token) replaced by
    its redacted form, so a step or a line can be shown in a report.

    >>> redact_text("aws_access_key_id=AKIA0123456789ABCDEF")
    'aws_access_key_id=AKIA…(20 chars)'
    """
    data = text.encode("utf-8", "surrogateescape")
    for rule in secret_rules(RULES if rules is None else rules):
        for secret in rule.matcher.find(data, every=True):
            value = secret.decode("utf-8", "surrogateescape")
            text = text.replace(value, redact(value))
    return _LONG_TOKEN.sub(lambda m: redact(m.group(0)), text)
