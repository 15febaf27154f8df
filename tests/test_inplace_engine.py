"""Images read in place from the engine's overlay2 storage give the records the export gives.

Every test image is read both ways (``read_path="in-place"`` and ``"export"``) and compared
field by field, layer by layer, with the deletions, the merged view and the bytes taps see.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import docker
import pytest
import tarcraft as tc
from conftest import run_cli
from engines import ExtraEngine

import reprokit
from reprokit.errors import ArchiveError, ReprokitError
from reprokit.read.layer_tree import LayerTree, NotInPlace
from reprokit.read.limits import current
from reprokit.read.tarsplit import header_member
from reprokit.read.tarstream import TarReader
from reprokit.records import FileRecord
from reprokit.sources import inplace
from reprokit.sources.daemon import DaemonSource
from reprokit.sources.inplace import NOTE, locate, storage_for

pytestmark = pytest.mark.engine

#: whiteouts, an opaque directory, hardlinks (also to a large file), symlinks pointing out of
#: the layer, devices, a fifo, setuid/setgid, empty files, a name that is not UTF-8
FEATURES = """\
FROM {base}
RUN mkdir -p /d/sub /o/keep && echo a > /d/sub/x && echo b > /d/y && echo c > /o/keep/z \\
 && echo h > /h1 && ln /h1 /h2 && ln /h1 /d/h3 && : > /empty && echo s > /suid \\
 && chmod 4755 /suid
RUN rm /d/y && rm -rf /o && mkdir -p /o/new && echo n > /o/new/f \\
 && ln -s /etc/shadow /leak && ln -s ../../.. /d/up && mknod /chr c 1 3 && mknod /blk b 7 0 \\
 && mkfifo /fifo && chmod 2755 /d && touch "$(printf 'caf\\351')" && : > /e2 \\
 && dd if=/dev/urandom of=/big bs=1M count=3 2>/dev/null && ln /big /big2
