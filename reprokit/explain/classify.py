"""Classify many file differences at a small fixed cost each: the first rule that recognises a
difference gives its cause, exactly as trying :meth:`Rule.matches` rule by rule would.

A rule's conditions on the kind of change and on the differing fields depend only on the
difference's *signature* (change, fields), which 100,000 differences share a handful of. So
each signature gets a :class:`Plan` once: the rules whose field and change conditions hold, in
order, with their path patterns as one compiled regular expression whose alternatives are
those rules' (a rule without paths is an empty alternative), so one match finds the first rule
whose path fits. Only that rule's content conditions (``sniff``, ``contains``) are then tried;
when they fail, the following rules are tried one by one. When a signature's first rule has no
path or content condition (``mtime-only``), every difference of that signature gets it without
a look at its path.

>>> from reprokit.model import FileDiff
>>> from reprokit.explain.rules import FILE_RULES
>>> classify = Classifier(list(FILE_RULES))
>>> log = FileDiff("/var/log/dpkg.log", "modified", ["size", "content"], 1)
>>> [(k.cause, k.rule) for k, _ in (classify(log), classify(FileDiff("/x", "modified", ["mtime"])))]
[('log-file', 'log-file'), ('timestamp', 'mtime-only')]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..globs import compile_globs, globs_regex
from ..model import FileDiff
from .causes import CAUSES, NOT_EXPLAINED
from .explanation import Explanation
from .facts import CONTENT_SNIFFS, ContentFacts
from .rules import SNIFFS, Rule, Subject


@dataclass(frozen=True, slots=True)
class Kind:
    """What a class of differences gets: cause, fix, rule id, ignored, the rank of its claim on
    the evidence budget (0 first) and the one explanation its members share without evidence."""

    cause: str
    fix: str | None
    rule: str | None
    ignored: bool
    priority: int
    shared: Explanation


def _priority(cause: str, ignored: bool) -> int:
    """Evidence goes first to what most needs it: unexplained, other causes, times, ignored."""
    if ignored:
        return 3
    return 0 if cause in NOT_EXPLAINED else 2 if cause == "timestamp" else 1


def _static(rule: Rule, change: str, fields: frozenset[str]) -> bool:
    """Whether ``rule``'s conditions on the change and the differing fields hold (as in
    :meth:`Rule.matches`)."""
    if rule.fields_only is not None and not (fields and fields <= rule.fields_only):
        return False
    if rule.fields_any is not None and not fields & rule.fields_any:
        return False
    return rule.changes is None or change in rule.changes


def _content_free(rule: Rule) -> bool:
    return rule.sniff is None and rule.contains is None


class Plan:
    """The rules that may recognise the differences of one signature, and how to find the
    first that does."""

    __slots__ = ("candidates", "fixed", "positions", "regex")

    def __init__(self, rules: Sequence[Rule], change: str, fields: frozenset[str]):
        #: (position in the rule list, rule) of the rules whose static conditions hold
        self.candidates = [(n, r) for n, r in enumerate(rules) if _static(r, change, fields)]
        first = self.candidates[0][1] if self.candidates else None
        #: the rule every difference of the signature gets (no path or content condition)
        self.fixed = first is not None and not first.paths and _content_free(first)
        alternatives = "|".join(
            f"(?P<r{k}>{globs_regex(r.paths)}\\Z)" if r.paths else f"(?P<r{k}>)"
            for k, (_, r) in enumerate(self.candidates)
        )
        self.regex = re.compile(alternatives or "(?!)", re.DOTALL)
        self.positions = {f"r{k}": k for k in range(len(self.candidates))}

    def first(self, d: FileDiff, facts: ContentFacts | None) -> tuple[int, str | None]:
        """The position (in the rule list) of the first rule recognising ``d`` (-1: none),
        and the evidence its sniff found."""
        if self.fixed:
            return self.candidates[0][0], None
        m = self.regex.match(d.path)
        if m is None:
            return -1, None
        k = self.positions[m.lastgroup or ""]
        position, rule = self.candidates[k]
        if _content_free(rule):
            return position, None
        if rule.contains is None and rule.sniff in CONTENT_SNIFFS:  # what the contents showed
            evidence = facts.sniffs[rule.sniff] if facts is not None else None
            if evidence is not None:
                return position, evidence
            if k + 1 == len(self.candidates):
                return -1, None
        subject = Subject(d.path, d.change, tuple(d.fields), d.a, d.b, facts)
        ok, evidence = _content_matches(rule, subject)  # its other conditions hold
        if ok:
            return position, evidence
        for position, rule in self.candidates[k + 1 :]:
            ok, evidence = rule.matches(subject)
            if ok:
                return position, evidence
        return -1, None


def _content_matches(rule: Rule, s: Subject) -> tuple[bool, str | None]:
    """:meth:`Rule.matches` for a rule whose path, field and change conditions hold."""
    if rule.contains is not None and (s.facts is None or rule.contains not in s.facts.found):
        return False, None
    if rule.sniff is None:
        return True, None
    evidence = SNIFFS[rule.sniff](s)
    return evidence is not None, evidence


class Classifier:
    """Gives each file difference its :class:`Kind` (and the evidence a sniff found), with
    ``rules`` tried in order and ``ignore`` (glob patterns) marking ignored paths."""

    def __init__(self, rules: Sequence[Rule], ignore: Sequence[str] = ()):
        self.rules = list(rules)
        self.ignore = compile_globs(tuple(ignore))
        self.ignoring = bool(ignore)
        self._plans: dict[tuple[str, tuple[str, ...]], Plan] = {}
        self._seen: dict[tuple[str, int], tuple[Sequence[str], Plan]] = {}
        self._kinds: dict[tuple[int, bool, bool], Kind] = {}

    def plan(self, change: str, fields: Sequence[str]) -> Plan:
        """The plan of a signature (worked out once)."""
        # differences share their fields lists (reprokit.records.FieldNames): known by
        # identity first, kept alive by the entry so that the id is not reused
        seen = self._seen.get((change, id(fields)))
        if seen is not None and seen[0] is fields:
            return seen[1]
        key = (change, tuple(fields))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = Plan(self.rules, change, frozenset(fields))
        self._seen[(change, id(fields))] = (fields, plan)
        return plan

    def __call__(self, d: FileDiff, facts: ContentFacts | None = None) -> tuple[Kind, str | None]:
        position, evidence = self.plan(d.change, d.fields).first(d, facts)
        unread = facts is None and "content" in d.fields
        ignored = self.ignoring and self.ignore.match(d.path) is not None
        key = (position, unread, ignored)
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = self._kind(position, unread, ignored)
        return kind, evidence

    def _kind(self, position: int, unread: bool, ignored: bool) -> Kind:
        if position >= 0:
            rule = self.rules[position]
            cause, fix, rule_id = rule.cause, rule.fix_text, rule.id
        else:
            cause, fix, rule_id = "unexplained", CAUSES["unexplained"].fix, None
        if cause == "unexplained" and unread:
            # unexplained only once the content was examined; here it was not read
            cause, fix = "unexamined", CAUSES["unexamined"].fix
        shared = Explanation(cause, fix, None, ignored, rule_id)
        return Kind(cause, fix, rule_id, ignored, _priority(cause, ignored), shared)
