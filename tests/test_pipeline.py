"""The one-way pipeline on crafted archives: compare is pure, explain edits nothing, the verdict
is judged once (by the named tolerance bundle both the verdict and the explanations read), and
the Result is immutable."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import tarcraft as tc

import reprokit
from reprokit import diff
from reprokit.diff import Differences, compare_config, compare_images
from reprokit.errors import UsageError
from reprokit.explain.explainer import explain
from reprokit.explain.settings import Settings
from reprokit.model import ImageInfo
from reprokit.pipeline import assemble
from reprokit.read.pair import image_info, read_pair
from reprokit.result import Result
from reprokit.sources.refs import as_source
from reprokit.verdict import EQUIVALENT, KIND_CAUSES, STRICT, TOLERANCES, judge, tolerance

M0 = tc.MTIME
TOLERATED_CAUSES = set(KIND_CAUSES.values())


def app_layer(stamp: bytes, mtime: float = M0, log: bytes = b"") -> tc.Layer:
    members = [
        tc.directory("app/", mtime=mtime),
        tc.file("app/main.py", b"print('hi')\n", mtime=mtime),
        tc.file("app/stamp", stamp, mtime=mtime),
    ]
    if log:
        members.append(tc.file("var/log/build.log", log, mtime=mtime))
    return tc.make_layer(members)


def base_layer() -> tc.Layer:
    return tc.make_layer([tc.directory("etc/"), tc.file("etc/os-release", b"ID=test\n")])


def archive(path: Path, app: tc.Layer, created: str = "2024-01-01T00:00:00Z", **cfg: Any) -> str:
    layers = [base_layer(), app]
    config = tc.image_config(layers, created=created)
    config.update(cfg)
    tc.write_docker_archive(path, layers, config)
    return f"docker-archive:{path}"


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[str, tuple[str, str]]:
    d = tmp_path_factory.mktemp("pipeline")
    a = archive(d / "a.tar", app_layer(b"1\n", log=b"x\n"))
    return {
        "identical": (a, archive(d / "same.tar", app_layer(b"1\n", log=b"x\n"))),
        "equivalent": (
            a,
            archive(d / "later.tar", app_layer(b"1\n", M0 + 60, b"x\n"), "2024-01-02T00:00:00Z"),
        ),
        "different": (
            a,
            archive(d / "other.tar", app_layer(b"2\n", M0 + 60, b"y\n"), "2024-01-02T00:00:00Z"),
        ),
    }


def snapshot(diffs: Differences) -> str:
    """Everything compare returned, as text (records included)."""
    return json.dumps(
        {
            "layers": [x.to_dict() for x in diffs.layers],
            "config": [x.to_dict() for x in diffs.config],
            "files": [x.to_dict() for x in diffs.files],
            "merged": [x.to_dict() for x in diffs.merged],
        },
        sort_keys=True,
        default=str,
    )


def stages(a: str, b: str):
    source_a, source_b = as_source(a), as_source(b)
    image_a, image_b, _ = read_pair(source_a, source_b)
    diffs = compare_images(image_a, image_b)
    images = (image_info(image_a), image_info(image_b))
    return images, diffs, image_a, image_b, (source_a, source_b)


def test_explain_edits_nothing_compare_returned(pairs):
    images, diffs, image_a, image_b, sources = stages(*pairs["different"])
    assert diffs.files and diffs.merged and diffs.config
    before = snapshot(diffs)
    found = explain(diffs, image_a, image_b, sources, Settings(ignore=["/var/log/**"]))
    assert snapshot(diffs) == before
    assert all(d.cause is None and not d.ignored for d in (*diffs.files, *diffs.config))
    result = assemble(images, diffs, found)
    assert snapshot(diffs) == before  # nor does building the Result
    for records, originals, explanations in (
        (result.file_records, diffs.files, found.files),
        (result.merged_records, diffs.merged, found.merged),
        (result.config_records, diffs.config, found.config),
    ):
        assert len(records) == len(originals) == len(explanations)
        for new, old, e in zip(records, originals, explanations, strict=True):
            assert new is not old
            assert (new.cause, new.fix, new.evidence, new.ignored, new.rule) == (
                e.cause,
                e.fix,
                e.evidence,
                e.ignored,
                e.rule,
            )
    logs = [d for d in result.file_records if d.path == "/var/log/build.log"]
    assert logs and logs[0].ignored and logs[0].cause == "log-file"
    assert result.step_records == found.steps and result.explained is found.explained


@pytest.mark.parametrize("verdict", ["identical", "equivalent", "different"])
def test_verdict_is_judged_once_on_the_results_records(pairs, verdict):
    result = reprokit.compare(*pairs[verdict])
    assert result.verdict == verdict, result.reason
    again = judge(result.images, result.config_records, result.file_records, result.merged_records)
    assert again == (result.verdict, result.reason)
    assert not hasattr(diff, "verdict")  # compare only compares: no second verdict policy


def test_ignored_differences_are_excluded_in_the_one_verdict_pass(pairs):
    a, b = pairs["different"]
    result = reprokit.compare(a, b, ignore=["/app/stamp", "/var/log/**"])
    counted = sum(d.ignored for d in result.file_records) + sum(
        c.ignored for c in result.config_records
    )
    assert counted == result.ignored_count == 2
    assert result.verdict == "equivalent", result.reason
    assert result.reason.endswith("(2 ignored difference(s) not counted)")
    assert judge(
        result.images, result.config_records, result.file_records, result.merged_records
    ) == (result.verdict, result.reason)
    plain = reprokit.compare(a, b)
    assert plain.verdict == "different" and "ignored" not in plain.reason


def test_strict_bundle_tolerates_nothing(pairs):
    result = reprokit.compare(*pairs["equivalent"], tolerance="strict")
    assert result.verdict == "different", result.reason
    assert judge(
        result.images, result.config_records, result.file_records, result.merged_records, STRICT
    ) == (result.verdict, result.reason)
    assert reprokit.compare(*pairs["identical"], tolerance="strict").verdict == "identical"
    assert tolerance("semantic") is TOLERANCES["equivalent"] is EQUIVALENT
    with pytest.raises(UsageError, match="unknown tolerance 'lenient'"):
        reprokit.compare("docker-archive:/nonexistent.tar", "oci:/nowhere", tolerance="lenient")


def legacy_config(container: str, env: str, inner_env: str, created: str) -> dict[str, Any]:
    """A legacy builder's image config: per-build container fields beside the real config."""
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "container": container,
        "container_config": {
            "Hostname": container[:12],
            "Env": [inner_env],
            "Cmd": ["/bin/sh", "-c", "#(nop) ", 'CMD ["sh"]'],
            "Image": "sha256:" + container,
        },
        "config": {
            "Hostname": "",
            "Env": [env],
            "Cmd": ["sh"],
            "Image": "sha256:" + container,
            "Labels": {"org.example.version": "1.0"},
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + container]},
        "history": [{"created": created, "created_by": '/bin/sh -c #(nop) CMD ["sh"]'}],
    }


