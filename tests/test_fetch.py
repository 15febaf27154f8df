"""The Collect tap: the content of chosen files, in one pass over only the layers named."""

from __future__ import annotations

from pathlib import Path

import pytest
import tarcraft as tc

from reprokit.read.layers import Tap
from reprokit.sources.image import Collect, Source
from reprokit.sources.refs import parse_ref


def collect(
    source: Source, wanted: dict[str, list[str]], limit: int
) -> dict[str, dict[str, bytes]]:
    """Read ``source`` once, skipping the layers not in ``wanted``, keeping the wanted files."""
    found: dict[str, dict[str, bytes]] = {}

    def tap_for(diff_id: str | None) -> Tap | None:
        paths = set(wanted.get(diff_id or "", ()))
        return Collect(paths, limit, found.setdefault(diff_id or "", {})) if paths else None

    ids = source.diff_ids() or []
    source.read([d for d in ids if d not in wanted], tap_for=tap_for)
    return {k: v for k, v in found.items() if v}


@pytest.mark.parametrize("style", ["blobs", "legacy"])
def test_collect_reads_only_the_wanted_files_of_the_wanted_layers(tmp_path: Path, style: str):
    lower = tc.make_layer([tc.file("etc/os-release", b"ID=one\n"), tc.file("big", bytes(5000))])
    upper = tc.make_layer([tc.file("etc/os-release", b"ID=two\n"), tc.file("x", b"x")])
    path = tc.write_docker_archive(tmp_path / "img.tar", [lower, upper], style=style)
    source = parse_ref(f"docker-archive:{path}")
    got = collect(source, {upper.diff_id: ["/etc/os-release", "/missing"]}, limit=1024)
    assert got == {upper.diff_id: {"/etc/os-release": b"ID=two\n"}}
    both = collect(source, {lower.diff_id: ["/etc/os-release", "/big"]}, limit=1024)
    assert both[lower.diff_id] == {"/etc/os-release": b"ID=one\n"}  # /big is above the limit


def test_collect_from_an_oci_layout(tmp_path: Path):
    layer = tc.make_layer([tc.file("app/conf.txt", b"built 2026-01-01\n")], "gzip")
    layout = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([layer])])
    got = collect(parse_ref(f"oci:{layout}"), {layer.diff_id: ["/app/conf.txt"]}, 1 << 20)
    assert got[layer.diff_id]["/app/conf.txt"] == b"built 2026-01-01\n"
