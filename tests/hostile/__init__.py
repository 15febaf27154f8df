"""A hostile corpus: malformed and malicious archives, layouts and layers, each crafted on the fly.

Every case is a function ``make(root) -> Case`` writing its inputs under ``root`` and saying how
to run the CLI on them and what must come out: the exit status, a piece of the one-line error,
and the output paths the run may write. Large inputs (a 256 MB PAX path, a million entries) are
generated as compressed streams, never held in memory or kept in git.

>>> sorted(CASES)[:3]
['config-blob-symlink-outside', 'config-deep-json', 'config-wrong-types']
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tarcraft as tc

MB = 1 << 20


@dataclass
class Case:
    """How to run one hostile case and what must come of it."""

    args: list[str]
    status: int | tuple[int, ...] = 2
    error: str | None = None  # a piece of the one-line error (None: no error expected)
    outputs: list[str] = field(default_factory=list)  # paths (relative to the run dir) it may write
    env: dict[str, str] = field(default_factory=dict)
    max_seconds: float = 30
    max_rss_mb: float = 256


CASES: dict[str, Callable[[Path], Case]] = {}


def case(func: Callable[[Path], Case]) -> Callable[[Path], Case]:
    CASES[func.__name__.replace("_", "-")] = func
    return func


# --- raw tar pieces --------------------------------------------------------------------------


def _octal(value: int, width: int) -> bytes:
    return (b"%0*o" % (width - 1, value)) + b"\0"


def _b256(value: int, width: int) -> bytes:
    """A number in GNU base-256 form (for values too large for octal)."""
    return b"\x80" + value.to_bytes(width - 1, "big")


def header(
    name: bytes,
    size: int = 0,
    kind: bytes = b"0",
    *,
    mode: bytes | None = None,
    uid: bytes | None = None,
    mtime: bytes | None = None,
    size_field: bytes | None = None,
    extra: dict[int, bytes] | None = None,
) -> bytes:
    """One 512-byte ustar header; any numeric field may be given as raw bytes."""
    buf = bytearray(512)
    buf[0 : len(name[:100])] = name[:100]
    buf[100:108] = mode if mode is not None else _octal(0o644, 8)
    buf[108:116] = uid if uid is not None else _octal(0, 8)
    buf[116:124] = _octal(0, 8)
    buf[124:136] = size_field if size_field is not None else _octal(size, 12)
    buf[136:148] = mtime if mtime is not None else _octal(tc.MTIME, 12)
    buf[156:157] = kind
    buf[257:263] = b"ustar\0"
    buf[263:265] = b"00"
    for offset, raw in (extra or {}).items():
        buf[offset : offset + len(raw)] = raw
    buf[148:156] = b" " * 8
    buf[148:156] = b"%06o\0 " % sum(buf)
    return bytes(buf)


def pax_record(key: str, value: bytes) -> bytes:
    """One ``LEN key=value\\n`` PAX record (its length counting itself)."""
    body = b" " + key.encode() + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


END = b"\0" * 1024


class Layer:
    """A layer written as a gzip stream from chunks of tar; knows its diff_id and digest."""

    def __init__(self, chunks: Iterable[bytes]):
        tar_hash, blob_hash = hashlib.sha256(), hashlib.sha256()
        out = io.BytesIO()
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        for chunk in chunks:
            tar_hash.update(chunk)
            out.write(comp.compress(chunk))
        out.write(comp.flush())
        self.blob = out.getvalue()
        blob_hash.update(self.blob)
        self.diff_id = "sha256:" + tar_hash.hexdigest()
        self.digest = "sha256:" + blob_hash.hexdigest()
        self.media_type = tc.LAYER_MEDIA["gzip"]
        self.compression = "gzip"
        self.tar = b""  # not kept


def _good(text: bytes = b"good") -> tc.Layer:
    return tc.make_layer([tc.directory("etc"), tc.file("etc/passwd", b"root:x:0:0::/root:" + text)])


def _base() -> tc.Layer:
    return tc.make_layer([tc.directory("bin"), tc.file("bin/sh", b"#!shell")])


def _evil() -> tc.Layer:
    return tc.make_layer(
        [
            tc.directory("etc"),
            tc.file("etc/passwd", b"root::0:0::/root:/bin/sh\nevil::0:0::/:/bin/sh"),
            tc.file("usr/bin/backdoor", b"\x7fELF", mode=0o4755),
        ]
    )


def _pair_archives(root: Path, b_layers, b_config=None, style="legacy") -> tuple[Path, Path]:
    base, good = _base(), _good()
    a = tc.write_docker_archive(root / "a.tar", [base, good], style=style)
    config = b_config if b_config is not None else tc.image_config([base, good])
    b = tc.write_docker_archive(root / "b.tar", b_layers(base, good), config, style=style)
    return a, b


def _oci(root: Path, name: str, layers, config=None) -> Path:
    return tc.write_oci_layout(root / name, [tc.OciImage(layers, config)])


def _oci_pair(root: Path) -> tuple[Path, Path, tc.Layer, tc.Layer]:
    base, good = _base(), _good()
    a = _oci(root, "a", [base, good])
    b = _oci(root, "b", [base, good])
    return a, b, base, good


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def _config_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_bytes())
    return manifest["config"]["digest"]


def _diff(a: str, b: str, *extra: str) -> list[str]:
    return ["diff", a, b, *extra]


# --- integrity -------------------------------------------------------------------------------


@case
def tampered_top_layer_docker_archive(root: Path) -> Case:
    """B's top layer replaced by a backdoor; B's config (its diff_ids) unchanged."""
    a, b = _pair_archives(root, lambda base, good: [base, _evil()])
    return Case(_diff(f"docker-archive:{a}", f"docker-archive:{b}"), error="does not match")


@case
def tampered_top_layer_oci_archive(root: Path) -> Case:
    """The same in an oci-archive: the blob file rewritten, the manifest and config unchanged."""
    a, b, _, good = _oci_pair(root)
    _blob(b, good.digest).write_bytes(_evil().blob)
    tc.tar_directory(a, root / "a.oci.tar")
    tc.tar_directory(b, root / "b.oci.tar")
    return Case(
        _diff(f"oci-archive:{root / 'a.oci.tar'}", f"oci-archive:{root / 'b.oci.tar'}"),
        error="does not match",
    )


@case
def tampered_layer_manifest_rewritten_oci(root: Path) -> Case:
    """B's manifest names the backdoor's blob (digests consistent), its config the good diff_id."""
    base, good, evil = _base(), _good(), _evil()
    a = _oci(root, "a", [base, good])
    b = tc.write_oci_layout(root / "b", [tc.OciImage([base, evil], tc.image_config([base, good]))])
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="does not match")


@case
def missing_layer_blob_docker_archive(root: Path) -> Case:
    """B's manifest names a layer the archive does not hold."""
    base, good = _base(), _good()
    a = tc.write_docker_archive(root / "a.tar", [base, good])
    manifest = [{"Config": "", "RepoTags": ["x:1"], "Layers": []}]
    config = tc.config_bytes(tc.image_config([base, good]))
    conf_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest[0]["Config"] = conf_name
    manifest[0]["Layers"] = ["l0/layer.tar", "l1/layer.tar"]
    with tarfile.open(root / "b.tar", "w") as tf:
        for name, data in (
            ("l0/layer.tar", base.blob),
            (conf_name, config),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return Case(_diff(f"docker-archive:{a}", f"docker-archive:{root / 'b.tar'}"), error="no l1")


@case
def missing_layer_blob_oci(root: Path) -> Case:
    a, b, _, good = _oci_pair(root)
    _blob(b, good.digest).unlink()
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="cannot read")


