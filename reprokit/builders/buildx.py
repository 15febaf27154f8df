"""BuildKit through the ``docker buildx`` CLI, on the target engine's default builder instance.

Where the image goes depends on the engine's image store:

- containerd image store: ``--output type=oci,dest=ARCHIVE`` (with ``rewrite-timestamp=true``
  when a ``SOURCE_DATE_EPOCH`` is given), read back through ``oci-archive:``;
- classic store (overlay2): ``--output type=docker,name=TAG``, loaded into the engine. The
  ``docker`` driver cannot export OCI there, and it silently ignores ``rewrite-timestamp``:
  files keep the build context's mtimes. The build records that as a note.

>>> parse_vertex("#6 [stage-1 2/3] RUN make")
('6', 'stage-1 2/3', 'RUN make')
"""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path
from typing import Any

import docker.errors
import requests

from .. import progress
from ..engine import Run
from ..errors import BuildError
from ..model import BuildInfo
from ..spec import BuildSpec
from .process import LOG_TAIL, build_failure, common_flags, engine_env, output, run_logged

_VERTEX = re.compile(r"^#(\d+) \[([^\]]+)\] (.*)$")
_FAILED = re.compile(r"^\s*> \[([^\]]+)\] (.*?):?$")
IGNORED_REWRITE = (
    "rewrite-timestamp=true has no effect on the classic image store (docker driver, "
    "--output type=docker): files keep the build context's mtimes; turn on the containerd "
    "image store to get clamped timestamps"
)


def parse_vertex(line: str) -> tuple[str, str, str] | None:
    """``(vertex, step, instruction)`` of a BuildKit plain-progress ``#N [i/n] INSTR`` line."""
    match = _VERTEX.match(line.strip())
    return (match.group(1), match.group(2), match.group(3)) if match else None


def buildx_version(base_url: str | None = None) -> str | None:
    """``docker buildx version``'s line, or None when the plugin does not answer."""
    text = output(["docker", "buildx", "version"], engine_env(base_url), timeout=30)
    return text.strip().splitlines()[0] if text and text.strip() else None


def containerd_store(client: Any) -> bool:
    """Whether the engine keeps images in the containerd image store."""
    try:
        status = client.info().get("DriverStatus") or []
    except (docker.errors.APIError, requests.RequestException):
        return False
    return any("containerd.snapshotter" in str(value) for _, value in status)


class BuildxBuilder:
    """``docker buildx build --no-cache`` on the engine ``base_url`` points at."""

    name = "buildx"

    def __init__(
        self,
        client: Any,
        *,
        base_url: str | None = None,
        workdir: Path | None = None,
        source_date_epoch: int | None = None,
    ):
        self.client = client
        self.base_url = base_url
        self.workdir = workdir
        self.source_date_epoch = source_date_epoch
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = buildx_version(self.base_url) or "unknown"
        return self._version

    def command(self, spec: BuildSpec, tag: str, run: Run, name: str) -> tuple[list[str], str]:
        """The ``docker buildx build`` command line and the reference to read the image from."""
        sde = self.source_date_epoch
        cmd = ["docker", "buildx", "build", "--no-cache", "--progress", "plain"]
        cmd += ["--provenance=false", "--sbom=false", "--network", spec.network]
        cmd += ["-f", str(spec.dockerfile_path)]
        args = dict(spec.build_args)
        if sde is not None:
            args.setdefault("SOURCE_DATE_EPOCH", str(sde))
        cmd += common_flags(spec, run, args)
        if spec.pull:
            cmd.append("--pull")
        rewrite = ",rewrite-timestamp=true" if sde is not None else ""
        if containerd_store(self.client):
            if self.workdir is None:
                raise BuildError(f"build {name}: the buildx builder needs a work directory")
            archive = self.workdir / f"buildx-{run.id}-{name}.tar"
            cmd += ["--output", f"type=oci,dest={archive},name={tag}{rewrite}"]
            ref = f"oci-archive:{archive}"
        else:
            cmd += ["--output", f"type=docker,name={tag}{rewrite}"]
            ref = f"docker-daemon:{tag}"
        if self.workdir is not None:
            cmd += ["--iidfile", str(self.workdir / f"buildx-{run.id}-{name}.iid")]
        return [*cmd, str(spec.context)], ref

    def build(self, spec: BuildSpec, tag: str, run: Run, name: str) -> BuildInfo:
        """Build ``spec`` once; see :class:`reprokit.builders.base.Builder`."""
        spec.validate()
        cmd, ref = self.command(spec, tag, run, name)
        sde = self.source_date_epoch
        extra = {} if sde is None else {"SOURCE_DATE_EPOCH": str(sde)}
        log: deque[str] = deque(maxlen=2000)
        steps: dict[str, tuple[str, str]] = {}
        failed: list[tuple[str, str]] = []

        bar = progress.bar(f"build {name}", unit="step")

        def follow(line: str) -> None:
            vertex = parse_vertex(line)
            if vertex:
                steps[vertex[0]] = (vertex[1], vertex[2])
                bar.step(vertex[1].split()[-1])
            match = _FAILED.match(line)
            if match:
                failed.append((match.group(1), match.group(2)))

        iidfile = self.workdir / f"buildx-{run.id}-{name}.iid" if self.workdir else None
        started = time.monotonic()
        daemon = ref.startswith("docker-daemon:")
        if daemon:
            run.track_image(tag, final=True)  # registered first: removed also if interrupted
        try:
            status = run_logged(cmd, engine_env(self.base_url, extra), log, follow)
        finally:
            bar.close()
        if status != 0:
            if not daemon:
                Path(ref.removeprefix("oci-archive:")).unlink(missing_ok=True)
            errors = [line.removeprefix("ERROR: ") for line in log if line.startswith("ERROR")]
            raise build_failure(name, failed[-1] if failed else None, errors, status, log)
        notes = []
        if daemon and self.source_date_epoch is not None:
            notes.append(IGNORED_REWRITE)
        options: dict[str, Any] = {"command": [*cmd[:-1], "CONTEXT"]}
        if extra:
            options["env"] = extra
        options["image_store"] = "classic" if daemon else "containerd"
        return BuildInfo(
            name=name,
            builder=self.name,
            tag=tag,
            image_id=self._image_id(tag, ref, iidfile),
            duration_s=time.monotonic() - started,
            log_tail=list(log)[-LOG_TAIL:],
            log=list(log),
            version=self.version(),
            options=options,
            engine=self.base_url,
            source=ref,
            notes=notes,
        )

    def _image_id(self, tag: str, ref: str, iidfile: Path | None) -> str:
        if iidfile is not None and iidfile.is_file():
            return iidfile.read_text().strip()
        try:
            return str(self.client.api.inspect_image(tag)["Id"])
        except (docker.errors.APIError, requests.RequestException):
            return ""
