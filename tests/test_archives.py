"""On-disk image sources (``docker-archive:``, ``oci:``, ``oci-archive:``) and
:func:`reprokit.compare` on images crafted with :mod:`tarcraft` (no Docker Engine)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
import tarcraft as tc

import reprokit
from reprokit.errors import ArchiveError, ImageNotFoundError, ReprokitError, UsageError
from reprokit.sources.image import Image
from reprokit.sources.layout import Platform, host_platform
from reprokit.sources.refs import parse_ref
from reprokit.sources.store import StoreSource

M0 = tc.MTIME


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def base_layer(compression: str = "none") -> tc.Layer:
    return tc.make_layer(
        [
            tc.directory("etc/"),
            tc.file("etc/os-release", b"ID=test\n"),
            tc.file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
            tc.directory("bin/"),
            tc.file("bin/busybox", b"\x7fELF" + bytes(3000), mode=0o755),
            tc.hardlink("bin/sh", "bin/busybox"),
            tc.symlink("bin/ls", "busybox"),
        ],
        compression,
    )


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def app_layer(
    main: bytes = b"print('hi')\n", mtime: float = M0, compression: str = "none"
) -> tc.Layer:
    return tc.make_layer(
        [
            tc.directory("app/", mtime=mtime),
            tc.file("app/main.py", main, mtime=mtime),
            tc.file("app/data.bin", bytes(range(256)) * 4, mtime=mtime),
        ],
        compression,
    )


def read(ref: str, platform: Platform | None = None) -> Image:
    return parse_ref(ref, platform).read()


def files_of(image: Image, index: int) -> dict[str, reprokit.records.FileRecord]:
    layer = image.layers[index]
    assert layer is not None
    return layer.by_path()


# --- docker save archives ----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["legacy", "symlink", "blobs"])
def test_docker_archive_is_read(tmp_path, style):
    layers = [base_layer(), app_layer()]
    path = tc.write_docker_archive(tmp_path / "img.tar", layers, style=style)
    image = read(f"docker-archive:{path}")
    assert image.diff_ids == [x.diff_id for x in layers]
    assert [x.diff_id for x in image.layers] == image.diff_ids
    assert image.config["architecture"] == "amd64"
    raw_config = tc.config_bytes(tc.image_config(layers))
    assert image.id == "sha256:" + sha(raw_config)
    base = files_of(image, 0)
    assert base["/etc/passwd"].sha256 == sha(b"root:x:0:0::/root:/bin/sh\n")
    assert base["/bin/sh"].type == "hardlink"
    assert base["/bin/sh"].sha256 == base["/bin/busybox"].sha256
    assert files_of(image, 1)["/app/main.py"].sha256 == sha(b"print('hi')\n")
    assert image.size() == sum(len(x.tar) for x in layers)


def test_docker_archive_with_a_repeated_layer_symlinked_to_its_first_copy(tmp_path):
    empty = tc.make_layer([])
    layers = [empty, base_layer(), empty]
    path = tc.write_docker_archive(tmp_path / "img.tar", layers, style="legacy")
    with tarfile.open(path) as tf:
        links = [m for m in tf.getmembers() if m.issym()]
    assert len(links) == 1 and links[0].linkname.startswith("../")
    image = read(f"docker-archive:{path}")
    assert image.diff_ids == [empty.diff_id, layers[1].diff_id, empty.diff_id]
    assert image.layers[0] is not None and image.layers[0].records == []
    assert image.layers[2] is image.layers[0]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_docker_archive_with_compressed_layer_blobs(tmp_path, compression):
    layers = [base_layer(compression), app_layer(compression=compression)]
    path = tc.write_docker_archive(tmp_path / "img.tar", layers, style="blobs")
    image = read(f"docker-archive:{path}")
    assert image.diff_ids == [x.diff_id for x in layers]
    assert "/app/main.py" in files_of(image, 1)


def test_docker_archive_selected_by_repo_tag(tmp_path):
    one, two = app_layer(b"one"), app_layer(b"two")
    cfg_one, cfg_two = tc.image_config([one]), tc.image_config([two])
    name_one = sha(tc.config_bytes(cfg_one)) + ".json"
    name_two = sha(tc.config_bytes(cfg_two)) + ".json"
    manifest = [
        {"Config": name_one, "RepoTags": ["example/app:1"], "Layers": ["one/layer.tar"]},
        {
            "Config": name_two,
            "RepoTags": ["registry.example/example/app:2", "other:latest"],
            "Layers": ["two/layer.tar"],
        },
    ]
    path = tc.write_docker_archive(
        tmp_path / "multi.tar",
        [],
        manifest=manifest,
        extra=[
            ("one/layer.tar", one.tar),
            ("two/layer.tar", two.tar),
            (name_one, tc.config_bytes(cfg_one)),
            (name_two, tc.config_bytes(cfg_two)),
        ],
    )

    def main_of(ref: str) -> str | None:
        return files_of(read(ref), 0)["/app/main.py"].sha256

    assert main_of(f"docker-archive:{path}:example/app:1") == sha(b"one")
    assert main_of(f"docker-archive:{path}:example/app:2") == sha(b"two")  # registry prefix
    assert main_of(f"docker-archive:{path}:other") == sha(b"two")  # :latest implied
    with pytest.raises(ImageNotFoundError, match="no image tagged 'example/app:3'"):
        read(f"docker-archive:{path}:example/app:3")
    with pytest.raises(UsageError, match="holds 2 images"):
        read(f"docker-archive:{path}")


def test_docker_archive_layer_not_matching_its_diff_id_is_corrupt(tmp_path):
    good, evil = app_layer(b"good"), app_layer(b"tampered")
    config = tc.image_config([good])  # names good's diff_id …
    path = tc.write_docker_archive(tmp_path / "img.tar", [evil], config)  # … ships evil
    with pytest.raises(ArchiveError, match="corrupt") as info:
        read(f"docker-archive:{path}")
    assert "layer 0" in str(info.value)
    with pytest.raises(ArchiveError, match="corrupt"):
        reprokit.compare(f"docker-archive:{path}", f"docker-archive:{path}")


def test_docker_archive_layer_count_differing_from_config_is_an_error(tmp_path):
    layers = [base_layer(), app_layer()]
    config = tc.image_config(layers[:1])
    path = tc.write_docker_archive(tmp_path / "img.tar", layers, config)
    with pytest.raises(ArchiveError, match="2 layers but the config 1"):
        read(f"docker-archive:{path}")


@pytest.mark.parametrize("style", ["legacy", "blobs"])
def test_truncated_docker_archive_raises_archive_error(tmp_path, style):
    layers = [base_layer(), app_layer(b"x" * 20000)]
    full = tc.write_docker_archive(tmp_path / "full.tar", layers, style=style).read_bytes()
    expected = read(f"docker-archive:{tmp_path / 'full.tar'}")
    cut_path = tmp_path / "cut.tar"
    errors = 0
    for cut in range(0, len(full), max(1, len(full) // 97)):
        cut_path.write_bytes(full[:cut])
        try:
            image = read(f"docker-archive:{cut_path}")
        except ArchiveError:
            errors += 1
            continue
        # only a cut inside the archive's end padding can still read, and then it reads whole
        assert cut > len(full) - 10240
        assert image.diff_ids == expected.diff_ids
        assert [x.records for x in image.layers] == [x.records for x in expected.layers]
    assert errors > 80


def test_docker_archive_truncated_inside_a_layer_blob(tmp_path):
    layers = [app_layer(b"y" * 50000)]
    path = tc.write_docker_archive(tmp_path / "img.tar", layers)
    data = path.read_bytes()
    with tarfile.open(path) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("layer.tar"))
    path.write_bytes(data[: member.offset_data + member.size // 2])
    with pytest.raises(ArchiveError):
        read(f"docker-archive:{path}")


@pytest.mark.parametrize(
    "field, value",
    [
        ("Layers", ["../../etc/passwd"]),
        ("Layers", ["ok/../../../etc/passwd"]),
        ("Config", "../../etc/passwd"),
    ],
)
def test_path_traversal_in_manifest_json_is_refused(tmp_path, field, value):
    layer = app_layer()
    config = tc.config_bytes(tc.image_config([layer]))
    entry = {"Config": "config.json", "RepoTags": [], "Layers": ["l/layer.tar"], field: value}
    path = tc.write_docker_archive(
        tmp_path / "evil.tar",
        [],
        manifest=[entry],
        extra=[("l/layer.tar", layer.tar), ("config.json", config)],
    )
    with pytest.raises(ArchiveError, match="outside the image layout"):
        read(f"docker-archive:{path}")


def _rewrite_layer_members(path: Path, how) -> None:
    """Rewrite a docker save archive, passing each ``*/layer.tar`` member through ``how``."""
    with tarfile.open(path) as src:
        members = [(m, src.extractfile(m).read() if m.isreg() else None) for m in src]
    with tarfile.open(path, "w") as dst:
        for m, data in members:
            if m.name.endswith("layer.tar"):
                data = how(m, data)
            dst.addfile(m, io.BytesIO(data) if data is not None else None)


def test_layer_member_that_is_a_hardlink_is_followed(tmp_path):
    layer = app_layer()
    path = tc.write_docker_archive(tmp_path / "img.tar", [layer, layer], style="legacy")
    first: list[str] = []

    def hardlink_second(m: tarfile.TarInfo, data: bytes | None) -> bytes | None:
        if not first:
            first.append(m.name)
            return data
        m.type, m.linkname, m.size = tarfile.LNKTYPE, first[0], 0
        return None

    _rewrite_layer_members(path, hardlink_second)
    image = read(f"docker-archive:{path}")
    assert [x.diff_id for x in image.layers] == [layer.diff_id] * 2


def test_symlink_loop_between_layers_is_an_error(tmp_path):
    layers = [app_layer(b"1"), app_layer(b"2")]
    path = tc.write_docker_archive(tmp_path / "img.tar", layers, style="legacy")
    with tarfile.open(path) as tf:
        a, b = (m.name for m in tf if m.name.endswith("layer.tar"))

    def link_to_the_other(m: tarfile.TarInfo, data: bytes | None) -> None:
        target = b if m.name == a else a
        m.type, m.linkname, m.size = tarfile.SYMTYPE, "../" + target, 0

    _rewrite_layer_members(path, link_to_the_other)
    with pytest.raises(ArchiveError, match="too many links"):
        read(f"docker-archive:{path}")


def test_symlink_leaving_the_archive_is_refused(tmp_path):
    path = tc.write_docker_archive(tmp_path / "evil.tar", [app_layer()], style="legacy")

    def link_out(m: tarfile.TarInfo, data: bytes | None) -> None:
        m.type, m.linkname, m.size = tarfile.SYMTYPE, "../../../etc/passwd", 0

    _rewrite_layer_members(path, link_out)
    with pytest.raises(ArchiveError, match="outside the image layout"):
        read(f"docker-archive:{path}")


def test_not_an_image_archive(tmp_path):
    path = tmp_path / "plain.tar"
    path.write_bytes(tc.layer_tar([tc.file("hello.txt", b"hi")]))
    with pytest.raises(ArchiveError, match="not a docker save archive"):
        read(f"docker-archive:{path}")
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"definitely not a tar" * 100)
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        read(f"docker-archive:{garbage}")


def test_manifest_json_that_is_not_json_or_lists_nothing(tmp_path):
    path = tc.write_docker_archive(tmp_path / "a.tar", [app_layer()], manifest=[])
    with pytest.raises(ArchiveError, match="lists no images"):
        read(f"docker-archive:{path}")
    path = tc.write_docker_archive(tmp_path / "b.tar", [app_layer()], manifest=[{"x": 1}])
    with pytest.raises(ArchiveError, match="lacks Config or Layers"):
        read(f"docker-archive:{path}")


# --- OCI layouts -------------------------------------------------------------------------------


def test_oci_layout_with_gzip_and_zstd_layers(tmp_path):
    layers = [base_layer("gzip"), app_layer(compression="zstd"), tc.make_layer([tc.file("z")])]
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage(layers)])
    image = read(f"oci:{root}")
    assert image.diff_ids == [x.diff_id for x in layers]
    assert [x.diff_id for x in image.layers] == image.diff_ids
    assert files_of(image, 0)["/bin/busybox"].mode == 0o755
    assert files_of(image, 1)["/app/main.py"].sha256 == sha(b"print('hi')\n")
    assert image.size() == sum(len(x.tar) for x in layers)  # uncompressed bytes


@pytest.mark.parametrize("prefix", ["", "./"])
def test_oci_archive_is_the_same_layout_in_a_tar(tmp_path, prefix):
    layers = [base_layer("gzip"), app_layer(compression="zstd")]
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage(layers, ref_name="v1")])
    archive = tc.tar_directory(root, tmp_path / "layout.tar", prefix=prefix)
    from_dir = read(f"oci:{root}")
    from_tar = read(f"oci-archive:{archive}")
    assert from_tar.diff_ids == from_dir.diff_ids
    assert from_tar.id == from_dir.id
    assert [x.records for x in from_tar.layers] == [x.records for x in from_dir.layers]
    assert read(f"oci-archive:{archive}:v1").id == from_dir.id


def test_oci_layout_layer_not_matching_its_diff_id_is_corrupt(tmp_path):
    good, evil = app_layer(b"good", compression="gzip"), app_layer(b"evil", compression="gzip")
    config = tc.image_config([good])
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([evil], config=config)])
    with pytest.raises(ArchiveError, match="corrupt"):
        read(f"oci:{root}")


def test_oci_layout_with_a_truncated_zstd_blob(tmp_path):
    layer = app_layer(bytes(range(256)) * 400, compression="zstd")
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([layer])])
    blob = root / "blobs" / "sha256" / layer.digest.split(":")[1]
    blob.write_bytes(layer.blob[: len(layer.blob) // 2])
    with pytest.raises(ArchiveError, match="truncated"):
        read(f"oci:{root}")


def _two_platform_layout(root: Path, nested: bool = False) -> Path:
    images = []
    for arch in ("amd64", "arm64"):
        layer = tc.make_layer([tc.file("arch", arch.encode())], "gzip")
        config = tc.image_config([layer], architecture=arch)
        images.append(tc.OciImage([layer], config, platform={"os": "linux", "architecture": arch}))
    return tc.write_oci_layout(root, images, nested=nested, nested_ref="multi" if nested else None)


def _arch_file(image: Image) -> bytes:
    return files_of(image, 0)["/arch"].sha256


@pytest.mark.parametrize("nested", [False, True])
def test_multi_platform_index_picks_host_or_requested_platform(tmp_path, nested):
    root = _two_platform_layout(tmp_path / "layout", nested)
    host = host_platform()
    if host.architecture not in ("amd64", "arm64"):
        pytest.skip(f"host platform {host} is in neither manifest")
    default = read(f"oci:{root}")
    assert default.config["architecture"] == host.architecture
    assert _arch_file(default) == sha(host.architecture.encode())
    for arch in ("amd64", "arm64"):
        image = read(f"oci:{root}", Platform("linux", arch))
        assert image.config["architecture"] == arch
        assert _arch_file(image) == sha(arch.encode())
    if nested:  # the ref names the index; the platform then picks from it
        image = read(f"oci:{root}:multi", Platform("linux", "arm64"))
        assert _arch_file(image) == sha(b"arm64")
    result = reprokit.compare(f"oci:{root}", f"oci:{root}", platform="linux/arm64")
    assert result.verdict == "identical"
    assert result.images[0].platform == "linux/arm64"


@pytest.mark.parametrize("nested", [False, True])
def test_absent_platform_is_image_not_found(tmp_path, nested):
    root = _two_platform_layout(tmp_path / "layout", nested)
    with pytest.raises(ImageNotFoundError, match="linux/s390x") as info:
        read(f"oci:{root}", Platform("linux", "s390x"))
    assert "linux/amd64" in str(info.value) and "linux/arm64" in str(info.value)
    with pytest.raises(ImageNotFoundError):
        reprokit.compare(f"oci:{root}", f"oci:{root}", platform="linux/riscv64")


def test_single_platform_image_with_other_platform_requested(tmp_path):
    layer = app_layer()
    root = tc.write_oci_layout(
        tmp_path / "layout",
        [tc.OciImage([layer], platform={"os": "linux", "architecture": "amd64"})],
    )
    assert read(f"oci:{root}", Platform("linux", "amd64")).diff_ids == [layer.diff_id]
    with pytest.raises(ImageNotFoundError):
        read(f"oci:{root}", Platform("linux", "arm64"))


def test_attestation_manifests_are_not_images(tmp_path):
    layer = app_layer()
    attestation = tc.OciImage(
        [tc.make_layer([tc.file("sbom.json", b"{}")])],
        platform={"os": "unknown", "architecture": "unknown"},
        annotations={"vnd.docker.reference.type": "attestation-manifest"},
    )
    image = tc.OciImage([layer], platform={"os": "linux", "architecture": "arm64"})
    root = tc.write_oci_layout(tmp_path / "layout", [image, attestation])
    assert read(f"oci:{root}").diff_ids == [layer.diff_id]


def test_oci_layout_selected_by_ref_name(tmp_path):
    v1, v2 = app_layer(b"v1"), app_layer(b"v2")
    root = tc.write_oci_layout(
        tmp_path / "layout",
        [
            tc.OciImage([v1], ref_name="v1"),
            tc.OciImage([v2], ref_name="registry.example/app:v2"),
        ],
    )
    assert read(f"oci:{root}:v1").diff_ids == [v1.diff_id]
    assert read(f"oci:{root}:registry.example/app:v2").diff_ids == [v2.diff_id]
    assert read(f"oci:{root}:app:v2").diff_ids == [v2.diff_id]  # a suffix after "/"
    with pytest.raises(ImageNotFoundError, match="no image named 'v3'"):
        read(f"oci:{root}:v3")
    with pytest.raises(UsageError, match="holds 2 images"):
        read(f"oci:{root}")


def test_oci_index_with_invalid_digest_is_refused(tmp_path):
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([app_layer()])])
    index = json.loads((root / "index.json").read_text())
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    (root / "index.json").write_text(json.dumps(index))
    with pytest.raises(ArchiveError, match="invalid digest"):
        read(f"oci:{root}")


def test_oci_layout_missing_blob_or_index(tmp_path):
    layer = app_layer(compression="gzip")
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([layer])])
    (root / "blobs" / "sha256" / layer.digest.split(":")[1]).unlink()
    with pytest.raises(ArchiveError, match="cannot read"):
        read(f"oci:{root}")
    (root / "index.json").unlink()
    with pytest.raises(ArchiveError, match=r"no index\.json"):
        read(f"oci:{root}")


@pytest.mark.parametrize("transport", ["docker-archive", "oci", "oci-archive"])
def test_missing_path_is_image_not_found(tmp_path, transport):
    ref = f"{transport}:{tmp_path / 'nope'}"
    with pytest.raises(ImageNotFoundError):
        read(ref)
    with pytest.raises(ImageNotFoundError):
        reprokit.compare(ref, ref)


def test_parse_ref_splits_path_and_name(tmp_path):
    src = parse_ref("oci:/srv/layout:v1")
    assert isinstance(src, StoreSource)
    assert (src.transport, src.path, src.name) == ("oci", "/srv/layout", "v1")
    src = parse_ref("docker-archive:/tmp/a.tar:example/app:1")
    assert (src.path, src.name) == ("/tmp/a.tar", "example/app:1")
    odd = tmp_path / "has:colon.tar"  # a path that exists as written is not split
    odd.write_bytes(b"")
    src = parse_ref(f"docker-archive:{odd}")
    assert (src.path, src.name) == (str(odd), None)
    with pytest.raises(UsageError):
        parse_ref("oci:")


def test_store_source_skips_layers_it_is_told_the_other_image_has(tmp_path):
    layers = [base_layer(), app_layer()]
    path = tc.write_docker_archive(tmp_path / "img.tar", layers)
    source = parse_ref(f"docker-archive:{path}")
    assert source.diff_ids() == [x.diff_id for x in layers]
    image = source.read(skip={layers[0].diff_id})
    assert image.layers[0] is None
    assert image.layers[1] is not None and image.layers[1].diff_id == layers[1].diff_id


# --- compare() ---------------------------------------------------------------------------------


def _archive(tmp_path: Path, name: str, layers: list[tc.Layer], **config_kw) -> str:
    config = tc.image_config(layers, **config_kw)
    return f"docker-archive:{tc.write_docker_archive(tmp_path / name, layers, config)}"


def test_compare_identical_archives(tmp_path):
    a = _archive(tmp_path, "a.tar", [base_layer(), app_layer()])
    b = _archive(tmp_path, "b.tar", [base_layer(), app_layer()])
    assert Path(a.split(":", 1)[1]).read_bytes() == Path(b.split(":", 1)[1]).read_bytes()
    result = reprokit.compare(a, b)
    assert result.verdict == "identical"
    assert result.file_records == [] and result.merged_records == [] and result.config_records == []
    assert all(layer.same for layer in result.layer_records) and len(result.layer_records) == 2
    assert result.images[0].id == result.images[1].id
    assert result.meets("identical")
    assert reprokit.compare(a, a).verdict == "identical"


def test_compare_across_transports_and_compressions(tmp_path):
    docker = _archive(tmp_path, "a.tar", [base_layer(), app_layer()])
    layers = [base_layer("zstd"), app_layer(compression="gzip")]
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage(layers)])
    result = reprokit.compare(docker, f"oci:{root}")
    assert result.verdict == "identical"  # same config, same diff_ids: blobs may differ


def test_compare_only_mtimes_and_created_differ_is_equivalent(tmp_path):
    a = _archive(tmp_path, "a.tar", [base_layer(), app_layer(mtime=M0)])
    b = _archive(
        tmp_path,
        "b.tar",
        [base_layer(), app_layer(mtime=M0 + 3600)],
        created="2024-06-01T12:00:00Z",
    )
    result = reprokit.compare(a, b)
    assert result.verdict == "equivalent", result.reason
    assert result.reason.startswith("only timestamps differ")
    assert {d.path for d in result.file_records} == {"/app", "/app/main.py", "/app/data.bin"}
    assert all(d.fields == ["mtime"] and d.layer == 1 for d in result.file_records)
    assert {c.field for c in result.config_records} >= {"created", "history[1].created"}
    assert result.layer_records[0].same and not result.layer_records[1].same
    assert result.meets("equivalent") and not result.meets("identical")


def test_compare_content_change_is_different(tmp_path):
    a = _archive(tmp_path, "a.tar", [base_layer(), app_layer(b"print('a')\n")])
    b = _archive(tmp_path, "b.tar", [base_layer(), app_layer(b"print('b')\n")])
    result = reprokit.compare(a, b)
    assert result.verdict == "different"
    changed = {d.path: d for d in result.file_records}
    assert list(changed) == ["/app/main.py"]
    diff = changed["/app/main.py"]
    assert diff.change == "modified" and diff.layer == 1
    assert "content" in diff.fields
    assert diff.a.sha256 == sha(b"print('a')\n") and diff.b.sha256 == sha(b"print('b')\n")
    assert [d.path for d in result.merged_records] == ["/app/main.py"]
    assert "content" in result.merged_records[0].fields
    row = result.files.iloc[0]
    assert row["path"] == "/app/main.py" and "content" in row["fields"]


def test_compare_shared_layer_is_same_and_has_no_file_differences(tmp_path):
    shared = base_layer()
    a = _archive(tmp_path, "a.tar", [shared, app_layer(b"a")])
    b = _archive(tmp_path, "b.tar", [shared, app_layer(b"b")])
    result = reprokit.compare(a, b)
    first, second = result.layer_records
    assert first.same and first.a == first.b == shared.diff_id
    assert first.files_differing == 0
    assert not second.same and second.files_differing == 1
    assert all(d.layer == 1 for d in result.file_records)
    assert first.size_a == first.size_b == len(shared.tar)  # filled in from the other image
    assert result.images[0].size == result.images[1].size


def test_compare_merged_view_applies_whiteouts(tmp_path):
    lower = base_layer()
    upper_a = tc.make_layer([tc.file("app/run", b"run")])
    upper_b = tc.make_layer(
        [tc.file("app/run", b"run"), tc.whiteout("etc/passwd"), tc.whiteout("bin")]
    )
    a = _archive(tmp_path, "a.tar", [lower, upper_a])
    b = _archive(tmp_path, "b.tar", [lower, upper_b])
    result = reprokit.compare(a, b)
    assert result.verdict == "different"
    merged = {d.path: d.change for d in result.merged_records}
    assert merged == {
        "/etc/passwd": "removed",
        "/bin": "removed",
        "/bin/busybox": "removed",
        "/bin/sh": "removed",
        "/bin/ls": "removed",
    }
    per_layer = {d.path: d.change for d in result.file_records}
    # a whiteout only B's layer has: a deletion of the path it deletes, as in the merged view
    assert per_layer == {"/etc/passwd": "removed", "/bin": "removed"}
    assert {d.b.type for d in result.file_records} == {"whiteout"}
    assert all("deleted only by B" in (d.evidence or "") for d in result.file_records)


def test_compare_different_layer_count(tmp_path):
    a = _archive(tmp_path, "a.tar", [base_layer()])
    b = _archive(tmp_path, "b.tar", [base_layer(), app_layer()])
    result = reprokit.compare(a, b)
    assert result.verdict == "different"
    assert "layer count differs (1 vs 2)" in result.reason
    assert result.layer_records[1].a is None and result.layer_records[1].b == app_layer().diff_id


def test_compare_config_change_is_different(tmp_path):
    a = _archive(tmp_path, "a.tar", [base_layer()])
    b = _archive(tmp_path, "b.tar", [base_layer()], env=("PATH=/usr/bin:/bin", "DEBUG=1"))
    result = reprokit.compare(a, b)
    assert result.verdict == "different"
    assert [c.field for c in result.config_records] == ["config.Env[1]"]
    assert result.config_records[0].change == "added"


def test_result_json_round_trip(tmp_path):
    lower = base_layer()
    a = _archive(tmp_path, "a.tar", [lower, app_layer(b"a", mtime=M0)])
    b_layer = tc.make_layer(
        [
            tc.directory("app/", mtime=M0 + 1),
            tc.file("app/main.py", b"b", mtime=M0 + 1.5, pax={"SCHILY.xattr.user.k": "v"}),
            tc.file(b"app/caf\xe9", b"raw name"),
            tc.device("app/null", "char", 1, 3),
            tc.whiteout("etc/passwd"),
        ]
    )
    b = _archive(tmp_path, "b.tar", [lower, b_layer], created="2025-01-01T00:00:00Z")
    result = reprokit.compare(a, b)
    assert result.file_records and result.merged_records and result.config_records
    report = tmp_path / "report.json"
    assert result.to_json(report) is None
    streamed = json.loads(report.read_text())
    assert streamed == json.loads(result.to_json()) == result.to_dict()
    assert streamed["schema"] == "reprokit/v2"  # a comparison: column tables
    assert report.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    loaded = reprokit.load(report)
    assert loaded.verdict == result.verdict == "different"
    assert loaded.reason == result.reason
    assert loaded.file_records == result.file_records
    assert loaded.merged_records == result.merged_records
    assert [x.to_dict() for x in loaded.layer_records] == [
        x.to_dict() for x in result.layer_records
    ]
    assert loaded.config_records == result.config_records
    assert loaded.images == result.images
    assert "/app/caf\\xe9" in {d.path for d in loaded.file_records}


def test_compare_errors_are_reprokit_errors(tmp_path):
    good = _archive(tmp_path, "a.tar", [base_layer()])
    broken = tmp_path / "broken.tar"
    broken.write_bytes(Path(good.split(":", 1)[1]).read_bytes()[:3000])
    with pytest.raises(ReprokitError):
        reprokit.compare(good, f"docker-archive:{broken}")


def test_named_platform_is_checked_against_an_undeclared_image(tmp_path):
    """An archive that does not say its platform is checked against the image config."""
    layer = app_layer()
    archive = tc.write_docker_archive(
        tmp_path / "amd64.tar", [layer], tc.image_config([layer], architecture="amd64")
    )
    assert read(f"docker-archive:{archive}", Platform("linux", "amd64")).diff_ids
    with pytest.raises(ImageNotFoundError, match="linux/amd64, not linux/arm64"):
        read(f"docker-archive:{archive}", Platform("linux", "arm64"))
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([layer])])
    with pytest.raises(ImageNotFoundError):
        read(f"oci:{root}", Platform("linux", "arm64"))


@pytest.mark.parametrize(
    "index",
    [
        b"[]",
        b'{"manifests": "nope"}',
        b'{"manifests": [42]}',
        b'{"manifests": [{"digest": "sha256:' + b"0" * 64 + b'"}]}',
    ],
)
def test_malformed_index_is_an_archive_error(tmp_path, index):
    root = tc.write_oci_layout(tmp_path / "layout", [tc.OciImage([app_layer()])])
    (root / "index.json").write_bytes(index)
    with pytest.raises((ArchiveError, ImageNotFoundError)):
        read(f"oci:{root}")


def test_manifest_with_config_of_the_wrong_shape(tmp_path):
    layer = app_layer()
    archive = tc.write_docker_archive(
        tmp_path / "bad.tar", [layer], manifest=[{"Config": 7, "Layers": "x"}]
    )
    with pytest.raises(ArchiveError):
        read(f"docker-archive:{archive}")


def test_same_files_in_another_tar_order_is_equivalent(tmp_path):
    """diff_ids differ but the filesystems do not: equivalent, and the reason says why."""
    members = [
        tc.directory("app/", mtime=M0),
        tc.file("app/main.py", b"print('hi')\n", mtime=M0),
        tc.file("app/data.bin", b"x" * 100, mtime=M0),
    ]
    one = tc.make_layer(members)
    two = tc.make_layer([members[0], members[2], members[1]])
    assert one.diff_id != two.diff_id
    a = tc.write_docker_archive(tmp_path / "a.tar", [one], tc.image_config([one]))
    b = tc.write_docker_archive(tmp_path / "b.tar", [two], tc.image_config([two]))
    result = reprokit.compare(f"docker-archive:{a}", f"docker-archive:{b}")
    assert result.verdict == "equivalent"
    assert "tar encoding of layer 0" in result.reason
    assert result.file_records == [] and result.merged_records == []
    assert [c.field for c in result.config_records] == ["rootfs.diff_ids[0]"]


def test_hostile_names_cannot_drive_the_terminal(tmp_path):
    """Paths and commands from images are escaped in the text summary (no raw control bytes)."""
    evil = "app/\x1b[2J\x1b]0;pwned\x07<script>alert(1)</script>\nforged line"
    a_layer = tc.make_layer([tc.directory("app/", mtime=M0), tc.file(evil, b"a", mtime=M0)])
    b_layer = tc.make_layer([tc.directory("app/", mtime=M0), tc.file(evil, b"b", mtime=M0)])
    a = tc.write_docker_archive(tmp_path / "a.tar", [a_layer], tc.image_config([a_layer]))
    b = tc.write_docker_archive(tmp_path / "b.tar", [b_layer], tc.image_config([b_layer]))
    result = reprokit.compare(f"docker-archive:{a}", f"docker-archive:{b}")
    assert result.verdict == "different"
    text = result.text()
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[2J" in text
    assert not any(line.startswith("forged line") for line in text.splitlines())
    # the record keeps the real name; only its display is escaped
    assert any("\x1b" in d.path for d in result.file_records)
