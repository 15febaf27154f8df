"""The public entry points: :func:`check` builds twice and compares, :func:`compare` diffs two
existing images, :func:`load` reads a saved JSON report back.

>>> import reprokit
>>> callable(reprokit.check) and callable(reprokit.compare)
True
"""

from __future__ import annotations

import shlex
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .builders import CHOICES, resolve_builder
from .errors import Cancelled, UsageError
from .example import example_context
from .explain.rules import Rule
from .explain.settings import Settings, find_settings, read_settings
from .fixing import ROUNDS as FIX_ROUNDS
from .fixing import FixResult, Round, Unfixed, first_edits, plan, unfixed, without_no_effect
from .patching import apply_edits
from .pipeline import Compare, Pipeline
from .result import Result
from .runs import Session, engine_url, find_culprits, run_builds
from .sources.image import Source
from .sources.layout import Platform, parse_platform
from .spec import BuildSpec
from .suggestions import suggest, with_timestamp_advice
from .variations import Variation, VaryOptions, parse_vary
from .verdict import Tolerance

if TYPE_CHECKING:
    from .kinds import AnyResult


def _platform(platform: str | Platform | None) -> Platform | None:
    if platform is None or isinstance(platform, Platform):
        return platform
    return parse_platform(platform)


RuleLike = Rule | Mapping[str, Any]


def settings_for(
    config: str | Path | Settings | None,
    ignore: Iterable[str] = (),
    rules: Iterable[RuleLike] = (),
    search: Iterable[str | Path | None] = (),
) -> Settings:
    """Explanation settings: ``config`` (a Settings, or a reprokit.toml / pyproject.toml path),
    else the first settings file found in ``search`` directories; plus ``ignore``/``rules``."""
    if isinstance(config, Settings):
        base = config
    elif config is not None:
        base = read_settings(config)
    else:
        base = find_settings(*search)
    return base.with_extra(ignore=ignore, rules=rules)


def _read_dockerfile(path: str | Path | None) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise UsageError(f"Dockerfile {path}: cannot read ({err.strerror})") from None


def compare(
    a: str | Source,
    b: str | Source,
    *,
    platform: str | Platform | None = None,
    ignore: Iterable[str] = (),
    rules: Iterable[RuleLike] = (),
    config: str | Path | Settings | None = None,
    dockerfile: str | Path | None = None,
    target: str | None = None,
    tolerance: str | Tolerance = "equivalent",
    show_secrets: bool = False,
    verify_digests: bool = False,
) -> Result:
    """Compare two existing images given as transport references (or :class:`Source` objects),
    and explain every difference.

    ``ignore``: path (or config field) patterns reported as ignored and not counted against the
    verdict; ``rules``: extra rules (:class:`reprokit.Rule` or dicts as in
    reprokit.toml); ``config``: a settings file or :class:`~reprokit.Settings` (default:
    ``reprokit.toml`` or ``[tool.reprokit]`` in the current directory); ``dockerfile``: maps
    layers to its lines (``target``: the stage built); ``tolerance``: what may differ in
    ``equivalent`` images, a bundle of :data:`reprokit.verdict.TOLERANCES`; ``show_secrets``:
    show secrets in the result's outputs (default: ``[redacted: …]``, :mod:`reprokit.redaction`);
    ``verify_digests``: read images of a local engine through ``docker save`` so every layer is
    hashed against its diff_id, rather than in place from the engine's storage (docs/limits.md).

    >>> result = compare("docker-archive:a.tar", "oci:./layout")  # doctest: +SKIP
    >>> result.verdict, result.files.head()  # doctest: +SKIP
    """
    pipeline = Pipeline(
        settings=settings_for(config, ignore, rules, search=[Path.cwd()]),
        dockerfile=_read_dockerfile(dockerfile),
        target=target,
        platform=_platform(platform),
        tolerance=tolerance,
        verify_digests=verify_digests,
    )
    return pipeline.compare(a, b).revealing(show_secrets)


