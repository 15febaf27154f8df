"""Rules are data: each says which differences it recognises and what cause and fix they get.

A rule matches on path patterns (or config field patterns), on the set of differing fields,
on the kind of change, and/or on a content sniff. The first matching rule wins; user rules
come before the built-in ones, and a difference no rule matches is ``unexplained``.

>>> rule = Rule("my-stamp", "embedded-timestamp", paths=("/app/VERSION",))
>>> rule.matches(Subject("/app/VERSION", "modified", ("content",)))
(True, None)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import UsageError
from ..globs import compile_globs
from ..records import FileRecord
from ..verdict import DISK_FIELDS, EQUIVALENT, KIND_CAUSES
from . import content as c
from .causes import CAUSES
from .facts import ContentFacts


@dataclass(slots=True)
class Subject:
    """What a rule looks at: one difference, with the content of both sides when fetched."""

    path: str  # a file path, or a flattened config field for config differences
    change: str
    fields: tuple[str, ...]
    a: FileRecord | None = None
    b: FileRecord | None = None
    #: what the two contents showed, when they were read
    facts: ContentFacts | None = None
    #: config differences: the two values
    value_a: Any = None
    value_b: Any = None


Sniff = Callable[[Subject], str | None]


def _sniff_dist_info(s: Subject) -> str | None:
    m = re.search(r"/([^/]+)-([^/-]+)\.(dist|egg)-info(/|$)", s.path)
    if m is None or s.change == "modified":
        return None
    side = "B" if s.change == "added" else "A"
    return f"{m.group(1)} {m.group(2)} ({m.group(3)}-info) only in {side}"


def _sniff_dates(s: Subject) -> str | None:
    if s.value_a is not None or s.value_b is not None:  # a config value
        a, b = str(s.value_a), str(s.value_b)
        return f"{c.shorten(a, 200)} → {c.shorten(b, 200)}" if c.only_dates_differ(a, b) else None
    return s.facts.sniffs["only-dates"] if s.facts else None


def _from_facts(name: str) -> Sniff:
    def sniff(s: Subject) -> str | None:
        return s.facts.sniffs[name] if s.facts else None

    return sniff


#: Content sniffs by name: each returns evidence when it recognises the difference, else None.
SNIFFS: dict[str, Sniff] = {
    "pyc-header": _from_facts("pyc-header"),
    "package-versions": _from_facts("package-versions"),
    "dist-info": _sniff_dist_info,
    "only-dates": _sniff_dates,
}


@dataclass(frozen=True)
class Rule:
    """``paths`` (globs; empty: any), ``fields_only`` (every differing field is one of these),
    ``fields_any`` (at least one is), ``changes`` (added/removed/modified), ``sniff`` (a name in
    :data:`SNIFFS`) and ``contains`` (a regex found in either side's text) must all hold."""

    id: str
    cause: str
    fix: str | None = None
    paths: tuple[str, ...] = ()
    fields_only: frozenset[str] | None = None
    fields_any: frozenset[str] | None = None
    changes: frozenset[str] | None = None
    sniff: str | None = None
    contains: str | None = None
    target: str = "file"  # or "config"
    #: for cleanup causes: what to delete at the end of the step (grouped per step)
    cleanup: tuple[str, ...] = ()
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def fix_text(self) -> str:
        """The rule's fix, or its cause's default fix."""
        if self.fix:
            return self.fix
        cause = CAUSES.get(self.cause)
        return cause.fix if cause else ""

    def describe(self) -> str:
        """What the rule matches, in a few words.

        >>> Rule("m", "timestamp", fields_only=frozenset({"mtime"})).describe()
        'only fields mtime differ'
        """
        parts = []
        if self.paths:
            parts.append(", ".join(self.paths[:4]) + (" …" if len(self.paths) > 4 else ""))
        if self.fields_only is not None:
            parts.append("only fields " + "/".join(sorted(self.fields_only)) + " differ")
        if self.fields_any is not None:
            parts.append("one of " + "/".join(sorted(self.fields_any)) + " differs")
        if self.changes is not None:
            parts.append("change " + "/".join(sorted(self.changes)))
        if self.contains is not None:
            parts.append(f"text matches {self.contains!r}")
        if self.sniff is not None:
            parts.append(f"sniff {self.sniff}")
        return "; ".join(parts) or "anything"

    @cached_property
    def _paths(self) -> re.Pattern[str] | None:
        """``paths`` compiled once (None: any path)."""
        return compile_globs(self.paths) if self.paths else None

    def matches(self, s: Subject) -> tuple[bool, str | None]:
        """Whether the rule recognises ``s``, and the evidence its sniff found."""
        if self._paths is not None and self._paths.match(s.path) is None:
            return False, None
        fields = set(s.fields)
        if self.fields_only is not None and not (fields and fields <= self.fields_only):
            return False, None
        if self.fields_any is not None and not fields & self.fields_any:
            return False, None
        if self.changes is not None and s.change not in self.changes:
            return False, None
        if self.contains is not None and (s.facts is None or self.contains not in s.facts.found):
            return False, None
        evidence = None
        if self.sniff is not None:
            evidence = SNIFFS[self.sniff](s)
            if evidence is None:
                return False, None
        return True, evidence


def _set(values: Any) -> frozenset[str] | None:
    return None if values is None else frozenset(str(v) for v in values)


def rule_from_dict(data: Mapping[str, Any], where: str = "rule") -> Rule:
    """A user rule from its TOML/dict form (see docs/causes.md, "Your own rules").

    >>> rule_from_dict({"id": "stamp", "cause": "embedded-timestamp", "paths": ["/app/*"]}).paths
    ('/app/*',)
    """
    known = {"id", "cause", "fix", "paths", "fields", "only_fields", "changes", "sniff"}
    known |= {"contains", "target", "cleanup"}
    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: a rule is a table, not {type(data).__name__}")
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if not data.get("id") or not data.get("cause"):
        raise UsageError(f"{where}: a rule needs an id and a cause")
    sniff = data.get("sniff")
    if sniff is not None and sniff not in SNIFFS:
        raise UsageError(f"{where}: unknown sniff {sniff!r} (known: {', '.join(SNIFFS)})")
    target = data.get("target", "file")
    if target not in ("file", "config"):
        raise UsageError(f"{where}: target must be file or config, not {target!r}")
    regex = None
    if data.get("contains") is not None:
        try:
            regex = re.compile(str(data["contains"]))
        except re.error as err:
            raise UsageError(f"{where}: contains is not a valid regex ({err})") from None
    paths = data.get("paths") or ()
    if isinstance(paths, str):
        paths = (paths,)
    return Rule(
        id=str(data["id"]),
        cause=str(data["cause"]),
        fix=data.get("fix"),
        paths=tuple(str(p) for p in paths),
        fields_only=_set(data.get("only_fields")),
        fields_any=_set(data.get("fields")),
        changes=_set(data.get("changes")),
        sniff=sniff,
        contains=data.get("contains"),
        target=target,
        cleanup=tuple(data.get("cleanup") or ()),
        _regex=regex,
    )


_TIME = EQUIVALENT.file_fields  # what the verdict tolerates is what mtime-only explains
_OWNER = frozenset({"uid", "gid"})
_CONTENT = frozenset({"content", "size"})

#: The built-in rules for files, in the order they are tried. "Only the mtime differs" comes
#: first: a file whose content, owner and mode agree is a timestamp whatever its path (an empty
#: log a Dockerfile creates on purpose, the debconf database), never something to delete.
#: ``cleanup`` lists what a step may delete, most specific first; a fix uses only those that
#: cover a path that differs (see :mod:`reprokit.explain.fixes`).
FILE_RULES: tuple[Rule, ...] = (
    Rule("mtime-only", "timestamp", fields_only=_TIME),
    Rule(
        "identity",
        "identity",
        paths=(
            "/etc/machine-id",
            "/var/lib/dbus/machine-id",
            "/etc/ssh/ssh_host_*",
            "/var/lib/systemd/random-seed",
            "/var/lib/urandom/random-seed",
            "/var/lib/random-seed",
            "/root/.rnd",
            "/etc/ssl/private/ssl-cert-snakeoil.key",
            "/etc/ssl/certs/ssl-cert-snakeoil.pem",
        ),
        cleanup=("/etc/ssh/ssh_host_*", "/var/lib/systemd/random-seed", "/root/.rnd"),
    ),
    Rule(
        "log-file",
        "log-file",
        paths=(
            "/var/log/**",
            "**/npm-debug.log",
            "**/.npm/_logs/**",
            "/tmp/*.log",
            "**/config.log",
            "**/test-suite.log",
            "**/tests/*.log",
            "**/*.log",
        ),
        cleanup=(
            "/var/log/apt/*.log",
            "/var/log/*.log",
            "/var/log/*",
            "/root/.npm/_logs",
            "/home/*/.npm/_logs",
            "/tmp/*.log",
        ),
    ),
    Rule(
        "ldconfig-aux-cache",
        "ldconfig-cache",
        paths=("/var/cache/ldconfig/aux-cache",),
        cleanup=("/var/cache/ldconfig/aux-cache",),
    ),
    Rule(
        "apt-cache",
        "package-manager-cache",
        paths=("/var/cache/apt/**", "/var/lib/apt/lists/**", "/var/lib/apt/extended_states"),
        changes=None,
        cleanup=(
            "/var/lib/apt/lists/*",
            "/var/cache/apt/*.bin",
            "/var/cache/apt/archives/*.deb",
            "/var/lib/apt/extended_states",
        ),
    ),
    Rule(
        "dpkg-backups",
        "package-manager-cache",
        paths=("/var/lib/dpkg/*-old", "/var/cache/debconf/*-old", "/var/cache/debconf/*.dat"),
        cleanup=("/var/lib/dpkg/*-old", "/var/cache/debconf/*-old"),
    ),
    Rule(
        "man-db-cache",
        "package-manager-cache",
        paths=("/var/cache/man/**",),
        cleanup=("/var/cache/man",),
    ),
    Rule(
        "apk-cache",
        "package-manager-cache",
        paths=("/var/cache/apk/**", "/etc/apk/cache/**", "/lib/apk/db/scripts.tar"),
        cleanup=("/var/cache/apk/*",),
    ),
    Rule(
        "pip-npm-cache",
        "package-manager-cache",
        paths=(
            "/root/.cache/**",
            "/home/*/.cache/**",
            "**/.npm/_cacache/**",
            "**/.npm/_update-notifier-last-checked",
            "/usr/local/share/.cache/**",
            "/tmp/pip-*/**",
            "/tmp/pip-*",
            "/tmp/node-compile-cache/**",
        ),
        cleanup=(
            "/root/.cache",
            "/home/*/.cache",
            "/root/.npm/_cacache",
            "/home/*/.npm/_cacache",
            "/root/.npm/_update-notifier-last-checked",
            "/home/*/.npm/_update-notifier-last-checked",
            "/usr/local/share/.cache",
            "/tmp/pip-*",
            "/tmp/node-compile-cache",
        ),
    ),
    Rule("vcs-index", "vcs-metadata", paths=("**/.git/**", "**/.hg/**", "**/.svn/**")),
    Rule(
        "package-versions",
        "dependency-drift",
        paths=("/var/lib/dpkg/status", "/lib/apk/db/installed", "**/METADATA", "**/PKG-INFO"),
        sniff="package-versions",
    ),
    Rule(
        "dist-info",
        "dependency-drift",
        paths=("**/*.dist-info/**", "**/*.dist-info", "**/*.egg-info/**", "**/*.egg-info"),
        changes=frozenset({"added", "removed"}),
        sniff="dist-info",
    ),
    Rule("pyc-header", "python-bytecode", paths=("**/*.pyc",), sniff="pyc-header"),
    Rule("owner", "ownership", fields_only=_OWNER | _TIME, fields_any=_OWNER),
    Rule(
        "mode",
        "permissions",
        fields_only=frozenset({"mode"}) | _TIME,
        fields_any=frozenset({"mode"}),
    ),
    Rule(
        "dates-in-text",
        "embedded-timestamp",
        fields_any=_CONTENT,
        fields_only=_CONTENT | _TIME,
        sniff="only-dates",
    ),
)

#: The built-in rules for config fields (flattened names such as ``history[2].created``): the
#: fields the verdict's ``equivalent`` bundle tolerates, by kind, then dates in other values.
CONFIG_RULES: tuple[Rule, ...] = (
    # disk images: one rule per filesystem-level cause, before the bundle's kinds
    *(Rule(cause, cause, paths=paths, target="config") for cause, paths in DISK_FIELDS.items()),
    *(
        Rule(rule_id, KIND_CAUSES[kind], paths=EQUIVALENT.patterns(kind), target="config")
        for rule_id, kind in (
            ("created", "timestamp"),
            ("legacy-builder", "legacy-builder"),
            ("diff-ids", "derived"),
        )
    ),
    Rule("config-dates", "embedded-timestamp", sniff="only-dates", target="config"),
)
