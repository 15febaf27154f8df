"""Images of a local Docker Engine read in place from its overlay2 storage, not exported.

For an engine on this machine (a unix socket) whose storage driver is ``overlay2`` on the
classic image store and whose data root is readable here, each layer is found the way the
engine finds it (diff_id → chain id → ``image/overlay2/layerdb/sha256/<chain id>`` →
``cache-id`` → ``overlay2/<cache id>/diff``) and read by :mod:`reprokit.read.tarsplit`: the
headers from the layer's ``tar-split.json.gz``, the contents from its directory. The records
are those the export gives; what is skipped is the engine making a tar of every layer and
reprokit parsing it back.

The diff_ids are the engine's own (its layer database), not recomputed: ``--verify-digests``
(``verify_digests=True``) reads through ``docker save`` instead, hashing every layer.

>>> chain_ids(["sha256:a", "sha256:b"])[0]
'sha256:a'
>>> storage_for("tcp://127.0.0.1:2375") is None
True
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import progress
from ..errors import ArchiveError, Cancelled
from ..read.jsondoc import load_json
from ..read.layer_tree import LayerTree, NotInPlace
from ..read.layers import LayerIndex, Tap, TapFor
from ..read.limits import current
from ..read.tarsplit import Resumed, feed, index_in_place
from ..records import FileRecord
from .layout import check_config

log = logging.getLogger("reprokit")

#: how a Docker-daemon image is read: ``auto`` (in place when the engine's storage allows),
#: ``export`` (always ``docker save``), ``in-place`` (in place or an error)
READ_PATHS = ("auto", "export", "in-place")
#: the note an image read in place carries in reports
NOTE = "read in place from the engine's overlay2 storage (diff_ids from its layer database)"


@dataclass(frozen=True)
class Storage:
    """Where a local engine keeps its images (``DockerRootDir``), on the classic overlay2 store."""

    root: Path

    @property
    def layerdb(self) -> Path:
        return self.root / "image" / "overlay2" / "layerdb" / "sha256"

    def config_path(self, image_id: str) -> Path:
        return self.root / "image" / "overlay2" / "imagedb" / "content" / "sha256" / _hex(image_id)


def _hex(digest: str) -> str:
    algo, _, hexa = digest.partition(":")
    if algo != "sha256" or len(hexa) != 64 or not all(c in "0123456789abcdef" for c in hexa):
        raise NotInPlace(f"not a sha256 digest: {digest[:80]!r}")
    return hexa


_probed: dict[str, Storage | None] = {}
_lock = threading.Lock()


def _local_url(base_url: str | None) -> str | None:
    url = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return url if url.startswith("unix://") else None


def storage_for(base_url: str | None) -> Storage | None:
    """The storage of the engine at ``base_url`` when it can be read in place here, else None
    (a remote engine, another storage driver or image store, a data root not readable here).
    Asked once per engine."""
    url = _local_url(base_url)
    if url is None:
        return None
    with _lock:
        if url not in _probed:
            _probed[url] = _probe(base_url)
        return _probed[url]


def _probe(base_url: str | None) -> Storage | None:
    from ..engine import open_client

    try:
        client = open_client(base_url, "inspect")
        try:
            info = client.info()
        finally:
            client.close()
    except Exception as err:  # any failure only means: use the export
        log.debug("in-place read unavailable: %s", err)
        return None
    status = dict(tuple(p) for p in info.get("DriverStatus") or [] if len(p) == 2)
    if info.get("Driver") != "overlay2" or "driver-type" in status:
        return None  # another driver, or the containerd image store (snapshotters)
    root = Path(str(info.get("DockerRootDir") or ""))
    storage = Storage(root)
    if not root.is_absolute() or not os.access(storage.layerdb, os.R_OK | os.X_OK):
        return None
    if not os.access(root / "overlay2", os.R_OK | os.X_OK):
        return None
    return storage


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The chain id of each layer: the engine's key for a layer and every layer below it."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(
            diff_id
            if not out
            else "sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest()
        )
    return out


@dataclass(frozen=True)
class StoredLayer:
    """One layer as the engine keeps it: its tar-split record and its directory."""

    diff_id: str
    split: Path
    diff: Path


def _small(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(4096).decode("ascii", "replace").strip()


def locate(storage: Storage, image_id: str, where: str) -> tuple[dict[str, Any], list[StoredLayer]]:
    """The image's config (checked against its id) and where each of its layers is kept.

    Raises :class:`NotInPlace` when anything is missing or does not match.
    """
    path = storage.config_path(image_id)
    try:
        with open(path, "rb") as f:
            raw = f.read(current().metadata_bytes + 1)
    except OSError as err:
        raise NotInPlace(f"image config {path}: {err.strerror}") from None
    if "sha256:" + hashlib.sha256(raw).hexdigest() != image_id:
        raise NotInPlace(f"image config {path} does not hash to the image id")
    config = load_json(raw, where, "config")
    if not isinstance(config, dict) or not isinstance(config.get("rootfs"), dict):
        raise NotInPlace("the stored config is not an image config")
    check_config(config, where, "config")
    diff_ids = list(config["rootfs"].get("diff_ids") or [])
    layers = []
    for diff_id, chain in zip(diff_ids, chain_ids(diff_ids), strict=True):
        entry = storage.layerdb / _hex(chain)
        try:
            if _small(entry / "diff") != diff_id:
                raise NotInPlace(f"layer {chain}: the layer database names another diff_id")
            cache = _small(entry / "cache-id")
        except OSError as err:
            raise NotInPlace(f"layer {chain}: {err.strerror}") from None
        if not cache or "/" in cache or cache.startswith("."):
            raise NotInPlace(f"layer {chain}: cache id {cache[:80]!r}")
        diff = storage.root / "overlay2" / cache / "diff"
        split = entry / "tar-split.json.gz"
        if not split.is_file() or not diff.is_dir():
            raise NotInPlace(f"layer {chain}: no tar-split record or layer directory")
        layers.append(StoredLayer(diff_id, split, diff))
    return config, layers


#: tar-split bytes (compressed, about 45 a member) from which the layers of one image are read
#: in a child process (:mod:`reprokit.read.layer_worker`; about 0.1 s to start, the time of
#: some 5,000 members): about 23,000 members
WORKER_BYTES = 1 << 20


def read_layers(
    layers: list[StoredLayer],
    where: str,
    skip: Collection[str],
    cancel: Any,
    tap_for: TapFor | None,
    worker_bytes: int | None = None,
) -> tuple[list[LayerIndex | None], int, TapFor | None]:
    """Read the layers in place, in order, until one cannot be: the layers read (``None`` for
    those in ``skip``, and from the first that could not be read on), how many were done and
    the ``tap_for`` to read the rest with (the first layer's tap resumed where it stopped).

    When the layers to read hold more than ``worker_bytes`` (default :data:`WORKER_BYTES`) of
    tar-split records, a child process reads them while this thread feeds the taps."""
    out: list[LayerIndex | None] = []
    left = current().image_entries
    done: dict[str, LayerIndex] = {}
    todo = []
    for i, layer in enumerate(layers):
        if layer.diff_id not in skip and all(layer.diff_id != t.diff_id for _, t in todo):
            todo.append((i, layer))
    threshold = WORKER_BYTES if worker_bytes is None else worker_bytes
    child = None
    if todo and sum(_size(layer.split) for _, layer in todo) >= threshold:
        asked = [(str(t.split), str(t.diff), t.diff_id, _name(where, i, t)) for i, t in todo]
        try:
            child = _Child(asked, left)
        except OSError as err:  # no interpreter to start: read here
            log.info("%s: reading in this process: %s", where, err)
    try:
        for i, layer in enumerate(layers):
            if layer.diff_id in skip:
                out.append(None)
                continue
            if layer.diff_id in done:  # the same layer twice in one image
                out.append(done[layer.diff_id])
                continue
            tap = tap_for(layer.diff_id) if tap_for else None
            name = _name(where, i, layer)
            # the layer's bytes, as the export shows them (a fallback counts none)
            with progress.bar(progress.label(f"{where} layer {i}")) as bar:
                try:
                    tree = LayerTree(layer.diff)
                    try:
                        if child is not None:
                            index = _answer(child.next(), layer, tree, tap, cancel)
                        else:
                            index = index_in_place(
                                layer.split, tree, layer.diff_id, name, cancel, tap, left
                            )
                    finally:
                        tree.close()
                except NotInPlace as err:
                    log.info("%s: read from the export instead: %s", name, err)
                    return out, i, _resume(tap_for, layer.diff_id, tap, err)
                bar.update(index.size)
            left -= len(index.records)
            done[layer.diff_id] = index
            out.append(index)
    finally:
        if child is not None:
            child.close()
    return out, len(layers), tap_for


def _name(where: str, i: int, layer: StoredLayer) -> str:
    return f"{where} layer {i} ({layer.diff_id[:19]})"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _answer(
    answer: Any, layer: StoredLayer, tree: LayerTree, tap: Tap | None, cancel: Any
) -> LayerIndex:
    """A layer as the child read it, its tap fed here."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled while reading a layer")
    if answer[0] == "not-in-place":
        raise NotInPlace(answer[1])
    if answer[0] == "error":
        raise ArchiveError(answer[1], answer[2])
    _, size, content, rows, regular = answer
    records = [FileRecord(*row) for row in rows]
    if tap is not None:
        feed(tap, records, regular, tree)
    return LayerIndex(layer.diff_id, size, records, content)


