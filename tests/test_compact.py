"""Compact comparison reports (``reprokit/v2``, issue 15): column tables that load back into
the same Result — the same DataFrames, renderings and verdict — as the objects they came from;
reports written before (``reprokit/v1``, tests/data/v1, from real builds) still load; a
malformed table is refused with reprokit's own error, never a traceback."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import reprokit
from reprokit.errors import ReportError
from reprokit.kinds import expanded, to_dict
from reprokit.model import FileDiff, ImageInfo, LayerDiff
from reprokit.records import FileRecord
from reprokit.result import Result

DATA = Path(__file__).parent / "data" / "v1"
#: comparisons written by the code before reprokit/v2: a diff of two builds differing in
#: almost every way a record can, a check (builds, steps, suggestions) and a hand-made one
OLD = ["diff-files.json", "check-files.json", "comparison.json"]
FRAMES = ("layers", "config", "files", "merged", "steps", "packages", "parity")


def assert_same(a: Result, b: Result) -> None:
    """Two results show the same: records, every DataFrame, text, Markdown, HTML, verdict."""
    assert (a.verdict, a.reason, a.ok, a.summary) == (b.verdict, b.reason, b.ok, b.summary)
    assert a.file_records == b.file_records
    assert a.merged_records == b.merged_records
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert a.text() == b.text()
    assert a.to_markdown() == b.to_markdown()
    assert a._repr_html_() == b._repr_html_()
    assert a.to_html(plots=False) == b.to_html(plots=False)


def rewritten(result: Result, path: Path) -> Result:
    """``result`` written as the JSON report (reprokit/v2) and loaded back."""
    result.write(path)
    assert json.loads(path.read_text())["schema"] == "reprokit/v2"
    loaded = reprokit.load(path)
    assert isinstance(loaded, Result)
    return loaded


@pytest.mark.parametrize("name", OLD)
def test_reports_written_before_load_and_rewrite_compact(name: str, tmp_path: Path):
    old = json.loads((DATA / name).read_text())
    assert old["schema"] == "reprokit/v1"
    result = reprokit.load(DATA / name)
    assert len(result.file_records) == len(old["files"]) > 0
    again = rewritten(result, tmp_path / "r.json")
    assert_same(result, again)
    # the v1 writer gives back the entries that were read, key for key
    v1 = to_dict(again, compact=False)
    assert v1["files"] == old["files"] and v1["merged"] == old["merged"]
    assert expanded(json.loads((tmp_path / "r.json").read_text()))["files"] == old["files"]
    assert (tmp_path / "r.json").stat().st_size < (DATA / name).stat().st_size


def test_real_builds_round_trip(busybox, context, no_leftovers, tmp_path: Path):
    """A check of a Dockerfile whose two builds differ in times, content, a log file and a
    random id: the compact report loads into the same Result as the objects and as v1."""
    ctx = context(
        f"FROM {busybox}\n"
        "RUN mkdir -p /app/lib && for i in 1 2 3 4 5 6 7 8; do echo $i > /app/lib/f$i; done\n"
        "RUN head -c 16 /dev/urandom | od -An -tx1 > /app/BUILD_ID && date > /var/log/built"
        " && ln -s /app/lib/f1 /app/link && rm /app/lib/f8\n"
    )
    result = reprokit.check(ctx, builder="docker", vary="time")  # b in another second
    assert result.verdict == "different" and len(result.file_records) > 10
    loaded = rewritten(result, tmp_path / "r.json")
    assert_same(result, loaded)
    v1 = Result.from_dict(json.loads(json.dumps(to_dict(result, compact=False))))
    assert_same(v1, loaded)
    # the merged view refers to the per-layer rows it repeats
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["merged"]["rest"]["rows"] < len(result.merged_records)


def crafted(n: int) -> Result:
    """``n`` differences over three layers: three quarters in time only, the rest in content,
    with added, removed and odd records among them."""
    diffs, merged = [], []
    for i in range(n):
        path = f"/usr/lib/python3/site-packages/pkg{i % 97}/module_{i}.py"
        layer = 1 + i % 3
        digest = f"{i:064x}"
        a = FileRecord(path, "file", 0o644, size=100 + i % 7, mtime=1.7e9 + i // 50, sha256=digest)
        if i % 4:
            b = FileRecord(path, "file", 0o644, size=a.size, mtime=a.mtime + 41, sha256=digest)
            d = FileDiff(path, "modified", ["mtime"], layer, a, b, "timestamp", "clamp", None)
        else:
            b = FileRecord(path, "file", 0o600, 0, 0, 7, 1.7e9 + 0.5, f"{i + 1:064x}")
            fields = ["mode", "size", "mtime", "content"]
            d = FileDiff(path, "modified", fields, layer, a, b, "unexplained", None, f"- {i}\n+ x")
        if i % 1000 == 7:
            d = FileDiff(path, "added", [], layer, None, b, "unexplained", ignored=True)
        if i % 1000 == 9:
            d = FileDiff(path, "removed", [], layer, a, None, None)
        diffs.append(d)
        if i % 10:
            merged.append(FileDiff(d.path, d.change, d.fields, None, d.a, d.b, d.cause, d.fix,
                                   d.evidence, d.ignored, d.rule))  # fmt: skip
    diffs.sort(key=lambda d: (d.layer, d.path))
    img = ImageInfo("docker-archive:big.tar", "sha256:" + "1" * 64, ["sha256:x"] * 4, size=10)
    layers = [LayerDiff(k, "sha256:x", "sha256:y", k == 0, f"RUN {k}", 0) for k in range(4)]
    return Result("different", "content differs", (img, img), layers, [], diffs, merged)


def test_crafted_100k_round_trip(tmp_path: Path):
    result = crafted(100_000)
    loaded = rewritten(result, tmp_path / "r.json")
    assert loaded.file_records == result.file_records
    assert loaded.merged_records == result.merged_records
    for name in ("files", "merged", "layers"):
        pd.testing.assert_frame_equal(getattr(result, name), getattr(loaded, name), obj=name)
    assert loaded.text() == result.text()
    size = (tmp_path / "r.json").stat().st_size
    assert size / 100_000 < 120  # bytes per difference (v1 writes ~1,100)


def odd_records() -> list[FileDiff]:
    """Every shape a record can take."""
    x = FileRecord("/x", "file", 0o4755, 1, 2, 3, 1.25, "A" * 64, xattrs=(("user.k", "v"),))
    dev = FileRecord("/dev/null", "char", 0o666, device=(1, 3))
    bad = FileRecord("/bad", "file", mtime=0, invalid=(("mtime", "9" * 30),), sha256="zz")
    link = FileRecord("/l", "symlink", 0o777, mtime=5, linkname="/x")
    return [
        FileDiff("/x", "modified", ["uid", "xattrs"], 0, x, FileRecord("/x", "file", 0o4755, 9)),
        FileDiff("/dev/null", "modified", ["device"], 1, dev, FileRecord("/dev/null", "char")),
        FileDiff("/bad", "modified", ["mtime"], 1, bad, bad, "timestamp", rule="r"),
        FileDiff(
            "/l",
            "modified",
            ["linkname"],
            2,
            link,
            FileRecord("/l", "symlink", 0o777, mtime=5, linkname="/y"),
        ),
        FileDiff("/.wh.x", "added", [], 2, None, FileRecord("/.wh.x", "whiteout")),
        FileDiff("/gone", "removed", [], 2, FileRecord("/gone", "opaque"), None),
        FileDiff("/caf\\xe9 \n\x1b[2J", "modified", ["type"], 2, odd(link), odd(x), "unexplained"),
    ]


def odd(record: FileRecord) -> FileRecord:
    return dataclasses.replace(record, path="/caf\\xe9 \n\x1b[2J")


def test_every_record_shape_round_trips():
    diffs = odd_records()
    merged = [FileDiff(d.path, d.change, d.fields, None, d.a, d.b) for d in diffs[1:4]]
    img = ImageInfo("a", "sha256:1", [])
    result = Result("different", "x", (img, img), file_records=diffs, merged_records=merged)
    data = json.loads(result.to_json())
    loaded = reprokit.kinds.from_dict(data)
    assert loaded.file_records == diffs and loaded.merged_records == merged
    v1 = Result.from_dict(json.loads(json.dumps(to_dict(result, compact=False))))
    for name in ("files", "merged"):
        pd.testing.assert_frame_equal(getattr(v1, name), getattr(loaded, name), obj=name)


def test_secrets_are_redacted_in_compact_reports(tmp_path: Path):
    secret = "hunter2-hunter2-hunter2"
    d = FileDiff(f"/app/DB_PASSWORD={secret}", "modified", ["content"], 1,
                 cause="unexplained", evidence=f"-TOKEN={secret}")  # fmt: skip
    d.a = FileRecord(d.path, "symlink", linkname=f"/x/API_TOKEN={secret}")
    d.b = FileRecord(d.path, "symlink", linkname="/y")
    img = ImageInfo("a", "sha256:1", [])
    result = Result("different", "x", (img, img), file_records=[d], merged_records=[d])
    result.write(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert secret not in text and "[redacted: " in text
    assert reprokit.load(tmp_path / "r.json").file_records[0].path.startswith("/app/DB_PASSWORD=")
    result.revealing().write(tmp_path / "shown.json")
    assert secret in (tmp_path / "shown.json").read_text()


# --- hostile compact reports ------------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return json.loads(crafted(40).to_json())


def _set(*keys: Any) -> Any:
    def edit(data: dict[str, Any], value: Any) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


HOSTILE = [
    ("rows-negative", _set("files", "rows"), -1, "files.rows"),
    ("rows-huge", _set("files", "rows"), 10**12, "files.rows"),
    ("rows-more-than-paths", _set("files", "rows"), 41, "files.path"),
    ("rows-text", _set("files", "rows"), "40", "files.rows"),
    ("paths-short", _set("files", "path"), ["/a"] * 39, "files.path"),
    ("paths-numbers", _set("files", "path"), list(range(40)), "files.path"),
    (
        "prefix-too-long",
        _set("files", "path"),
        {"prefix": [0] + [99] * 39, "suffix": ["/"] * 40},
        "files.path",
    ),
    ("runs-overflow", _set("files", "cause"), {"runs": ["x", 10**9]}, "files.cause"),
    ("runs-zero", _set("files", "cause"), {"runs": ["x", 0, "y", 40]}, "files.cause"),
    ("runs-short", _set("files", "cause"), {"runs": ["x", 39]}, "files.cause"),
    ("runs-odd", _set("files", "cause"), {"runs": ["x"]}, "files.cause"),
    ("unknown-form", _set("files", "cause"), {"zip": "x"}, "files.cause"),
    ("two-forms", _set("files", "cause"), {"all": "x", "runs": []}, "files.cause"),
    ("dict-index-out", _set("files", "fix"), {"dict": ["a"], "index": {"all": 5}}, "files.fix"),
    ("dict-not-list", _set("files", "fix"), {"dict": "ab", "index": {"all": 0}}, "files.fix"),
    ("change-word", _set("files", "change"), {"all": "<script>"}, "files.change"),
    ("layer-negative", _set("files", "layer"), {"all": -1}, "files.layer"),
    ("fields-text", _set("files", "fields"), {"all": "mtime"}, "files.fields"),
    ("ignored-number", _set("files", "ignored"), {"all": 1}, "files.ignored"),
    ("mode-not-octal", _set("files", "a", "mode"), {"all": "rwx"}, "files.a.mode"),
    ("type-unknown", _set("files", "a", "type"), {"all": "socket"}, "files.a.type"),
    ("size-float", _set("files", "a", "size"), {"all": 1.5}, "files.a.size"),
    ("mtime-object", _set("files", "a", "mtime"), {"all": {"x": 1}}, "files.a.mtime"),
    ("device-triple", _set("files", "a", "device"), {"all": [1, 2, 3]}, "files.a.device"),
    ("xattrs-numbers", _set("files", "a", "xattrs"), {"all": {"k": 1}}, "files.a.xattrs"),
    ("sha-not-base64", _set("files", "a", "sha256"), {"sha256": "!!!"}, "files.a.sha256"),
    (
        "sha-short",
        _set("files", "a", "sha256"),
        {"sha256": base64.b64encode(b"1" * 64).decode()},
        "files.a.sha256",
    ),
    ("sha-huge", _set("files", "a", "sha256"), {"sha256": "A" * 10**6}, "files.a.sha256"),
    ("steps-text", _set("files", "a", "size"), {"steps": {"all": "x"}}, "files.a.size"),
    ("steps-negative", _set("files", "a", "size"), {"steps": {"all": -1}}, "files.a.size"),
    ("type-missing", _set("files", "a", "type"), None, "files.a.type"),
    ("side-not-object", _set("files", "b"), [1, 2], "files.b"),
    (
        "like-a-bad-at",
        _set("files", "b", "mode"),
        {"like_a": ["0600"], "at": [10**6], "count": 1},
        "files.b.mode",
    ),
    (
        "like-a-count",
        _set("files", "b", "mode"),
        {"like_a": ["0600"], "at": [0], "count": 10**9},
        "files.b.mode",
    ),
    (
        "like-a-descending",
        _set("files", "b", "mode"),
        {"like_a": ["0600", "0600"], "at": [3, 1], "count": 2},
        "files.b.mode",
    ),
    ("like-a-on-a", _set("files", "a", "mode"), {"like_a": []}, "files.a.mode"),
    ("plus-on-a", _set("files", "a", "mtime"), {"plus": {"all": 1}}, "files.a.mtime"),
    ("plus-text", _set("files", "b", "mtime"), {"plus": {"all": "1"}}, "files.b.mtime"),
    ("merged-ref-twice", _set("merged", "files"), {"all": 0}, "merged.files"),
    ("merged-ref-out", _set("merged", "files"), {"steps": {"all": 5}}, "merged.files"),
    ("merged-rows-huge", _set("merged", "rows"), 10**6, "merged.rows"),
    ("merged-rest-missing", _set("merged", "files"), {"all": -1}, "merged.rest"),
    ("files-list-in-v2", _set("files"), [{"path": "/x", "change": "modified"}], "files"),
    ("schema-v3", _set("schema"), "reprokit/v3", "schema"),
]


@pytest.mark.parametrize(
    "name, edit, value, field", HOSTILE, ids=[h[0] for h in HOSTILE]
)  # fmt: skip
def test_hostile_compact_reports_are_refused(name, edit, value, field, tmp_path: Path):
    data = _valid()
    bad = copy.deepcopy(data)
    edit(bad, value)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(
        ReportError, match=f"{re.escape(str(path))}: field {re.escape(field)}"
    ) as err:
        reprokit.load(path)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_hostile_paths_load_and_render_escaped(tmp_path: Path):
    data = _valid()
    data["files"]["path"] = ["/<script>\x1b[2J\n" + str(n) for n in range(40)]
    data["merged"] = {"rows": 0, "files": [], "rest": {"rows": 0}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    result = reprokit.load(path)
    assert result.file_records[3].path == "/<script>\x1b[2J\n3"
    assert "<script>" not in result.to_html(plots=False) and "\x1b" not in result.text()