def check(
    context: str | Path | None = None,
    *,
    dockerfile: str | None = None,
    build_args: dict[str, str] | None = None,
    target: str | None = None,
    network: str = "none",
    labels: dict[str, str] | None = None,
    platform: str | None = None,
    pull: bool = False,
    keep_images: bool = False,
    builder: str = "auto",
    base_url: str | None = None,
    spec: BuildSpec | None = None,
    ignore: Iterable[str] = (),
    rules: Iterable[RuleLike] = (),
    config: str | Path | Settings | None = None,
    source_date_epoch: int | None = None,
    vary: str | list[str] | None = None,
    vary_build_args: list[str] | None = None,
    runs: int = 2,
    engines: str | list[str] | None = None,
    find_culprits: bool = False,
    delay: float = 2.0,
    suggest: bool = False,
    variables: dict[str, str] | None = None,
    only: Iterable[str] = (),
    verify_digests: bool = False,
) -> Result:
    """Build ``context`` without cache (twice, or ``runs`` times) and compare the images.

    With no context (and no spec) the example bundled with reprokit is used. Images the run
    created are removed afterwards unless ``keep_images``; also on errors and Ctrl-C.
    ``builder`` is ``auto`` (buildx when its plugin answers, else docker), ``docker``,
    ``buildx`` or ``buildah``; ``vary``, ``engines``, ``find_culprits`` and ``suggest`` are
    described in docs/builders.md.
    ``ignore``, ``rules`` and ``config`` shape the explanations as in :func:`compare`; the
    settings file is looked for in the context, then in the current directory.

    >>> result = reprokit.check("path/to/context", network="host")  # doctest: +SKIP
    >>> result.verdict  # doctest: +SKIP
    'equivalent'

    A Packer template as ``context`` (``*.pkr.json``, ``*.pkr.hcl``, a legacy ``*.json``) is
    built twice with ``packer build`` (``variables``: its ``-var``s, ``only``: its ``-only``)
    and its artifacts compared (docs/machine-images.md). ``verify_digests`` as in
    :func:`compare`.
    """
    if context is not None and _is_packer_template(context):
        return _check_packer(context, variables, only, keep_images, base_url, ignore, rules, config)
    plan = _build_plan(
        builder, base_url, vary, vary_build_args, engines, delay, runs, find_culprits
    )
    started = time.monotonic()
    with ExitStack() as stack:
        example = spec is None and context is None
        if spec is None:
            if context is None:
                context = stack.enter_context(example_context())
            spec = BuildSpec(
                context=Path(context),
                dockerfile=dockerfile or "Dockerfile",
                build_args=dict(build_args or {}),
                target=target,
                network=network,
                labels=dict(labels or {}),
                platform=platform,
                pull=pull,
            )
        spec.validate()
        settings = settings_for(config, ignore, rules, search=[spec.context, Path.cwd()])
        spec_dict = spec.to_dict()
        if example:
            spec_dict["example"] = "basic"  # the context was a temporary copy of it
        try:
            with ExitStack() as builds:  # closed (images, archives removed) before reporting
                session = Session(
                    builds,
                    builder=plan.builder,
                    base_url=base_url,
                    keep=keep_images,
                    source_date_epoch=source_date_epoch,
                    platform=platform,
                    opts=plan.opts,
                )
                pipeline = Pipeline(
                    settings=settings,
                    dockerfile=_read_dockerfile(spec.dockerfile_path),
                    target=spec.target,
                    platform=_platform(platform),
                    verify_digests=verify_digests,
                )
                compared = _build_and_compare(session, spec, plan, pipeline.compare)
        except KeyboardInterrupt:
            raise Cancelled("interrupted; the images this run built were removed") from None
        built = replace(
            compared,
            spec=spec_dict,
            builds=list(session.builds),
            run_id=session.run.id,
            kept_images=list(session.kept),
        )
        suggestions = _suggestions(built, spec, base_url, source_date_epoch) if suggest else []
        advised = with_timestamp_advice(replace(built, suggestions=suggestions), _words(spec))
        return replace(advised, duration_s=time.monotonic() - started)


