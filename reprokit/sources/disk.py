"""``disk:PATH[:PARTITION]``: a raw, qcow2, vmdk or vhdx disk image read with libguestfs.

The disk is never mounted on this machine nor extracted: a libguestfs appliance (``guestfish
--ro``, driven over a pipe) attaches it read-only, and each filesystem's files are streamed
out with ``tar-out`` through a FIFO into the same streaming reader as every layer
(:func:`reprokit.read.layers.index_layer`). Each filesystem is one layer: the root filesystem
at ``/``, the others at their ``/etc/fstab`` mount point (else ``/partN``). The image's config
carries what only a disk has: the block digest (guest-visible bytes), the partition table
(type, disk GUID, partition GUIDs) and each filesystem's metadata (UUID, directory hash
seed, creation/mount/write/check times, the order its files are stored in) — compared as
config fields, so :mod:`reprokit.verdict` can tell *identical* (same bytes) from
*equivalent* (only filesystem-level metadata differs).

Why ``guestfish`` and not the ``guestfs`` Python module: Debian's ``python3-guestfs`` is built
for the system ``python3``; reprokit runs in its own virtualenv (another interpreter, maybe
another version), so it drives the ``guestfish`` program instead — no ABI coupling, and the
same commands a user can type.

Both disks of a comparison are attached to one appliance (:meth:`DiskSource.pair_with`), so
a comparison pays the appliance's boot (≈ 25 s without KVM) once. KVM is tried once per
process; when qemu aborts (nested virtualisation refusing an MSR, no /dev/kvm) the appliance
is started again with ``LIBGUESTFS_BACKEND_SETTINGS=force_tcg``, and the note says so.

>>> split_disk_ref("images/a.qcow2:2"), split_disk_ref("a.raw")
(('images/a.qcow2', 2), ('a.raw', None))
>>> parse_part_list("[0] = {\\n  part_num: 1\\n  part_start: 1048576\\n  part_size: 512\\n}")
[{'number': 1, 'start': 1048576, 'size': 512}]
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import dataclasses
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ReprokitError, UsageError
from ..read.layers import LayerIndex, TapFor, index_layer
from ..records import FileRecord
from .image import Image, Source
from .rootfs import CHUNK, MachineSource, rootfs_config

#: disk formats by file suffix (qemu's names); anything else is probed by libguestfs
FORMATS = {".raw": "raw", ".img": "raw", ".qcow2": "qcow2", ".vmdk": "vmdk", ".vhdx": "vhdx"}
#: tune2fs -l fields kept per ext filesystem, under reprokit's names
EXT_FIELDS = {
    "Filesystem UUID": "uuid",
    "Filesystem volume name": "label",
    "Directory Hash Seed": "hash_seed",
    "Filesystem created": "created",
    "Last mount time": "last_mount",
    "Last write time": "last_write",
    "Last checked": "last_checked",
    "Mount count": "mount_count",
    "Inode count": "inodes",
    "Block count": "blocks",
    "Block size": "block_size",
    "Filesystem features": "features",
}
_PART = re.compile(r"^(?P<path>.+):(?P<part>\d+)$")
_MARK = "@@reprokit-done@@"


class DiskError(ReprokitError):
    """libguestfs could not start or read a disk."""


def split_disk_ref(rest: str) -> tuple[str, int | None]:
    """``PATH[:PARTITION]`` → (path, partition number or None)."""
    m = _PART.match(rest)
    if m and not os.path.exists(rest):
        return m["path"], int(m["part"])
    return rest, None


def disk_format(path: str | Path) -> str | None:
    """The format of a disk image by its suffix (None: let libguestfs probe it)."""
    return FORMATS.get(Path(path).suffix.lower())


def parse_part_list(text: str) -> list[dict[str, int]]:
    """``part-list`` output → ``[{number, start, size}]``."""
    parts: list[dict[str, int]] = []
    for line in text.splitlines():
        key, _, value = line.strip().partition(": ")
        if key == "part_num":
            parts.append({"number": int(value)})
        elif key in ("part_start", "part_size") and parts:
            parts[-1][key[5:]] = int(value)
    return parts


def parse_tune2fs(text: str) -> dict[str, Any]:
    """The fields of :data:`EXT_FIELDS` from ``tune2fs-l`` output.

    >>> parse_tune2fs("Filesystem UUID: 1-2\\nMount count: 0\\nOther: x")
    {'uuid': '1-2', 'mount_count': 0}
    """
    out: dict[str, Any] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        name = EXT_FIELDS.get(key.strip())
        if name is not None:
            value = value.strip()
            out[name] = int(value) if value.lstrip("-").isdigit() else value
    return out


# -- the appliance ------------------------------------------------------------------------

#: whether KVM failed once in this process (then every appliance uses TCG at once)
_kvm_refused: str | None = None
_live: set[Appliance] = set()


class Appliance:
    """One ``guestfish --ro`` process with disks attached, driven command by command."""

    def __init__(self, disks: list[Path]):
        self.disks = list(disks)
        self.notes: list[str] = []
        self.lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: list[str] = []
        self._tmp: str | None = None
        self.boot_s = 0.0
        #: how qemu ran the appliance: ``kvm`` or ``tcg``
        self.backend = ""
        #: seconds the KVM attempt took before falling back to TCG (0: none made)
        self.kvm_attempt_s = 0.0
        #: what does not change while the (read-only) disks are attached: filesystems,
        #: partition tables, block digests — asked of the appliance once per disk
        self.cache: dict[tuple[str, ...], Any] = {}

    def device(self, path: Path) -> str:
        """The appliance's device for an attached disk (/dev/sda, /dev/sdb, …)."""
        return "/dev/sd" + "abcdefghijklmnopqrstuvwxyz"[self.disks.index(path)]

    def start(self) -> None:
        """Boot the appliance: KVM once, else (and from then on) TCG."""
        global _kvm_refused
        import time

        started = time.monotonic()
        if _kvm_refused is None:
            try:
                self._launch(tcg=False)
            except DiskError as err:
                self.close()
                _kvm_refused = str(err).splitlines()[0][:200]
                self.kvm_attempt_s = time.monotonic() - started
                started = time.monotonic()
                self._launch(tcg=True)
                self.notes.append(f"KVM refused ({_kvm_refused}); the appliance ran with TCG")
                self.backend = "tcg"
            else:
                self.backend = "kvm"
        else:
            self._launch(tcg=True)
            self.backend = "tcg"
            self.notes.append("the appliance ran with TCG (KVM was refused earlier)")
        self.boot_s = time.monotonic() - started
        _live.add(self)

    def note(self) -> str:
        """What a report says about this appliance: backend, boot time, disks attached."""
        disks = len(self.disks)
        head = (
            f"libguestfs appliance: {self.backend or '?'}, booted in {self.boot_s:.1f} s "
            f"for {disks} disk{'s' if disks != 1 else ''}"
        )
        if self.kvm_attempt_s:
            head += f" (after a KVM attempt of {self.kvm_attempt_s:.1f} s)"
        return "; ".join([head, *self.notes])

    def _launch(self, tcg: bool) -> None:
        env = dict(os.environ, LIBGUESTFS_BACKEND="direct")
        if tcg:
            env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
        if shutil.which("guestfish") is None:
            raise UsageError(
                "disk: needs libguestfs (apt-get install libguestfs-tools linux-image-amd64)"
            )
        args = ["guestfish", "--ro"]
        for disk in self.disks:
            fmt = disk_format(disk)
            args += [f"--format={fmt}" if fmt else "--format", "-a", str(disk)]
        self._tmp = tempfile.mkdtemp(prefix="reprokit-disk-")
        self._stderr = []
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # Ctrl-C reaches reprokit, which closes the appliance
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.run("run")

    def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip())

    def run(self, command: str) -> str:
        """Run one guestfish command; its standard output. A command starting with ``-`` may
        fail (its output is then empty)."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise DiskError("the libguestfs appliance is not running")
        try:
            proc.stdin.write(f"{command}\necho-daemon {_MARK}\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._failed(command) from None
        lines = []
        for line in proc.stdout:
            if line.rstrip("\n") == _MARK:
                return "\n".join(lines)
            lines.append(line.rstrip("\n"))
        raise self._failed(command)

    def _failed(self, command: str) -> DiskError:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        errors = [line for line in self._stderr if "error" in line] or self._stderr[-3:]
        first = errors[0] if errors else "guestfish ended"
        return DiskError(f"libguestfs: {command.split()[0]}: {first.replace('*stdin*:', '')}")

    def _fifo(self, name: str) -> str:
        """A fresh FIFO ``name`` in the session's private directory."""
        assert self._tmp is not None
        fifo = os.path.join(self._tmp, name)
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo, 0o600)
        return fifo

    def tar_out(self, directory: str, where: str, tap=None, cancel=None) -> LayerIndex:
        """Stream ``directory`` of the mounted filesystem through a FIFO into the reader."""
        fifo = self._fifo("tar")
        result: list[LayerIndex] = []
        failure: list[BaseException] = []

        def read() -> None:
            try:
                with open(fifo, "rb") as stream:
                    result.append(index_layer(stream, where, cancel, tap))
            except BaseException as err:
                failure.append(err)

        reader = threading.Thread(target=read, name="reprokit-tar-out", daemon=True)
        reader.start()
        try:
            self.run(f"tar-out {directory} {fifo} numericowner:true xattrs:true")
        except DiskError:
            _unblock(fifo)
            reader.join()
            raise
        reader.join()
        if failure:
            raise failure[0]
        return result[0]

    def tar_chunks(self, directory: str) -> Iterator[bytes]:
        """``directory`` of what is mounted, as one tar stream (through a FIFO), chunk by
        chunk; a failure of ``tar-out`` raises when the chunks run out."""
        fifo = self._fifo("export")
        failure: list[BaseException] = []

        def write() -> None:
            try:
                self.run(f"tar-out {directory} {fifo} numericowner:true xattrs:true")
            except BaseException as err:
                failure.append(err)
                _unblock(fifo)

        writer = threading.Thread(target=write, name="reprokit-tar-export", daemon=True)
        writer.start()
        try:
            with open(fifo, "rb") as stream:
                while chunk := stream.read(CHUNK):
                    yield chunk
        finally:
            writer.join()
        if failure:
            raise failure[0]

    def close(self) -> None:
        """Stop the appliance and remove its FIFO directory (safe to call twice)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                if proc.stdin is not None:
                    proc.stdin.write("quit\n")
                    proc.stdin.close()
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        _live.discard(self)


def _unblock(fifo: str) -> None:
    """Let a reader blocked on opening ``fifo`` go (the writer never came)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


