"""Parity outcomes as data: equality rules, the JSON round trip, rendering (no engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reprokit
from reprokit.behaviour.checks import as_checks, plain
from reprokit.behaviour.result import ParityResult
from reprokit.errors import UsageError
from reprokit.model import ImageInfo, Outcome, PackageDiff, ParityEntry
from reprokit.model import outcomes_agree as same
from reprokit.result import Result


def test_two_errors_are_never_the_same():
    assert not same(Outcome("error", message="gone"), Outcome("error", message="gone"))
    assert not same(Outcome("ok", False), Outcome("error"))
    assert same(Outcome("ok", {"x": 1}), Outcome("ok", {"x": 1}))
    assert not same(Outcome("ok", 1), Outcome("ok", 2))
    assert same(Outcome("failed", message="a"), Outcome("failed", message="b"))
    entry = ParityEntry("t", Outcome("failed"), Outcome("failed"))
    assert entry.same and not entry.good  # agreeing failures still fail the suite


def test_checks_are_named_and_unique():
    def uid(host):
        return 0

    checks = as_checks([uid, ("two", uid), lambda host: 1])
    assert [c.name for c in checks] == ["uid", "two", "check 3"]
    assert [c.name for c in as_checks({"a": uid})] == ["a"]
    with pytest.raises(UsageError, match="repeated: uid"):
        as_checks([uid, uid])
    with pytest.raises(UsageError, match="not a function"):
        as_checks(["host.file('/x')"])


def test_values_become_plain_json():
    assert plain({"s": {3, 1}, "b": b"\xff", 2: (1,)}) == {"s": [1, 3], "b": "\\xff", "2": [1]}
    assert plain(object()).startswith("<object")


def test_parity_report_round_trip_and_exit_status(tmp_path: Path):
    result = ParityResult(
        images=("a:1", "b:1"),
        parity_records=[
            ParityEntry("user app", Outcome("ok", {"uid": 1000}), Outcome("ok", {"uid": 1001})),
            ParityEntry("bash", Outcome("ok", True), Outcome("ok", True)),
            ParityEntry("gone", Outcome("ok", False), Outcome("error", message="container gone")),
        ],
        run_id="r1",
    )
    assert not result.ok and result.errors
    path = tmp_path / "p.json"
    result.to_json(path)
    data = json.loads(path.read_text())
    assert data["kind"] == "parity" and data["summary"]["errors"] == 1
    assert data["parity"][0] == {
        "test": "user app",
        "a": "ok",
        "b": "ok",
        "same": False,
        "value_a": {"uid": 1000},
        "value_b": {"uid": 1001},
    }
    back = reprokit.load(path)
    assert isinstance(back, ParityResult) and back == result
    assert back.text() == result.text()
    text = result.text()
    assert "DIFF user app" in text and '{"uid": 1000}' in text and "ERR  gone" in text
    assert list(result.parity.columns) == ["test", "a", "b", "same", "status_a", "status_b"]
    assert result.parity is result.parity  # computed once
    fine = ParityResult(("a", "b"), [ParityEntry("x", Outcome("passed"), Outcome("passed"))])
    assert fine.ok and not fine.errors
    broken = ParityResult(("a", "b"), [ParityEntry("x", Outcome("passed"), Outcome("failed"))])
    assert not broken.ok and not broken.errors
    assert not ParityResult(("a", "b")).ok  # nothing checked proves nothing


def test_result_carries_packages_and_parity_through_json(tmp_path: Path):
    img = ImageInfo("a", "sha256:1", [])
    result = Result(
        "different",
        "x",
        (img, img),
        package_records=[PackageDiff("dpkg", "curl", "changed", "7.88", "8.5")],
        parity_records=[ParityEntry("t", Outcome("passed"), Outcome("failed", message="boom"))],
    )
    text = result.text()
    assert "packages: 1 differ (1 changed)" in text and "curl  7.88 → 8.5" in text
    assert "parity: 0/1 checks agree" in text and "failed: boom" in text
    path = tmp_path / "r.json"
    result.to_json(path)
    data = json.loads(path.read_text())
    assert data["packages"] == [
        {"manager": "dpkg", "name": "curl", "change": "changed", "a": "7.88", "b": "8.5"}
    ]
    back = reprokit.load(path)
    assert back.text() == text
    assert list(back.packages["name"]) == ["curl"]
