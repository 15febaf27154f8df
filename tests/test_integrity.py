"""Integrity before trust, in the library: skipped layers are verified, blobs and manifests are
checked against their digests, a docker save stream too; limits are configurable; reading a
member stays cancellable."""

from __future__ import annotations

import io
import tarfile
import threading

import hostile
import pytest
import tarcraft as tc

from reprokit.errors import ArchiveError, Cancelled, IntegrityError, UsageError
from reprokit.read.layers import hash_layer, index_layer
from reprokit.read.limits import Limits, configure, current
from reprokit.read.streams import ChunkReader
from reprokit.sources.daemon import DaemonSource
from reprokit.sources.refs import parse_ref


def _layers():
    return (
        tc.make_layer([tc.file("bin/sh", b"#!")]),
        tc.make_layer([tc.file("etc/passwd", b"root")], "gzip"),
    )


def test_a_skipped_layer_is_hashed_and_checked(tmp_path):
    base, top = _layers()
    evil = tc.make_layer([tc.file("etc/passwd", b"evil")], "gzip")
    good = tc.write_docker_archive(tmp_path / "good.tar", [base, top])
    bad = tc.write_docker_archive(tmp_path / "bad.tar", [base, evil], tc.image_config([base, top]))
    skip = {base.diff_id, top.diff_id}
    image = parse_ref(f"docker-archive:{good}").read(skip)
    assert image.layers == [None, None]
    with pytest.raises(IntegrityError, match="layer 1") as info:
        parse_ref(f"docker-archive:{bad}").read(skip)
    assert info.value.declared == top.diff_id and info.value.actual == evil.diff_id
    # only a caller that reads no verdict from them may leave skipped layers unread
    assert parse_ref(f"docker-archive:{bad}").read(skip, verify_skipped=False).layers == [
        None,
        None,
    ]


def test_oci_images_carry_their_verified_manifest_digest(tmp_path):
    base, top = _layers()
    layout = tc.write_oci_layout(tmp_path / "oci", [tc.OciImage([base, top])])
    image = parse_ref(f"oci:{layout}").read()
    index = tc.json.loads((layout / "index.json").read_text())
    assert image.manifest_digest == index["manifests"][0]["digest"]
    archive = tc.write_docker_archive(tmp_path / "a.tar", [base, top])
    assert parse_ref(f"docker-archive:{archive}").read().manifest_digest is None


def test_a_blob_size_other_than_its_descriptor_says_is_an_error(tmp_path):
    base, top = _layers()
    layout = tc.write_oci_layout(tmp_path / "oci", [tc.OciImage([base, top])])
    blob = layout / "blobs" / "sha256" / top.digest.split(":")[1]
    blob.write_bytes(blob.read_bytes() + b"\0" * 10)  # gzip ignores trailing zeros
    with pytest.raises(IntegrityError, match="blob"):
        parse_ref(f"oci:{layout}").read()


def _save_stream(layers, config, tamper: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    raw_config = tc.config_bytes(config)
    names = []
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i, layer in enumerate(layers):
            name = "blobs/sha256/" + layer.digest.split(":")[1]
            data = tamper if (tamper is not None and i == len(layers) - 1) else layer.blob
            tc._add(tf, name, data)
            names.append(name)
        config_name = "blobs/sha256/" + tc.sha256_digest(raw_config).split(":")[1]
        tc._add(tf, config_name, raw_config)
        manifest = [{"Config": config_name, "RepoTags": ["x:1"], "Layers": names}]
        tc._add(tf, "manifest.json", tc.json.dumps(manifest).encode())
    return buf.getvalue()


@pytest.mark.parametrize("skip_top", [True, False])
def test_a_docker_save_stream_is_checked_skipped_or_not(skip_top):
    base, _ = _layers()
    top = tc.make_layer([tc.file("etc/passwd", b"root")])  # docker save: uncompressed
    config = tc.image_config([base, top])
    source = DaemonSource("x:1")
    skip = {base.diff_id, top.diff_id} if skip_top else set()
    stream = ChunkReader(iter([_save_stream([base, top], config)]))
    image = source._read_save_stream(stream, {"Id": "sha256:" + "0" * 64}, skip, None)
    assert (image.layers[1] is None) == skip_top
    evil = tc.layer_tar([tc.file("etc/passwd", b"evil")])
    stream = ChunkReader(iter([_save_stream([base, top], config, tamper=evil)]))
    with pytest.raises(IntegrityError, match="does not match"):
        source._read_save_stream(stream, {"Id": "sha256:" + "0" * 64}, skip, None)


def test_limits_from_the_environment_and_python(monkeypatch):
    monkeypatch.setenv("REPROKIT_LIMITS", "layer_entries=7, metadata_bytes=2K")
    assert configure().layer_entries == 7 and current().metadata_bytes == 2048
    with pytest.raises(UsageError, match="unknown limit"):
        Limits.parse("layers=1")
    with pytest.raises(UsageError, match="whole number"):
        Limits.parse("layer_entries=1e9")
    monkeypatch.delenv("REPROKIT_LIMITS")
    assert configure() == Limits()


def test_entries_past_the_limit_are_refused():
    tar = tc.layer_tar([tc.file(f"f{i}", b"") for i in range(20)])
    configure(layer_entries=10)
    try:
        with pytest.raises(ArchiveError, match="limit layer_entries"):
            index_layer(io.BytesIO(tar), "l")
        with pytest.raises(ArchiveError, match="limit image_entries"):
            index_layer(io.BytesIO(tar), "l", max_entries=5)
    finally:
        configure()


def test_reading_a_member_stays_cancellable():
    """A sparse member claiming 64 GiB (allowed here) is hashed as zeros; cancel stops it."""
    gib = 1 << 36
    extra = {
        386: hostile._b256(gib - 512, 12),
        398: hostile._octal(512, 12),
        482: b"\0",
        483: hostile._b256(gib, 12),
    }
    tar = hostile.header(b"big", 512, b"S", extra=extra) + b"x" * 512 + hostile.END
    configure(sparse_bytes=1 << 40)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    try:  # (without cancellation inside the member, 1 TiB would outlast the test timeout)
        with pytest.raises(Cancelled):
            index_layer(io.BytesIO(tar), "l", cancel)
    finally:
        configure()


def test_hash_layer_gives_the_diff_id_without_parsing():
    _, top = _layers()
    assert hash_layer(io.BytesIO(top.blob)) == (top.diff_id, len(top.tar))
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        hash_layer(io.BytesIO(top.blob[:-9]))
