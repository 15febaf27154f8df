"""What the explain stage returns: one :class:`Explanation` per difference, the steps and
whether everything is explained. It edits no record; :meth:`Explanations.files_explained`
(and friends) build new records carrying the explanations.

>>> from reprokit.model import FileDiff
>>> d = FileDiff("/x", "modified", ["mtime"], 0)
>>> e = Explanation("timestamp", "set SOURCE_DATE_EPOCH", rule="mtime-only")
>>> new = with_explanation(d, e)
>>> (new.cause, new.rule, d.cause), new is d
(('timestamp', 'mtime-only', None), False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..model import ConfigDiff, FileDiff, StepExplanation


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one difference happened (``cause``), what fixes it, its evidence, whether it is
    ``ignored`` (a user ignore pattern) and the id of the rule that gave the cause."""

    cause: str
    fix: str | None = None
    evidence: str | None = None
    ignored: bool = False
    rule: str | None = None


@dataclass(frozen=True)
class Explanations:
    """The explanations of a :class:`reprokit.diff.Differences`, in the order of its lists."""

    files: list[Explanation] = field(default_factory=list)
    merged: list[Explanation] = field(default_factory=list)
    config: list[Explanation] = field(default_factory=list)
    #: one entry per differing layer: its Dockerfile step, causes and grouped fix
    steps: list[StepExplanation] = field(default_factory=list)
    #: every difference that counts (not ignored) has a cause other than ``unexplained``
    explained: bool = True

    def files_explained(self, records: list[FileDiff], *, consume: bool = False) -> list[FileDiff]:
        """New per-layer records carrying their explanations; ``consume`` empties
        ``records`` on the way (see :func:`explained_files`)."""
        return explained_files(records, self.files, consume=consume)

    def merged_explained(self, records: list[FileDiff], *, consume: bool = False) -> list[FileDiff]:
        """New merged-view records carrying their explanations (``consume``: as above)."""
        return explained_files(records, self.merged, consume=consume)

    def config_explained(self, records: list[ConfigDiff]) -> list[ConfigDiff]:
        """New config records carrying their explanations."""
        _same_length(records, self.config)
        return [with_explanation(d, e) for d, e in zip(records, self.config, strict=True)]


D = TypeVar("D", FileDiff, ConfigDiff)


def with_explanation(d: D, e: Explanation) -> D:
    """A copy of ``d`` carrying ``e`` (``d`` is left as it is)."""
    if isinstance(d, FileDiff):
        return _explained_file(d, e)  # type: ignore[return-value]
    return ConfigDiff(d.field, d.a, d.b, d.change, *_fields(e))  # type: ignore[return-value]


def _explained_file(d: FileDiff, e: Explanation) -> FileDiff:
    return FileDiff(d.path, d.change, d.fields, d.layer, d.a, d.b, *_fields(e))


def _fields(e: Explanation) -> tuple[str, str | None, str | None, bool, str | None]:
    return e.cause, e.fix, e.evidence, e.ignored, e.rule


def _same_length(records: list[Any], explanations: list[Explanation]) -> None:
    if len(records) != len(explanations):
        raise ValueError(f"{len(explanations)} explanations for {len(records)} differences")


def explained_files(
    records: list[FileDiff], explanations: list[Explanation], *, consume: bool = False
) -> list[FileDiff]:
    """New file records carrying ``explanations`` (one list pass: 100k records are common).

    With ``consume``, ``records`` is the caller's to give up (the pipeline's own differences):
    each is dropped as its explained record is made and the list is left empty, so that the
    two sets of 100,000 records are never alive at once.

    >>> old = [FileDiff("/x", "modified", ["mtime"], 0)]
    >>> new = explained_files(old, [Explanation("timestamp")], consume=True)
    >>> [d.cause for d in new], old
    (['timestamp'], [])
    """
    _same_length(records, explanations)
    if not consume:
        return [_explained_file(d, e) for d, e in zip(records, explanations, strict=True)]
    out = []
    records.reverse()  # popped from the end, in order
    for e in explanations:
        out.append(_explained_file(records.pop(), e))
    return out
