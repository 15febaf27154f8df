"""The tar reader (:mod:`reprokit.read.tarstream`) against the :mod:`tarfile`-based reader it
replaced (``tests/tarref.py``): on crafted archives of every kind of header, on every cut of
them, and on fuzzed bytes, both give the same records, digests and sizes, or the same error.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import tarfile

import hostile as h
import pytest
import tarcraft as tc
import tarref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import mutated, valid_tars

from reprokit.errors import ArchiveError
from reprokit.read.layers import index_layer
from reprokit.read.limits import Limits, configure


def outcome(read, blob: bytes, **kw) -> tuple:
    """What a reader makes of ``blob``: its whole index, or its error."""
    try:
        layer = read(io.BytesIO(blob), "layer", **kw)
    except ArchiveError as err:
        return ("error", str(err))
    return ("ok", layer.diff_id, layer.size, layer.content_bytes, layer.records)


def same(blob: bytes, **kw) -> tuple:
    """Assert both readers agree on ``blob``; return the outcome."""
    new, old = outcome(index_layer, blob, **kw), outcome(tarref.index_layer, blob, **kw)
    if new[0] == old[0] == "ok":
        assert new[1:4] == old[1:4]
        for got, want in zip(new[4], old[4], strict=True):
            assert got == want, (got, want)  # field by field (dataclass equality)
    assert new == old
    return new


def _pax(records: dict[str, bytes]) -> bytes:
    body = b"".join(h.pax_record(k, v) for k, v in records.items())
    return h.header(b"././@PaxHeader", len(body), b"x") + h.padded(body)


def _gnu(kind: bytes, value: bytes) -> bytes:
    return h.header(b"././@LongLink", len(value) + 1, kind) + h.padded(value + b"\0")


def _file(name: bytes, data: bytes = b"", **kw) -> bytes:
    return h.header(name, len(data), **kw) + h.padded(data)


def _signed_checksum(hdr: bytes) -> bytes:
    """The header with the checksum Sun and NeXT tars wrote (bytes summed as signed chars)."""
    buf = bytearray(hdr)
    buf[148:156] = b" " * 8
    total = sum(b - 256 if b > 127 else b for b in buf)
    buf[148:156] = b"%06o\0 " % total
    return bytes(buf)


def _old_gnu_sparse(realsize: int, chunks: list[tuple[int, int]], extended: bool = False) -> bytes:
    extra = {482: b"\1" if extended else b"\0", 483: h._octal(realsize, 12)}
    for i, (offset, numbytes) in enumerate(chunks[:4]):
        extra[386 + 24 * i] = h._octal(offset, 12)
        extra[398 + 24 * i] = h._octal(numbytes, 12)
    stored = sum(n for _, n in chunks)
    out = h.header(b"sparse.img", stored, b"S", extra=extra)
    if extended:
        ext = bytearray(512)
        for i, (offset, numbytes) in enumerate(chunks[4:25]):
            ext[24 * i : 24 * i + 12] = h._octal(offset, 12)
            ext[24 * i + 12 : 24 * i + 24] = h._octal(numbytes, 12)
        out += bytes(ext)
    return out + h.padded(bytes(range(256)) * (stored // 256) + b"z" * (stored % 256))


def _tar(members: list[tc.Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    return tc.layer_tar(members, fmt)


LONG = "/".join(["d" * 60] * 3) + "/a-long-file-name.txt"
XATTRS = {
    "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00",
    "SCHILY.xattr.user.text": "café",
    "LIBARCHIVE.xattr.user.b%3Dc": base64.b64encode(b"\xff\x00").decode().rstrip("="),
    "LIBARCHIVE.xattr.user.bad": "abcde",
}

CRAFTED: dict[str, bytes] = {
    "every kind, pax": _tar(
        [
            tc.directory("./"),
            tc.directory("etc/", mode=0o750, uid=3, gid=4),
            tc.file("etc/passwd", b"root:x:0:0\n", mode=0o4755, mtime=1234),
            tc.file("etc/empty"),
            tc.symlink("bin/sh", "busybox"),
            tc.symlink("bad-link", b"caf\xe9/../x"),
            tc.hardlink("etc/passwd-", "./etc/passwd"),
            tc.hardlink("etc/chain", "etc/passwd-"),
            tc.hardlink("etc/nowhere", "missing"),
            tc.device("dev/null", "char", 1, 3),
            tc.device("dev/sda", "block", 8, 0),
            tc.fifo("run/pipe"),
            tc.whiteout("etc/old"),
            tc.opaque("var/cache"),
            tc.file("usr//lib/./x/../y", b"y"),
            tc.file("/abs/.hidden", b"h"),
            tc.file(b"caf\xe9", b"latin-1 name"),
            tc.file("café", b"utf-8 name"),
            tc.file("dup", b"1"),
            tc.file("dup", b"2"),
        ]
    ),
    "pax overrides": _tar(
        [
            tc.file(LONG, b"long name"),
            tc.symlink("link", "t" * 300),
            tc.file("frac", mtime=1700000000.25),
            tc.file("whole-float", mtime=1700000000.0),
            tc.file("negative", b"n", mtime=-86400),
            tc.file("before-year-1", pax={"mtime": "-99999999999"}),
            tc.file("after-9999", pax={"mtime": "99999999999999"}),
            tc.file("inf", pax={"mtime": "1e400"}),
            tc.file("nan", pax={"mtime": "nan"}),
            tc.file("words", pax={"mtime": "yesterday"}),
            tc.file("big-ids", pax={"uid": "4294967296", "gid": "12345678901"}),
            tc.file("odd-ids", pax={"uid": "1_000", "gid": " 7"}),
            tc.file("unicode-digits", pax={"uid": "١٢", "gid": "x"}),
            tc.file("xattrs", b"x", pax=XATTRS),
            tc.file("names", pax={"uname": "ü", "gname": "\udcff", "comment": "c"}),
            tc.file("dir-path", pax={"path": "some/dir///"}),
            tc.file("empty-path", pax={"path": ""}),
        ]
    ),
    "gnu long names": _tar(
        [
            tc.file(LONG, b"long"),
            tc.directory(LONG + "-dir/"),
            tc.symlink(LONG + "-link", "../" * 40 + "target"),
            tc.hardlink(LONG + "-hard", LONG),
            tc.file(b"caf\xe9" * 40, b"non-utf-8 long name"),
            tc.file("big-uid", uid=1 << 40),
            tc.file("huge-mtime", mtime=1 << 40),
        ],
        tarfile.GNU_FORMAT,
    ),
    "ustar prefix": _tar(
        [
            tc.file("p" * 120 + "/name", b"prefix"),
            tc.directory("q" * 120 + "/dir/"),
            tc.file(b"\xe9" * 120 + b"/n", b"latin"),
        ],
        tarfile.USTAR_FORMAT,
    ),
    "raw headers": b"".join(
        [
            _file(b"v7-dir/", kind=b"\0"),
            _file(b"spaces", b"s", mode=b"  644  \0", uid=b"    12\0\0"),
            _file(b"underscore", mode=b"0_644\0\0\0"),
            _file(b"plus", mode=b"+644\0\0\0\0"),
            _file(b"no-nul", mode=b"00000644"),
            _file(b"b256-size", b"q" * 700, size_field=h._b256(700, 12)),
            _file(b"b256-mtime-negative", mtime=b"\xff" * 11 + b"\x00"),
            _file(b"b256-uid", uid=h._b256(70000, 8)),
            _file(b"unknown-type", b"data of type Z", kind=b"Z"),
            _file(b"contiguous", b"c", kind=b"7"),
            _file(b"prefix-dir/", kind=b"5", extra={345: b"pre///"}),
            _file(b"dev", kind=b"3", extra={329: h._b256(1 << 40, 8), 337: h._octal(5, 8)}),
            _signed_checksum(h.header(b"signed-\xe9\xe9", 0)),
            _pax({"path": b"pax/then/gnu", "size": b"3"})
            + _gnu(b"L", b"gnu/wins")
            + _file(b"x", b"abc"),
            _gnu(b"L", b"gnu/first") + _pax({"path": b"pax/wins"}) + _file(b"y", b""),
            _gnu(b"L", b"long-dir//") + _file(b"short/", kind=b"5"),
            _gnu(b"K", b"long/target") + _gnu(b"L", b"long/link") + _file(b"l", kind=b"2"),
            _pax({"size": b"5"}) + _file(b"pax-size", b"12345"),
            _pax({"comment": b"a"}) + _pax({"path": b"second/pax"}) + _file(b"z"),
            _pax({"path": b"\xff\xfe"}) + _file(b"binary-pax-path"),
            _pax({"SCHILY.xattr.user.bin": b"\xff\x00\x01"}) + _file(b"binary-xattr"),
            _file(b"after-all", b"end"),
        ]
    )
    + h.END,
    "pax size 0 before data": _pax({"size": b"0"}) + _file(b"pax-size-0", b"w" * 600) + h.END,
    "global pax": (
        h.header(b"pax_global_header", 52, b"g")
        + h.padded(h.pax_record("comment", b"git-archive") + h.pax_record("mtime", b"5"))
        + _file(b"g/one", b"1")
        + _pax({"path": b"g/two"})
        + _file(b"x", b"2")
        + h.END
    ),
    "old gnu sparse": _old_gnu_sparse(4096, [(0, 512), (2048, 512)]) + h.END,
    "old gnu sparse, extended": _old_gnu_sparse(
        1 << 16, [(i * 2048, 512) for i in range(8)], extended=True
    )
    + h.END,
    "pax sparse 0.1": (
        _pax({"GNU.sparse.map": b"0,512,1024,512", "GNU.sparse.size": b"2048"})
        + _file(b"sparse01", b"a" * 1024)
        + h.END
    ),
    "pax sparse 1.0": (
        _pax(
            {
                "GNU.sparse.major": b"1",
                "GNU.sparse.minor": b"0",
                "GNU.sparse.name": b"sparse10",
                "GNU.sparse.realsize": b"3000",
            }
        )
        + _file(b"GNUSparseFile.0/sparse10", h.padded(b"2\n0\n100\n2000\n100\n") + b"b" * 200)
        + h.END
    ),
    "hdrcharset binary": (
        _pax({"hdrcharset": b"BINARY", "path": b"\xe9t\xe9"}) + _file(b"x") + h.END
    ),
    "zero block then more": _file(b"before", b"1") + bytes(512) + _file(b"after", b"2") + h.END,
    "pax record of length 0": _pax({"a": b"b"}).replace(b"6 a=b", b"0 a=b") + _file(b"x"),
    "pax garbage records": (
        h.header(b"././@PaxHeader", 20, b"x")
        + h.padded(b"7 path=a\nzz garbage")
        + _file(b"x")
        + h.END
    ),
    "bad checksum second": _file(b"a", b"1") + _file(b"b", b"2")[:148] + b"0000000\0" + bytes(356),
    "gzip": gzip.compress(_tar([tc.file(f"f{i}", bytes([i]) * 3000) for i in range(5)])),
    "big file": _tar([tc.file("big", os.urandom(3 << 20)), tc.file("after", b"a")]),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_same_records_as_tarfile(name):
    same(CRAFTED[name])


def test_crafted_cases_are_read_not_refused():
    """The crafted archives mostly read whole (the comparison is of records, not just errors)."""
    read = [name for name, blob in CRAFTED.items() if same(blob)[0] == "ok"]
    assert len(read) >= len(CRAFTED) - 4, sorted(set(CRAFTED) - set(read))


@pytest.mark.parametrize(
    "name", ["every kind, pax", "pax overrides", "gnu long names", "raw headers", "global pax"]
)
def test_every_cut_reads_the_same(name):
    blob = CRAFTED[name]
    step = max(1, len(blob) // 1500)
    for cut in range(0, len(blob), step):
        same(blob[:cut])


@pytest.mark.parametrize(
    "limits",
    [
        Limits(header_chain=1),
        Limits(header_chain=0),
        Limits(header_bytes=100),
        Limits(name_bytes=150),
        Limits(layer_entries=5),
        Limits(sparse_bytes=1000),
    ],
    ids=lambda lim: ",".join(f"{k}={v}" for k, v in vars(lim).items() if v != getattr(Limits(), k)),
)
def test_same_refusals_under_tight_limits(limits):
    configure(limits)
    try:
        for blob in CRAFTED.values():
            same(blob)
        same(CRAFTED["raw headers"], max_entries=3)
    finally:
        configure()


def test_hostile_layers_give_the_same_errors():
    cases = {
        "mode not numeric": h.header(b"etc/x", 0, mode=b"zzzzzzz\0") + h.END,
        "pax size of 5000 digits": _pax({"size": b"9" * 5000}) + _file(b"x") + h.END,
        "pax length past int's digits": h.header(b"././@PaxHeader", 5010, b"x")
        + h.padded(b"9" * 5000 + b" a=b\n")
        + _file(b"x"),
        "pax chain": _pax({"comment": b"x"}) * 20 + _file(b"x") + h.END,
        "sparse map garbage": _pax({"GNU.sparse.map": b"1,x,3", "GNU.sparse.size": b"10"})
        + _file(b"x")
        + h.END,
        "sparse 1 TiB": _old_gnu_sparse(1 << 40, [((1 << 40) - 512, 512)]) + h.END,
        "negative size": _file(b"neg", size_field=b"\xff" * 12) + h.END,
        "not a tar": b"this is not a tar archive at all" * 40,
        "short": b"x" * 100,
    }
    for blob in cases.values():
        assert same(blob)[0] == "error"


_FUZZ = settings(
    max_examples=int(os.environ.get("REPROKIT_FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


_SEEDS = st.sampled_from(sorted(CRAFTED.values(), key=len)[:12])


@_FUZZ
@given(
    mutated(valid_tars() | _SEEDS)
    | mutated((valid_tars() | _SEEDS).map(lambda tar: gzip.compress(tar, mtime=0)))
)
def test_fuzzed_tars_read_the_same(blob):
    configure(Limits(layer_entries=1000, header_bytes=64 << 10))
    try:
        same(blob)
    finally:
        configure()
