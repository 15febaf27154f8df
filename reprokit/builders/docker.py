"""The Docker Engine's classic builder, through the Docker SDK's build API.

Every step of a classic build commits an image. reprokit records each one it sees in the
build stream (but not the base image a ``FROM`` names) so that a failed or interrupted build
leaves nothing behind.

>>> parse_step("Step 3/5 : RUN make")
('3/5', 'RUN make')
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any

import docker.errors
import requests

from .. import progress
from ..engine import Run, engine_error
from ..errors import BuildError, EngineError
from ..model import BuildInfo
from ..spec import BuildSpec

_STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_BUILT = re.compile(r"^Successfully built ([0-9a-f]{12,64})$")
LOG_TAIL = 30
IGNORED_SDE = (
    "the classic builder passes SOURCE_DATE_EPOCH as a build arg only: it does not clamp "
    "timestamps (use --builder buildx or buildah for that)"
)


def parse_step(line: str) -> tuple[str, str] | None:
    """``(number, instruction)`` for a classic builder ``Step N/M : INSTR`` line."""
    match = _STEP.match(line.strip())
    return (match.group(1), match.group(2)) if match else None


class DockerBuilder:
    """Builds with the engine's classic builder, no cache, intermediate containers removed."""

    name = "docker"

    def __init__(
        self,
        client: Any,
        *,
        base_url: str | None = None,
        workdir: Any = None,
        source_date_epoch: int | None = None,
    ):
        self.client = client
        self.base_url = base_url
        self.source_date_epoch = source_date_epoch

    def version(self) -> str:
        try:
            return str(self.client.version().get("Version", "unknown"))
        except (docker.errors.APIError, requests.RequestException):
            return "unknown"

    def build(self, spec: BuildSpec, tag: str, run: Run, name: str) -> BuildInfo:
        """Build ``spec`` once; see :class:`reprokit.builders.base.Builder`."""
        spec.validate()
        log: deque[str] = deque(maxlen=2000)
        step: tuple[str, str] | None = None
        image_id: str | None = None
        started = time.monotonic()
        options = self.options(spec)
        try:
            stream = self.client.api.build(
                path=str(spec.context),
                tag=tag,
                labels={**spec.labels, **run.labels},
                decode=True,
                **options,
            )
            pending = ""
            steps = progress.bar(f"build {name}", unit="step")
            try:
                for chunk in stream:
                    if "error" in chunk or "errorDetail" in chunk:
                        detail = chunk.get("errorDetail") or {}
                        message = str(chunk.get("error") or detail.get("message") or "failed")
                        raise self._failure(name, step, message.strip(), log)
                    text = chunk.get("stream") or chunk.get("status") or ""
                    pending += text
                    *lines, pending = pending.split("\n")
                    for line in lines:
                        log.append(line)
                        step, built = self._follow(line, step, run)
                        steps.step(step[0] if step else "")
                        image_id = built or image_id
                    aux = chunk.get("aux") or {}
                    image_id = aux.get("ID", image_id)
            finally:
                steps.close()
                stream.close()
            if pending:
                log.append(pending)
        except docker.errors.BuildError as err:
            raise self._failure(name, step, str(err), log) from None
        except docker.errors.APIError as err:
            raise self._failure(
                name, step, engine_error("build refused", err).args[0], log
            ) from None
        except requests.RequestException as err:
            raise EngineError(f"build {name}: lost the engine connection ({err})") from None
        if image_id is None:
            raise self._failure(name, step, "the engine reported no image", log)
        run.forget(image_id)  # the last step's image is the build itself, tracked by its tag
        run.track_image(tag, final=True)
        return BuildInfo(
            name=name,
            builder=self.name,
            tag=tag,
            image_id=image_id if image_id.startswith("sha256:") else "sha256:" + image_id,
            duration_s=time.monotonic() - started,
            log_tail=list(log)[-LOG_TAIL:],
            log=list(log),
            version=self.version(),
            options=options,
            engine=self.base_url,
            source=f"docker-daemon:{tag}",
            notes=[IGNORED_SDE] if self.source_date_epoch is not None else [],
        )

    def options(self, spec: BuildSpec) -> dict[str, Any]:
        """The arguments of the SDK's build call (besides context, tag and labels)."""
        args = dict(spec.build_args)
        if self.source_date_epoch is not None:
            args.setdefault("SOURCE_DATE_EPOCH", str(self.source_date_epoch))
        return {
            "dockerfile": str(spec.dockerfile),
            "nocache": True,
            "rm": True,
            "forcerm": True,
            "pull": spec.pull,
            "buildargs": args,
            "target": spec.target,
            "network_mode": spec.network,
            "platform": spec.platform,
        }

    @staticmethod
    def _follow(
        line: str, step: tuple[str, str] | None, run: Run
    ) -> tuple[tuple[str, str] | None, str | None]:
        """Track the current step; record images committed by steps other than FROM."""
        new_step = parse_step(line)
        if new_step:
            return new_step, None
        match = _IMAGE.match(line.rstrip())
        if match and step and not step[1].upper().startswith("FROM "):
            run.track_image(match.group(1))
        built = _BUILT.match(line.strip())
        return step, built.group(1) if built else None

    @staticmethod
    def _failure(
        name: str, step: tuple[str, str] | None, message: str, log: deque[str]
    ) -> BuildError:
        where = f" at step {step[0]} ({step[1]})" if step else ""
        return BuildError(
            f"build {name} failed{where}: {message.splitlines()[0] if message else 'failed'}",
            step=f"{step[0]} {step[1]}" if step else None,
            log_tail=[line for line in log if line.strip()][-LOG_TAIL:],
        )