class _Child:
    """A child process reading layers in place (:mod:`reprokit.read.layer_worker`): its
    answers one per layer, in order; :meth:`close` stops it whatever state it is in."""

    def __init__(self, layers: list[tuple[str, str, str, str]], entries: int):
        import reprokit

        root = str(Path(reprokit.__file__).resolve().parent.parent)
        path = os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))
        self.errors = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reprokit.read.layer_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.errors,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError:
            self.errors.close()
            raise
        request = {"limits": current(), "entries": entries, "layers": layers}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(pickle.dumps(request))
            self.proc.stdin.close()
        except OSError:
            pass  # the child stopped at once: its first answer says so

    def next(self) -> Any:
        assert self.proc.stdout is not None
        try:
            return pickle.load(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError, OSError) as err:
            self.errors.seek(0)
            tail = self.errors.read()[-300:].decode(errors="replace").strip()
            return ("not-in-place", f"the reading process stopped ({tail or err})")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.errors.close()


def _resume(
    tap_for: TapFor | None, diff_id: str, tap: Tap | None, err: NotInPlace
) -> TapFor | None:
    if tap_for is None or tap is None:
        return tap_for
    resumed = Resumed(tap, err)

    def again(layer: str | None) -> Tap | None:
        return resumed if layer == diff_id else tap_for(layer)

    return again