def _symlinked_blob(root: Path, target: str) -> Case:
    a, b, _, good = _oci_pair(root)
    blob = _blob(b, good.digest)
    blob.unlink()
    blob.symlink_to(target)
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="outside the image layout")


@case
def blob_symlink_outside_oci(root: Path) -> Case:
    outside = root / "outside.tar"
    outside.write_bytes(_good().blob)
    return _symlinked_blob(root, str(outside))


@case
def blob_symlink_dev_zero_oci(root: Path) -> Case:
    return _symlinked_blob(root, "/dev/zero")


@case
def blob_fifo_oci(root: Path) -> Case:
    a, b, _, good = _oci_pair(root)
    blob = _blob(b, good.digest)
    blob.unlink()
    os.mkfifo(blob)
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="not a regular file")


@case
def blob_symlink_outside_docker_archive(root: Path) -> Case:
    """A layer.tar that is a symlink out of the archive (to the host's /etc/passwd)."""
    base, good = _base(), _good()
    a = tc.write_docker_archive(root / "a.tar", [base, good])
    config = tc.config_bytes(tc.image_config([base, good]))
    conf_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": conf_name, "RepoTags": ["x:1"], "Layers": ["l0.tar", "l1.tar"]}]
    with tarfile.open(root / "b.tar", "w") as tf:
        for name, data in (
            ("l0.tar", base.blob),
            (conf_name, config),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("l1.tar")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../../../../dev/zero"
        tf.addfile(link)
    return Case(_diff(f"docker-archive:{a}", f"docker-archive:{root / 'b.tar'}"), error="outside")


@case
def diff_ids_swapped_docker_archive(root: Path) -> Case:
    """B ships A's layers but its config lists their diff_ids the other way round."""
    base, good = _base(), _good()
    a = tc.write_docker_archive(root / "a.tar", [base, good])
    config = tc.image_config([base, good], diff_ids=[good.diff_id, base.diff_id])
    b = tc.write_docker_archive(root / "b.tar", [base, good], config)
    return Case(_diff(f"docker-archive:{a}", f"docker-archive:{b}"), error="does not match")


@case
def oci_config_digest_mismatch(root: Path) -> Case:
    a, b, _, _ = _oci_pair(root)
    blob = _blob(b, _config_digest(b))
    blob.write_bytes(blob.read_bytes().replace(b"PATH=", b"PATH=/evil:"))
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="does not match")