"""


def _crafted_layers() -> list[tc.Layer]:
    """Headers docker's own writer never makes: PAX xattrs, long names (PAX and GNU), large
    ids, sub-second mtimes, a name that is not UTF-8, whiteouts and opaque markers."""
    long = "l/" + "n" * 150
    first = tc.make_layer(
        [
            tc.directory("etc"),
            tc.file("etc/a", b"a\n", pax={"SCHILY.xattr.user.note": "hello"}),
            tc.file("etc/bin", b"\x7fELF", pax={"SCHILY.xattr.user.bin": "\x01\x02"}),
            tc.file("etc/big-ids", b"x", uid=3_000_000, gid=2_500_000),
            tc.file("etc/frac", b"f", mtime=1_700_000_000.25),
            tc.directory("l"),
            tc.file(long, b"long"),
            tc.file(b"caf\xe9", b"latin-1 name"),
            tc.hardlink("etc/a-link", "etc/a"),
            tc.directory("gone"),
            tc.file("gone/x", b"x"),
        ]
    )
    second = tc.make_layer(
        [
            tc.directory("etc"),
            tc.whiteout("etc/frac"),
            tc.directory("gone"),
            tc.opaque("gone"),
            tc.file("gone/y", b"y"),
        ]
    )
    gnu = tc.make_layer(
        [tc.directory("g"), tc.file("g/" + "m" * 120, b"gnu"), tc.symlink("g/s", "/" + "t" * 120)],
        fmt=tarfile.GNU_FORMAT,
    )
    return [first, second, gnu]


def _load(client: docker.DockerClient, path: Path, layers: list[tc.Layer], tag: str) -> str:
    tc.write_docker_archive(path, layers, repo_tags=[tag])
    with open(path, "rb") as f:
        client.images.load(f.read())
    return tag


class _All:
    """A tap wanting every file up to 4 MiB."""

    def __init__(self) -> None:
        self.seen: dict[str, bytes] = {}

    def wants(self, path: str, size: int) -> bool:
        return size <= 4 << 20

    def take(self, path: str, data: bytes) -> None:
        self.seen[path] = data


def read_both_ways(ref: str, base_url: str | None = None) -> None:
    """Read ``ref`` in place and through the export; everything must be the same."""
    taps: dict[str, dict[str | None, _All]] = {"in-place": {}, "export": {}}
    images = {}
    for how in taps:
        source = DaemonSource(ref, base_url=base_url, read_path=how)

        def tap_for(diff_id: str | None, how: str = how) -> _All:
            return taps[how].setdefault(diff_id, _All())

        images[how] = source.read(tap_for=tap_for)
        assert source.read_by == how
    a, b = images["in-place"], images["export"]
    assert (a.id, a.config, a.diff_ids, a.repo_tags) == (b.id, b.config, b.diff_ids, b.repo_tags)
    assert a.notes == [NOTE] and b.notes == []
    for i, (la, lb) in enumerate(zip(a.layers, b.layers, strict=True)):
        assert la is not None and lb is not None
        assert (la.diff_id, la.size, la.content_bytes) == (lb.diff_id, lb.size, lb.content_bytes)
        assert len(la.records) == len(lb.records), (ref, i)
        for ra, rb in zip(la.records, lb.records, strict=True):
            for f in fields(FileRecord):
                assert getattr(ra, f.name) == getattr(rb, f.name), (ref, i, rb.path, f.name)
        assert la.deletions() == lb.deletions()
    assert a.merged() == b.merged()
    assert {k: t.seen for k, t in taps["in-place"].items()} == {
        k: t.seen for k, t in taps["export"].items()
    }


@pytest.fixture(scope="module")
def local_storage(client):
    if storage_for(os.environ.get("DOCKER_HOST")) is None:
        pytest.skip("the test engine is not a local overlay2 engine on the classic store")


@contextlib.contextmanager
def removed(client: docker.DockerClient, *tags: str) -> Iterator[None]:
    try:
        yield
    finally:
        for tag in tags:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag, force=True)


def test_every_test_image_reads_the_same_in_place(
    client, busybox, debian, context, tmp_path, local_storage, no_leftovers, monkeypatch
):
    """In this thread and in a child process (reprokit.read.layer_worker), as large images are."""
    run = uuid.uuid4().hex[:8]
    classic, kit, crafted = (f"reprokit-inplace:{run}-{n}" for n in ("classic", "kit", "crafted"))
    ctx = context(FEATURES.format(base=busybox))
    with removed(client, classic, kit, crafted):
        client.images.build(path=str(ctx), tag=classic, network_mode="none", rm=True)
        subprocess.run(
            ["docker", "build", "-q", "--network", "none", "-t", kit, str(ctx)],
            check=True,
            capture_output=True,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
        _load(client, tmp_path / "crafted.tar", _crafted_layers(), crafted)
        for worker in (False, True):
            monkeypatch.setattr(inplace, "WORKER_BYTES", 0 if worker else 1 << 60)
            for ref in (busybox, debian, classic, kit, crafted):
                read_both_ways(ref)
        merged = DaemonSource(classic, read_path="in-place").read().merged()
        assert merged["/leak"].type == "symlink" and merged["/leak"].linkname == "/etc/shadow"
        assert "/d/y" not in merged and "/o/keep" not in merged and "/o/new/f" in merged


def test_a_layer_that_changed_in_storage_is_read_from_the_export(
    client, tmp_path, local_storage, no_leftovers
):
    """The engine refuses tars it could not store exactly (paths written twice, sparse
    files), so a layer directory unlike its tar-split record has changed since: that layer is
    read from the export instead, which here fails as the engine's own check does — a
    reprokit error either way, never a traceback."""
    tag = f"reprokit-inplace:{uuid.uuid4().hex[:8]}-changed"
    layers = [tc.make_layer([tc.file("ok", b"fine")]), tc.make_layer([tc.file("f", b"before")])]
    with removed(client, tag):
        _load(client, tmp_path / "changed.tar", layers, tag)
        source = DaemonSource(tag)
        storage = storage_for(os.environ.get("DOCKER_HOST"))
        assert storage is not None
        _, stored = locate(storage, client.images.get(tag).id, tag)
        (stored[1].diff / "f").write_bytes(b"after: longer")
        with pytest.raises(ReprokitError, match="checksum failed"):
            source.read()
        assert source.read_by == "in-place"  # the first layer was read in place
        with pytest.raises(ArchiveError, match="layer 1 cannot be read in place exactly"):
            DaemonSource(tag, read_path="in-place").read()


def test_a_path_through_a_symlink_is_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    layer = tmp_path / "diff"
    layer.mkdir()
    (layer / "dir").symlink_to(outside)
    (layer / "leak").symlink_to(outside / "secret")
    (layer / "ok").write_text("ok")
    tree = LayerTree(layer)
    try:
        with pytest.raises(NotInPlace, match="cannot open"):
            tree.digest(b"dir/secret", 6)
        with pytest.raises(NotInPlace, match="cannot open"):
            tree.read(b"leak", 6)
        with pytest.raises(NotInPlace, match="not the regular file"):
            tree.read(b"ok", 3)
        assert tree.read(b"ok", 2) == b"ok"
    finally:
        tree.close()


def test_verify_digests_and_forced_export_read_through_docker_save(
    client, busybox, context, tmp_path, local_storage, no_leftovers
):
    run = uuid.uuid4().hex[:8]
    a, b = f"reprokit-inplace:{run}-a", f"reprokit-inplace:{run}-b"
    with removed(client, a, b):
        for tag in (a, b):
            ctx = context(f"FROM {busybox}\nRUN echo {tag} > /id\n", name=tag.replace(":", "-"))
            client.images.build(path=str(ctx), tag=tag, network_mode="none", rm=True)
        in_place = reprokit.compare(a, b)
        verified = reprokit.compare(a, b, verify_digests=True)
        assert [i.notes for i in in_place.images] == [[NOTE], [NOTE]]
        assert [i.notes for i in verified.images] == [[], []]
        strip = {"images", "duration_s"}
        assert {k: v for k, v in in_place.to_dict().items() if k not in strip} == {
            k: v for k, v in verified.to_dict().items() if k not in strip
        }
        for i in (0, 1):
            assert {**in_place.to_dict()["images"][i], "notes": []} == {
                **verified.to_dict()["images"][i],
                "notes": [],
            }
        source = DaemonSource(a, read_path="export")
        source.read()
        assert source.read_by == "export"
        assert DaemonSource(a).verifying().read_path == "export"
        for extra, notes in (([], [NOTE]), (["--verify-digests"], None)):
            out = tmp_path / f"report{len(extra)}.json"
            proc = run_cli("diff", a, b, "--json", str(out), *extra)
            assert proc.returncode == 1, proc.stderr  # different: /id differs
            images = json.loads(out.read_text())["images"]
            assert [i.get("notes") for i in images] == [notes, notes]
    for command in ("diff", "check"):
        assert "--verify-digests" in run_cli(command, "--help").stdout


def test_the_containerd_store_falls_back_to_the_export(tmp_path):
    engine = ExtraEngine("containerd").start()
    try:
        other = docker.DockerClient(base_url=engine.url, timeout=300)
        tag = f"reprokit-inplace:{uuid.uuid4().hex[:8]}-ctd"
        try:
            _load(other, tmp_path / "ctd.tar", [tc.make_layer([tc.file("a", b"a")])], tag)
            assert storage_for(engine.url) is None
            source = DaemonSource(tag, base_url=engine.url)
            image = source.read()
            assert source.read_by == "export" and image.notes == []
            assert [r.path for r in image.layers[0].records] == ["/a"]
            with pytest.raises(ArchiveError, match="cannot be read in place"):
                DaemonSource(tag, base_url=engine.url, read_path="in-place").read()
        finally:
            with contextlib.suppress(docker.errors.APIError):
                other.images.remove(tag, force=True)
            other.close()
    finally:
        engine.stop()


def test_a_header_tarfile_refuses_is_left_to_the_export():
    """A header the export's own parser would refuse is not read in place (the export then
    gives its error): never a traceback from here."""
    info = tarfile.TarInfo("x")
    block = bytearray(info.tobuf())
    block[148:156] = b"0000001\0"  # a wrong checksum
    with pytest.raises(NotInPlace, match="bad checksum"):
        header_member(TarReader(io.BytesIO(), current()), bytes(block), 0)
