"""DataFrames for analysis, for every result kind (no engine): times are datetime64[ns, UTC],
cells are flat scalars (no dict, list or literal newline), no column is named ``index``, small
vocabularies are categories, every column is documented, and ``display()`` of each works."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from test_protocol import MAKERS

#: every DataFrame of every kind: kind → frame → (time columns, category columns)
FRAMES: dict[str, dict[str, tuple[set[str], set[str]]]] = {
    "comparison": {
        "layers": (set(), set()),
        "steps": (set(), set()),
        "files": ({"mtime_a", "mtime_b"}, {"change", "cause", "type_a", "type_b"}),
        "merged": ({"mtime_a", "mtime_b"}, {"change", "cause", "type_a", "type_b"}),
        "config": (set(), {"change", "cause"}),
        "packages": (set(), {"manager", "change"}),
        "parity": (set(), {"status_a", "status_b"}),
    },
    "parity": {"parity": (set(), {"status_a", "status_b"})},
    "audit": {
        "findings": (set(), {"severity", "where", "rule"}),
        "drift": (set(), {"change", "class"}),
    },
    "drift": {"drift": (set(), {"change", "class"}), "findings": (set(), {"severity"})},
    "inventory": {
        "packages": (set(), {"manager", "arch"}),
        "users": (set(), set()),
        "groups": (set(), set()),
    },
    "replay": {"mismatches": (set(), set())},
    "fix": {"rounds": (set(), {"verdict"}), "unfixed": (set(), {"cause"})},
    "images": {"images": ({"created"}, set())},
    "survey": {"targets": (set(), {"kind", "verdict", "require", "builder"})},
    "history": {
        "timeline": ({"time"}, {"kind", "verdict", "require", "builder"}),
        "status": ({"since", "last_ok"}, {"latest"}),
        "flaky": (set(), {"cause"}),
    },
}
DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_kind_is_listed():
    assert set(FRAMES) == set(MAKERS)


@pytest.mark.parametrize(("kind", "name"), [(k, f) for k, frames in FRAMES.items() for f in frames])
def test_frames_are_ready_for_analysis(kind: str, name: str):
    frame = getattr(MAKERS[kind](), name)
    assert isinstance(frame, pd.DataFrame)
    assert "index" not in frame.columns
    times, categories = FRAMES[kind][name]
    for column in frame.columns:
        dtype = str(frame[column].dtype)
        if column in times:
            assert dtype == "datetime64[ns, UTC]", (column, dtype)
        else:
            assert not dtype.startswith("datetime64") or dtype == "datetime64[ns, UTC]"
        if column in categories:
            assert dtype == "category", (column, dtype)
        for value in frame[column]:
            assert not isinstance(value, dict | list | tuple | set), (column, value)
            assert not (isinstance(value, str) and ("\n" in value or "\r" in value)), (
                column,
                value,
            )
    # displayed as a notebook displays it
    html = frame._repr_html_()
    assert html is not None and "<table" in html


def test_severity_is_ordered_and_layers_are_integers():
    findings = MAKERS["audit"]().findings
    assert list(findings.severity.cat.categories) == ["low", "medium", "high"]
    assert findings.severity.cat.ordered
    assert list(findings[findings.severity >= "medium"].rule) == [
        "secret-private-key",
        "root-user",
    ]
    assert str(findings.layer.dtype) == "Int64"


def test_nested_values_become_text():
    history = MAKERS["history"]()
    assert list(history.timeline.causes) == ["timestamp=1", "", "unexplained=1"]
    groups = MAKERS["inventory"]().groups
    assert list(groups.members) == [""]
    parity = MAKERS["parity"]().parity
    assert parity.a[1] == "uid=1" and parity.b[1] == "uid=2"
    images = MAKERS["images"]().images
    assert images.tags[1] == "" and images.created[0] == pd.Timestamp("2024-01-01", tz="UTC")


def documented_columns() -> dict[tuple[str, str], list[str]]:
    """docs/guide.md's table: (result class, frame) → its columns, in order."""
    out = {}
    text = (DOCS / "guide.md").read_text(encoding="utf-8")
    section = text.split("## DataFrame columns", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            columns = cells[2].split("`")[1].split(", ")
            for cls in re.findall(r"`(\w+)`", cells[0]):
                out[(cls, cells[1].strip("`"))] = columns
    return out


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_every_column_is_documented(kind: str):
    documented = documented_columns()
    result = MAKERS[kind]()
    for name in FRAMES[kind]:
        columns = [
            "cause:NAME" if c.startswith("cause:") else c for c in getattr(result, name).columns
        ]
        columns = list(dict.fromkeys(columns))
        assert documented.get((type(result).__name__, name)) == columns, (kind, name)


def test_display_of_sub_objects_works():
    """``display(result.steps)`` and the like: every frame renders as HTML and as text."""
    from IPython.core.formatters import format_display_data

    for kind, frames in FRAMES.items():
        result = MAKERS[kind]()
        for name in frames:
            data, _ = format_display_data(getattr(result, name))
            assert "text/html" in data and "text/plain" in data, (kind, name)
