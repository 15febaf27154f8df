"""The Docker Engine as a resource: connecting, labelling what a run creates, removing it.

Every image or container reprokit makes carries ``io.reprokit.run=<run id>`` and is removed
when its :class:`Run` ends (unless kept), on errors and on Ctrl-C too. It never removes what it
did not record as its own.

>>> run = Run(client=None, keep=True)
>>> run.labels == {RUN_LABEL: run.id}
True
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import requests

from .errors import EngineError

RUN_LABEL = "io.reprokit.run"
log = logging.getLogger("reprokit")


def connect(base_url: str | None = None, timeout: int = 600) -> docker.DockerClient:
    """A client for the engine at ``base_url`` (default: ``DOCKER_HOST`` or the local socket).

    Raises :class:`EngineError` with the reason when no engine answers.
    """
    try:
        if base_url:
            client = docker.DockerClient(base_url=base_url, timeout=timeout)
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as err:
        where = base_url or "the local engine (DOCKER_HOST or /var/run/docker.sock)"
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise EngineError(
            f"cannot reach the Docker Engine at {where}: {reason}; start dockerd or set DOCKER_HOST"
        ) from None
    return client


def engine_error(action: str, err: Exception) -> EngineError:
    """Turn a docker SDK exception into a one-line :class:`EngineError`."""
    text = getattr(err, "explanation", None) or str(err) or type(err).__name__
    return EngineError(f"{action}: {str(text).splitlines()[0]}")


@dataclass
class Run:
    """One reprokit run: its id, its labels, and what it created in the engine."""

    client: Any
    keep: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    images: list[str] = field(default_factory=list)
    finals: set[str] = field(default_factory=set)
    kept: list[str] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.id}

    def track_image(self, ref: str, final: bool = False) -> None:
        """Record an image (tag or id) this run created, to be removed at :meth:`cleanup`.

        ``final`` marks a finished build's image: the one thing ``keep=True`` keeps.
        """
        if ref not in self.images:
            self.images.append(ref)
        if final:
            self.finals.add(ref)

    def cleanup(self) -> list[str]:
        """Remove the images this run created, newest first; returns what could not be removed.

        With ``keep=True`` the finished builds' images stay (listed in :attr:`kept`); the
        leftovers of failed builds are still removed.
        """
        failed = []
        for ref in reversed(self.images):
            if self.keep and ref in self.finals:
                self.kept.append(ref)
                continue
            try:
                self.client.api.remove_image(ref, force=False, noprune=False)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as err:
                if self.keep and err.status_code == 409:
                    continue  # the parent of a kept image goes when that image goes
                log.warning("could not remove image %s: %s", ref, err)
                failed.append(ref)
            except requests.RequestException as err:
                log.warning("could not remove image %s: %s", ref, err)
                failed.append(ref)
        self.images.clear()
        return failed

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
