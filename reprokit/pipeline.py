"""One comparison, one way: read both images (one pass, with the taps later stages register)
→ compare (:mod:`reprokit.diff`) → explain (:mod:`reprokit.explain`) → verdict
(:mod:`reprokit.verdict`, judged once, last) → one :class:`Result`, built once.

>>> from reprokit.diff import Differences
>>> from reprokit.model import ConfigDiff, ImageInfo
>>> img = ImageInfo("a", "sha256:1", ["sha256:l"])
>>> diffs = Differences([], [ConfigDiff("container_config.Env[0]", "A=1", "A=2")], [], [])
>>> r = assemble((img, img), diffs, explain(diffs))
>>> r.verdict, r.config_records[0].cause, diffs.config[0].cause
('equivalent', 'image-metadata', None)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .diff import Differences, compare_images
from .explain.explainer import explain, layer_pairing
from .explain.explanation import Explanations
from .explain.pairing import LayerPairing
from .explain.settings import Settings
from .gcpause import pausing_gc
from .model import ImageInfo, PackageDiff
from .packages.diff import package_plan
from .packages.parsers import PACKAGE_DB
from .read.pair import image_info, read_pair
from .result import Result
from .sources.image import Source
from .sources.layout import Platform
from .sources.refs import as_source
from .verdict import Tolerance, judge
from .verdict import tolerance as bundle

#: compares two images (sources or transport references) into a Result
Compare = Callable[[Source, Source], Result]


def _is_package_db(path: str) -> bool:  # package databases are kept for the package diff
    return PACKAGE_DB.match(path) is not None


@dataclass(frozen=True)
class Pipeline:
    """What shapes every comparison of a check or a diff; :meth:`compare` runs one."""

    settings: Settings = field(default_factory=Settings)
    #: the Dockerfile's text, to map layers to its steps (``target``: the stage built)
    dockerfile: str | None = None
    target: str | None = None
    platform: Platform | None = None
    #: the tolerance bundle of the verdict (reprokit.verdict.TOLERANCES)
    tolerance: str | Tolerance = "equivalent"
    #: read every layer through bytes hashed against its diff_id (never in place)
    verify_digests: bool = False

    def __post_init__(self) -> None:
        bundle(self.tolerance)  # an unknown bundle fails before anything is read

    def compare(self, a: str | Source, b: str | Source) -> Result:
        """Read, compare and explain two images; judge the verdict; return the Result."""
        started = time.monotonic()
        source_a, source_b = as_source(a, self.platform), as_source(b, self.platform)
        if self.verify_digests:
            source_a, source_b = source_a.verifying(), source_b.verifying()
        settings = self.settings

        def pairing(ids_a: list[str], ids_b: list[str]) -> LayerPairing:
            return layer_pairing(ids_a, ids_b, settings, keep=_is_package_db)

        image_a, image_b, taps = read_pair(source_a, source_b, pairing)
        first_pass = taps[0]
        assert isinstance(first_pass, LayerPairing)
        diffs = compare_images(image_a, image_b)
        packages = package_plan(image_a, image_b, already=first_pass.kept)
        explanations = explain(
            diffs,
            image_a,
            image_b,
            (source_a, source_b),
            settings,
            self.dockerfile,
            self.target,
            first_pass,
            packages,
        )
        del first_pass, taps
        return assemble(
            (image_info(image_a), image_info(image_b)),
            diffs,
            explanations,
            packages.diff() if packages else [],
            self.tolerance,
            started=started,
            consume=True,  # the differences are this call's own
        )


@pausing_gc
def assemble(
    images: tuple[ImageInfo, ImageInfo],
    diffs: Differences,
    explanations: Explanations,
    package_records: list[PackageDiff] | None = None,
    tolerance: str | Tolerance = "equivalent",
    started: float | None = None,
    *,
    consume: bool = False,
) -> Result:
    """The Result: new records carrying their explanations, and the verdict judged on them
    once (ignored differences not counted), by the named ``tolerance`` bundle. ``consume``:
    ``diffs`` is the caller's to give up, its file lists are emptied on the way (the
    differences and their explained copies are never all alive at once)."""
    files = explanations.files_explained(diffs.files, consume=consume)
    merged = explanations.merged_explained(diffs.merged, consume=consume)
    config = explanations.config_explained(diffs.config)
    outcome = judge(images, config, files, merged, tolerance)
    return Result(
        verdict=outcome.verdict,
        reason=outcome.reason,
        images=images,
        layer_records=list(diffs.layers),
        config_records=config,
        file_records=files,
        merged_records=merged,
        step_records=explanations.steps,
        explained=explanations.explained,
        package_records=list(package_records or []),
        duration_s=None if started is None else time.monotonic() - started,
    )
