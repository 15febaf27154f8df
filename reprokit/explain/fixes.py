"""Fixes computed from the Dockerfile: for each step, the exact edits that remove what differs,
specific to what the step does, and nothing the step already does.

A step's plan is a list of :class:`Edit` (what :mod:`reprokit.patching` applies to the
Dockerfile) and of advice for what no Dockerfile edit can do (pinning versions, a builder that
clamps timestamps). Its text is the step's fix in every report, so the words and the patch
agree.

- cleanup causes (logs, caches, identities, ldconfig's aux-cache): delete at the end of the
  RUN step only the paths that differ, with the most specific cleanup target of the rule that
  matched (``/var/log/apt/*.log``, ``/root/.npm/_logs``, ``/home/app/.cache``), skipping what
  the step already deletes (``rm``, ``apt-get clean``, ``npm cache clean``,
  ``--no-cache-dir``);
- python bytecode: ``pip install --no-compile`` when pip writes them, else
  ``ARG SOURCE_DATE_EPOCH`` in the stage (pip and compileall then write hash-based pycs),
  else ``ENV PYTHONDONTWRITEBYTECODE=1``;
- build times in compiled files: ``ARG SOURCE_DATE_EPOCH`` (gcc's ``__DATE__``, many tools);
- timestamps, versions, owners and modes: advice (a builder option, pinning, ``--chown``).

>>> t = cleanup_target("/var/log/*", "/var/log/apt/term.log"), cleanup_target("/home/*/.cache",
...     "/home/app/.cache/pip/x")
>>> t
('/var/log/*', '/home/app/.cache')
>>> already_removed("apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/*",
...     "/var/lib/apt/lists/*")
True
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from .causes import CAUSES, TIME_ONLY
from .rules import Rule
from .steps import Instruction

#: Causes whose fix is to delete what differs at the end of the RUN step.
CLEANUP_CAUSES = frozenset({"log-file", "package-manager-cache", "ldconfig-cache", "identity"})

#: Order in which causes are addressed in a step's fix.
ORDER = [
    "log-file", "package-manager-cache", "ldconfig-cache", "identity", "vcs-metadata",
    "dependency-drift", "python-bytecode", "embedded-timestamp", "ownership", "permissions",
    "timestamp", "unexamined", "unexplained",
]  # fmt: skip

SDE_ARG = "ARG SOURCE_DATE_EPOCH=0"

_PIP_INSTALL = re.compile(r"\b(pip3?(?:\.\d+)?|-m\s+pip)\s+install\b")
_COMPILES = re.compile(r"\b(gcc|g\+\+|cc|clang|make|cmake|go\s+build|cargo\s+build|ld)\b")
# what tools do that counts as a cleanup of these targets
_IMPLIED = (
    (re.compile(r"\bapt(-get)?\s+clean\b"), ("/var/cache/apt/*.bin", "/var/cache/apt/archives/*")),
    (re.compile(r"\bnpm\s+cache\s+clean\b"), ("/root/.npm/_cacache", "/home/*/.npm/_cacache")),
    (re.compile(r"--no-cache-dir\b|PIP_NO_CACHE_DIR"), ("/root/.cache/pip",)),
    (re.compile(r"\bapk\s+add\b.*--no-cache\b"), ("/var/cache/apk/*",)),
)


@dataclass(frozen=True)
class Edit:
    """One change to a Dockerfile, anchored at an instruction's first line.

    ``kind``: ``append`` (`` && TEXT`` at the end of the RUN), ``flag`` (``TEXT`` after every
    ``pip install`` of the RUN), ``stage-arg`` (the line ``TEXT`` right after the stage's
    FROM), ``before`` (the line ``TEXT`` before the instruction)."""

    kind: str
    line: int
    text: str
    cause: str
    why: str = ""

    def describe(self) -> str:
        if self.kind == "append":
            return f"append `&& {self.text}` to the RUN step on line {self.line}"
        if self.kind == "flag":
            return f"add `{self.text}` to `pip install` on line {self.line}"
        if self.kind == "stage-arg":
            return f"declare `{self.text}` after the FROM of the stage of line {self.line}"
        return f"insert `{self.text}` before line {self.line}"

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "line": self.line, "text": self.text, "cause": self.cause}
        return {**out, "why": self.why} if self.why else out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edit:
        return cls(
            data["kind"], int(data["line"]), data["text"], data["cause"], data.get("why", "")
        )


@dataclass
class StepPlan:
    """What to change for one step: edits (each a candidate list per cause, first one first)
    and advice for the causes no edit can fix."""

    instruction: Instruction | None
    causes: Counter[str]
    #: per cause, the candidate edits in the order they are tried (one or more edits each)
    candidates: dict[str, list[list[Edit]]] = field(default_factory=dict)
    #: per cause, why no edit is offered (or what else to do)
    advice: dict[str, str] = field(default_factory=dict)
    #: cleanup targets the step already deletes (not suggested again)
    already: list[str] = field(default_factory=list)

    def text(self, keyword: str) -> str:
        """The step's fix: the first candidate of each cause, then the advice."""
        parts: list[str] = []
        cleanup = [e for e in self.candidates.get("cleanup", [[]])[0]]
        if cleanup:
            where = "this RUN step" if keyword == "RUN" else "the RUN step that writes them"
            targets = " ".join(e.text.removeprefix("rm -rf ") for e in cleanup)
            parts.append(
                f"At the end of {where}, delete what differs between builds: `rm -rf {targets}`."
            )
        if self.already:
            parts.append(f"(Already deleted by this step: {' '.join(self.already)}.)")
        for cause in sorted(self.causes, key=_order):
            if cause in CLEANUP_CAUSES and cleanup and cause not in self.advice:
                continue
            if cause in TIME_ONLY - {"timestamp"}:
                continue
            label = cause.replace("-", " ").capitalize() if cause != "timestamp" else "Timestamps"
            options = self.candidates.get(cause)
            if options:
                first = "; ".join(
                    e.describe() + (f" ({e.why})" if e.why else "") for e in options[0]
                )
                alt = [" and ".join(e.describe() for e in o) for o in options[1:]]
                text = first + (f"; else {'; else '.join(alt)}" if alt else "")
            else:
                text = self.advice.get(cause) or (CAUSES[cause].detail if cause in CAUSES else "")
            if text:
                parts.append(f"{label} ({self.causes[cause]}): {text.rstrip('.')}.")
        return " ".join(parts)


