"""Hardened containers from images, kept alive for checks and removed afterwards.

A container here runs ``sleep`` as its only process, with no network, every capability
dropped, ``no-new-privileges``, a pids and a memory limit and, when asked, a read-only root
filesystem with a tmpfs ``/tmp``. It carries the run's label and is force-removed when the run
ends, on errors and Ctrl-C too. Commands run in it through ``/bin/sh -c`` (``docker exec``).
An image given as an archive or OCI layout is loaded into the engine under a tag of the run
and removed with it; a machine image's root filesystem (``rootfs-archive:``, ``dir:``,
``disk:``) is streamed as one tar into the engine's import, a single-layer image labelled with
the run, removed with it too.

>>> Hardening().host_config_args()["cap_drop"]
['ALL']
>>> with container_pair("reprokit-test/busybox:1", "oci-archive:b.tar") as (a, b):  # doctest: +SKIP
...     a.exec("id -u").rc
0
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import requests

from .engine import RUN_LABEL, Run, engine_error, open_client
from .errors import Cancelled, EngineError, ImageNotFoundError
from .sources.daemon import DaemonSource
from .sources.image import Source
from .sources.layout import Located, Store
from .sources.refs import as_source
from .sources.rootfs import MachineSource
from .sources.store import StoreSource

#: The keep-alive command. busybox's sleep lacks ``infinity`` in some builds; 68 years will do.
KEEPALIVE = ["sleep", "2147483647"]
ROLE_LABEL = "io.reprokit.role"
_CHUNK = 1 << 20


class ContainerError(EngineError):
    """A container could not be started, or is gone or stopped while checks run on it.

    An infrastructure failure, never a check's result: parity reports it as an error.
    """


@dataclass(frozen=True)
class Hardening:
    """How containers are confined; the defaults are what parity uses."""

    read_only: bool = False
    pids_limit: int = 256
    mem_limit: str = "512m"

    def host_config_args(self) -> dict[str, Any]:
        """Keyword arguments of ``APIClient.create_host_config``."""
        args: dict[str, Any] = {
            "network_mode": "none",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": self.pids_limit,
            "mem_limit": self.mem_limit,
        }
        if self.read_only:
            args.update(read_only=True, tmpfs={"/tmp": ""})
        return args


@dataclass
class ExecResult:
    """Exit status and output of one command run in a container."""

    rc: int
    stdout: bytes
    stderr: bytes


@dataclass
class Container:
    """A running, hardened container of one image (``side`` is ``a`` or ``b``)."""

    id: str
    image: str
    side: str
    base_url: str | None = None
    #: one engine client per thread: docker-py's client is not safe for concurrent execs
    #: (their demultiplexed streams can get mixed up), and checks run in several threads
    _local: threading.local = field(default_factory=threading.local, repr=False)
    _clients: list[Any] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: what else ends with the container's clients (e.g. parity's shell sessions on it)
    sessions: Any = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"container {self.id[:12]} of image {self.side.upper()} ({self.image})"

    def _api(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = open_client(self.base_url, "exec")
            with self._lock:
                self._clients.append(client)
        return client.api

    def state(self) -> dict[str, Any]:
        """The engine's ``State`` of the container; :class:`ContainerError` when it is gone."""
        try:
            return dict(self._api().inspect_container(self.id)["State"])
        except docker.errors.NotFound:
            raise ContainerError(f"{self.where}: the container is gone") from None
        except (docker.errors.APIError, requests.RequestException) as err:
            raise ContainerError(f"{self.where}: cannot inspect it: {_first_line(err)}") from None

    def ensure_running(self) -> None:
        """Raise :class:`ContainerError` unless the container is still running."""
        state = self.state()
        if not state.get("Running"):
            raise ContainerError(
                f"{self.where}: the container is no longer running "
                f"(status {state.get('Status')}, exit code {state.get('ExitCode')})"
            )

    def exec(self, command: str, user: str | None = None) -> ExecResult:
        """Run ``/bin/sh -c command``; an engine failure or a dead container raises
        :class:`ContainerError` instead of looking like a failed command."""
        api = self._api()
        try:
            created = api.exec_create(
                self.id, ["/bin/sh", "-c", command], stdout=True, stderr=True, user=user or ""
            )
            out, err = api.exec_start(created["Id"], demux=True)
            rc = api.exec_inspect(created["Id"]).get("ExitCode")
        except docker.errors.NotFound:
            raise ContainerError(f"{self.where}: the container is gone") from None
        except docker.errors.APIError as error:
            if error.status_code == 409:
                self.ensure_running()
            raise ContainerError(
                f"{self.where}: docker exec failed: {_first_line(error)}"
            ) from None
        except requests.RequestException as error:
            raise ContainerError(
                f"{self.where}: the engine did not answer: {_first_line(error)}"
            ) from None
        out, err = out or b"", err or b""
        if rc is None or rc != 0:
            self.ensure_running()  # a command killed with its container is not a result
        if rc is None:
            raise ContainerError(f"{self.where}: the command has no exit status")
        if rc in (126, 127) and b"OCI runtime exec failed" in out + err:
            raise ContainerError(f"{self.where}: docker exec failed: {_first_line(out + err)}")
        return ExecResult(rc, out, err)

    def probe(self) -> str | None:
        """None when ``/bin/sh -c true`` runs in the container, else why not."""
        try:
            result = self.exec("true")
        except ContainerError as err:
            return str(err).split(": ", 1)[-1]
        return None if result.rc == 0 else f"exit status {result.rc}"

    def close(self) -> None:
        sessions, self.sessions = self.sessions, None
        if sessions is not None:
            sessions.close()
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()


