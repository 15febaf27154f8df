"""The public entry points: :func:`check` builds twice and compares, :func:`compare` diffs two
existing images, :func:`load` reads a saved JSON report back.

>>> import reprokit
>>> callable(reprokit.check) and callable(reprokit.compare)
True
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from .builders import BUILDERS
from .compare import compare_config, compare_layers, compare_merged, fill_shared_layers, verdict
from .engine import Run, connect
from .errors import Cancelled, UsageError
from .example import example_context
from .inventory import package_diff
from .layout import Platform, parse_platform
from .model import ImageInfo
from .report.json import load as _load
from .result import Result
from .sources import DaemonSource, Image, Source, as_source, config_platform
from .spec import BuildSpec


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


def read_pair(a: Source, b: Source) -> tuple[Image, Image]:
    """Read both images concurrently; a layer both have (same diff_id) is read only once."""
    ids_a = a.diff_ids()
    b.diff_ids()  # fail fast (image not found) before any export starts
    skip_b = set(ids_a or ())
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="reprokit-read") as pool:
        future_a = pool.submit(a.read, (), cancel)
        future_b = pool.submit(b.read, skip_b, cancel)
        try:
            image_a, image_b = future_a.result(), future_b.result()
        except BaseException:
            cancel.set()
            raise
    fill_shared_layers(image_a, image_b)
    return image_a, image_b


def compare(
    a: str | Source,
    b: str | Source,
    *,
    platform: str | Platform | None = None,
) -> Result:
    """Compare two existing images given as transport references (or :class:`Source` objects).

    >>> result = compare("docker-archive:a.tar", "oci:./layout")  # doctest: +SKIP
    >>> result.verdict, result.files.head()  # doctest: +SKIP
    """
    started = time.monotonic()
    plat = _platform(platform)
    source_a, source_b = as_source(a, plat), as_source(b, plat)
    image_a, image_b = read_pair(source_a, source_b)
    layers, files = compare_layers(image_a, image_b)
    config = compare_config(image_a.config, image_b.config)
    merged = compare_merged(image_a, image_b)
    outcome, reason = verdict(image_a, image_b, config, files, merged)
    return Result(
        verdict=outcome,
        reason=reason,
        images=(_info(image_a), _info(image_b)),
        layer_diffs=layers,
        config_diffs=config,
        file_diffs=files,
        merged_diffs=merged,
        package_diffs=package_diff(source_a, source_b, image_a, image_b),
        duration_s=time.monotonic() - started,
    )


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
    builder: str = "docker",
    base_url: str | None = None,
    spec: BuildSpec | None = None,
) -> Result:
    """Build ``context`` twice without cache and compare the two images.

    With no context (and no spec) the example bundled with reprokit is used. Images the run
    created are removed afterwards unless ``keep_images``; also on errors and Ctrl-C.

    >>> result = reprokit.check("path/to/context", network="host")  # doctest: +SKIP
    >>> result.verdict  # doctest: +SKIP
    'equivalent'
    """
    if builder not in BUILDERS:
        raise UsageError(f"unknown builder {builder!r}; available: {', '.join(sorted(BUILDERS))}")
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
        spec_dict = spec.to_dict()
        if example:
            spec_dict["example"] = "basic"  # the context was a temporary copy of it
        client = connect(base_url, timeout=3600)
        stack.callback(client.close)
        run = Run(client, keep=keep_images)
        try:
            build = BUILDERS[builder](client)
            builds = [build.build(spec, f"reprokit-build:{run.id}-{n}", run, n) for n in "ab"]
            result = compare(
                DaemonSource(builds[0].tag, base_url=base_url),
                DaemonSource(builds[1].tag, base_url=base_url),
                platform=platform,
            )
        except KeyboardInterrupt:
            raise Cancelled("interrupted; the images this run built were removed") from None
        finally:
            run.cleanup()
        result.spec = spec_dict
        result.builds = builds
        result.run_id = run.id
        result.kept_images = list(run.kept)
        result.duration_s = time.monotonic() - started
        return result


def load(path: str | Path) -> Result:
    """Load a JSON report (from ``--json`` or :meth:`Result.to_json`) back into a Result."""
    return _load(path)