@atexit.register
def _close_all() -> None:
    for appliance in list(_live):
        appliance.close()


class _Shared:
    """One appliance for the disks of a comparison: started by the first read, stopped when
    the last of its sources has been read (``keep``: only when :func:`one_appliance` ends)."""

    def __init__(self, disks: list[Path], keep: bool = False):
        self.appliance = Appliance(disks)
        self.pending = len(disks)
        self.lock = threading.Lock()
        self.keep = keep

    def acquire(self) -> Appliance:
        self.lock.acquire()
        if self.appliance._proc is None:
            try:
                self.appliance.start()
            except BaseException:
                self.appliance.close()
                self.lock.release()
                raise
        return self.appliance

    def release(self) -> None:
        self.pending -= 1
        if self.pending <= 0 and not self.keep:
            self.appliance.close()
        self.lock.release()

    def close(self) -> None:
        """Stop the appliance now (a comparison that ended before reading every disk)."""
        with self.lock:
            self.appliance.close()


_pools: list[_Shared] = []


@contextlib.contextmanager
def one_appliance(disks: Iterable[str | Path]) -> Iterator[Appliance]:
    """Attach all ``disks`` to one appliance, booted on first use and stopped when the block
    ends: every read of one of these disks in the block (comparisons, inventories, parity)
    shares it, so many comparisons pay one boot.

    >>> with one_appliance(["a.qcow2", "b.raw", "c.raw"]):  # doctest: +SKIP
    ...     same = reprokit.compare("disk:a.qcow2", "disk:b.raw")
    ...     other = reprokit.compare("disk:a.qcow2", "disk:c.raw")
    """
    paths = list(dict.fromkeys(Path(d).resolve() for d in disks))
    for path in paths:
        if not path.is_file():
            raise UsageError(f"disk:{path}: no such disk image")
    pool = _Shared(paths, keep=True)
    _pools.append(pool)
    try:
        yield pool.appliance
    finally:
        _pools.remove(pool)
        pool.close()


