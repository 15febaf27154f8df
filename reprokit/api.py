"""The public entry points: :func:`check` builds twice and compares, :func:`compare` diffs two
existing images, :func:`load` reads a saved JSON report back.

>>> import reprokit
>>> callable(reprokit.check) and callable(reprokit.compare)
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .builders import CHOICES, resolve_builder
from .diff import compare_config, compare_layers, compare_merged, fill_shared_layers, verdict
from .errors import Cancelled, UsageError
from .example import example_context
from .explain.explainer import explain_result, layer_pairing
from .explain.pairing import LayerPairing
from .explain.rules import Rule
from .explain.settings import Settings, find_settings, read_settings
from .model import ImageInfo
from .packages.diff import package_plan
from .packages.parsers import PACKAGE_DB
from .result import Result
from .runs import Compare, Session, engine_url, find_culprits, run_builds
from .sources.image import Image, Source, config_platform
from .sources.layout import Platform, parse_platform
from .sources.refs import as_source
from .spec import BuildSpec
from .suggestions import suggest
from .variations import Variation, VaryOptions, parse_vary

if TYPE_CHECKING:
    from .kinds import AnyResult


def _platform(platform: str | Platform | None) -> Platform | None:
    if platform is None or isinstance(platform, Platform):
        return platform
    return parse_platform(platform)


def _info(image: Image) -> ImageInfo:
    cfg = image.config
    return ImageInfo(
        ref=image.ref,
        id=image.id,
        diff_ids=list(image.diff_ids),
        size=image.size(),
        created=cfg.get("created"),
        platform=config_platform(cfg) or None,
        repo_tags=image.repo_tags,
    )


def read_pair(
    a: Source, b: Source, settings: Settings | None = None
) -> tuple[Image, Image, LayerPairing]:
    """Read both images concurrently; a layer both have (same diff_id) is read only once.

    The contents of small files in layers that differ are paired on the way (for the
    explanations' evidence); the pairing returned holds their facts.
    """
    ids_a = a.diff_ids()
    ids_b = b.diff_ids()  # fail fast (image not found) before any export starts
    skip_b = set(ids_a or ())

    def is_db(path: str) -> bool:  # package databases are kept for the package diff
        return PACKAGE_DB.match(path) is not None

    pairing = layer_pairing(ids_a or [], ids_b or [], settings or Settings(), keep=is_db)
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reprokit-read") as pool:
        future_a = pool.submit(a.read, (), cancel, pairing.tap_for("a"))
        future_b = pool.submit(b.read, skip_b, cancel, pairing.tap_for("b"))
        try:
            image_a, image_b = future_a.result(), future_b.result()
        except BaseException:
            cancel.set()
            raise
    fill_shared_layers(image_a, image_b)
    pairing.finish()
    return image_a, image_b, pairing


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


def _count_ignores(result: Result, image_a: Image, image_b: Image) -> None:
    """Judge the verdict on the differences that count; say how many were ignored."""
    ignored = result.ignored_count
    if not ignored:
        return
    result.verdict, reason = verdict(
        image_a,
        image_b,
        [c for c in result.config_records if not c.ignored],
        [d for d in result.file_records if not d.ignored],
        [d for d in result.merged_records if not d.ignored],
    )
    result.reason = f"{reason} ({ignored} ignored difference(s) not counted)"


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
) -> Result:
    """Compare two existing images given as transport references (or :class:`Source` objects),
    and explain every difference.

    ``ignore``: path (or config field) patterns reported as ignored and not counted against the
    verdict; ``rules``: extra rules (:class:`reprokit.Rule` or dicts as in
    reprokit.toml); ``config``: a settings file or :class:`~reprokit.Settings` (default:
    ``reprokit.toml`` or ``[tool.reprokit]`` in the current directory); ``dockerfile``: maps
    layers to its lines (``target``: the stage built).

    >>> result = compare("docker-archive:a.tar", "oci:./layout")  # doctest: +SKIP
    >>> result.verdict, result.files.head()  # doctest: +SKIP
    """
    started = time.monotonic()
    settings = settings_for(config, ignore, rules, search=[Path.cwd()])
    text = _read_dockerfile(dockerfile)
    plat = _platform(platform)
    source_a, source_b = as_source(a, plat), as_source(b, plat)
    image_a, image_b, first_pass = read_pair(source_a, source_b, settings)
    layers, files = compare_layers(image_a, image_b)
    config_records = compare_config(image_a.config, image_b.config)
    merged = compare_merged(image_a, image_b)
    outcome, reason = verdict(image_a, image_b, config_records, files, merged)
    result = Result(
        verdict=outcome,
        reason=reason,
        images=(_info(image_a), _info(image_b)),
        layer_records=layers,
        config_records=config_records,
        file_records=files,
        merged_records=merged,
    )
    packages = package_plan(image_a, image_b, already=first_pass.kept)
    explain_result(
        result, image_a, image_b, source_a, source_b, settings, text, target, first_pass, packages
    )
    result.package_records = packages.diff() if packages else []
    _count_ignores(result, image_a, image_b)
    result.duration_s = time.monotonic() - started
    return result


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
    """
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
                pair: Compare = lambda a, b: compare(  # noqa: E731
                    a,
                    b,
                    platform=platform,
                    config=settings,
                    target=spec.target,
                    dockerfile=spec.dockerfile_path,
                )
                result = _build_and_compare(session, spec, plan, pair)
        except KeyboardInterrupt:
            raise Cancelled("interrupted; the images this run built were removed") from None
        result.spec = spec_dict
        result.builds = list(session.builds)
        result.run_id = session.run.id
        result.kept_images = list(session.kept)
        if suggest:
            result.suggestions = _suggestions(result, spec, base_url, source_date_epoch)
        result.duration_s = time.monotonic() - started
        return result


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