def _words(spec: BuildSpec) -> str:
    """The context (and ``-f DOCKERFILE`` unless the default) as typed on a command line."""
    words = [str(spec.context)]
    if str(spec.dockerfile) != "Dockerfile":
        words += ["-f", str(spec.dockerfile)]
    return shlex.join(words)


def _is_packer_template(context: str | Path) -> bool:
    from .builders.packer import is_template

    return is_template(context)


def _check_packer(
    template: str | Path,
    variables: dict[str, str] | None,
    only: Iterable[str],
    keep: bool,
    base_url: str | None,
    ignore: Iterable[str],
    rules: Iterable[RuleLike],
    config: str | Path | Settings | None,
) -> Result:
    from .builders.packer import check_template

    folder = Path(template).resolve().parent
    pipeline = Pipeline(settings=settings_for(config, ignore, rules, search=[folder, Path.cwd()]))
    return check_template(
        template, pipeline.compare, variables=variables, only=only, keep=keep, base_url=base_url
    )


def _suggestions(
    result: Result, spec: BuildSpec, base_url: str | None, source_date_epoch: int | None
) -> list[str]:
    """Check ``spec`` again with the builders' reproducible setups (see reprokit.suggestions)."""
    if source_date_epoch is not None:
        return []  # the check already used one

    def recheck(builder: str) -> Result:
        return check(spec=spec, builder=builder, base_url=base_url, source_date_epoch=0)

    return suggest(result, str(spec.context), recheck, base_url)


@dataclass
class _Plan:
    builder: str
    variations: list[Variation]
    opts: VaryOptions
    runs: int
    find_culprits: bool


def _build_plan(
    builder: str,
    base_url: str | None,
    vary: str | list[str] | None,
    vary_build_args: list[str] | None,
    engines: str | list[str] | None,
    delay: float,
    runs: int,
    culprits: bool,
) -> _Plan:
    """Check the builder, variations, engines and runs before anything is built."""
    if builder not in CHOICES:
        raise UsageError(f"unknown builder {builder!r}; available: {', '.join(CHOICES)}")
    if runs < 2:
        raise UsageError(f"runs must be at least 2, not {runs}")
    if delay < 0:
        raise UsageError(f"delay must not be negative, not {delay}")
    if culprits and runs != 2:
        raise UsageError("runs and find_culprits do not combine: the search plans its own builds")
    others = [engines] if isinstance(engines, str) else list(engines or [])
    if len(others) > 1:
        raise UsageError(f"one second engine is supported, not {len(others)}: {others}")
    variations = parse_vary(vary, vary_build_args)
    if others and not any(v.name == "engine" for v in variations):
        variations = parse_vary([*(v.label for v in variations), "engine"])
    if culprits and not variations:
        raise UsageError("find_culprits needs variations to try (--vary NAME[,NAME])")
    opts = VaryOptions(delay_s=delay, engine=engine_url(others[0]) if others else None)
    if any(v.name == "engine" for v in variations) and not opts.engine:
        raise UsageError("variation engine needs a second engine (--engine URL_OR_CONTEXT)")
    name = resolve_builder(builder, base_url)
    if name == "buildah" and opts.engine:
        raise UsageError("variation engine needs a Docker builder (docker or buildx), not buildah")
    return _Plan(name, variations, opts, runs, culprits)


def _build_and_compare(session: Session, spec: BuildSpec, plan: _Plan, compare: Compare) -> Result:
    if plan.find_culprits:
        return find_culprits(session, spec, plan.variations, compare)
    return run_builds(session, spec, plan.variations, plan.runs, compare)