def _pooled(path: Path) -> _Shared | None:
    return next((p for p in reversed(_pools) if path in p.appliance.disks), None)


# -- the source ---------------------------------------------------------------------------


class DiskSource(MachineSource):
    """A disk image: partition table, filesystems and their files, as one image."""

    transport = "disk"

    def __init__(self, path: str | Path, partition: int | None = None):
        self.path = Path(path).resolve()
        self.partition = partition
        self.ref = str(path) + (f":{partition}" if partition is not None else "")
        self._shared: _Shared | None = None
        self._partner: DiskSource | None = None
        self.notes: list[str] = []

    def pair_with(self, other: Source) -> None:
        """Read this disk and ``other`` (when it is a disk too) in one appliance."""
        if isinstance(other, DiskSource):
            self._partner, other._partner = other, self
            _share(self, other)

    def read(
        self,
        skip: Collection[str] = (),
        cancel: threading.Event | None = None,
        tap_for: TapFor | None = None,
    ) -> Image:
        with self._appliance() as appliance:
            image = read_disk(appliance, self, cancel, tap_for)
            self.notes = [appliance.note()]
        image.notes = list(self.notes)
        return image

    @contextlib.contextmanager
    def _appliance(self) -> Iterator[Appliance]:
        """The appliance this disk is read in: one of :func:`one_appliance`, the one shared
        with the other disk of a pair, or its own; held for the block."""
        if not self.path.is_file():
            raise UsageError(f"{self}: no such disk image")
        with _pairing:  # a later pass (e.g. content evidence) reads both in one appliance again
            pooled = _pooled(self.path)
            if pooled is not None:
                shared = pooled
            else:
                if self._shared is None and self._partner is not None:
                    _share(self, self._partner)
                shared = self._shared or _Shared([self.path])
            self._shared = None
        appliance = shared.acquire()
        try:
            yield appliance
        finally:
            shared.release()

    @contextlib.contextmanager
    def export_tar(self) -> Iterator[Iterator[bytes]]:
        """The root filesystem with the filesystems ``/etc/fstab`` mounts below it, as one tar
        (``tar-out`` of the mounted tree); other filesystems are left out."""
        with self._appliance() as appliance:
            _, _, filesystems = disk_layout(appliance, self)
            mounted = sorted(
                (fs for fs in filesystems if fs["mountpoint"] == "/" or fs["in_fstab"]),
                key=lambda fs: (fs["mountpoint"].count("/"), fs["mountpoint"]),
            )
            try:
                for fs in mounted:
                    # a mount point missing in the (read-only) root leaves that filesystem out
                    appliance.run(f"-mount-ro {fs['device']} {fs['mountpoint']}")
                self.notes = [appliance.note()]
                chunks = appliance.tar_chunks("/")
                try:
                    yield chunks
                finally:
                    chunks.close()  # an unfinished stream: tar-out stops, its thread ends
            finally:
                with contextlib.suppress(DiskError):
                    appliance.run("umount-all")

    def close(self) -> None:
        """Stop an appliance started for this disk and not yet used up (e.g. the other side
        of a pair failed before this one was read)."""
        shared, self._shared = self._shared, None
        if shared is not None and not shared.keep:
            shared.close()


