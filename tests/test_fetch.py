"""Source.fetch: the content of chosen files, in one more pass over only the layers named."""

from __future__ import annotations

from pathlib import Path

import pytest
import tarcraft as tc

from reprokit.sources.refs import parse_ref


@pytest.mark.parametrize("style", ["blobs", "legacy"])
def test_fetch_reads_only_the_wanted_files_of_the_wanted_layers(tmp_path: Path, style: str):
    lower = tc.make_layer([tc.file("etc/os-release", b"ID=one\n"), tc.file("big", bytes(5000))])
    upper = tc.make_layer([tc.file("etc/os-release", b"ID=two\n"), tc.file("x", b"x")])
    path = tc.write_docker_archive(tmp_path / "img.tar", [lower, upper], style=style)
    source = parse_ref(f"docker-archive:{path}")
    got = source.fetch({upper.diff_id: ["/etc/os-release", "/missing"]}, limit=1024)
    assert got == {upper.diff_id: {"/etc/os-release": b"ID=two\n"}}
    both = source.fetch({lower.diff_id: ["/etc/os-release", "/big"]}, limit=1024)
    assert both[lower.diff_id] == {"/etc/os-release": b"ID=one\n"}  # /big is above the limit


def test_fetch_from_an_oci_layout(tmp_path: Path):
    layer = tc.make_layer([tc.file("app/conf.txt", b"built 2026-01-01\n")], "gzip")
    layout = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([layer])])
    got = parse_ref(f"oci:{layout}").fetch({layer.diff_id: ["/app/conf.txt"]}, limit=1 << 20)
    assert got[layer.diff_id]["/app/conf.txt"] == b"built 2026-01-01\n"