def _order(cause: str) -> int:
    return ORDER.index(cause) if cause in ORDER else len(ORDER)


def cleanup_target(glob: str, path: str) -> str | None:
    """The concrete form of a cleanup ``glob`` that deletes ``path`` (``glob`` matches ``path``
    or one of its parent directories), or None. Wildcards in parent segments take the path's
    names; a wildcard in the last segment stays (``rm -rf /var/log/*``)."""
    if "**" in glob:
        return None
    g, p = glob.strip("/").split("/"), path.strip("/").split("/")
    if len(p) < len(g) or not all(fnmatchcase(p[i], g[i]) for i in range(len(g))):
        return None
    return "/" + "/".join([*p[: len(g) - 1], g[-1] if len(p) > len(g) else p[len(g) - 1]])


def _removed_words(run: str) -> list[tuple[str, bool]]:
    """Paths an ``rm`` of the RUN text deletes, each with whether it is in the last command."""
    commands = re.split(r"&&|\|\||;|\n", run)
    out = []
    for n, command in enumerate(commands):
        try:
            words = shlex.split(command, posix=True)
        except ValueError:
            words = command.split()
        if "rm" not in words:
            continue
        for w in words[words.index("rm") + 1 :]:
            if not w.startswith("-"):
                out.append((w, n == len(commands) - 1))
    return out


