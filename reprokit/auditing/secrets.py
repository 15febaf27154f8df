"""Secret scanning: a layer tap that scans files as they stream past, and text scanning for the
config, history and Dockerfile. Only redacted evidence is kept, never content.

>>> from reprokit.auditing.rules import rules_enabled
>>> tap = SecretTap(rules_enabled())
>>> tap.wants("/app/.env", 40)
True
>>> tap.take("/app/.env", b"DB_PASSWORD=hunter2-hunter2\\n")
>>> [(rule, ev) for (path, _), hits in tap.hits.items() for rule, ev in hits]
[('secret-assignment', 'secret variable [redacted: hun…(15 chars)]')]
>>> redact_text("git clone https://me:tok3n-abcdef@example.com/x")
'git clone https://me:[redacted: to…(12 chars)]@example.com/x'

Every pattern runs in time linear in its input: no nested or overlapping unbounded repetition,
a name or scheme is a bounded run that starts only where a token starts, and a secret-named
variable's name is checked in Python after the regex matched (see tests/test_hostile.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..globs import matches_any
from .model import redact

if TYPE_CHECKING:
    from .rules import Rule

#: Files larger than this are not scanned (keys, tokens and credentials files are small).
SCAN_LIMIT = 1 << 20

#: A token of text, as secrets are delimited in assignments, URLs and JSON.
_TOKEN = re.compile(r"[^\s\"'=:@;&|/]+")

#: Long runs of token-like characters: redacted from step text shown in a report.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


@dataclass(frozen=True)
class SecretPattern:
    """Finds secrets in text: ``regex`` has one group, the secret itself.

    ``files`` (:mod:`reprokit.globs` patterns: one without ``/`` matches the basename, one with
    ``/`` the whole path) restrict it to such files when scanning a filesystem; other places
    (env, labels, history, Dockerfile) are always scanned. When ``markers`` are given, a file
    holding none of them is skipped without running the regex.
    ``unless`` drops a match when that expression is found in the same text; a ``generic``
    pattern's match is dropped when a specific pattern finds the same secret.
    """

    kind: str
    regex: re.Pattern[bytes]
    files: tuple[str, ...] = ()
    markers: tuple[bytes, ...] = ()
    unless: re.Pattern[bytes] | None = None
    #: a catch-all (secret-named variables): dropped where a specific pattern finds the secret
    generic: bool = False
    #: when the regex has a ``name`` group, a match counts only if this accepts the name
    name_ok: Callable[[bytes], bool] | None = None

    def applies_to(self, path: str) -> bool:
        """Whether a file at ``path`` is scanned with this pattern.

        >>> PATTERNS["secret-npmrc"].applies_to("/root/.npmrc")
        True
        >>> PATTERNS["secret-docker-config"].applies_to("/home/me/.docker/config.json")
        True
        """
        if not self.files:
            return True
        base = path.rsplit("/", 1)[-1]
        return matches_any(self.files, base) or matches_any(self.files, path)

    def find(self, data: bytes, every: bool = False) -> list[bytes]:
        """The secrets in ``data`` (each match's group 1); ``every`` ignores ``unless`` (for
        redaction, which hides whatever looks like a secret)."""
        if self.markers and not any(m in data for m in self.markers):
            return []
        named = "secret" in self.regex.groupindex
        found = [
            secret
            for m in self.regex.finditer(data)
            if (secret := m.group("secret") if named else m.group(1))
            and (self.name_ok is None or self.name_ok(m.group("name")))
        ]
        if found and not every and self.unless is not None and self.unless.search(data):
            return []
        return found


#: Files under these directories are not scanned for secrets (documentation, locales, time
#: zones: large, numerous and never where credentials live).
SCAN_EXCLUDE = (
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
    "/usr/share/i18n/",
    "/usr/share/zoneinfo/",
    "/usr/lib/locale/",
)


def _re(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode())


_SECRET_WORD = re.compile(
    rb"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?"
)
_NOT_SECRET_SUFFIX = (b"_FILE", b"_PATH", b"_DIR")


def secret_name(name: bytes) -> bool:
    """Whether a variable name says it holds a secret: a secret word in a run of word
    characters that does not end in ``_FILE``, ``_PATH`` or ``_DIR`` (linear time).

    >>> secret_name(b"DB_PASSWORD"), secret_name(b"DB_PASSWORD_FILE"), secret_name(b"HOME")
    (True, False, False)
    """
    return any(
        _SECRET_WORD.search(run) and not run.endswith(_NOT_SECRET_SUFFIX)
        for run in re.split(rb"[.-]", name)
    )


_AWS_SECRET = (
    r"(?i:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[=:]\s*[\"']?"
    r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_BLOCK = r"(?: BLOCK)?-----"
_VALUE = r"[\"']?(?!\$|/|true\b|false\b|null\b|none\b|changeme\b)([^\s\"']{4,})"
_NAMED_VALUE = _VALUE.replace("([", "(?P<secret>[", 1)

#: The secret patterns, by the id of the audit rule using each (rules.py).
PATTERNS: dict[str, SecretPattern] = {
    "secret-private-key": SecretPattern(
        "private key",
        _re(r"-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY)" + _BLOCK),
        markers=(b"PRIVATE KEY",),
    ),
    "secret-aws-key": SecretPattern(
        "AWS secret access key",
        _re(_AWS_SECRET),
        markers=(
            b"ecret_access_key",
            b"ECRET_ACCESS_KEY",
            b"ecretAccessKey",
            b"ecretaccesskey",
        ),
    ),
    "secret-aws-key-id": SecretPattern(
        "AWS access key id",
        _re(r"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"),
        markers=(b"AKIA", b"ASIA"),
        unless=_re(_AWS_SECRET),
    ),
    "secret-api-token": SecretPattern(
        "API token",
        _re(
            r"(?<![A-Za-z0-9_])((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,}"
            r"|glpat-[A-Za-z0-9_-]{20,}|xox[baprs]-[A-Za-z0-9-]{10,}|npm_[A-Za-z0-9]{36})"
        ),
        markers=(
            b"ghp_",
            b"gho_",
            b"ghu_",
            b"ghs_",
            b"ghr_",
            b"github_pat_",
            b"glpat-",
            b"xox",
            b"npm_",
        ),
    ),
    "secret-npmrc": SecretPattern(
        "npm auth token", _re(r"(?:_authToken|_auth|_password)\s*=\s*" + _VALUE), (".npmrc",)
    ),
    "secret-pypirc": SecretPattern(
        "PyPI password", _re(r"(?m)^[ \t]*password[ \t]*[=:][ \t]*" + _VALUE), (".pypirc",)
    ),
    "secret-git-credentials": SecretPattern(
        "URL password",
        _re(
            r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}://[^:/@\s\"']{1,256}"
            r":([^@\s\"'$/]{3,256})@[^\s\"']"
        ),
        (".git-credentials",),
    ),
    "secret-docker-config": SecretPattern(
        "registry auth",
        _re(r"\"(?:auth|identitytoken|password)\"\s*:\s*\"([^\"]{8,})\""),
        ("**/.docker/config.json", "config.json"),
    ),
    "secret-kubeconfig": SecretPattern(
        "kubeconfig credential",
        _re(r"(?m)^[ \t-]*(?:client-key-data|token|password)[ \t]*:[ \t]*" + _VALUE),
        ("**/.kube/config", "*kubeconfig*"),
    ),
    "secret-assignment": SecretPattern(
        "secret variable",
        _re(
            r"(?m)(?:^|(?<=[\s;&|]))(?:export[ \t]+)?(?P<name>[A-Za-z0-9_.-]{1,128})"
            r"[ \t]*=[ \t]*" + _NAMED_VALUE
        ),
        (".env", ".env.*", "*.env"),
        generic=True,
        name_ok=secret_name,
    ),
}


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
    found = [s for _, s in out][:256]  # bounded: a hostile file may hold thousands
    seen: set[bytes] = set()
    for rule_id, secret in generic:
        if secret in seen:
            continue
        seen.add(secret)
        if not any(s in secret or secret in s for s in found) and not any(
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
    'aws_access_key_id=[redacted: AKIA…(20 chars)]'
    """
    data = text.encode("utf-8", "surrogateescape")
    patterns: Iterable[SecretPattern] = (
        PATTERNS.values() if rules is None else [r.matcher for r in secret_rules(rules)]
    )
    values = {
        secret.decode("utf-8", "surrogateescape")
        for pattern in patterns
        for secret in pattern.find(data, every=True)
    }
    if values:
        # one pass over the text, longest secret first where two start at the same place
        ordered = sorted(values, key=len, reverse=True)
        if len(ordered) <= 64:
            for value in ordered:
                text = text.replace(value, redact(value))
        else:  # many secrets (a hostile text): one pass over its tokens, in linear time
            text = _TOKEN.sub(lambda m: redact(m[0]) if m[0] in values else m[0], text)
            for value in [v for v in ordered if _TOKEN.fullmatch(v) is None][:64]:
                text = text.replace(value, redact(value))
    return _LONG_TOKEN.sub(lambda m: redact(m.group(0)), text)
