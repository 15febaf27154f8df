"""``reprokit fix`` (:func:`reprokit.api.fix`): patch a Dockerfile with the fixes its check
computed, and prove the patch by building the patched Dockerfile twice and comparing.

Round 1 applies the first candidate fix of every cause of every differing step
(:func:`reprokit.explain.fixes.plan_step`); when differences remain, the next round plans again
from the new check of the patched Dockerfile, where a fix already applied is no longer offered
(``--no-compile`` present, the cleanup already done), so the next candidate comes up. Rounds are
bounded; what no round could fix is reported with why. The user's Dockerfile is never
rewritten unless ``in_place``.

>>> FixResult.__name__, FixResult.kind
('FixResult', 'fix')
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import ReportError
from .explain.causes import CAUSES, TIME_ONLY
from .explain.fixes import CLEANUP_CAUSES, Edit, StepPlan, plan_step
from .explain.rules import FILE_RULES
from .explain.steps import (
    FILESYSTEM,
    Instruction,
    final_stage,
    keyword_of,
    map_layers,
    parse_dockerfile,
    split_by_step,
    writes,
)
from .patching import apply_edits, unified
from .protocol import Reported, shown_frame
from .result import SCHEMA, Result
from .version import __version__

if TYPE_CHECKING:
    import pandas as pd

#: rounds of patch-and-rebuild at most
ROUNDS = 3


@dataclass(frozen=True)
class Round:
    """One round: the edits applied, and the verdict of the rebuild (None: not verified)."""

    number: int
    edits: list[Edit]
    verdict: str | None = None
    reason: str = ""
    #: the images the rebuild kept (``keep_images``), removed by no one else
    kept_images: list[str] = field(default_factory=list)
    #: a last round that tries the patch without these edits (anchored at the original
    #: Dockerfile's lines): their cause kept as many differences in their round
    removed: list[Edit] = field(default_factory=list)

    def describe(self) -> str:
        """What the round changed, in words.

        >>> Round(2, [], removed=[Edit("flag", 3, "--no-compile", "python-bytecode")]).describe()
        'without `--no-compile` on line 3 (python-bytecode did not drop in its round)'
        """
        parts = [e.describe() for e in self.edits]
        parts += [
            f"without `{e.text}` on line {e.line} ({e.cause} did not drop in its round)"
            for e in self.removed
        ]
        return "; ".join(parts) or "no edit"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "round": self.number,
            "edits": [e.to_dict() for e in self.edits],
            "verdict": self.verdict,
            "reason": self.reason,
        }
        if self.kept_images:
            out["kept_images"] = list(self.kept_images)
        if self.removed:
            out["removed"] = [e.to_dict() for e in self.removed]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Round:
        edits = [Edit.from_dict(e) for e in data.get("edits") or []]
        kept = [str(k) for k in data.get("kept_images") or []]
        removed = [Edit.from_dict(e) for e in data.get("removed") or []]
        return cls(
            int(data["round"]), edits, data.get("verdict"), data.get("reason") or "", kept, removed
        )


@dataclass(frozen=True)
class Unfixed:
    """A cause left in a step that no edit fixes, and why."""

    line: int | None
    instruction: str
    cause: str
    count: int
    why: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unfixed:
        return cls(
            data.get("line"),
            data.get("instruction") or "",
            data["cause"],
            int(data.get("count") or 0),
            data.get("why") or "",
        )


ROUND_COLUMNS = ["round", "edits", "verdict", "reason"]
UNFIXED_COLUMNS = ["line", "instruction", "cause", "count", "why"]


@dataclass(frozen=True, repr=False)
class FixResult(Reported):
    """The outcome of ``reprokit fix``: the patched Dockerfile, its patch, the checks before
    and after, the rounds and what could not be fixed. Records: ``round_records``,
    ``unfixed_records``; DataFrames: :attr:`rounds`, :attr:`unfixed`. ``ok`` when the
    required verdict is reached (verified by a rebuild, unless ``verified`` is False)."""

    kind: ClassVar[str] = "fix"
    dockerfile: Path
    original: str
    patched: str
    before: Result
    after: Result | None = None
    require: str = "equivalent"
    round_records: list[Round] = field(default_factory=list)
    unfixed_records: list[Unfixed] = field(default_factory=list)
    duration_s: float = 0.0
    verified: bool = True
    #: the user's Dockerfile (the patch's "a" side)
    source: Path | None = None

    @property
    def patch(self) -> str:
        """The change as a unified diff (empty when nothing was changed)."""
        return unified(self.original, self.patched, (self.source or self.dockerfile).name)

    @property
    def kept_images(self) -> list[str]:
        """Every image the checks of this fix kept (``keep_images``): before, each round's
        rebuild, after; for the caller to remove."""
        rounds = [k for r in self.round_records for k in r.kept_images]
        after = self.after.kept_images if self.after else []
        return list(dict.fromkeys([*self.before.kept_images, *rounds, *after]))

    @property
    def ok(self) -> bool:
        """Whether the required verdict is reached (verified by a rebuild, unless not asked)."""
        if self.before.meets(self.require):
            return True
        if not self.verified:
            return bool(self.patch) and not self.unfixed_records
        return self.after is not None and self.after.meets(self.require)

    @shown_frame
    def rounds(self) -> pd.DataFrame:
        """One row per round: ``round, edits, verdict, reason`` (edits described; ``verdict`` a
        category)."""
        from .frames import frame

        rows = [
            {
                "round": r.number,
                "edits": r.describe(),
                "verdict": r.verdict,
                "reason": r.reason,
            }
            for r in self.round_records
        ]
        return frame(rows, ROUND_COLUMNS, categories=["verdict"], ints=["round"])

    @shown_frame
    def unfixed(self) -> pd.DataFrame:
        """One row per cause no edit fixed: ``line, instruction, cause, count, why`` (``cause``
        a category)."""
        from .frames import frame

        rows = [
            {"line": u.line, "instruction": u.instruction, "cause": u.cause, "count": u.count,
             "why": u.why}
            for u in self.unfixed_records
        ]  # fmt: skip
        return frame(rows, UNFIXED_COLUMNS, categories=["cause"], ints=["line", "count"])

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``fix``: both Dockerfiles, the patch, the rounds,
        what is left, and the full checks before and after."""
        return {
            "schema": SCHEMA,
            "kind": self.kind,
            "reprokit_version": __version__,
            "ok": self.ok,
            "require": self.require,
            "dockerfile": str(self.dockerfile),
            "source": str(self.source) if self.source else None,
            "verified": self.verified,
            "duration_s": round(self.duration_s, 3),
            "patch": self.patch,
            "original": self.original,
            "patched": self.patched,
            "rounds": [r.to_dict() for r in self.round_records],
            "unfixed": [u.to_dict() for u in self.unfixed_records],
            "before": self.before.to_dict(),
            "after": self.after.to_dict() if self.after else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixResult:
        """Rebuild from a fix document (:class:`ReportError` when it is not one)."""
        if not isinstance(data, dict) or data.get("kind") != "fix":
            raise ReportError("not a reprokit fix report")
        try:
            return cls(
                dockerfile=Path(data["dockerfile"]),
                original=data.get("original") or "",
                patched=data.get("patched") or "",
                before=Result.from_dict(data["before"]),
                after=Result.from_dict(data["after"]) if data.get("after") else None,
                require=data.get("require") or "equivalent",
                round_records=[Round.from_dict(r) for r in data.get("rounds") or []],
                unfixed_records=[Unfixed.from_dict(u) for u in data.get("unfixed") or []],
                duration_s=float(data.get("duration_s") or 0.0),
                verified=bool(data.get("verified", True)),
                source=Path(data["source"]) if data.get("source") else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReportError(f"malformed fix report: {type(err).__name__} {err}") from None


def _stage_of(instructions: list[Instruction], name: str) -> list[Instruction]:
    """The instructions of stage ``name`` (or index), with those of the stages it builds on."""
    froms = [i for i in instructions if i.keyword == "FROM"]
    match = [f for f in froms if f.stage_name == name] or (
        [f for f in froms if str(f.stage) == name] if name.isdigit() else []
    )
    if not match:
        return []
    own = [i for i in instructions if i.stage == match[0].stage]
    parent = match[0].text.split()[1] if len(match[0].text.split()) > 1 else ""
    return _stage_of(instructions, parent) + own if parent != name else own


def _copy_from(instruction: Instruction | None) -> tuple[str, str, str] | None:
    """``(stage, source, destination)`` of a ``COPY --from=STAGE SRC DEST``."""
    if instruction is None or instruction.keyword != "COPY" or "--from=" not in instruction.text:
        return None
    words = instruction.text.split()[1:]
    stage = next(w.split("=", 1)[1] for w in words if w.startswith("--from="))
    rest = [w for w in words if not w.startswith("--")]
    return (stage, rest[0], rest[-1]) if len(rest) >= 2 else None


def plan(result: Result, dockerfile: str, target: str | None = None) -> list[StepPlan]:
    """Every differing step's plan, from a check of ``dockerfile``. Differences a
    ``COPY --from`` brings in are planned in the stage that wrote them."""
    rules = {r.id: r for r in FILE_RULES}
    instructions = parse_dockerfile(dockerfile)
    stage = final_stage(instructions, target)
    created = [layer.created_by for layer in result.layer_records]
    matched = map_layers(created, stage)
    per_layer: dict[int, list[Any]] = defaultdict(list)
    for d in result.file_records:
        if d.layer is not None and not d.ignored:
            per_layer[d.layer].append(d)
    plans: list[StepPlan] = []
    for layer in result.layer_records:
        if layer.same or not per_layer.get(layer.index):
            continue
        instruction = matched[layer.index] if layer.index < len(matched) else None
        for step, diffs in split_by_step(instruction, stage, matched, per_layer[layer.index]):
            copied = _copy_from(step)
            if copied is not None:
                plans += _plan_copied(copied, step, diffs, instructions, rules)
                continue
            keyword = step.keyword if step else keyword_of(layer.created_by)
            stage_text = "\n".join(i.text for i in stage)
            plans.append(plan_step(keyword, step, diffs, rules, stage_text))
    return plans


class _Moved:
    """A difference seen at its path in the stage a COPY --from takes it from."""

    def __init__(self, d: Any, path: str):
        self.d, self.path = d, path
        self.cause, self.rule, self.fix = d.cause, d.rule, d.fix


def _plan_copied(
    copied: tuple[str, str, str],
    step: Instruction,
    diffs: list[Any],
    instructions: list[Instruction],
    rules: dict[str, Any],
) -> list[StepPlan]:
    name, src, dest = copied
    source = _stage_of(instructions, name)
    writers = [i for i in source if i.keyword in FILESYSTEM]
    if not writers:
        return [plan_step("COPY", step, diffs, rules)]
    groups: dict[int, list[Any]] = defaultdict(list)
    by_line = {i.line: i for i in writers}
    for d in diffs:
        rel = d.path[len(dest.rstrip("/")) :] if d.path.startswith(dest.rstrip("/")) else d.path
        moved = _Moved(d, src.rstrip("/") + rel if rel.startswith("/") else d.path)
        scores = [(writes(i, moved.path), i.line) for i in writers if i.keyword == "RUN"]
        best = max(scores) if scores else (0, writers[-1].line)
        groups[best[1] if best[0] > 0 else writers[-1].line].append(moved)
    text = "\n".join(i.text for i in source)
    return [plan_step(by_line[n].keyword, by_line[n], ds, rules, text) for n, ds in groups.items()]


def no_effect(edits: list[Edit], before: Result, after: Result) -> list[Edit]:
    """The ``edits`` of a round whose cause has as many differences ``after`` it as ``before``
    (a cleanup: its causes together)."""

    def count(result: Result, cause: str) -> int:
        causes = CLEANUP_CAUSES if cause == "cleanup" else {cause}
        return sum(1 for d in result.merged_records if d.cause in causes and not d.ignored)

    return [e for e in edits if count(after, e.cause) >= count(before, e.cause)]


def in_original(edits: list[Edit], text: str, original: str) -> list[Edit] | None:
    """``edits`` planned on ``text`` (``original`` with earlier rounds' edits applied),
    anchored at ``original``'s lines instead; None when one anchors at a line it lacks.

    >>> e = Edit("flag", 3, "--no-compile", "python-bytecode")
    >>> in_original([e], "FROM a\\nARG X=0\\nRUN pip install b\\n", "FROM a\\nRUN pip install b\\n")
    [Edit(kind='flag', line=2, text='--no-compile', cause='python-bytecode', why='')]
    """
    a, b = original.splitlines(), text.splitlines()
    line_in_original: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            line_in_original.update({j1 + k + 1: i1 + k + 1 for k in range(j2 - j1)})
    placed = [line_in_original.get(e.line) for e in edits]
    if any(line is None for line in placed):
        return None
    return [replace(e, line=line) for e, line in zip(edits, placed, strict=True) if line]


def without_no_effect(
    original: str, texts: list[str], rounds: list[Round], checks: list[Result]
) -> tuple[str, list[Edit]] | None:
    """``original`` patched with every round's edits but those that had no effect
    (:func:`no_effect`; ``texts[i]`` is what round ``i`` patched, ``checks[i]`` its check and
    ``checks[i + 1]`` the one after it), and the edits left out, at the original's lines; None
    when every edit had an effect or one cannot be placed in the original."""
    kept: list[Edit] = []
    dropped: list[Edit] = []
    for r, text, before, after in zip(rounds, texts, checks, checks[1:], strict=False):
        useless = set(no_effect(r.edits, before, after))
        placed = in_original(r.edits, text, original)
        if placed is None:
            return None
        for edit, at in zip(r.edits, placed, strict=True):
            (dropped if edit in useless else kept).append(at)
    if not dropped:
        return None
    return apply_edits(original, kept)[0], dropped


def first_edits(plans: list[StepPlan]) -> list[Edit]:
    """The edits of a round: the first candidate of every cause of every step."""
    edits: list[Edit] = []
    for p in plans:
        for options in p.candidates.values():
            if options:
                edits += options[0]
    return edits


def unfixed(plans: list[StepPlan], result: Result, require: str) -> list[Unfixed]:
    """The causes no edit fixes, with why (timestamps only when ``identical`` is required)."""
    out = []
    for p in plans:
        i = p.instruction
        for cause, count in p.causes.items():
            if cause in p.candidates or (cause == "timestamp" and require != "identical"):
                continue
            if cause in TIME_ONLY and require != "identical":
                continue
            cleaned = cause in CLEANUP_CAUSES or cause == "vcs-metadata"
            if cleaned and "cleanup" in p.candidates and cause not in p.advice:
                continue
            why = p.advice.get(cause) or (CAUSES[cause].detail if cause in CAUSES else "")
            if cause == "timestamp":
                why = timestamp_advice(result)
            out.append(Unfixed(i.line if i else None, i.text if i else "", cause, count, why))
    return out


def timestamp_advice(result: Result) -> str:
    """What clamps file times with the builder, image store and driver the check used
    (:func:`reprokit.suggestions.timestamp_advice`)."""
    from .suggestions import TIMESTAMP_PREFIX
    from .suggestions import timestamp_advice as advice

    build = result.builds[0] if result.builds else None
    context = str((result.spec or {}).get("context") or "CONTEXT")
    return "no Dockerfile edit: " + advice(build, context).removeprefix(TIMESTAMP_PREFIX)
