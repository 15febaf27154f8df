"""Unit tests for the streaming layer reader (:func:`reprokit.read.layers.index_layer`) and
:func:`reprokit.read.layers.merge`, on layer tars crafted in memory."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import struct
import tarfile

import pytest
import tarcraft as tc
import zstandard

from reprokit.errors import ArchiveError, Cancelled
from reprokit.read.layers import LayerIndex, index_layer, merge
from reprokit.read.streams import compression_of
from reprokit.records import FileRecord


def read(blob: bytes, where: str = "test layer") -> LayerIndex:
    return index_layer(io.BytesIO(blob), where=where)


def by_path(members: list[tc.Member], **kw) -> dict[str, FileRecord]:
    return read(tc.layer_tar(members, **kw)).by_path()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- record kinds ------------------------------------------------------------------------------


def test_regular_file_record_has_content_digest_and_metadata():
    data = b"hello world\n" * 1000
    recs = by_path([tc.file("etc/motd", data, mode=0o4755, uid=12, gid=34, mtime=1234)])
    assert list(recs) == ["/etc/motd"]
    rec = recs["/etc/motd"]
    assert rec.type == "file"
    assert rec.sha256 == sha(data)
    assert rec.size == len(data)
    assert (rec.mode, rec.uid, rec.gid, rec.mtime) == (0o4755, 12, 34, 1234)
    assert rec.linkname is None and rec.device is None and rec.xattrs == ()


def test_empty_file_and_large_file_digests():
    big = bytes(range(256)) * 9000  # > 2 MiB, crosses the reader's 1 MiB chunks
    recs = by_path([tc.file("empty"), tc.file("big", big)])
    assert recs["/empty"].sha256 == sha(b"")
    assert recs["/empty"].size == 0
    assert recs["/big"].sha256 == sha(big)
    layer = read(tc.layer_tar([tc.file("empty"), tc.file("big", big)]))
    assert layer.content_bytes == len(big)


def test_directory_record():
    rec = by_path([tc.directory("usr/lib/", mode=0o750, uid=5)])["/usr/lib"]
    assert rec.type == "dir"
    assert (rec.mode, rec.uid, rec.size, rec.sha256) == (0o750, 5, 0, None)


def test_symlink_keeps_linkname_as_written():
    recs = by_path(
        [
            tc.symlink("bin/sh", "busybox"),
            tc.symlink("lib64", "/usr/lib/../lib64/"),
            tc.symlink("bad", b"caf\xe9"),
        ]
    )
    assert recs["/bin/sh"].type == "symlink"
    assert recs["/bin/sh"].linkname == "busybox"
    assert recs["/bin/sh"].sha256 is None
    assert recs["/lib64"].linkname == "/usr/lib/../lib64/"  # not normalized: it is data
    assert recs["/bad"].linkname == "caf\\xe9"


def test_hardlink_is_normalized_and_copies_target_digest():
    data = b"#!/bin/sh\necho hi\n"
    recs = by_path(
        [
            tc.file("./usr/bin/a", data, mode=0o755),
            tc.hardlink("usr/bin/b", "./usr/bin/a"),
            tc.hardlink("usr/bin/c", "usr/bin/b"),  # a link to a link has the same content
        ]
    )
    b = recs["/usr/bin/b"]
    assert b.type == "hardlink"
    assert b.linkname == "/usr/bin/a"
    assert b.sha256 == sha(data)
    assert b.size == 0
    assert recs["/usr/bin/c"].linkname == "/usr/bin/b"
    assert recs["/usr/bin/c"].sha256 == sha(data)


def test_hardlink_to_a_path_not_in_the_layer_has_no_digest():
    rec = by_path([tc.hardlink("x", "missing")])["/x"]
    assert rec.type == "hardlink"
    assert rec.linkname == "/missing"
    assert rec.sha256 is None


@pytest.mark.parametrize("kind", ["char", "block"])
def test_device_nodes_carry_device_numbers(kind):
    rec = by_path([tc.device("dev/node", kind, 259, 7)])["/dev/node"]
    assert rec.type == kind
    assert rec.device == (259, 7)
    assert rec.sha256 is None and rec.size == 0
    assert rec.to_dict()["device"] == [259, 7]


def test_fifo_record():
    rec = by_path([tc.fifo("run/pipe")])["/run/pipe"]
    assert rec.type == "fifo"
    assert rec.device is None and rec.sha256 is None and rec.mode == 0o600


def test_pax_xattrs_text_and_binary_values():
    pax = {
        "SCHILY.xattr.user.comment": "hello",
        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00",
        "SCHILY.xattr.user.bin": "\udcff\udcfe",  # bytes ff fe: not UTF-8
        "comment": "not an xattr",
    }
    rec = by_path([tc.file("bin/ping", b"x", pax=pax)])["/bin/ping"]
    assert rec.xattrs == (
        ("security.capability", "0x0100000200200000"),  # valid UTF-8 but not printable
        ("user.bin", "0xfffe"),
        ("user.comment", "hello"),
    )
    assert rec.to_dict()["xattrs"]["user.comment"] == "hello"


def test_non_ascii_text_xattr_is_kept_as_text():
    rec = by_path([tc.file("f", pax={"SCHILY.xattr.user.name": "café"})])["/f"]
    assert rec.xattrs == (("user.name", "café"),)


def test_malformed_libarchive_xattr_value_is_not_an_exception():
    rec = by_path([tc.file("f", pax={"LIBARCHIVE.xattr.user.x": "abcde"})])["/f"]
    assert [name for name, _ in rec.xattrs] == ["user.x"]


def test_libarchive_xattrs_decode_standard_base64_and_url_encoded_names():
    value = b"\xfb\xff\xbf\x00"  # base64 "+/+/AA==" uses both of the standard extra digits
    encoded = base64.b64encode(value).decode().rstrip("=")  # libarchive writes no padding
    pax = {
        "LIBARCHIVE.xattr.user.bin": encoded,
        "LIBARCHIVE.xattr.user.a%3Db": base64.b64encode(b"text").decode(),
        # bsdtar writes each attribute twice, once per convention: it is one attribute
        "SCHILY.xattr.user.bin": value.decode("utf-8", "surrogateescape"),
    }
    rec = by_path([tc.file("f", pax=pax)])["/f"]
    assert rec.xattrs == (("user.a=b", "text"), ("user.bin", "0xfbffbf00"))


def test_gnu_long_names_and_long_link_targets():
    long_dir = "/".join(["d" * 60] * 3)
    name = long_dir + "/file-with-a-long-name.txt"
    assert len(name) > 100
    target = "../" * 40 + "target"
    members = [tc.file(name, b"long"), tc.symlink(long_dir + "/link", target)]
    recs = by_path(members, fmt=tarfile.GNU_FORMAT)
    assert recs["/" + name].sha256 == sha(b"long")
    assert recs["/" + long_dir + "/link"].linkname == target
    assert len(recs) == 2  # the ././@LongLink entries are not records


def test_pax_long_names():
    name = "opt/" + "x" * 150 + "/" + "y" * 120
    recs = by_path([tc.file(name, b"pax")], fmt=tarfile.PAX_FORMAT)
    assert list(recs) == ["/" + name]
    assert recs["/" + name].xattrs == ()  # the pax "path" record is not an xattr


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_names_that_are_not_utf8_are_shown_escaped(fmt):
    recs = by_path([tc.file(b"caf\xe9", b"1"), tc.file("café", b"2")], fmt=fmt)
    assert recs["/caf\\xe9"].sha256 == sha(b"1")
    assert recs["/café"].sha256 == sha(b"2")


def test_dot_slash_prefixes_and_leading_slashes_are_normalized():
    members = [
        tc.directory("./"),
        tc.directory("./etc/"),
        tc.file("./etc/passwd", b"root"),
        tc.file("/abs/file", b"a"),
        tc.file("//double/file", b"d"),
        tc.file("usr//lib/./x/../y", b"y"),
    ]
    layer = read(tc.layer_tar(members))
    assert [r.path for r in layer.records] == [
        "/",
        "/etc",
        "/etc/passwd",
        "/abs/file",
        "/double/file",
        "/usr/lib/y",
    ]


def test_whiteout_and_opaque_markers():
    recs = by_path([tc.whiteout("etc/old.conf"), tc.opaque("var/cache"), tc.whiteout("opt/dir")])
    assert recs["/etc/.wh.old.conf"].type == "whiteout"
    assert recs["/var/cache/.wh..wh..opq"].type == "opaque"
    assert recs["/opt/.wh.dir"].type == "whiteout"
    assert len(recs) == 3


def test_float_mtime_from_pax_is_kept_and_whole_floats_become_int():
    recs = by_path([tc.file("a", mtime=1700000000.25), tc.file("b", mtime=1700000000.0)])
    assert recs["/a"].mtime == 1700000000.25
    assert recs["/b"].mtime == 1700000000
    assert isinstance(recs["/b"].mtime, int)


def test_records_keep_tar_order_and_later_duplicate_wins():
    layer = read(tc.layer_tar([tc.file("b", b"1"), tc.file("a"), tc.file("b", b"2")]))
    assert [r.path for r in layer.records] == ["/b", "/a", "/b"]
    assert layer.by_path()["/b"].sha256 == sha(b"2")


# --- digests and compression -------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_diff_id_is_sha256_of_the_uncompressed_tar(compression):
    members = [tc.directory("app/"), tc.file("app/main.py", b"print('hi')\n" * 50)]
    layer = tc.make_layer(members, compression)
    if compression != "none":
        assert layer.blob != layer.tar
    got = read(layer.blob)
    assert got.diff_id == tc.sha256_digest(layer.tar)
    assert got.size == len(layer.tar)
    assert [r.path for r in got.records] == ["/app", "/app/main.py"]
    assert got.records[1].sha256 == sha(b"print('hi')\n" * 50)


def test_diff_id_covers_padding_after_the_end_of_archive():
    tar = tc.layer_tar([tc.file("a", b"x")]) + bytes(4096)
    got = read(gzip.compress(tar))
    assert got.diff_id == tc.sha256_digest(tar)
    assert got.size == len(tar)


def test_multi_member_gzip_and_multi_frame_zstd_layers():
    tar = tc.layer_tar([tc.file(f"f{i}", bytes([i]) * 5000) for i in range(6)])
    half = len(tar) // 2
    gz = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    cctx = zstandard.ZstdCompressor()
    zs = cctx.compress(tar[:1000]) + cctx.compress(tar[1000:half]) + cctx.compress(tar[half:])
    for blob in (gz, zs):
        got = read(blob)
        assert got.diff_id == tc.sha256_digest(tar)
        assert len(got.records) == 6


def test_zstd_layer_opening_with_a_skippable_frame():
    tar = tc.layer_tar([tc.file("a", b"pzstd" * 100)])
    skippable = struct.pack("<II", 0x184D2A50, 4) + struct.pack("<I", len(tar))  # as pzstd
    blob = skippable + zstandard.ZstdCompressor().compress(tar)
    assert compression_of(blob[:4]) == "zstd"
    got = read(blob)
    assert got.diff_id == tc.sha256_digest(tar)
    assert [r.path for r in got.records] == ["/a"]
    with pytest.raises(ArchiveError, match="inside a frame"):
        read(blob[:-3])


def test_zstd_streamed_frame_without_content_size():
    tar = tc.layer_tar([tc.file("a", b"streamed" * 1000)])
    out = io.BytesIO()
    with zstandard.ZstdCompressor(write_checksum=True).stream_writer(out, closefd=False) as w:
        w.write(tar)
    got = read(out.getvalue())
    assert got.diff_id == tc.sha256_digest(tar)
    assert [r.path for r in got.records] == ["/a"]


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_empty_layer_of_zero_blocks(compression):
    tar = bytes(1024)
    got = read(tc.compress(tar, compression))
    assert got.records == []
    assert got.diff_id == tc.sha256_digest(tar)
    assert got.size == 1024


def test_empty_layer_written_by_tarfile():
    tar = tc.layer_tar([])
    got = read(tar)
    assert got.records == [] and got.size == len(tar)
    assert got.diff_id == tc.sha256_digest(tar)


def test_zero_byte_stream_is_an_empty_layer():
    got = read(b"")
    assert got.records == []
    assert got.size == 0
    assert got.diff_id == tc.sha256_digest(b"")


def test_tar_without_end_of_archive_blocks_is_read_as_go_does():
    tar = tc.layer_tar([tc.file("a", b"x" * 600)])
    end = 512 + 1024  # header + two data blocks, no end-of-archive marker
    got = read(tar[:end])
    assert [r.path for r in got.records] == ["/a"]
    assert got.diff_id == tc.sha256_digest(tar[:end])


# --- broken layers -----------------------------------------------------------------------------


def _sample_tar() -> bytes:
    return tc.layer_tar([tc.file(f"f{i}", bytes([65 + i]) * 3000) for i in range(4)])


def _raises_archive_error(blob: bytes) -> ArchiveError:
    with pytest.raises(ArchiveError) as info:
        read(blob, where="img layer 3")
    assert str(info.value).startswith("img layer 3: ")
    assert info.value.__cause__ is None  # no raw tarfile/zlib exception chained or leaking
    return info.value


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("fraction", [0.3, 0.55, 0.9])
def test_truncated_layer_raises_archive_error(compression, fraction):
    blob = tc.compress(_sample_tar(), compression)
    # a plain tar cut inside its end-of-archive padding is still whole: cut inside the members
    end = 4 * (512 + 3072) if compression == "none" else len(blob)
    err = _raises_archive_error(blob[: int(end * fraction)])
    assert "truncated" in str(err)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_every_truncation_of_a_compressed_layer_is_an_archive_error(compression):
    blob = tc.compress(_sample_tar(), compression)
    for cut in range(1, len(blob)):
        with pytest.raises(ArchiveError):
            read(blob[:cut])


def test_tar_truncated_inside_a_header_raises_archive_error():
    tar = _sample_tar()
    second_header = 512 + 3072  # first header + 6 data blocks
    assert tar[second_header + 257 : second_header + 262] == b"ustar"
    for cut in (second_header + 1, second_header + 100, second_header + 511):
        _raises_archive_error(tar[:cut])


def test_corrupt_header_in_the_middle_raises_archive_error():
    tar = bytearray(_sample_tar())
    second_header = 512 + 3072
    tar[second_header + 148 : second_header + 156] = b"0000000\0"  # wrong checksum
    err = _raises_archive_error(bytes(tar))
    assert f"bad checksum at byte {second_header}" in str(err)


@pytest.mark.parametrize(
    "blob",
    [
        b"this is not a tar archive at all" * 40,
        b"\x1f\x8b" + b"\x00" * 50,  # gzip magic, broken header
        b"\x28\xb5\x2f\xfd" + b"\xff" * 50,  # zstd magic, garbage frame
        b"x" * 100,  # shorter than one tar block
    ],
)
def test_garbage_raises_archive_error(blob):
    _raises_archive_error(blob)


def test_corrupt_gzip_data_raises_archive_error():
    blob = bytearray(gzip.compress(_sample_tar()))
    blob[len(blob) // 2] ^= 0xFF
    _raises_archive_error(bytes(blob))


def test_gzip_crc_mismatch_raises_archive_error():
    blob = bytearray(gzip.compress(_sample_tar()))
    blob[-8] ^= 0x01  # CRC32 in the trailer
    _raises_archive_error(bytes(blob))


def test_corrupt_zstd_data_raises_archive_error():
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    blob = bytearray(cctx.compress(_sample_tar()))
    blob[len(blob) // 2] ^= 0xFF
    _raises_archive_error(bytes(blob))


def test_cancel_event_stops_reading():
    import threading

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        index_layer(io.BytesIO(_sample_tar()), cancel=cancel)


# --- merge -------------------------------------------------------------------------------------


def lay(*members: tc.Member) -> LayerIndex:
    return read(tc.layer_tar(list(members)))


def test_merge_whiteout_deletes_a_file():
    lower = lay(tc.directory("etc/"), tc.file("etc/a", b"a"), tc.file("etc/b", b"b"))
    upper = lay(tc.whiteout("etc/a"))
    merged = merge([lower, upper])
    assert sorted(merged) == ["/etc", "/etc/b"]


def test_merge_whiteout_deletes_a_directory_subtree_only():
    lower = lay(
        tc.directory("opt/"),
        tc.directory("opt/app/"),
        tc.file("opt/app/x", b"x"),
        tc.directory("opt/app/sub/"),
        tc.file("opt/app/sub/y", b"y"),
        tc.file("opt/app2", b"sibling with a common prefix"),
        tc.file("opt/apps", b"another"),
    )
    merged = merge([lower, lay(tc.whiteout("opt/app"))])
    assert sorted(merged) == ["/opt", "/opt/app2", "/opt/apps"]


def test_merge_whiteout_does_not_hide_same_layer_entries():
    lower = lay(tc.directory("d/"), tc.file("d/old", b"old"))
    upper = lay(tc.whiteout("d"), tc.directory("d/"), tc.file("d/new", b"new"))
    merged = merge([lower, upper])
    assert sorted(merged) == ["/d", "/d/new"]


def test_merge_opaque_keeps_dir_and_same_layer_entries():
    lower = lay(
        tc.directory("var/"),
        tc.directory("var/cache/", mode=0o700),
        tc.file("var/cache/a", b"a"),
        tc.directory("var/cache/deep/"),
        tc.file("var/cache/deep/b", b"b"),
        tc.file("var/other", b"kept"),
    )
    upper = lay(
        tc.directory("var/cache/", mode=0o755),
        tc.opaque("var/cache"),
        tc.file("var/cache/fresh", b"new"),
    )
    merged = merge([lower, upper])
    assert sorted(merged) == ["/var", "/var/cache", "/var/cache/fresh", "/var/other"]
    assert merged["/var/cache"].mode == 0o755


def test_merge_opaque_without_redeclaring_the_dir_keeps_the_lower_dir():
    lower = lay(tc.directory("srv/"), tc.file("srv/a"))
    merged = merge([lower, lay(tc.opaque("srv"))])
    assert sorted(merged) == ["/srv"]
    assert merged["/srv"].type == "dir"


def test_merge_later_layer_overrides_earlier():
    lower = lay(tc.file("etc/conf", b"v1", mode=0o644), tc.file("etc/keep", b"k"))
    upper = lay(tc.file("etc/conf", b"v2", mode=0o600))
    merged = merge([lower, upper])
    assert merged["/etc/conf"].sha256 == sha(b"v2")
    assert merged["/etc/conf"].mode == 0o600
    assert merged["/etc/keep"].sha256 == sha(b"k")


def test_merge_file_replacing_a_directory_hides_its_old_contents():
    lower = lay(tc.directory("data/"), tc.file("data/a", b"a"), tc.file("data2", b"z"))
    upper = lay(tc.symlink("data", "/mnt/data"))
    merged = merge([lower, upper])
    assert sorted(merged) == ["/data", "/data2"]
    assert merged["/data"].type == "symlink"


def test_merge_whiteouts_apply_only_to_lower_layers_in_order():
    l0 = lay(tc.file("a", b"0"))
    l1 = lay(tc.whiteout("a"))
    l2 = lay(tc.file("a", b"2"))
    assert merge([l0, l1]) == {}
    assert merge([l0, l1, l2])["/a"].sha256 == sha(b"2")
    assert "/a" not in merge([l0, l2, l1])


def test_merge_drops_markers_from_the_result():
    merged = merge([lay(tc.whiteout("nothing"), tc.opaque("dir"), tc.file("x"))])
    assert sorted(merged) == ["/x"]
