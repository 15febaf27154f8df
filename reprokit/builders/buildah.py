"""``buildah bud`` (Debian's buildah 1.28), written to an OCI archive read through ``oci-archive:``.

buildah keeps images in its own storage (containers/storage), not in the Docker Engine: base
images must be there (or ``FROM scratch``). Builds use ``--isolation chroot``, the isolation
that works without a user namespace or an OCI runtime setup; with chroot isolation buildah
1.28 refuses ``--network none``, so RUN steps see the host network (recorded in the build's
options). What a build makes in buildah's storage (its image, containers of failed steps) is
removed when the build ends.

>>> parse_buildah_step("STEP 2/3: RUN make")
('2/3', 'RUN make')
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from pathlib import Path
from typing import Any

from .. import progress
from ..engine import Run, log
from ..errors import BuildError
from ..model import BuildInfo
from ..spec import BuildSpec
from .process import LOG_TAIL, build_failure, common_flags, output, run_logged

_STEP = re.compile(r"^STEP (\d+/\d+): (.*)$")
NETWORK_NOTE = (
    "buildah 1.28 refuses --network none with --isolation chroot: RUN steps see the host network"
)


def parse_buildah_step(line: str) -> tuple[str, str] | None:
    """``(number, instruction)`` of a ``STEP N/M: INSTR`` line."""
    match = _STEP.match(line.strip())
    return (match.group(1), match.group(2)) if match else None


def buildah_version() -> str | None:
    """The buildah version (``1.28.2``), or None when buildah is not installed."""
    text = output(["buildah", "--version"], timeout=30)
    if not text:
        return None
    match = re.search(r"version (\S+)", text)
    return match.group(1) if match else text.strip()


def _containers() -> set[str]:
    text = output(["buildah", "containers", "--all", "--json"]) or "[]"
    try:
        return {c["id"] for c in json.loads(text) or []}
    except (ValueError, KeyError, TypeError):
        return set()


class BuildahBuilder:
    """``buildah bud --isolation chroot`` then ``buildah push`` to an OCI archive."""

    name = "buildah"

    def __init__(
        self,
        client: Any = None,
        *,
        base_url: str | None = None,
        workdir: Path | None = None,
        source_date_epoch: int | None = None,
    ):
        self.workdir = workdir
        self.source_date_epoch = source_date_epoch
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = buildah_version() or "unknown"
        return self._version

    def command(self, spec: BuildSpec, tag: str, run: Run) -> list[str]:
        """The ``buildah bud`` command line."""
        cmd = ["buildah", "bud", "--isolation", "chroot", "--no-cache", "--rm", "--force-rm"]
        cmd += ["--layers=false", "-f", str(spec.dockerfile_path)]
        if spec.network == "host":
            cmd += ["--network", "host"]
        args = dict(spec.build_args)
        if self.source_date_epoch is not None:
            cmd += ["--timestamp", str(self.source_date_epoch)]
            # --timestamp clamps times; RUN steps (pip, compileall) need the build arg too
            args.setdefault("SOURCE_DATE_EPOCH", str(self.source_date_epoch))
        cmd += common_flags(spec, run, args)
        cmd += ["--pull=true" if spec.pull else "--pull-never"]
        return [*cmd, "-t", tag, str(spec.context)]

    def build(self, spec: BuildSpec, tag: str, run: Run, name: str) -> BuildInfo:
        """Build ``spec`` once; see :class:`reprokit.builders.base.Builder`."""
        spec.validate()
        if self.workdir is None:
            raise BuildError(f"build {name}: the buildah builder needs a work directory")
        local = "localhost/" + tag
        cmd = self.command(spec, local, run)
        archive = self.workdir / f"buildah-{run.id}-{name}.tar"
        lines: deque[str] = deque(maxlen=2000)
        steps: list[tuple[str, str]] = []

        bar = progress.bar(f"build {name}", unit="step")

        def follow(line: str) -> None:
            step = parse_buildah_step(line)
            if step:
                steps.append(step)
                bar.step(step[0])

        before = _containers()
        started = time.monotonic()
        try:
            status = run_logged(cmd, None, lines, follow)
            if status == 0:
                status = run_logged(
                    ["buildah", "push", "--quiet", local, f"oci-archive:{archive}"], None, lines
                )
            if status != 0:
                archive.unlink(missing_ok=True)
                errors = [line for line in lines if line.startswith(("Error", "error"))]
                raise build_failure(name, steps[-1] if steps else None, errors, status, lines)
            inspect = ["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}"]
            image_id = output([*inspect, local]) or ""
        finally:
            bar.close()
            self._clean(local, before)
        options: dict[str, Any] = {"command": [*cmd[:-1], "CONTEXT"], "isolation": "chroot"}
        notes = []
        if spec.network == "none":
            options["network"] = "host"
            notes.append(NETWORK_NOTE)
        return BuildInfo(
            name=name,
            builder=self.name,
            tag=tag,
            image_id="sha256:" + image_id.strip().removeprefix("sha256:") if image_id else "",
            duration_s=time.monotonic() - started,
            log_tail=list(lines)[-LOG_TAIL:],
            log=list(lines),
            version=self.version(),
            options=options,
            source=f"oci-archive:{archive}",
            notes=notes,
        )

    @staticmethod
    def _clean(image: str, before: set[str]) -> None:
        """Remove the build's image and the working containers it left in buildah's storage."""
        for container in _containers() - before:
            if output(["buildah", "rm", container]) is None:
                log.warning("could not remove buildah container %s", container)
        output(["buildah", "rmi", "--force", image])
