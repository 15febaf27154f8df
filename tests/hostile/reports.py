"""Hostile reports and output paths (issue #12, part B): each case hands ``reprokit report``
(or a command's output options) a report or a path crafted to break it; every one must end in
its exit status with one line of error (or a clean success), in bounded time and memory,
writing nothing but its outputs. Registered in :data:`hostile.CASES` by the package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import Case, case


def _comparison() -> dict[str, Any]:
    from reprokit.model import ImageInfo, LayerDiff
    from reprokit.result import Result

    a = ImageInfo("a:1", "sha256:" + "a" * 64, ["sha256:x"], size=10)
    b = ImageInfo("b:1", "sha256:" + "b" * 64, ["sha256:y"], size=10)
    layers = [LayerDiff(0, "sha256:x", "sha256:y", False, "RUN make", 1)]
    return Result("different", "content differs", (a, b), layer_records=layers).to_dict()


def _report(root: Path, text: str, *to: str) -> Case:
    path = root / "r.json"
    path.write_text(text)
    args = ["report", str(path)]
    for out in to or ("r.html",):
        args += ["--to", out]
    return Case(args)


@case
def report_deep_json_100000(root: Path) -> Case:
    """100,000 nested arrays: a one-line error, not a RecursionError."""
    c = _report(root, "[" * 100_000 + "]" * 100_000)
    c.error = "nested too deeply"
    return c


@case
def report_layer_index_markup(root: Path) -> Case:
    """A layer ``index`` of ``<script>``: refused by the schema, nothing rendered."""
    data = _comparison()
    data["layers"][0]["index"] = "<script>alert(1)</script>"
    c = _report(root, json.dumps(data), "r.html", "r.md", "r.ipynb")
    c.error = "field layers[0].index"
    return c


@case
def report_nan_number(root: Path) -> Case:
    """``NaN`` is not JSON: refused."""
    data = _comparison()
    data["duration_s"] = "@NaN@"
    c = _report(root, json.dumps(data).replace('"@NaN@"', "NaN"))
    c.error = "not strict JSON"
    return c


@case
def report_infinity_mtime(root: Path) -> Case:
    """``"mtime": Infinity`` in a record: refused."""
    data = _comparison()
    record = {"type": "file", "mode": "0644", "uid": 0, "gid": 0, "size": 1, "mtime": "@inf@"}
    data["files"] = [{"layer": 0, "path": "/x", "change": "modified", "a": record, "b": record}]
    c = _report(root, json.dumps(data).replace('"@inf@"', "Infinity"))
    c.error = "not strict JSON"
    return c


@case
def report_wrong_field_types(root: Path) -> Case:
    """Findings whose rule is a number and severity a list."""
    data = {"schema": "reprokit/v1", "kind": "audit", "subject": "x", "findings": []}
    data["findings"] = [{"rule": 1, "severity": []}]
    c = _report(root, json.dumps(data))
    c.error = "field findings[0]"
    return c


@case
def report_negative_and_huge_numbers(root: Path) -> Case:
    """A negative size and a 5,000-digit count."""
    data = _comparison()
    data["layers"][0]["size_a"] = -1
    data["layers"][0]["files_differing"] = int("9" * 4000)
    c = _report(root, json.dumps(data))
    c.error = "field layers[0]"
    return c


@case
def report_not_an_object(root: Path) -> Case:
    c = _report(root, '"just a string"')
    c.error = "not a reprokit report"
    return c


@case
def report_unknown_kind(root: Path) -> Case:
    c = _report(root, json.dumps({"schema": "reprokit/v1", "kind": "<script>"}))
    c.error = "not a reprokit report kind"
    return c


@case
def report_huge_secret_like_string(root: Path) -> Case:
    """1.8 MB of ``PASSWORD=`` in one Env value: redacted in linear time, converted."""
    data = {"schema": "reprokit/v1", "kind": "inventory", "ref": "x", "id": "sha256:1"}
    data["env"] = {"PASSWORD" * 8: "PASSWORD=" * 200_000}
    c = _report(root, json.dumps(data), "r.json")
    c.status, c.outputs = 0, ["r.json"]
    return c


def _compact(rows: int = 3) -> dict[str, Any]:
    """A small ``reprokit/v2`` comparison with ``rows`` file differences."""
    from reprokit.model import FileDiff, ImageInfo
    from reprokit.records import FileRecord
    from reprokit.result import Result

    img = ImageInfo("a:1", "sha256:" + "a" * 64, [])
    diffs = [
        FileDiff(f"/f{n}", "modified", ["mtime"], 0, FileRecord(f"/f{n}", "file", mtime=n),
                 FileRecord(f"/f{n}", "file", mtime=n + 9))
        for n in range(rows)
    ]  # fmt: skip
    return Result("different", "x", (img, img), file_records=diffs).to_dict()


@case
def report_compact_runs_of_a_billion(root: Path) -> Case:
    """A v2 column whose runs claim 10^9 rows: refused before anything is expanded."""
    data = _compact()
    data["files"]["cause"] = {"runs": ["x", 10**9]}
    c = _report(root, json.dumps(data))
    c.error = "field files.cause"
    return c


@case
def report_compact_rows_beyond_paths(root: Path) -> Case:
    """``rows`` of 5,000,000 with three paths, every other column ``all``: refused."""
    data = _compact()
    data["files"]["rows"] = 5_000_000
    for name in ("change", "layer"):
        data["files"][name] = {"all": data["files"][name]["all"] if name == "change" else 0}
    c = _report(root, json.dumps(data))
    c.error = "field files.path"
    return c


@case
def report_compact_digests_megabytes(root: Path) -> Case:
    """Eight megabytes of base64 digests for three rows: refused by their length."""
    data = _compact()
    data["files"]["a"]["sha256"] = {"sha256": "A" * 8_000_000}
    c = _report(root, json.dumps(data))
    c.error = "field files.a.sha256"
    return c


@case
def report_output_unwritable_second(root: Path) -> Case:
    """The second ``--to`` cannot be written: found before anything is, nothing written."""
    c = _report(root, json.dumps(_comparison()), "r.html", "/proc/r.json")
    c.error = "cannot write"
    return c


@case
def output_directory_missing(root: Path) -> Case:
    """``--json`` into a directory that does not exist: found before the images are read."""
    args = ["diff", f"docker-archive:{root}/nonexistent-a.tar", "b", "--json", "no/r.json"]
    return Case(args, error="does not exist")


@case
def output_directory_unwritable_report(root: Path) -> Case:
    """``--report`` where nothing can be created: found before the image is read."""
    args = ["audit", f"docker-archive:{root}/nonexistent.tar", "--report", "/proc/r.html"]
    return Case(args, error="cannot write")