_pairing = threading.Lock()


def _share(a: DiskSource, b: DiskSource) -> None:
    """Give two disks one appliance for their next read (unless one has one already)."""
    if a._shared is None and b._shared is None:
        disks = [a.path] if b.path == a.path else [a.path, b.path]
        shared = _Shared(disks)
        shared.pending = 2
        a._shared = b._shared = shared


def _filesystems(appliance: Appliance, dev: str, partition: int | None) -> list[tuple[str, str]]:
    found = []
    if ("filesystems",) not in appliance.cache:  # probes every attached disk: asked once
        appliance.cache["filesystems",] = appliance.run("list-filesystems")
    for line in appliance.cache["filesystems",].splitlines():
        device, _, fstype = line.partition(": ")
        if not re.fullmatch(re.escape(dev) + r"\d*", device):
            continue
        if fstype in ("unknown", "swap", "") or (device == dev and fstype == "unknown"):
            continue
        number = int(device[len(dev) :] or 0)
        if partition is None or number == partition:
            found.append((device, fstype))
    if partition is not None and not found:
        raise UsageError(f"disk:{dev}: no filesystem on partition {partition}")
    return found


def _fstab_mounts(text: str, filesystems: list[dict[str, Any]]) -> dict[str, str]:
    """device → mount point, from an fstab naming filesystems by UUID=, LABEL= or device."""
    by_key: dict[str, str] = {}
    for fs in filesystems:
        if fs.get("uuid"):
            by_key[f"UUID={fs['uuid']}".lower()] = fs["device"]
        if fs.get("label"):
            by_key[f"LABEL={fs['label']}".lower()] = fs["device"]
        by_key[fs["device"]] = fs["device"]
    mounts = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#"):
            device = by_key.get(fields[0].lower()) or by_key.get(fields[0])
            if device and fields[1].startswith("/"):
                mounts[device] = fields[1]
    return mounts