@case
def oci_layer_digest_mismatch(root: Path) -> Case:
    """A blob whose content differs from its name but decompresses to the declared diff_id."""
    a, b, _, good = _oci_pair(root)
    _blob(b, good.digest).write_bytes(gzip.compress(good.tar, compresslevel=1, mtime=1))
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="blob does not match")


@case
def oci_manifest_digest_mismatch(root: Path) -> Case:
    a, b, _, _ = _oci_pair(root)
    index = json.loads((b / "index.json").read_text())
    blob = _blob(b, index["manifests"][0]["digest"])
    blob.write_bytes(blob.read_bytes() + b" ")
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="does not match")


@case
def config_blob_symlink_outside(root: Path) -> Case:
    """The config blob a symlink to a JSON file elsewhere (its Env must not be read)."""
    a, b, _, _ = _oci_pair(root)
    blob = _blob(b, _config_digest(b))
    outside = root / "outside.json"
    outside.write_bytes(blob.read_bytes().replace(b"PATH=", b"SECRET_TOKEN=leaked12345;PATH="))
    blob.unlink()
    blob.symlink_to(outside)
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="outside the image layout")


# --- bounds ----------------------------------------------------------------------------------


def _one_layer_archive(root: Path, layer, name: str = "b.tar") -> Path:
    return tc.write_docker_archive(root / name, [layer], tc.image_config([layer]))


def _inspect_case(root: Path, layer, error: str | None, status=2, **kw) -> Case:
    path = _one_layer_archive(root, layer)
    return Case(["inventory", f"docker-archive:{path}"], status=status, error=error, **kw)


