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

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from . import practices as p
from .secrets import PATTERNS, SCAN_EXCLUDE, SecretPattern  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from .model import Hit

SEVERITIES = ("high", "medium", "low")


def at_least(severity: str, threshold: str) -> bool:
    """Whether ``severity`` is as grave as ``threshold`` or graver.

    >>> at_least("high", "medium"), at_least("low", "medium")
    (True, False)
    """
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


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
        PATTERNS["secret-private-key"],
        "secret",
    ),
    Rule(
        "secret-aws-key",
        "high",
        "AWS secret access key",
        _SECRET_FIX,
        PATTERNS["secret-aws-key"],
        "secret",
    ),
    Rule(
        "secret-aws-key-id",
        "medium",
        "AWS access key id (no secret key beside it)",
        _SECRET_FIX,
        PATTERNS["secret-aws-key-id"],
        "secret",
    ),
    Rule(
        "secret-api-token",
        "high",
        "API token (GitHub, GitLab, Slack, npm)",
        _SECRET_FIX,
        PATTERNS["secret-api-token"],
        "secret",
    ),
    Rule(
        "secret-npmrc",
        "high",
        "npm registry credentials (.npmrc)",
        _SECRET_FIX,
        PATTERNS["secret-npmrc"],
        "secret",
    ),
    Rule(
        "secret-pypirc",
        "high",
        "PyPI credentials (.pypirc)",
        _SECRET_FIX,
        PATTERNS["secret-pypirc"],
        "secret",
    ),
    Rule(
        "secret-git-credentials",
        "high",
        "credentials in a URL (.git-credentials, clone URLs)",
        _SECRET_FIX,
        PATTERNS["secret-git-credentials"],
        "secret",
    ),
    Rule(
        "secret-docker-config",
        "high",
        "registry credentials (.docker/config.json)",
        _SECRET_FIX,
        PATTERNS["secret-docker-config"],
        "secret",
    ),
    Rule(
        "secret-kubeconfig",
        "high",
        "Kubernetes credentials (kubeconfig)",
        _SECRET_FIX,
        PATTERNS["secret-kubeconfig"],
        "secret",
    ),
    Rule(
        "secret-assignment",
        "high",
        "a secret-named variable with a value (.env files, ENV, build args)",
        _SECRET_FIX,
        PATTERNS["secret-assignment"],
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