def agreement(config_a: dict[str, Any], config_b: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Every differing field with its tolerated kind; asserts the explanation agrees."""
    diffs = Differences([], compare_config(config_a, config_b), [], [])
    found = explain(diffs)
    out = []
    for c, e in zip(diffs.config, found.config, strict=True):
        kind = EQUIVALENT.config_kind(c.field)
        if kind is None:
            assert e.cause not in TOLERATED_CAUSES, (c.field, e.cause)
        else:
            assert e.cause == KIND_CAUSES[kind], (c.field, e.cause)
        out.append((c.field, kind))
    return out


def test_container_config_is_per_build_metadata_config_env_is_real():
    a = legacy_config("a" * 64, "PATH=/bin", "PATH=/bin", "2024-01-01T00:00:00Z")
    b = legacy_config("b" * 64, "PATH=/bin", "PATH=/usr/bin", "2024-01-02T00:00:00Z")
    kinds = dict(agreement(a, b))
    assert kinds["container_config.Env[0]"] == "legacy-builder"
    assert kinds["container_config.Hostname"] == kinds["config.Image"] == "legacy-builder"
    assert kinds["container"] == "legacy-builder" and kinds["created"] == "timestamp"
    assert kinds["rootfs.diff_ids[0]"] == "derived"
    assert None not in kinds.values()
    img = ImageInfo("a", "sha256:1", ["sha256:l"])
    diffs = Differences([], compare_config(a, b), [], [])
    result = assemble((img, img), diffs, explain(diffs))
    assert result.verdict == "equivalent", result.reason
    assert result.explained
    env = next(c for c in result.config_records if c.field == "container_config.Env[0]")
    assert env.cause == "image-metadata" and env.rule == "legacy-builder"

    b_env = legacy_config("b" * 64, "PATH=/usr/bin", "PATH=/bin", "2024-01-02T00:00:00Z")
    kinds = dict(agreement(a, b_env))
    assert kinds["config.Env[0]"] is None
    diffs = Differences([], compare_config(a, b_env), [], [])
    result = assemble((img, img), diffs, explain(diffs))
    assert result.verdict == "different"
    assert result.reason == "config differs in config.Env[0]"
    env = next(c for c in result.config_records if c.field == "config.Env[0]")
    assert env.cause == "unexplained"


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("created", "timestamp"),
        ("history[12].created", "timestamp"),
        ("history[1].created_by", None),
        ("container", "legacy-builder"),
        ("container_config", "legacy-builder"),
        ("container_config.Cmd[3]", "legacy-builder"),
        ("config.Hostname", "legacy-builder"),
        ("config.Image", "legacy-builder"),
        ("config.Env[0]", None),
        ("config.Labels.org.example.version", None),
        ("rootfs.diff_ids[3]", "derived"),
        ("rootfs.type", None),
        ("architecture", None),
    ],
)
def test_each_config_field_agrees(field, kind):
    assert EQUIVALENT.config_kind(field) == kind
    assert STRICT.config_kind(field) is None
    diffs = Differences([], [compare_config({"x": 1}, {"x": 2})[0]], [], [])
    diffs = Differences([], [dataclasses.replace(diffs.config[0], field=field)], [], [])
    e = explain(diffs).config[0]
    assert (e.cause in TOLERATED_CAUSES) == (kind is not None), e
    img = ImageInfo("a", "sha256:1", ["sha256:l"])
    verdict = judge((img, img), diffs.config, [], []).verdict
    assert verdict == ("equivalent" if kind else "different")


def test_result_is_immutable(pairs):
    result = reprokit.compare(*pairs["different"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.verdict = "identical"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.file_records = []  # type: ignore[misc]
    assert len(result.files) == len(result.file_records)  # cached DataFrames still work
    assert result.files is result.files
    built = dataclasses.replace(result, run_id="abc", suggestions=["x"])
    assert built.run_id == "abc" and result.run_id is None and not result.suggestions
    assert isinstance(built, Result) and built.verdict == result.verdict


def test_explanations_without_evidence_are_shared(pairs):
    """Beyond the evidence budget, alike explanations are one object (memory at 100k)."""
    _, diffs, image_a, image_b, sources = stages(*pairs["different"])
    found = explain(diffs, image_a, image_b, sources, Settings(evidence_entries=0))
    assert all(e.evidence is None for e in found.files)
    mtimes = [e for d, e in zip(diffs.files, found.files, strict=True) if d.fields == ["mtime"]]
    assert len(mtimes) >= 2 and len({id(e) for e in mtimes}) == 1


def test_oci_images_with_other_manifests_are_equivalent_not_identical() -> None:
    """Same diff_ids and config, two OCI manifests: at most equivalent, and the reason says so;
    the manifest digest is kept in the report only where the transport has one."""
    from reprokit.model import ImageInfo
    from reprokit.verdict import judge

    ids = ["sha256:" + "1" * 64]
    a = ImageInfo("oci:a", "sha256:c", ids, manifest_digest="sha256:" + "a" * 64)
    b = ImageInfo("oci:b", "sha256:c", ids, manifest_digest="sha256:" + "b" * 64)
    verdict, reason = judge((a, b), [], [], [])
    assert verdict == "equivalent" and "OCI manifests differ" in reason
    assert judge((a, a), [], [], []).verdict == "identical"
    plain = ImageInfo("docker-archive:x", "sha256:c", ids)
    assert judge((plain, b), [], [], []).verdict == "identical"  # one side has no manifest
    assert "manifest_digest" not in plain.to_dict()
    assert ImageInfo.from_dict(a.to_dict()) == a
