"""Several builds of one spec: N runs compared against the first, and the culprit search.

:class:`Session` owns what the builds need (engines, builders, a work directory for varied
contexts and OCI archives) and cleans it all up when its ``ExitStack`` closes. :func:`run_builds`
builds ``runs`` times (every build after the first with the chosen variations) and compares each
against the first; :func:`find_culprits` follows reprotest's auto mode: the baseline twice, then
all variations, then one variation at a time.

>>> build_name(0), build_name(2), build_name(30)
('a', 'c', 'r30')
"""

from __future__ import annotations

import os
import string
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .builders import Builder, make_builder
from .builders.buildx import IGNORED_REWRITE
from .engine import Run, open_client
from .errors import UsageError
from .model import VERDICTS, BuildInfo, Culprit, CulpritSearch, FileDiff, RunComparison
from .pipeline import Compare
from .result import Result
from .sources.daemon import DaemonSource
from .sources.image import Source
from .sources.layout import parse_platform
from .sources.refs import as_source
from .spec import BuildSpec
from .variations import Variation, VaryOptions, prepare

EXPLAIN = {
    "context-mtime": "COPY/ADD keep the build context's file mtimes, and a fresh checkout "
    "gives them other ones",
    "context-umask": "COPY/ADD keep the build context's permission bits, which follow the "
    "umask of the checkout",
    "context-path": "the build records the directory it was built from",
    "time": "the build records the time it ran (a date, a log, a creation time)",
    "build-arg": "the build arg's value reaches the image (used in RUN, ENV, LABEL or history)",
    "engine": "the other engine builds differently (its version, store or settings)",
}


def build_name(n: int) -> str:
    """The name of the ``n``-th build of a check: a, b, c, … then r26, r27, …"""
    return string.ascii_lowercase[n] if n < 26 else f"r{n}"


def engine_url(text: str) -> str:
    """A DOCKER_HOST URL for ``text``: a URL as is, else a docker context's endpoint."""
    if "://" in text:
        return text
    from .builders.process import output

    host = output(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", text])
    if not host or not host.strip():
        raise UsageError(f"engine {text!r} is neither a URL nor a docker context name")
    return host.strip()


@dataclass
class Session:
    """Engines, builders and the work directory of one check; closed with ``stack``."""

    stack: ExitStack
    builder: str
    base_url: str | None
    keep: bool = False
    source_date_epoch: int | None = None
    platform: str | None = None
    opts: VaryOptions = field(default_factory=VaryOptions)
    _engines: dict[str | None, tuple[Run, Builder]] = field(default_factory=dict)
    _count: int = 0
    builds: list[BuildInfo] = field(default_factory=list)
    #: every comparison made, in order
    comparisons: list[RunComparison] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    _engine_of: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="reprokit-")
        self.workdir = Path(self.stack.enter_context(tmp))
        self.run = self._engine(self.base_url)[0]

    def _engine(self, url: str | None) -> tuple[Run, Builder]:
        """The run and builder of engine ``url``, connected on first use."""
        if url not in self._engines:
            client = None  # buildah builds outside any Docker engine
            if self.builder != "buildah":
                client = open_client(url, "build")
                self.stack.callback(client.close)
            main = self._engines.get(self.base_url)
            run = Run(client, keep=self.keep)
            if main:
                run.id = main[0].id  # one run id, one label, on every engine
            self.stack.callback(self._cleanup, run)
            builder = make_builder(
                self.builder,
                client,
                base_url=url,
                workdir=self.workdir,
                source_date_epoch=self.source_date_epoch,
            )
            self._engines[url] = (run, builder)
        return self._engines[url]

    def _cleanup(self, run: Run) -> None:
        run.cleanup()
        self.kept += run.kept

    def build(self, spec: BuildSpec, variations: list[Variation]) -> BuildInfo:
        """Build ``spec`` once with ``variations`` applied; the build is named a, b, c, …"""
        name = build_name(self._count)
        self._count += 1
        prepared = prepare(spec, variations, self.workdir, self._count, self.opts)
        engine = self.base_url if prepared.engine is None else prepared.engine
        if engine != self.base_url and self.builder == "buildah":
            raise UsageError("variation engine needs a Docker builder (docker or buildx)")
        if prepared.delay_s:
            time.sleep(prepared.delay_s)
        run, builder = self._engine(engine)
        info = builder.build(prepared.spec, f"reprokit-build:{run.id}-{name}", run, name)
        info.variations = list(prepared.applied)
        self._engine_of[name] = engine
        if self.builder != "buildah":  # buildah builds outside any Docker engine
            info.engine = engine or os.environ.get("DOCKER_HOST") or None
        self.builds.append(info)
        return info

    def source(self, info: BuildInfo) -> Source:
        """Where to read a build's image from."""
        ref = info.source or f"docker-daemon:{info.tag}"
        plat = parse_platform(self.platform) if self.platform else None
        if ref.startswith("docker-daemon:"):
            engine = self._engine_of.get(info.name, info.engine)
            return DaemonSource(ref.removeprefix("docker-daemon:"), plat, engine)
        return as_source(ref, plat)

    def compare(self, a: BuildInfo, b: BuildInfo, compare: Compare, role: str) -> Result:
        """``compare`` the images of builds ``a`` and ``b``; the comparison is recorded."""
        result = compare(self.source(a), self.source(b))
        run = RunComparison(
            a=a.name,
            b=b.name,
            verdict=result.verdict,
            reason=result.reason,
            variations=list(b.variations),
            summary=result.summary,
            role=role,
        )
        self.comparisons.append(run)
        return replace(result, runs=[run])