def disk_layout(
    appliance: Appliance, source: DiskSource
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The disk's device in the appliance, its partition table and its filesystems (metadata,
    ``mountpoint`` in the image, ``in_fstab``), outermost first; asked once per disk and
    appliance (a copy each time)."""
    dev = appliance.device(source.path)
    key = ("layout", dev, str(source.partition))
    if key not in appliance.cache:
        appliance.cache[key] = _disk_layout(appliance, source, dev)
    table, filesystems = copy.deepcopy(appliance.cache[key])
    return dev, table, filesystems


def _disk_layout(
    appliance: Appliance, source: DiskSource, dev: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = appliance.run
    table: dict[str, Any] = {"type": run(f"-part-get-parttype {dev}").strip() or None}
    if table["type"]:
        parts = parse_part_list(run(f"part-list {dev}"))
        if table["type"] == "gpt":
            table["guid"] = run(f"-part-get-disk-guid {dev}").strip() or None
            for p in parts:
                p["type"] = run(f"-part-get-gpt-type {dev} {p['number']}").strip()
                p["guid"] = run(f"-part-get-gpt-guid {dev} {p['number']}").strip()
                p["name"] = run(f"-part-get-name {dev} {p['number']}").strip()
        elif table["type"] == "msdos":
            for p in parts:
                p["type"] = run(f"-part-get-mbr-id {dev} {p['number']}").strip()
        table["partitions"] = parts
    filesystems: list[dict[str, Any]] = []
    for device, fstype in _filesystems(appliance, dev, source.partition):
        fs: dict[str, Any] = {"device": device, "type": fstype}
        if fstype.startswith("ext"):
            fs.update(parse_tune2fs(run(f"tune2fs-l {device}")))
        else:
            fs["uuid"] = run(f"-vfs-uuid {device}").strip()
            fs["label"] = run(f"-vfs-label {device}").strip()
        run(f"mount-ro {device} /")
        fs["root"] = run("is-dir /etc").strip() == "true" and run("is-dir /usr").strip() == "true"
        fstab = run("-cat /etc/fstab") if fs["root"] else ""
        run("umount-all")
        fs["fstab"] = fstab
        filesystems.append(fs)
    if not filesystems:
        raise DiskError(f"{source}: no filesystem reprokit can read on this disk")
    roots = [fs for fs in filesystems if fs["root"]] or filesystems[:1]
    root = roots[0]
    mounts = _fstab_mounts(root["fstab"], filesystems)
    for fs in filesystems:
        number = fs["device"][len(dev) :] or "0"
        fs["in_fstab"] = fs["device"] in mounts
        fs["mountpoint"] = (
            "/"
            if fs is root or len(filesystems) == 1
            else mounts.get(fs["device"], f"/part{number}")
        )
    filesystems.sort(key=lambda fs: (fs["mountpoint"].count("/"), fs["mountpoint"]))
    return table, filesystems


def read_disk(
    appliance: Appliance,
    source: DiskSource,
    cancel: threading.Event | None = None,
    tap_for: TapFor | None = None,
) -> Image:
    """Partition table, filesystem metadata and one layer per filesystem of ``source``."""
    dev, table, filesystems = disk_layout(appliance, source)
    run = appliance.run
    layers = []
    for fs in filesystems:
        prefix = "" if fs["mountpoint"] == "/" else fs["mountpoint"]
        tap = tap_for(None) if tap_for else None
        if tap is not None and prefix:
            tap = _Prefixed(tap, prefix)
        run(f"mount-ro {fs['device']} /")
        try:
            layer = appliance.tar_out("/", f"{source}:{fs['device']}", tap, cancel)
        finally:
            run("umount-all")
        layers.append(_tidy(layer, prefix, fs))
    block = _block_digest(appliance, source, dev)
    disk: dict[str, Any] = {
        "sha256": block,
        "size": _size(appliance, dev),
        "partition_table": table,
        "filesystems": [
            {"partition": int(fs["device"][len(dev) :] or 0)}
            | {k: v for k, v in fs.items() if k not in ("root", "fstab", "device", "in_fstab")}
            for fs in filesystems
        ],
    }
    config = rootfs_config(layers[0].diff_id, disk=disk)
    config["rootfs"]["diff_ids"] = [layer.diff_id for layer in layers]
    return Image(
        str(source), "sha256:" + block, config, [layer.diff_id for layer in layers], layers
    )


class _Prefixed:
    """A tap seeing a filesystem mounted below ``prefix`` at its paths in the image."""

    def __init__(self, tap, prefix: str):
        self.tap, self.prefix = tap, prefix

    def wants(self, path: str, size: int) -> bool:
        return self.tap.wants(self.prefix + path, size)

    def take(self, path: str, data: bytes) -> None:
        self.tap.take(self.prefix + path, data)


def _tidy(layer: LayerIndex, prefix: str, fs: dict[str, Any]) -> LayerIndex:
    """The filesystem's records at their paths in the image; ``/`` (the mount point itself)
    and an empty ext ``lost+found`` (made by mkfs, not by the build) are left out and the
    order the files are stored in (directory hash seed, inode allocation) is kept as a
    digest."""
    paths = [r.path for r in layer.records]
    fs["order"] = hashlib.sha256("\n".join(paths).encode("utf-8", "surrogateescape")).hexdigest()
    records = canonical_hardlinks(list(layer.records))
    keep = []
    lost = "/lost+found"
    lost_empty = fs["type"].startswith("ext") and not any(p.startswith(lost + "/") for p in paths)
    for rec in records:
        if rec.path == "/" or (lost_empty and rec.path == lost):
            continue
        if prefix:
            link = rec.linkname
            if rec.type == "hardlink" and link:
                link = prefix + link
            rec = dataclasses.replace(rec, path=prefix + rec.path, linkname=link)
        keep.append(rec)
    if prefix:
        keep.insert(0, dataclasses.replace(layer.records[0], path=prefix, type="dir"))
    return LayerIndex(layer.diff_id, layer.size, keep, layer.content_bytes)


def canonical_hardlinks(records: list[FileRecord]) -> list[FileRecord]:
    """Which of a set of hard links tar writes as the file follows the directory order (the
    hash seed); here the first path in sorted order is always the file, as in ``dir:``.

    >>> f = FileRecord("/b", "file", size=2, sha256="x")
    >>> h = FileRecord("/a", "hardlink", sha256="x", linkname="/b")
    >>> [(r.path, r.type, r.linkname) for r in canonical_hardlinks([f, h])]
    [('/b', 'hardlink', '/a'), ('/a', 'file', None)]
    """
    at = {r.path: i for i, r in enumerate(records)}
    groups: dict[str, list[str]] = {}
    for r in records:
        if r.type == "hardlink" and r.linkname in at:
            groups.setdefault(r.linkname, [r.linkname]).append(r.path)
    for target, members in groups.items():
        first = min(members)
        if first == target:
            continue
        file_rec = records[at[target]]
        for path in members:
            if path == first:
                records[at[path]] = dataclasses.replace(file_rec, path=path)
            else:
                base = file_rec if path == target else records[at[path]]
                records[at[path]] = dataclasses.replace(
                    base, path=path, type="hardlink", linkname=first, size=0
                )
    return records


def _size(appliance: Appliance, dev: str) -> int:
    if ("size", dev) not in appliance.cache:
        appliance.cache["size", dev] = int(appliance.run(f"blockdev-getsize64 {dev}").strip())
    return int(appliance.cache["size", dev])


def _block_digest(appliance: Appliance, source: DiskSource, dev: str) -> str:
    """sha256 of the guest-visible bytes: of the file itself for a raw image (no need to send
    it through the appliance), else computed in the appliance."""
    if disk_format(source.path) == "raw":
        digest = hashlib.sha256()
        with source.path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    if ("sha256", dev) not in appliance.cache:
        appliance.cache["sha256", dev] = appliance.run(f"checksum-device sha256 {dev}").strip()
    return str(appliance.cache["sha256", dev])