def load(path: str | Path, *, show_secrets: bool = False) -> AnyResult:
    """Load a JSON report of any kind (from ``--json``, ``--report x.json``, ``to_json`` or
    ``write``) back into its result: a :class:`Result` for a comparison, a
    :class:`~reprokit.behaviour.result.ParityResult`, an
    :class:`~reprokit.auditing.result.AuditResult` (audit, drift), an
    :class:`~reprokit.packages.model.Inventory`, a :class:`~reprokit.baseline.ReplayResult`
    or an :class:`~reprokit.auditing.images.ImagesResult`. Reports written before kinds
    existed load too. The document is validated against its schema first (a
    :class:`~reprokit.errors.ReportError` names the file and the field); ``show_secrets``
    shows in its outputs what the report holds unredacted."""
    from .kinds import load as load_any

    return load_any(path).revealing(show_secrets)


def fix(
    context: str | Path,
    *,
    dockerfile: str | None = None,
    output: str | Path | None = None,
    in_place: bool = False,
    verify: bool = True,
    rounds: int = FIX_ROUNDS,
    require: str = "equivalent",
    **check_options: Any,
) -> FixResult:
    """Check ``context``, patch its Dockerfile with the fixes found, and (unless not
    ``verify``) rebuild the patched Dockerfile twice per round until ``require`` is met or
    ``rounds`` are used. The patched Dockerfile goes to ``output`` (default
    ``Dockerfile.fixed`` beside the original), or over the original with ``in_place``."""
    if rounds < 1:
        raise UsageError(f"rounds must be at least 1, not {rounds}")
    started = time.monotonic()
    ctx = Path(context)
    source = Path(dockerfile) if dockerfile else Path("Dockerfile")
    source = (source if source.is_absolute() else ctx / source).absolute()
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
    text, current = original, before
    after: Result | None = None
    rounds_done: list[Round] = []
    left: list[Unfixed] = []
    texts, checks = [], [before]  # what each round patched, and each check
    if not before.meets(require):
        for number in range(1, rounds + 1):
            edits = first_edits(plan(current, text, target))
            new_text, _ = apply_edits(text, edits)
            if new_text == text:
                break
            texts.append(text)
            text = new_text
            out.write_text(text, encoding="utf-8")
            if not verify:
                rounds_done.append(Round(number, edits))
                break
            current = check(ctx, dockerfile=str(out.resolve()), **check_options)
            checks.append(current)
            kept = list(current.kept_images)
            rounds_done.append(Round(number, edits, current.verdict, current.reason, kept))
            after = current
            if current.meets(require):
                break
        # the patch keeps only edits that did something: a last check without the others
        if (
            verify
            and current.meets(require)
            and (slim := without_no_effect(original, texts, rounds_done, checks)) is not None
            and slim[0] != text
        ):
            out.write_text(slim[0], encoding="utf-8")
            trial = check(ctx, dockerfile=str(out.resolve()), **check_options)
            kept = list(trial.kept_images)
            number = len(rounds_done) + 1
            rounds_done.append(Round(number, [], trial.verdict, trial.reason, kept, slim[1]))
            if trial.meets(require):
                text, current, after = slim[0], trial, trial
            else:  # they were needed together: the verified patch stands
                out.write_text(text, encoding="utf-8")
        if not verify:  # what the applied plan has no edit for
            final = plan(before, original, target)
        else:
            final = plan(current, text, target) if not current.meets(require) else []
        left = unfixed(final, current, require)
        if not rounds_done and not left:
            left = [
                Unfixed(None, "", c, n, "no step to patch")
                for c, n in Counter(d.cause for d in current.file_records).items()
            ]
    return FixResult(
        dockerfile=out,
        original=original,
        patched=text,
        before=before,
        after=after,
        require=require,
        round_records=rounds_done,
        unfixed_records=left,
        duration_s=time.monotonic() - started,
        verified=verify,
        source=source,
    )
