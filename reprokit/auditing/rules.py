"""The audit's rules, as data: an id, a severity, what it finds, the fix, and a matcher.

A matcher is either a :class:`SecretPattern` (a regular expression over file contents, config
values, history and the Dockerfile) or a check function over the image as read (``practices``).
Any rule can be disabled by its id.

>>> RULES["secret-private-key"].severity, RULES["root-user"].severity
('high', 'medium')
>>> rules_enabled(["root-user"])["root-user"]
Traceback (most recent call last):
KeyError: 'root-user'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from .model import Hit

SEVERITIES = ("high", "medium", "low")


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is as grave as ``threshold`` or graver.

    >>> at_least("high", "medium"), at_least("low", "medium")
    (True, False)
    """
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class SecretPattern:
    """Finds secrets in text: ``regex`` has one group, the secret itself.

    ``files`` (globs on the path or its basename) restrict it to such files when scanning a
    filesystem; other places (env, labels, history, Dockerfile) are always scanned. When
    ``markers`` are given, a file holding none of them is skipped without running the regex.
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

    def applies_to(self, path: str) -> bool:
        """Whether a file at ``path`` is scanned with this pattern.

        >>> RULES["secret-npmrc"].matcher.applies_to("/root/.npmrc")
        True
        """
        if not self.files:
            return True
        base = path.rsplit("/", 1)[-1]
        return any(fnmatch(base, g) or fnmatch(path, g) for g in self.files)

    def find(self, data: bytes, every: bool = False) -> list[bytes]:
        """The secrets in ``data`` (each match's group 1); ``every`` ignores ``unless`` (for
        redaction, which hides whatever looks like a secret)."""
        if self.markers and not any(m in data for m in self.markers):
            return []
        found = [m.group(1) for m in self.regex.finditer(data) if m.group(1)]
        if found and not every and self.unless is not None and self.unless.search(data):
            return []
        return found


#: A practice check: given the audited image, its hits (path, layer, message, evidence…).
Check = Callable[[Any], Iterable["Hit"]]


@dataclass(frozen=True)
class Rule:
    """One audit rule: ``matcher`` is a :class:`SecretPattern` or a check function."""

    id: str
    severity: str
    title: str
    fix: str
    matcher: Any = field(repr=False)
    family: str = "practice"


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


_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY"
    r"|CREDENTIALS?)(?![A-Za-z0-9_]*(?:_FILE|_PATH|_DIR)\b)[A-Za-z0-9_.-]*"
)
_AWS_SECRET = (
    r"(?i:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[=:]\s*[\"']?"
    r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_BLOCK = r"(?: BLOCK)?-----"
_VALUE = r"[\"']?(?!\$|/|true\b|false\b|null\b|none\b|changeme\b)([^\s\"']{4,})"

_SECRET_FIX = (
    "remove the secret from every layer, not only the last: pass it at build time with "
    "RUN --mount=type=secret (BuildKit) or at run time (env file, secret store), rebuild, and "
    "rotate the credential — anyone with the image can extract it"
)

SECRET_RULES = [
    Rule(
        "secret-private-key",
        "high",
        "private key (PEM or OpenSSH) in the image",
        _SECRET_FIX,
        SecretPattern(
            "private key",
            _re(r"-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY)" + _BLOCK),
            markers=(b"PRIVATE KEY",),
        ),
        "secret",
    ),
    Rule(
        "secret-aws-key",
        "high",
        "AWS secret access key",
        _SECRET_FIX,
        SecretPattern(
            "AWS secret access key",
            _re(_AWS_SECRET),
            markers=(
                b"ecret_access_key",
                b"ECRET_ACCESS_KEY",
                b"ecretAccessKey",
                b"ecretaccesskey",
            ),
        ),
        "secret",
    ),
    Rule(
        "secret-aws-key-id",
        "medium",
        "AWS access key id (no secret key beside it)",
        _SECRET_FIX,
        SecretPattern(
            "AWS access key id",
            _re(r"(?<![A-Z0-9])((?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"),
            markers=(b"AKIA", b"ASIA"),
            unless=_re(_AWS_SECRET),
        ),
        "secret",
    ),
    Rule(
        "secret-api-token",
        "high",
        "API token (GitHub, GitLab, Slack, npm)",
        _SECRET_FIX,
        SecretPattern(
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
        "secret",
    ),
    Rule(
        "secret-npmrc",
        "high",
        "npm registry credentials (.npmrc)",
        _SECRET_FIX,
        SecretPattern(
            "npm auth token", _re(r"(?:_authToken|_auth|_password)\s*=\s*" + _VALUE), (".npmrc",)
        ),
        "secret",
    ),
    Rule(
        "secret-pypirc",
        "high",
        "PyPI credentials (.pypirc)",
        _SECRET_FIX,
        SecretPattern(
            "PyPI password", _re(r"(?m)^[ \t]*password[ \t]*[=:][ \t]*" + _VALUE), (".pypirc",)
        ),
        "secret",
    ),
    Rule(
        "secret-git-credentials",
        "high",
        "credentials in a URL (.git-credentials, clone URLs)",
        _SECRET_FIX,
        SecretPattern(
            "URL password",
            _re(r"[a-z][a-z0-9+.-]*://[^:/@\s\"']+:([^@\s\"'$/]{3,})@[^\s\"']"),
            (".git-credentials",),
        ),
        "secret",
    ),
    Rule(
        "secret-docker-config",
        "high",
        "registry credentials (.docker/config.json)",
        _SECRET_FIX,
        SecretPattern(
            "registry auth",
            _re(r"\"(?:auth|identitytoken|password)\"\s*:\s*\"([^\"]{8,})\""),
            ("*/.docker/config.json", "config.json"),
        ),
        "secret",
    ),
    Rule(
        "secret-kubeconfig",
        "high",
        "Kubernetes credentials (kubeconfig)",
        _SECRET_FIX,
        SecretPattern(
            "kubeconfig credential",
            _re(r"(?m)^[ \t-]*(?:client-key-data|token|password)[ \t]*:[ \t]*" + _VALUE),
            ("*/.kube/config", "*kubeconfig*"),
        ),
        "secret",
    ),
    Rule(
        "secret-assignment",
        "high",
        "a secret-named variable with a value (.env files, ENV, build args)",
        _SECRET_FIX,
        SecretPattern(
            "secret variable",
            _re(r"(?m)(?:^|[\s;&|])(?:export[ \t]+)?" + _SECRET_NAME + r"[ \t]*=[ \t]*" + _VALUE),
            (".env", ".env.*", "*.env"),
            generic=True,
        ),
        "secret",
    ),
]


def rules_enabled(disable: Collection[str] = ()) -> dict[str, Rule]:
    """The rule table minus the ids in ``disable`` (:class:`UsageError` for an unknown id)."""
    unknown = sorted(set(disable) - set(RULES))
    if unknown:
        raise UsageError(
            f"unknown rule id(s) {', '.join(unknown)}; rules: {', '.join(sorted(RULES))}"
        )
    return {rid: rule for rid, rule in RULES.items() if rid not in set(disable)}


def _practice_rules() -> list[Rule]:
    from . import practices as p

    return [
        Rule(
            "secret-build-arg",
            "high",
            "a RUN step received a secret-named build arg (its value is in the history)",
            "pass secrets with RUN --mount=type=secret instead of --build-arg; build args are "
            "recorded in the image history for anyone to read",
            p.secret_build_args,
        ),
        Rule(
            "root-user",
            "medium",
            "the image runs as root (User empty or 0)",
            "add a non-root user and `USER app` (or a numeric `USER 10001:10001`) at the end",
            p.root_user,
        ),
        Rule(
            "base-latest",
            "high",
            "a base image in FROM has no tag or :latest",
            "pin the base by digest: FROM name:tag@sha256:… (docker buildx imagetools inspect)",
            p.base_latest,
        ),
        Rule(
            "base-unpinned",
            "medium",
            "a base image in FROM is pinned by tag only, not by digest",
            "add the digest: FROM name:tag@sha256:… so a rebuild uses the same base; update it "
            "deliberately (Renovate/Dependabot)",
            p.base_unpinned,
        ),
        Rule(
            "base-build-arg",
            "medium",
            "a base image in FROM comes from a build arg",
            "give the ARG a digest-pinned default (ARG BASE=name:tag@sha256:…) or pin in FROM",
            p.base_build_arg,
        ),
        Rule(
            "traceability-labels",
            "low",
            "missing OCI traceability labels (revision, source, created)",
            "label the build: --label org.opencontainers.image.revision=$(git rev-parse HEAD) "
            "--label org.opencontainers.image.source=URL "
            "--label org.opencontainers.image.created=$SOURCE_DATE_EPOCH-date",
            p.traceability_labels,
        ),
        Rule(
            "setuid-file",
            "medium",
            "setuid or setgid file",
            "drop the bit (RUN chmod u-s,g-s FILE) unless the image needs it to run",
            p.setuid_files,
        ),
        Rule(
            "world-writable",
            "medium",
            "world-writable file or directory outside /tmp",
            "remove write permission for others (chmod o-w) or use a volume for shared writes",
            p.world_writable,
        ),
        Rule(
            "wasted-bytes",
            "low",
            "bytes in a layer that a later layer overwrote or deleted",
            "create and remove the file in the same RUN step (or a multi-stage build) so it "
            "never lands in a layer",
            p.wasted_bytes,
        ),
        Rule(
            "low-efficiency",
            "medium",
            "image efficiency under 90% (dive's score: bytes not wasted / all bytes)",
            "combine the steps that write and later remove or overwrite the same files",
            p.efficiency,
        ),
        Rule(
            "cache-left",
            "low",
            "package-manager caches or logs left in the final filesystem",
            "clean in the same RUN step (apt-get clean && rm -rf /var/lib/apt/lists/*, "
            "pip --no-cache-dir, npm cache clean) or use RUN --mount=type=cache",
            p.caches_left,
        ),
        Rule(
            "readonly-write",
            "medium",
            "the container writes outside /tmp: it cannot run with a read-only root filesystem",
            "mount a volume (or a tmpfs) at that path, or make the program write under /tmp",
            p.runtime_writes,
            "runtime",
        ),
    ]


RULES: dict[str, Rule] = {r.id: r for r in SECRET_RULES}
RULES.update({r.id: r for r in _practice_rules()})