@case
def pax_path_256mb(root: Path) -> Case:
    """A small layer whose PAX header claims (and holds) a 256 MB path."""

    def chunks() -> Iterator[bytes]:
        value_len = 256 * MB
        base = len(b" path=") + value_len + 1
        n = base + len(str(base))
        n = base + len(str(n))
        yield header(b"././@PaxHeader", n, b"x")
        yield str(n).encode() + b" path="
        piece = b"a" * MB
        for _ in range(value_len // MB):
            yield piece
        yield b"\n" + b"\0" * (-n % 512)
        yield header(b"placeholder", 0)
        yield END

    return _inspect_case(root, Layer(chunks()), "limit header_bytes")


@case
def gnu_longname_256mb(root: Path) -> Case:
    def chunks() -> Iterator[bytes]:
        n = 256 * MB
        yield header(b"././@LongLink", n, b"L")
        piece = b"b" * MB
        for _ in range(n // MB):
            yield piece
        yield header(b"placeholder", 0)
        yield END

    return _inspect_case(root, Layer(chunks()), "limit header_bytes")


@case
def sparse_1tib_claim(root: Path) -> Case:
    """A 1.5 KB old-GNU sparse member claiming 1 TiB (a map of one 512-byte chunk at its end)."""
    tib = 1 << 40
    extra = {
        386: _b256(tib - 512, 12),  # sparse[0].offset
        398: _octal(512, 12),  # sparse[0].numbytes
        482: b"\0",  # isextended
        483: _b256(tib, 12),  # realsize
    }
    data = (
        header(b"big.img", 512, b"S", extra=extra) + padded(b"x" * 512) + header(b"after", 0) + END
    )
    return _inspect_case(root, Layer([data]), "limit sparse_bytes")


def _tiny_entries(count: int) -> Iterator[bytes]:
    template = bytearray(header(b"f0000000", 0))
    batch = []
    for i in range(count):
        name = b"f%07d" % i
        template[0:8] = name
        template[148:156] = b" " * 8
        template[148:156] = b"%06o\0 " % sum(template)
        batch.append(bytes(template))
        if len(batch) == 4096:
            yield b"".join(batch)
            batch.clear()
    yield b"".join(batch)
    yield END


@case
def million_tiny_entries(root: Path) -> Case:
    """A layer of 1,000,000 empty files: refused at the layer_entries limit."""
    return _inspect_case(root, Layer(_tiny_entries(1_000_000)), "limit layer_entries")


@case
def outer_archive_many_members(root: Path) -> Case:
    """A docker-archive of 150,000 members (past archive_entries: refused while listing)."""
    path = root / "b.tar"
    with open(path, "wb") as out:
        for chunk in _tiny_entries(150_000):
            out.write(chunk)
    return Case(["inventory", f"docker-archive:{path}"], error="limit archive_entries")


@case
def config_deep_json(root: Path) -> Case:
    base = _base()
    config = b'{"rootfs": {"type": "layers", "diff_ids": []}, "x": ' + b"[" * 100_000
    config += b"]" * 100_000 + b"}"
    path = tc.write_docker_archive(root / "b.tar", [base], config)
    return Case(["inventory", f"docker-archive:{path}"], error="nested deeper")


@case
def manifest_deep_json(root: Path) -> Case:
    base = _base()
    deep = b"[" * 100_000 + b"]" * 100_000
    path = tc.write_docker_archive(root / "b.tar", [base], manifest=json.loads("[]"))
    with tarfile.open(path, "a") as tf:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(deep)
        tf.addfile(info, io.BytesIO(deep))
    return Case(["inventory", f"docker-archive:{path}"], error="nested deeper")


@case
def index_deep_json_oci(root: Path) -> Case:
    a, b, _, _ = _oci_pair(root)
    (b / "index.json").write_bytes(b'{"manifests": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    return Case(_diff(f"oci:{a}", f"oci:{b}"), error="nested deeper")


@case
def config_number_1e400(root: Path) -> Case:
    """A config number out of float range (json would make it Infinity)."""
    base = _base()
    raw = tc.config_bytes(tc.image_config([base]))[:-1] + b',"x":1e400}'
    path = tc.write_docker_archive(root / "b.tar", [base], raw)
    return Case(["inventory", f"docker-archive:{path}"], error="out of range")


@case
def config_wrong_types(root: Path) -> Case:
    base = _base()
    config = tc.image_config([base])
    config["config"]["Env"] = ["PATH=/bin", 5]
    path = tc.write_docker_archive(root / "b.tar", [base], config)
    return Case(["inventory", f"docker-archive:{path}"], error="config.Env[1]")


@case
def config_history_not_objects(root: Path) -> Case:
    base = _base()
    config = tc.image_config([base])
    config["history"] = ["RUN x"]
    a = tc.write_docker_archive(root / "a.tar", [base])
    path = tc.write_docker_archive(root / "b.tar", [base], config)
    return Case(_diff(f"docker-archive:{a}", f"docker-archive:{path}"), error="history[0]")


@case
def config_diff_ids_not_digests(root: Path) -> Case:
    base = _base()
    config = tc.image_config([base], diff_ids=[12])
    path = tc.write_docker_archive(root / "b.tar", [base], config)
    return Case(["inventory", f"docker-archive:{path}"], error="rootfs.diff_ids[0]")


@case
def tar_number_not_numeric(root: Path) -> Case:
    data = header(b"etc/x", 0, mode=b"zzzzzzz\0") + END
    return _inspect_case(root, Layer([data]), "not a tar layer")


@case
def tar_size_5000_digits(root: Path) -> Case:
    pax = pax_record("size", b"9" * 5000)
    data = header(b"././@PaxHeader", len(pax), b"x") + padded(pax)
    data += header(b"etc/x", 0) + END
    return _inspect_case(root, Layer([data]), "PAX size")


@case
def tar_uid_5000_digits(root: Path) -> Case:
    """A PAX uid of 5,000 digits: recorded as invalid (the JSON report says so), no error."""
    pax = pax_record("uid", b"9" * 5000)
    data = header(b"././@PaxHeader", len(pax), b"x") + padded(pax)
    data += header(b"etc/x", 0) + END
    a = _one_layer_archive(root, Layer([header(b"etc/x", 0) + END]), "a.tar")
    b = _one_layer_archive(root, Layer([data]), "b.tar")
    return Case(
        _diff(f"docker-archive:{a}", f"docker-archive:{b}", "--json", "out.json"),
        status=(0, 1),
        outputs=["out.json"],
    )


@case
def sparse_map_garbage(root: Path) -> Case:
    pax = pax_record("GNU.sparse.map", b"1,x,3") + pax_record("GNU.sparse.size", b"10")
    data = header(b"././@PaxHeader", len(pax), b"x") + padded(pax)
    data += header(b"etc/x", 0) + END
    return _inspect_case(root, Layer([data]), "malformed tar header")


@case
def pax_header_chain(root: Path) -> Case:
    """Thousands of PAX headers in a row (tarfile reads a chain recursively)."""
    pax = pax_record("comment", b"x")
    one = header(b"././@PaxHeader", len(pax), b"x") + padded(pax)
    return _inspect_case(root, Layer([one * 5000 + header(b"x", 0) + END]), "header_chain")


@case
def pax_mtime_1e400(root: Path) -> Case:
    """A PAX mtime of 1e400: recorded as invalid, the JSON report strict (no Infinity)."""
    pax = pax_record("mtime", b"1e400")
    data = header(b"././@PaxHeader", len(pax), b"x") + padded(pax) + header(b"etc/x", 0) + END
    b_layer = Layer([data])
    a_layer = Layer([header(b"etc/x", 0) + END])
    a = _one_layer_archive(root, a_layer, "a.tar")
    b = _one_layer_archive(root, b_layer, "b.tar")
    return Case(
        _diff(f"docker-archive:{a}", f"docker-archive:{b}", "--json", "out.json"),
        status=(0, 1),
        outputs=["out.json"],
    )


@case
def package_metadata_64mb(root: Path) -> Case:
    """24 Python METADATA files of 64 MB (a few hundred KB compressed)."""

    def chunks() -> Iterator[bytes]:
        n = 64 * MB
        line = b"Description: " + b"x" * 1010 + b"\n"
        block = line * (MB // len(line))
        block += b"y" * (MB - len(block))
        for i in range(24):
            name = b"usr/lib/python3/dist-packages/p%02d-1.0.dist-info/METADATA" % i
            yield header(name, n)
            yield b"Name: p%02d\nVersion: 1.0\n" % i
            yield block[: MB - len(b"Name: p00\nVersion: 1.0\n")]
            for _ in range(n // MB - 1):
                yield block
        yield END

    return _inspect_case(root, Layer(chunks()), "limit package_metadata_bytes")


@case
def audit_quadratic_secrets(root: Path) -> Case:
    """A 1 MB .env of PASSWORD repeated and an Env value of 300,000 "a" (linear scans)."""
    layer = tc.make_layer([tc.directory("app"), tc.file("app/.env", b"PASSWORD" * (MB // 8))])
    config = tc.image_config([layer], env=["PATH=/bin", "X=" + "a" * 300_000])
    path = tc.write_docker_archive(root / "b.tar", [layer], config)
    return Case(["audit", f"docker-archive:{path}"], status=(0, 1), max_seconds=30)


def copy_inputs(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, symlinks=True)


from . import reports  # noqa: E402, F401  (part B: hostile reports and output paths)
