"""`check` on the real engine: build twice, compare, verdicts, reports, cleanup."""

from __future__ import annotations

import json

import docker
import pytest
from conftest import run_cli

import reprokit
from reprokit.engine import RUN_LABEL
from reprokit.kinds import expanded

pytestmark = pytest.mark.engine


def test_reproducible_up_to_timestamps_is_equivalent(busybox, context, no_leftovers):
    ctx = context(
        f"FROM {busybox}\n"
        "COPY greeting.txt /srv/greeting.txt\n"
        "RUN sleep 1 && mkdir -p /data && echo hello > /data/hello.txt"
        " && ln -s hello.txt /data/link\n",
        files={"greeting.txt": "hi\n"},
    )
    result = reprokit.check(ctx, builder="docker")  # the classic builder's log and layers
    assert result.verdict == "equivalent", result.text()
    assert any("Step 3/" in line for line in result.builds[0].log)
    assert result.meets("equivalent") and not result.meets("identical")
    layers = {layer.index: layer for layer in result.layer_records}
    # the base image's layers are shared: reported same, their files never compared
    base_layers = len(result.images[0].diff_ids) - 2
    assert all(layers[i].same and layers[i].files_differing == 0 for i in range(base_layers))
    run_layer = layers[base_layers + 1]
    assert not run_layer.same and "mkdir -p /data" in (run_layer.created_by or "")
    paths = {d.path: d for d in result.file_records if d.layer == run_layer.index}
    assert paths["/data/hello.txt"].fields == ["mtime"]
    assert all(d.fields == ["mtime"] for d in result.file_records)
    assert {c.field for c in result.config_records} >= {"created"}
    assert "timestamps" in result.reason
    assert len(result.builds) == 2 and result.builds[0].tag != result.builds[1].tag


def test_random_bytes_are_different(busybox, context, no_leftovers):
    ctx = context(f"FROM {busybox}\nRUN head -c 64 /dev/urandom > /random.bin\n")
    result = reprokit.check(ctx)
    assert result.verdict == "different"
    merged = {d.path: d for d in result.merged_records}
    assert "content" in merged["/random.bin"].fields
    assert merged["/random.bin"].a.sha256 != merged["/random.bin"].b.sha256
    layer_diff = [d for d in result.file_records if d.path == "/random.bin"]
    assert layer_diff and layer_diff[0].layer == len(result.layer_records) - 1
    assert "/random.bin" in result.text()


def test_build_date_is_different(busybox, context, no_leftovers, tmp_path):
    ctx = context(f"FROM {busybox}\nRUN sleep 1 && date -u > /etc/build-date\n")
    out = tmp_path / "report.json"
    proc = run_cli("check", str(ctx), "--json", str(out))
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("reprokit: DIFFERENT")
    report = expanded(json.loads(out.read_text()))
    entry = next(f for f in report["merged"] if f["path"] == "/etc/build-date")
    assert entry["change"] == "modified" and "content" in entry["fields"]


def test_require_identical_and_keep_images(busybox, context, client, tmp_path):
    ctx = context(f"FROM {busybox}\nCOPY a.txt /a.txt\n", files={"a.txt": "a\n"})
    out = tmp_path / "r.json"
    proc = run_cli("check", str(ctx), "--require", "identical", "--keep-images", "--json", str(out))
    report = json.loads(out.read_text())
    tags = report["kept_images"]
    try:
        # COPY keeps the context's mtimes, so only the creation times differ
        assert report["verdict"] == "equivalent", proc.stdout
        assert proc.returncode == 1
        assert len(tags) == 2
        for tag in tags:
            image = client.images.get(tag)
            assert image.labels[RUN_LABEL] == report["run_id"]
    finally:
        for tag in tags:
            client.images.remove(tag)
    proc = run_cli("check", str(ctx), "--require", "equivalent", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("EQUIVALENT")


def test_bundled_example(no_leftovers, tmp_path):
    out = tmp_path / "example.json"
    proc = run_cli("check", "--json", str(out))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "reprokit/v2"  # a comparison with column tables
    report = expanded(report)
    assert report["schema"] == "reprokit/v1"
    assert report["verdict"] == "different"
    layers = report["layers"]
    assert layers[0]["same"] is True  # COPY of a context file keeps its mtime
    differing = {f["path"] for f in report["merged"] if "content" in f["fields"]}
    assert "/app/BUILD_ID" in differing
    assert report["spec"]["fingerprint"] and len(report["builds"]) == 2
    assert report["spec"]["example"] == "basic"


def test_json_contract(busybox, context, tmp_path):
    ctx = context(f"FROM {busybox}\nRUN echo $RANDOM > /r\n")
    result = reprokit.check(ctx, build_args={"UNUSED": "1"}, labels={"team": "x"})
    result.to_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema"] == "reprokit/v2"
    data = expanded(data)
    assert data["schema"] == "reprokit/v1"
    assert data["verdict"] in ("identical", "equivalent", "different")
    for image in data["images"]:
        assert image["id"].startswith("sha256:") and all(
            d.startswith("sha256:") for d in image["diff_ids"]
        )
    for layer in data["layers"]:
        assert set(layer) >= {"index", "a", "b", "same", "created_by", "files_differing"}
    for entry in data["config"]:
        assert set(entry) >= {"field", "a", "b"}
    for entry in data["files"]:
        assert set(entry) >= {"layer", "path", "change", "fields"}
        assert entry["change"] in ("added", "removed", "modified")
    for entry in data["merged"]:
        assert set(entry) >= {"path", "change", "fields"} and "layer" not in entry
    assert data["summary"] == {
        "layers": len(data["layers"]),
        "layers_differing": sum(not x["same"] for x in data["layers"]),
        "files_differing": len(data["files"]),
        "merged_differing": len(data["merged"]),
        "config_differing": len(data["config"]),
    }
    assert data["spec"]["build_args"] == {"UNUSED": "1"}
    again = reprokit.load(tmp_path / "r.json")
    assert again.verdict == result.verdict
    assert again.files.equals(result.files)
    assert list(result.layers.columns)[:5] == ["layer", "a", "b", "same", "created_by"]


def test_images_removed_on_success(busybox, context, client):
    ctx = context(f"FROM {busybox}\nRUN sleep 1 && echo x > /x\n")
    result = reprokit.check(ctx)
    for build in result.builds:
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(build.tag)
    assert not client.api.images(all=True, filters={"label": f"{RUN_LABEL}={result.run_id}"})
