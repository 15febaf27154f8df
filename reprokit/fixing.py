"""``reprokit fix``: patch a Dockerfile with the fixes its check computed, and prove the patch by
building the patched Dockerfile twice and comparing.

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

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
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
from .result import Result
from .text import clean

#: rounds of patch-and-rebuild at most
ROUNDS = 3


@dataclass
class Round:
    """One round: the edits applied, and the verdict of the rebuild (None: not verified)."""

    number: int
    edits: list[Edit]
    verdict: str | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.number,
            "edits": [e.to_dict() for e in self.edits],
            "verdict": self.verdict,
            "reason": self.reason,
        }


@dataclass
class Unfixed:
    """A cause left in a step that no edit fixes, and why."""

    line: int | None
    instruction: str
    cause: str
    count: int
    why: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FixResult:
    """The outcome of ``reprokit fix``: the patched Dockerfile, its patch, the checks before
    and after, the rounds and what could not be fixed."""

    dockerfile: Path
    original: str
    patched: str
    before: Result
    after: Result | None
    require: str = "equivalent"
    rounds: list[Round] = field(default_factory=list)
    unfixed: list[Unfixed] = field(default_factory=list)
    duration_s: float = 0.0
    verified: bool = True
    #: the user's Dockerfile (the patch's "a" side)
    source: Path | None = None
    kind = "fix"

    @property
    def patch(self) -> str:
        """The change as a unified diff (empty when nothing was changed)."""
        return unified(self.original, self.patched, (self.source or self.dockerfile).name)

    @property
    def ok(self) -> bool:
        """Whether the required verdict is reached (verified by a rebuild, unless not asked)."""
        if self.before.meets(self.require):
            return True
        if not self.verified:
            return bool(self.patch) and not self.unfixed
        return self.after is not None and self.after.meets(self.require)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "reprokit/v1",
            "kind": self.kind,
            "ok": self.ok,
            "require": self.require,
            "dockerfile": str(self.dockerfile),
            "patch": self.patch,
            "verified": self.verified,
            "before": {"verdict": self.before.verdict, "reason": self.before.reason},
            "after": (
                {"verdict": self.after.verdict, "reason": self.after.reason} if self.after else None
            ),
            "rounds": [r.to_dict() for r in self.rounds],
            "unfixed": [u.to_dict() for u in self.unfixed],
            "duration_s": round(self.duration_s, 3),
        }

    def text(self) -> str:
        """The human summary the CLI prints."""
        b = self.before
        lines = [f"before: {b.verdict.upper()} — {clean(b.reason)}"]
        for r in self.rounds:
            what = "; ".join(e.describe() for e in r.edits) or "no edit"
            result = f" → {r.verdict.upper()}" if r.verdict else " (not verified)"
            lines.append(f"round {r.number}: {clean(what)}{result}")
        if self.after is not None:
            lines.append(f"after: {self.after.verdict.upper()} — {clean(self.after.reason)}")
        if self.patch:
            lines.append(f"patched Dockerfile: {self.dockerfile}")
            lines += ["  " + line for line in self.patch.splitlines()]
        else:
            lines.append("no change to the Dockerfile")
        for u in self.unfixed:
            where = f"line {u.line} " if u.line else ""
            lines.append(f"not fixed: {where}{u.cause} ({u.count}): {clean(u.why)}")
        state = "reached" if self.ok else "NOT reached"
        lines.append(f"required verdict {self.require}: {state} ({self.duration_s:.0f} s)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text())}</pre>"


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
    """What clamps file times with the builder, image store and driver the check used."""
    build = result.builds[0] if result.builds else None
    builder = build.builder if build else "docker"
    store = (build.options.get("image_store") if build else None) or "classic"
    if builder == "buildah":
        return "no Dockerfile edit: check with `--builder buildah --source-date-epoch N`"
    if builder == "buildx" and store == "containerd":
        return "no Dockerfile edit: check with `--builder buildx --source-date-epoch N`"
    return (
        "no Dockerfile edit can clamp file times here: with the docker driver and the classic "
        "image store, rewrite-timestamp is ignored and the OCI exporter is refused; use "
        "`--builder buildah --source-date-epoch N`, or turn on the containerd image store and "
        "use `--builder buildx --source-date-epoch N`"
    )


def fix(
    context: str | Path,
    *,
    dockerfile: str | None = None,
    output: str | Path | None = None,
    in_place: bool = False,
    verify: bool = True,
    rounds: int = ROUNDS,
    require: str = "equivalent",
    **check_options: Any,
) -> FixResult:
    """Check ``context``, patch its Dockerfile with the fixes found, and (unless not
    ``verify``) rebuild the patched Dockerfile twice per round until ``require`` is met or
    ``rounds`` are used. The patched Dockerfile goes to ``output`` (default
    ``Dockerfile.fixed`` beside the original), or over the original with ``in_place``."""
    from .api import check

    if rounds < 1:
        raise UsageError(f"rounds must be at least 1, not {rounds}")
    started = time.monotonic()
    ctx = Path(context)
    source = Path(dockerfile) if dockerfile else Path("Dockerfile")
    source = source if source.is_absolute() else ctx / source
    try:
        original = source.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"Dockerfile {source}: cannot read ({err.strerror})") from None
    if in_place:
        out = source
    elif output is not None:
        out = Path(output)
    else:
        out = source.with_name(source.name + ".fixed")
    if out.resolve() == source.resolve() and not in_place:
        raise UsageError(f"--output {out} is the Dockerfile itself: give --in-place to do that")
    target = check_options.get("target")
    before = check(ctx, dockerfile=str(source), **check_options)
    result = FixResult(
        out, original, original, before, None, require, verified=verify, source=source
    )
    text, current = original, before
    if not before.meets(require):
        for number in range(1, rounds + 1):
            plans = plan(current, text, target)
            edits = first_edits(plans)
            new_text, _ = apply_edits(text, edits)
            if new_text == text:
                break
            text = new_text
            out.write_text(text, encoding="utf-8")
            this = Round(number, edits)
            result.rounds.append(this)
            result.patched = text
            if not verify:
                break
            current = check(ctx, dockerfile=str(out.resolve()), **check_options)
            this.verdict, this.reason = current.verdict, current.reason
            result.after = current
            if current.meets(require):
                break
        if not verify:  # what the applied plan has no edit for
            final = plan(before, original, target)
        else:
            final = plan(current, text, target) if not current.meets(require) else []
        result.unfixed = unfixed(final, current, require)
        if not result.rounds and not result.unfixed:
            result.unfixed = [
                Unfixed(None, "", c, n, "no step to patch")
                for c, n in Counter(d.cause for d in current.file_records).items()
            ]
    result.duration_s = time.monotonic() - started
    return result