def already_removed(run: str, target: str) -> bool:
    """Whether the RUN text already deletes ``target`` (by ``rm`` of it or of a parent, or by
    a tool's own cleanup: ``apt-get clean``, ``npm cache clean``, ``--no-cache-dir``)."""
    for word, _ in _removed_words(run):
        word = word.rstrip("/")
        if word in ("", "/"):
            continue
        if fnmatchcase(target, word) or target.startswith(word + "/") or target == word:
            return True
    for pattern, targets in _IMPLIED:
        if pattern.search(run) and any(fnmatchcase(target, t) or target == t for t in targets):
            return True
    return False


def _cleanup_for(path: str, rule: Rule | None) -> str:
    if rule is not None:
        for glob in rule.cleanup:
            target = cleanup_target(glob, path)
            if target:
                return target
    return path


class _Cleanups:
    """:func:`_cleanup_for` for many paths at a small cost each. Whether a cleanup glob of
    ``n`` segments covers a path deeper than ``n`` segments, and with which target, depends
    only on the path's directory; for a path of exactly ``n`` segments, the directory decides
    all but whether the last segment matches. So each (glob, directory) is worked out once.

    >>> rule = Rule("logs", "log-file", cleanup=("/var/log/apt/*.log", "/var/log/*"))
    >>> cleanups = _Cleanups()
    >>> paths = ("/var/log/apt/a.log", "/var/log/apt/b.txt", "/var/log/x/1", "/var/z")
    >>> [cleanups.target(p, rule) for p in paths]
    ['/var/log/apt/a.log', '/var/log/*', '/var/log/*', '/var/z']
    """

    def __init__(self) -> None:
        #: (glob, directory) → the target (paths deeper than the glob), whether the directory
        #: matches the glob's first segments (paths as deep as the glob), or None
        self._memo: dict[tuple[str, str], str | bool | None] = {}
        self._segments: dict[str, list[str]] = {}

    def target(self, path: str, rule: Rule | None) -> str:
        """The cleanup target of ``path`` under ``rule`` (the path itself when none covers it)."""
        if rule is None:
            return path
        directory, _, name = path.rpartition("/")
        depth = path.strip("/").count("/") + 1
        for glob in rule.cleanup:
            key = (glob, directory)
            if key not in self._memo:
                self._memo[key] = self._work_out(glob, path, depth)
            found = self._memo[key]
            if isinstance(found, str):
                return found
            if found and fnmatchcase(name, self._segments[glob][-1]):
                return "/" + path.strip("/")
        return path

    def _work_out(self, glob: str, path: str, depth: int) -> str | bool | None:
        g = self._segments.setdefault(glob, glob.strip("/").split("/"))
        if "**" in glob or depth < len(g):
            return None
        if depth > len(g):
            return cleanup_target(glob, path)
        p = path.strip("/").split("/")
        return all(fnmatchcase(p[i], g[i]) for i in range(len(g) - 1))