def _first_line(err: object) -> str:
    text = getattr(err, "explanation", None) or err
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return (str(text).strip().splitlines() or [type(err).__name__])[0]


def _tar_entry(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info.tobuf(tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return bytes(-size % tarfile.BLOCKSIZE)


def _docker_archive(store: Store, found: Located, tag: str) -> Iterator[bytes]:
    """A ``docker save``-style tar of one located image, streamed: blobs are not staged."""
    layers = [f"layers/{i}.tar" for i in range(len(found.layer_names))]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": layers}])
    for name, data in (("manifest.json", manifest.encode()), ("config.json", found.config_bytes)):
        yield _tar_entry(name, len(data)) + data + _padding(len(data))
    for name, blob_name in zip(layers, found.layer_names, strict=True):
        with store.open(blob_name) as blob:
            size = blob.seek(0, 2)
            blob.seek(0)
            yield _tar_entry(name, size)
            while chunk := blob.read(_CHUNK):
                yield chunk
            yield _padding(size)
    yield bytes(2 * tarfile.BLOCKSIZE)


def engine_image(source: Source, client: Any, run: Run, side: str) -> str:
    """The engine reference of ``source``: a daemon image as is; an archive or OCI layout is
    loaded under ``reprokit-parity:<run id>-<side>``, a tag the run removes at its end."""
    if isinstance(source, DaemonSource):
        source.diff_ids()  # ImageNotFoundError when the engine lacks it
        return source.ref
    if isinstance(source, MachineSource):
        return import_root_filesystem(source, client, run, side)
    if not isinstance(source, StoreSource):
        raise ImageNotFoundError(str(source), "parity needs an image it can load into the engine")
    tag = f"reprokit-parity:{run.id}-{side}"
    store = source._store()
    try:
        found = source._locate(store)
        run.track_image(tag)
        for message in client.api.load_image(_docker_archive(store, found, tag)):
            if isinstance(message, dict) and message.get("error"):
                raise EngineError(
                    f"{source}: loading the image into the engine: {message['error']}"
                )
    except docker.errors.APIError as err:
        raise engine_error(f"{source}: loading the image into the engine", err) from None
    finally:
        store.close()
    return tag


def import_root_filesystem(source: MachineSource, client: Any, run: Run, side: str) -> str:
    """Import a machine image's root filesystem as a single-layer image tagged
    ``reprokit-parity:<run id>-<side>`` and labelled with the run: its files streamed as one
    tar into the engine's import (nothing staged on disk); the run removes it at its end."""
    tag = f"reprokit-parity:{run.id}-{side}"
    run.track_image(tag)
    try:
        with source.export_tar() as chunks:
            answer = client.api.import_image_from_stream(
                chunks,
                repository="reprokit-parity",
                tag=f"{run.id}-{side}",
                changes=[f"LABEL {RUN_LABEL}={run.id}", f"LABEL {ROLE_LABEL}=parity-{side}"],
            )
    except docker.errors.APIError as err:
        what = f"{source}: importing its root filesystem into the engine"
        raise engine_error(what, err) from None
    except requests.RequestException as err:
        raise EngineError(
            f"{source}: importing the root filesystem into the engine: {_first_line(err)}"
        ) from None
    for line in str(answer).splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("error"):
                raise EngineError(
                    f"{source}: importing the root filesystem into the engine: {message['error']}"
                )
    return tag


def start_container(
    client: Any, image: str, run: Run, side: str, hardening: Hardening, base_url: str | None
) -> Container:
    """Create and start one hardened, labelled container of ``image`` kept alive by sleep."""
    api = client.api
    try:
        created = api.create_container(
            image,
            entrypoint=KEEPALIVE[:1],
            command=KEEPALIVE[1:],
            labels={**run.labels, ROLE_LABEL: f"parity-{side}"},
            network_disabled=True,
            host_config=api.create_host_config(**hardening.host_config_args()),
        )
    except docker.errors.ImageNotFound:
        raise ImageNotFoundError(image, "no such image in the Docker Engine") from None
    except docker.errors.APIError as err:
        raise engine_error(f"{image}: creating a container", err) from None
    run.track_container(created["Id"])
    container = Container(created["Id"], image, side, base_url)
    try:
        api.start(created["Id"])
    except docker.errors.APIError as err:
        text = _first_line(err)
        if "executable file not found" in text or "no such file or directory" in text:
            raise ContainerError(
                f"{image}: cannot keep a container of it running: the image has no `sleep` "
                "on its PATH (parity keeps the container alive with `sleep` and runs checks "
                "through `docker exec /bin/sh -c`, so it needs sleep and a shell in the image — "
                "for a machine image, in its root filesystem; `reprokit inventory` reads "
                "shell-less images without one)"
            ) from None
        raise ContainerError(f"{image}: starting a container failed: {text}") from None
    probe = container.probe()
    if probe is not None:
        raise ContainerError(
            f"{image}: the image has no usable /bin/sh ({probe}); parity runs checks through "
            "`docker exec /bin/sh -c`, so it needs a shell in the image; `reprokit inventory` "
            "reads shell-less images without one"
        )
    return container


@contextlib.contextmanager
def container_pair(
    a: str | Source,
    b: str | Source,
    *,
    base_url: str | None = None,
    hardening: Hardening | None = None,
    run: Run | None = None,
) -> Iterator[tuple[Container, Container]]:
    """Start one hardened container of each image; remove both (and any image loaded for
    them) when the block ends, also on errors and Ctrl-C.

    >>> with container_pair("img:a", "img:b") as (ca, cb):  # doctest: +SKIP
    ...     ca.exec("cat /etc/os-release").stdout[:20]
    """
    hardening = hardening or Hardening()
    client = open_client(base_url, "exec")
    run = run or Run(client)
    containers: list[Container] = []
    sources: list[Source] = []
    try:
        sources = [as_source(a), as_source(b)]
        for source, other in ((sources[0], sources[1]), (sources[1], sources[0])):
            if isinstance(source, DaemonSource) and source.base_url is None:
                source.base_url = base_url
            pair_with = getattr(source, "pair_with", None)
            if pair_with is not None:  # two disks: one appliance
                pair_with(other)
        images = [engine_image(s, client, run, side) for s, side in zip(sources, "ab", strict=True)]
        for image, side in zip(images, "ab", strict=True):
            containers.append(start_container(client, image, run, side, hardening, base_url))
        yield containers[0], containers[1]
    except KeyboardInterrupt:
        raise Cancelled("interrupted; the containers this run started were removed") from None
    finally:
        for container in containers:
            container.close()
        for source in sources:  # e.g. a disk appliance the other side's failure left unused
            close = getattr(source, "close", None)
            if close is not None:
                close()
        run.cleanup()
        client.close()