def _rank(verdict: str) -> int:
    return VERDICTS.index(verdict)


def _worst(results: list[Result]) -> Result:
    """The first result with the worst verdict."""
    return max(results, key=lambda r: _rank(r.verdict))  # max keeps the first of equals


def run_builds(
    session: Session, spec: BuildSpec, variations: list[Variation], runs: int, compare: Compare
) -> Result:
    """Build ``runs`` times (all but the first with ``variations``), compare each with the first."""
    if runs < 2:
        raise UsageError(f"--runs needs at least 2 builds, not {runs}")
    first = session.build(spec, [])
    results = []
    for _ in range(1, runs):
        other = session.build(spec, variations)
        results.append(session.compare(first, other, compare, "run"))
    return replace(_worst(results), runs=list(session.comparisons))


def _file_key(d: FileDiff) -> tuple[Any, ...]:
    if d.layer is None:
        return ("merged", d.path, tuple(d.fields))
    return ("file", d.layer, d.path, tuple(d.fields))


def _signature(result: Result) -> set[tuple[Any, ...]]:
    """Every difference of ``result`` as a hashable key (values left out)."""
    keys: set[tuple[Any, ...]] = {("config", c.field) for c in result.config_records}
    keys |= {("layer", d.index) for d in result.layer_records if not d.same}
    keys |= {_file_key(d) for d in (*result.file_records, *result.merged_records)}
    return keys


def _breaks(result: Result, baseline: Result) -> bool:
    """Worse than the baseline, or differences the baseline does not have."""
    worse = _rank(result.verdict) > _rank(baseline.verdict)
    return worse or bool(_signature(result) - _signature(baseline))


def culprit(
    variation: str, result: Result, baseline: Result, builds: list[BuildInfo], sde: int | None
) -> Culprit:
    """What ``variation`` alone did to the images, compared with the baseline's differences."""
    base = _signature(baseline)
    diffs = result.merged_records or result.file_records
    files = [
        {"path": d.path, "fields": list(d.fields), "cause": d.cause}
        for d in diffs
        if _file_key(d) not in base
    ]
    base_config = {k[1] for k in base if k[0] == "config"}
    config = sorted({c.field for c in result.config_records} - base_config)
    breaks = _breaks(result, baseline)
    explanation = ""
    if breaks:
        name = variation.partition("=")[0]
        explanation = EXPLAIN.get(name, "")
        mtimes = [d for d in diffs if "mtime" in d.fields]
        ignored = any(IGNORED_REWRITE in b.notes for b in builds)
        if mtimes and ignored and sde is not None:
            late = [
                d.path
                for d in mtimes
                if any(r is not None and r.mtime is not None and r.mtime > sde for r in (d.a, d.b))
            ]
            if late:
                explanation += (
                    f"; rewrite-timestamp was ignored: {len(late)} file(s) keep mtimes after "
                    f"SOURCE_DATE_EPOCH={sde} (e.g. {late[0]}), because {IGNORED_REWRITE}"
                )
    return Culprit(
        variation=variation,
        breaks=breaks,
        verdict=result.verdict,
        reason=result.reason,
        files=files,
        config=config,
        explanation=explanation,
    )


def find_culprits(
    session: Session, spec: BuildSpec, variations: list[Variation], compare: Compare
) -> Result:
    """reprotest's auto mode: baseline twice, then all variations, then one at a time."""
    if not variations:
        raise UsageError("--find-culprits needs variations to try (--vary NAME[,NAME])")
    first = session.build(spec, [])
    baseline = session.compare(first, session.build(spec, []), compare, "baseline")
    if baseline.verdict == "different":
        search = CulpritSearch(
            conclusion="not reproducible even under identical conditions: " + baseline.reason,
            baseline_verdict=baseline.verdict,
        )
        return replace(baseline, runs=list(session.comparisons), culprits=search)
    everything = session.compare(first, session.build(spec, variations), compare, "all")
    search = CulpritSearch(conclusion="", baseline_verdict=baseline.verdict)
    search.all_verdict = everything.verdict
    sde = session.source_date_epoch
    if not _breaks(everything, baseline):
        search.conclusion = (
            f"no chosen variation breaks reproducibility: with all of them the images are still "
            f"{everything.verdict}"
        )
    else:
        for variation in variations:
            if len(variations) == 1:
                alone, pair = everything, [first, session.builds[-1]]
            else:
                other = session.build(spec, [variation])
                alone, pair = session.compare(first, other, compare, "only"), [first, other]
            search.culprits.append(culprit(variation.label, alone, baseline, pair, sde))
        breaking = search.breaking
        search.conclusion = (
            f"variation(s) that break reproducibility: {', '.join(breaking)}"
            if breaking
            else "no single variation breaks reproducibility; only their combination does"
        )
    main = everything if _rank(everything.verdict) >= _rank(baseline.verdict) else baseline
    return replace(main, runs=list(session.comparisons), culprits=search)