def plan_step(
    keyword: str,
    instruction: Instruction | None,
    diffs: Iterable[Any],
    rules: Mapping[str, Rule],
    stage_text: str = "",
) -> StepPlan:
    """The plan for one step from its differences (records with ``path``, ``cause``, ``rule``,
    ``fix``) and the rules that gave their causes; ``stage_text`` is its stage's instructions
    (to see an ``ARG SOURCE_DATE_EPOCH`` already there)."""
    diffs = list(diffs)
    causes = Counter(d.cause or "unexplained" for d in diffs)
    plan = StepPlan(instruction, causes)
    run = instruction.text if instruction and instruction.keyword == "RUN" else ""
    line = instruction.line if instruction else 0
    # cleanups: only what differs, at its most specific target, not what the step deletes
    targets: dict[str, str] = {}
    cleanups = _Cleanups()
    for d in diffs:
        rule = rules.get(d.rule or "")
        if d.cause in CLEANUP_CAUSES or (rule is not None and rule.cleanup):
            targets.setdefault(cleanups.target(d.path, rule), d.cause)
        elif d.cause == "vcs-metadata":
            repo = d.path.split("/.git/")[0] + "/.git" if "/.git/" in d.path else d.path
            targets.setdefault(repo, d.cause)
        elif d.cause and d.fix and d.cause not in CAUSES:
            plan.advice.setdefault(d.cause, d.fix)
    if targets and instruction is not None and instruction.keyword == "RUN":
        todo = [t for t in targets if not already_removed(run, t)]
        plan.already = [t for t in targets if t not in todo]
        if todo:
            edit = Edit("append", line, "rm -rf " + " ".join(_compact(todo)), "cleanup")
            plan.candidates["cleanup"] = [[edit]]
        if plan.already and not todo:
            for cause in {targets[t] for t in plan.already}:
                plan.advice[cause] = (
                    "this step already deletes it, yet it still differs: a later step writes "
                    "it again; delete it at the end of that step"
                )
    elif targets:
        where = instruction.text if instruction else "this step"
        for cause in set(targets.values()):
            plan.advice[cause] = (
                f"{where} copies it from the build context: keep "
                f"{' '.join(sorted(targets))} out with `.dockerignore`"
            )
    has_sde = bool(re.search(r"^ARG\s+SOURCE_DATE_EPOCH\b", stage_text, re.MULTILINE))
    sde = [] if has_sde else [[Edit("stage-arg", line, SDE_ARG, "python-bytecode")]]
    if causes.get("python-bytecode"):
        options: list[list[Edit]] = []
        pip = _PIP_INSTALL.search(run)
        if pip and "--no-compile" not in run:
            why = "pip compiles what it installs, PYTHONDONTWRITEBYTECODE or not"
            options.append([Edit("flag", line, "--no-compile", "python-bytecode", why)])
        options += [[Edit("stage-arg", line, SDE_ARG, "python-bytecode", _SDE_WHY)]] if sde else []
        if run and "PYTHONDONTWRITEBYTECODE" not in stage_text:
            env = Edit("before", line, "ENV PYTHONDONTWRITEBYTECODE=1", "python-bytecode")
            options.append([env])
        if options and instruction is not None and instruction.keyword == "RUN":
            plan.candidates["python-bytecode"] = options
        else:
            plan.advice["python-bytecode"] = CAUSES["python-bytecode"].detail
    for cause in ("embedded-timestamp", "unexplained"):
        compiles = cause == "embedded-timestamp" or _COMPILES.search(run)
        if causes.get(cause) and sde and run and compiles:
            why = "gcc's __DATE__/__TIME__ and many tools take the time from SOURCE_DATE_EPOCH"
            plan.candidates[cause] = [[Edit("stage-arg", line, SDE_ARG, cause, why)]]
    return plan


_SDE_WHY = "with SOURCE_DATE_EPOCH set, pip and compileall write hash-based pycs"


def _compact(targets: list[str]) -> list[str]:
    """Targets without those another target already covers.

    >>> _compact(["/root/.npm/_logs", "/root/.npm/_logs/a.log", "/var/log/*"])
    ['/root/.npm/_logs', '/var/log/*']
    """

    def covers(o: str, t: str) -> bool:
        return o != t and (t.startswith(o + "/") or ("*" in o and fnmatchcase(t, o)))

    return [t for t in targets if not any(covers(o, t) for o in targets)]


def step_fix(
    keyword: str,
    instruction: Instruction | None,
    diffs: Iterable[Any],
    rules: Mapping[str, Rule],
    stage_text: str = "",
) -> str:
    """The one recommendation of a step covering all its causes (see :func:`plan_step`).

    >>> from reprokit.explain.rules import FILE_RULES
    >>> class D: path, cause, rule, fix = "/var/log/dpkg.log", "log-file", "log-file", None
    >>> step = Instruction(3, "RUN", "RUN apt-get install -y x", 0)
    >>> print(step_fix("RUN", step, [D], {r.id: r for r in FILE_RULES}))
    At the end of this RUN step, delete what differs between builds: `rm -rf /var/log/dpkg.log`.
    """
    return plan_step(keyword, instruction, diffs, rules, stage_text).text(keyword)
