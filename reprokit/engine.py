"""The Docker Engine as a resource: connecting, labelling what a run creates, removing it.

Every engine client reprokit uses comes from :func:`open_client`, with a timeout chosen by
what the client is for (:data:`TIMEOUTS`). The docker SDK is imported only when a client is
made, so ``import reprokit.engine`` stays light.

Every image or container reprokit makes carries ``io.reprokit.run=<run id>`` and is removed
when its :class:`Run` ends (unless kept), on errors and on Ctrl-C too. It never removes what it
did not record as its own.

>>> run = Run(client=None, keep=True)
>>> run.labels == {RUN_LABEL: run.id}
True
>>> TIMEOUTS["inspect"] < TIMEOUTS["build"]
True
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import EngineError

if TYPE_CHECKING:
    import docker

RUN_LABEL = "io.reprokit.run"
log = logging.getLogger("reprokit")

Purpose = Literal["inspect", "export", "exec", "build"]

#: Seconds the engine may send nothing during a call (connecting, or between two bytes of an
#: answer — a stall watchdog, not a bound on a whole stream), by what the client is for:
#: ``inspect`` (image and container metadata, listings), ``export`` (streaming an image or a
#: container's files: ``docker save`` may prepare a large layer before its first byte),
#: ``exec`` (starting containers, loading images into the engine, commands in containers),
#: ``build`` (builds, which may run long steps without output). Override one with
#: ``REPROKIT_ENGINE_TIMEOUT_<PURPOSE>=SECONDS`` (e.g. ``REPROKIT_ENGINE_TIMEOUT_BUILD=7200``).
TIMEOUTS: dict[str, int] = {"inspect": 20, "export": 300, "exec": 600, "build": 3600}

#: Seconds to connect and for the handshake (API version, ping) every client makes first: an
#: engine that accepts connections but never answers is reported within this.
CONNECT_TIMEOUT = 10


def timeout_for(purpose: str) -> int:
    """The stall timeout of ``purpose`` (:data:`TIMEOUTS`, or its environment override).

    >>> timeout_for("inspect") <= 30
    True
    """
    text = os.environ.get(f"REPROKIT_ENGINE_TIMEOUT_{purpose.upper()}", "")
    if text.isdigit() and 0 < int(text) < 10**6:
        return int(text)
    return TIMEOUTS[purpose]


def open_client(base_url: str | None = None, purpose: Purpose = "inspect") -> docker.DockerClient:
    """A client for the engine at ``base_url`` (default: ``DOCKER_HOST`` or the local socket),
    with the timeout of ``purpose``; the caller closes it. One client per thread where calls
    run concurrently (docker-py's client is not safe for concurrent execs).

    Raises :class:`EngineError` with the reason when no engine answers.

    >>> open_client("tcp://127.0.0.1:9", "inspect")  # doctest: +SKIP
    Traceback (most recent call last):
    reprokit.errors.EngineError: cannot reach the Docker Engine at tcp://127.0.0.1:9: …
    """
    import docker
    import docker.errors
    import requests

    try:
        # the handshake (API version, ping) gets the short connect timeout, whatever the purpose
        if base_url:
            client = docker.DockerClient(base_url=base_url, timeout=CONNECT_TIMEOUT)
        else:
            client = docker.from_env(timeout=CONNECT_TIMEOUT)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as err:
        where = engine_name(base_url)
        if _timed_out(err):
            raise EngineError(
                f"the Docker Engine at {where} did not answer the handshake (API version, ping) "
                f"within {CONNECT_TIMEOUT} s; is it stalled?"
            ) from None
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise EngineError(
            f"cannot reach the Docker Engine at {where}: {reason}; start dockerd or set DOCKER_HOST"
        ) from None
    client.api.timeout = timeout_for(purpose)
    return client


def stream_get(
    client: Any,
    path: str,
    *args: str,
    chunk_size: int = 1 << 20,
    params: dict[str, str] | None = None,
) -> Any:
    """GET ``path`` (formatted with ``args``) as a stream of byte chunks, keeping the client's
    stall timeout on the socket: docker-py's own raw-stream helpers (``get_image``,
    ``get_archive``) turn it off, so a stream that stops sending would block forever.

    Raises the docker SDK's errors as they are; a stall raises a ``requests`` or ``urllib3``
    timeout error (``engine_error`` names it) while the chunks are read.
    """
    api = client.api
    response = api._get(api._url(path, *args), params=params, stream=True)
    api._raise_for_status(response)
    return response.iter_content(chunk_size, False)


def engine_name(base_url: str | None) -> str:
    """How an engine is named in messages."""
    if base_url:
        return base_url
    host = os.environ.get("DOCKER_HOST")
    return host or "the local engine (/var/run/docker.sock)"


def _timed_out(err: BaseException) -> bool:
    import requests

    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, requests.Timeout | TimeoutError) or "timed out" in str(err):
            return True
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    return False


def engine_error(
    action: str, err: Exception, base_url: str | None = None, purpose: str | None = None
) -> EngineError:
    """Turn a docker SDK exception into a one-line :class:`EngineError`; a timeout names the
    engine and how long it stayed silent."""
    if _timed_out(err):
        limit = (
            f"{timeout_for(purpose)} s (REPROKIT_ENGINE_TIMEOUT_{purpose.upper()} sets it)"
            if purpose in TIMEOUTS
            else "its timeout (REPROKIT_ENGINE_TIMEOUT_<PURPOSE> sets it)"
        )
        return EngineError(
            f"{action}: the Docker Engine at {engine_name(base_url)} sent nothing for {limit}"
        )
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
    containers: list[str] = field(default_factory=list)

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

    def track_container(self, container_id: str) -> None:
        """Record a container this run started; :meth:`cleanup` removes it (forced) first."""
        if container_id not in self.containers:
            self.containers.append(container_id)

    def remove_containers(self) -> list[str]:
        """Force-remove the containers this run started; returns those that could not be."""
        import docker.errors
        import requests

        failed = []
        for cid in reversed(self.containers):
            try:
                self.client.api.remove_container(cid, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except (docker.errors.APIError, requests.RequestException) as err:
                if "already in progress" not in str(err):
                    log.warning("could not remove container %s: %s", cid[:12], err)
                    failed.append(cid)
        self.containers.clear()
        return failed

    def forget(self, image_id: str) -> None:
        """Stop tracking the short or full id of ``image_id`` (a finished build's own image)."""
        bare = image_id.removeprefix("sha256:")
        self.images = [r for r in self.images if not (r and bare.startswith(r))]

    def cleanup(self, settle_s: float = 20.0) -> list[str]:
        """Remove the containers, then the images this run created (newest first); returns
        what could not be removed.

        With ``keep=True`` the finished builds' images stay (listed in :attr:`kept`); the
        leftovers of failed builds are still removed. An image still used by the container of
        a build step being cancelled is retried for ``settle_s`` seconds, then that container
        (which only our build can have made from our image) is removed too.
        """
        failed = self.remove_containers()
        for ref in reversed(self.images):
            if self.keep and ref in self.finals:
                self.kept.append(ref)
                continue
            if not self._remove_image(ref, settle_s):
                failed.append(ref)
        self.images.clear()
        return failed

    def _remove_image(self, ref: str, settle_s: float) -> bool:
        import docker.errors
        import requests

        deadline, forced = time.monotonic() + settle_s, False
        while True:
            try:
                self.client.api.remove_image(ref, force=False, noprune=False)
                return True
            except docker.errors.NotFound:
                return True
            except docker.errors.APIError as err:
                if err.status_code != 409:
                    log.warning("could not remove image %s: %s", ref, err)
                    return False
                if self.keep and "child" in str(err):
                    return True  # the parent of a kept image goes when that image goes
                if time.monotonic() > deadline:
                    if forced:
                        log.warning("could not remove image %s: %s", ref, err)
                        return False
                    self._remove_build_containers(ref)
                    deadline, forced = time.monotonic() + 5, True
                time.sleep(0.5)
            except requests.RequestException as err:
                log.warning("could not remove image %s: %s", ref, err)
                return False

    def _remove_build_containers(self, ref: str) -> None:
        """Remove containers made from image ``ref`` (a build step's, left by a cancelled build)."""
        import docker.errors
        import requests

        try:
            image_id = self.client.api.inspect_image(ref)["Id"]
            for container in self.client.api.containers(all=True):
                if container.get("ImageID") == image_id:
                    self.client.api.remove_container(container["Id"], force=True)
        except (docker.errors.APIError, requests.RequestException) as err:
            log.warning("could not remove the build containers of %s: %s", ref, err)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
