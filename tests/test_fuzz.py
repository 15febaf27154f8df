"""Property-based fuzzing of the tar reader and the metadata loaders: whatever the bytes, only
:class:`~reprokit.errors.ReprokitError` may escape, and what is read is strict JSON.

CI runs a bounded number of examples; ``bench/fuzz.py`` runs the same properties for longer
(``REPROKIT_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tarfile

import tarcraft as tc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprokit.errors import ReprokitError
from reprokit.read.jsondoc import load_json
from reprokit.read.layers import hash_layer, index_layer
from reprokit.read.limits import Limits, configure
from reprokit.sources.layout import Store, check_config, locate_docker_archive, locate_oci

EXAMPLES = int(os.environ.get("REPROKIT_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the tar reader --------------------------------------------------------------------------

_names = st.text(st.sampled_from("abc/._-é"), min_size=1, max_size=30)
_member = st.one_of(
    st.builds(lambda n, d: tc.file(n, d), _names, st.binary(max_size=700)),
    st.builds(tc.directory, _names),
    st.builds(tc.symlink, _names, _names),
    st.builds(lambda n: tc.file(n, b"", pax={"mtime": "1e400", "uid": "x"}), _names),
    st.builds(lambda n: tc.fifo(n), _names),
)


@st.composite
def valid_tars(draw) -> bytes:
    members = draw(st.lists(_member, max_size=6))
    fmt = draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]))
    try:
        return tc.layer_tar(members, fmt)
    except (ValueError, tarfile.TarError):  # a name ustar cannot hold
        return tc.layer_tar(members, tarfile.PAX_FORMAT)


@st.composite
def mutated(draw, base) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "digits"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=600))
        else:  # a header number field full of digits or junk
            data[pos : pos + 12] = draw(
                st.sampled_from([b"9" * 12, b"zzzzzzzzzzz\0", b"\x80" * 12])
            )
    return bytes(data)


def _check_layer(blob: bytes) -> None:
    try:
        layer = index_layer(io.BytesIO(blob), "fuzzed layer")
    except ReprokitError:
        return
    for rec in layer.records:
        json.dumps(rec.to_dict(), allow_nan=False)  # strict JSON: no NaN, no Infinity


@FUZZ
@given(mutated(valid_tars()))
def test_index_layer_raises_only_reprokit_errors(blob):
    configure(Limits(layer_entries=1000, header_bytes=64 << 10))
    try:
        _check_layer(blob)
    finally:
        configure()


@FUZZ
@given(mutated(valid_tars().map(lambda tar: gzip.compress(tar, mtime=0))))
def test_compressed_layers_too(blob):
    _check_layer(blob)
    with contextlib.suppress(ReprokitError):
        hash_layer(io.BytesIO(blob), "fuzzed layer")


# --- the metadata loaders --------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


class MemoryStore(Store):
    """A layout held in a dict (name → bytes)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.where = files, "fuzzed"

    def exists(self, name: str) -> bool:
        return name in self.files

    def open(self, name: str):
        if name not in self.files:
            from reprokit.errors import ArchiveError

            raise ArchiveError(self.where, f"no {name}")
        return io.BytesIO(self.files[name])


def _layout() -> tuple[dict, dict, dict]:
    layer = tc.make_layer([tc.file("a", b"x")])
    config = tc.image_config([layer])
    manifest = tc._oci_manifest([layer], tc.config_bytes(config))
    index = {"schemaVersion": 2, "manifests": [{"digest": "", "mediaType": tc.OCI_MANIFEST}]}
    return index, manifest, config


def _files(index, manifest, config) -> dict[str, bytes]:
    raw_config = json.dumps(config).encode()
    if isinstance(manifest, dict) and isinstance(manifest.get("config"), dict):
        manifest["config"]["digest"] = tc.sha256_digest(raw_config)
        manifest["config"].pop("size", None)
    raw_manifest = json.dumps(manifest).encode()
    if isinstance(index, dict) and isinstance(index.get("manifests"), list):
        for desc in index["manifests"]:
            if isinstance(desc, dict):
                desc["digest"] = tc.sha256_digest(raw_manifest)
    files = {"index.json": json.dumps(index).encode()}
    for raw in (raw_config, raw_manifest):
        files["blobs/sha256/" + tc.sha256_digest(raw).split(":")[1]] = raw
    return files


@st.composite
def fuzzed_layouts(draw) -> dict[str, bytes]:
    index, manifest, config = _layout()
    docs = [index, manifest, config]
    for _ in range(draw(st.integers(1, 4))):
        doc = docs[draw(st.integers(0, 2))]
        path = []
        node = doc
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(
                st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node)))
            )
            path.append((node, key))
            node = node[key]
        if path:
            parent, key = path[-1]
            parent[key] = draw(_json)
    return _files(*docs)


@FUZZ
@given(fuzzed_layouts())
def test_oci_loader_raises_only_reprokit_errors(files):
    try:
        found = locate_oci(MemoryStore(files), None, None)
    except ReprokitError:
        return
    json.dumps(found.config, allow_nan=False)


@FUZZ
@given(_json)
def test_config_check_and_docker_manifest_take_any_json(doc):
    for run in (
        lambda: check_config(doc, "fuzzed", "config") if isinstance(doc, dict) else None,
        lambda: locate_docker_archive(
            MemoryStore({"manifest.json": json.dumps(doc).encode()}), None, None
        ),
    ):
        with contextlib.suppress(ReprokitError):
            run()


@FUZZ
@given(
    st.binary(max_size=2000)
    | st.text(st.sampled_from('[]{}"\\,:1a '), max_size=3000).map(str.encode)
)
def test_load_json_takes_any_bytes(data):
    with contextlib.suppress(ReprokitError):
        load_json(data, "fuzzed", "doc")
