"""The Packages, Parity and Builds sections of the rich display, HTML page, Markdown and notebook.

The base Result is a real :func:`reprokit.compare` of two archives crafted with :mod:`tarcraft`
(no engine); the package diff, parity outcomes, builds, runs, culprit search and suggestions
are set on it from crafted records, since what is tested here is how they are rendered. Table
cells are read back with a parser (HTML) or by splitting rows on unescaped pipes (Markdown) and
compared with the strings that went in: escaping must keep them whole and inert.
"""

from __future__ import annotations

import copy
import html
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import tarcraft as tc

import reprokit
from reprokit.model import (
    BuildInfo,
    Culprit,
    CulpritSearch,
    Outcome,
    PackageDiff,
    ParityEntry,
    RunComparison,
)
from reprokit.report import notebook as nb_report
from reprokit.report.view import LIMITS
from reprokit.result import Result

HOSTILE = "<script>alert(1)</script>"
#: a check name that would break a Markdown table, open inline code or add markup if unescaped
PIPES = "files | `id -u` | *bold* <i>x</i>"


def archive(path: Path, content: bytes) -> str:
    layers = [
        tc.make_layer([tc.directory("etc/"), tc.file("etc/os-release", b"ID=test\n")], "gzip"),
        tc.make_layer([tc.directory("app/"), tc.file("app/build-id", content)]),
    ]
    tc.write_docker_archive(path, layers, tc.image_config(layers))
    return f"docker-archive:{path}"


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Result:
    """A real comparison of two crafted archives, with no packages, parity or builds."""
    d = tmp_path_factory.mktemp("sections")
    result = reprokit.compare(archive(d / "a.tar", b"1\n"), archive(d / "b.tar", b"2\n"))
    assert result.verdict == "different"
    assert not (result.package_records or result.parity_records or result.builds or result.runs)
    return result


def with_sections(result: Result) -> Result:
    """``result`` (copied) with a package diff, parity outcomes, builds, runs, culprits."""
    package_records = [
        PackageDiff("dpkg", "libc6", "changed", "2.36-9", "2.36-9+deb12u4"),
        PackageDiff("dpkg", HOSTILE, "added", None, "1.0|`2`"),
        PackageDiff("python", "requests", "removed", "2.31.0", None),
    ]
    parity_records = [
        ParityEntry("os release", Outcome("ok", "12"), Outcome("ok", "12")),
        ParityEntry(
            PIPES, Outcome("ok", {"uid": 0, "gid": 0}), Outcome("ok", {"uid": 1000, "gid": 0})
        ),
        ParityEntry("test_motd", Outcome("passed"), Outcome("failed", message=HOSTILE)),
        ParityEntry("gone", Outcome("error", message="no such file"), Outcome("ok", 1)),
    ]
    builds = [
        BuildInfo("a", "buildx", "t:a", "sha256:" + "a" * 64, 12.34, version="v0.17.1"),
        BuildInfo("b", "buildx", "t:b", "sha256:" + "b" * 64, 11.0, variations=["time"]),
        BuildInfo(
            "c",
            "buildx",
            "t:c",
            "sha256:" + "a" * 64,
            10.0,
            variations=[f"env=X={HOSTILE}"],
            engine="tcp://builder-two:2375",
            notes=[f"rewrite-timestamp ignored {HOSTILE}"],
        ),
    ]
    runs = [
        RunComparison("a", "b", "equivalent", "timestamps", ["time"], role="run"),
        RunComparison("a", "c", "identical", "same", [f"env=X={HOSTILE}"], role="run"),
    ]
    culprits = CulpritSearch(
        conclusion="variation(s) that break reproducibility: time",
        baseline_verdict="identical",
        all_verdict="equivalent",
        culprits=[
            Culprit(
                "time",
                True,
                "equivalent",
                "timestamps",
                files=[{"path": f"/app/{HOSTILE}/{i}", "fields": ["mtime"]} for i in range(7)],
                config=["created", "history[1].created"],
                explanation="the clock moved; set SOURCE_DATE_EPOCH",
            ),
            Culprit(f"env=X={HOSTILE}", False, "identical", "same"),
        ],
    )
    suggestions = [f"buildx makes it identical: docker buildx build {HOSTILE} ."]
    return replace(
        copy.deepcopy(result),
        package_records=package_records,
        parity_records=parity_records,
        builds=builds,
        runs=runs,
        culprits=culprits,
        suggestions=suggestions,
    )


# --- reading tables back ------------------------------------------------------------------------


class Tables(HTMLParser):
    """Every table of an HTML page, after the ``<h3>``/``<p>`` text just before it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.last_text = ""
        self._text: list[str] | None = None
        self._cell: list[str] | None = None
        self._rows: list[list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("h3", "p"):
            self._text = []
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h3", "p") and self._text is not None:
            self.last_text, self._text = "".join(self._text), None
        elif tag in ("td", "th") and self._cell is not None and self._rows is not None:
            self._rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self.last_text, self._rows))
            self._rows = None

    def handle_data(self, data: str) -> None:
        for part in (self._text, self._cell):
            if part is not None:
                part.append(data)


def html_tables(page: str) -> dict[str, list[list[str]]]:
    """Tables by the heading (or paragraph) before them; rows as cell texts, header first."""
    parser = Tables()
    parser.feed(page)
    return {title: rows for title, rows in parser.tables}


def md_cells(line: str) -> list[str]:
    """A Markdown table row split on unescaped pipes, each cell unescaped as a renderer would."""
    assert line.startswith("| ") and line.endswith(" |"), line
    cells = re.split(r"(?<!\\)\|", line[1:-1])
    return [html.unescape(re.sub(r"\\(.)", r"\1", c.strip())) for c in cells]


def md_table(md: str, heading: str) -> list[list[str]]:
    """The first table after the line starting with ``heading``: header and rows, as cells."""
    lines = md.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(heading))
    first = next(n for n in range(start, len(lines)) if lines[n].startswith("| "))
    rows = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            rows.append(md_cells(line))
    return rows


def assert_inert(text: str) -> None:
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --- the sections -------------------------------------------------------------------------------


def test_html_sections(plain):
    result = with_sections(plain)
    page = result._repr_html_()
    assert_inert(page)
    tables = html_tables(page)
    packages = tables["Packages (3 differ: 1 added, 1 changed, 1 removed)"]
    assert packages == [
        ["change", "manager", "package", "A", "B"],
        ["changed", "dpkg", "libc6", "2.36-9", "2.36-9+deb12u4"],
        ["added", "dpkg", HOSTILE, "—", "1.0|`2`"],  # the browser shows the name as text
        ["removed", "python", "requests", "2.31.0", "—"],
    ]
    parity = tables["Parity (1/4 checks agree)"]
    assert parity[0] == ["", "check", "A", "B"]
    # differing first, the agreeing one last; of dict values only the keys that differ
    assert parity[1:] == [
        ["DIFF", PIPES, '{"uid": 0}', '{"uid": 1000}'],
        ["DIFF", "test_motd", "passed", f"failed: {HOSTILE}"],
        ["ERR", "gone", "error: no such file", "1"],
        ["same", "os release", '"12"', '"12"'],
    ]
    assert "<h3>Builds</h3>" in page
    builds = tables["builder: buildx v0.17.1"]
    assert builds[1:] == [
        ["a", "no variation", "sha256:aaaaaaaaaaaa", "12.3 s"],
        ["b", "time", "sha256:bbbbbbbbbbbb", "11.0 s"],
        ["c", f"env=X={HOSTILE} on tcp://builder-two:2375", "sha256:aaaaaaaaaaaa", "10.0 s"],
    ]
    runs = tables["runs (each against the first):"]
    assert [row[:2] for row in runs[1:]] == [["a vs b", "equivalent"], ["a vs c", "identical"]]
    assert "same image: a=c; b" in page
    culprits = tables["culprits: variation(s) that break reproducibility: time"]
    assert culprits[1][:3] == ["time", "BREAKS", "equivalent"]
    assert culprits[1][3].count(f"/app/{HOSTILE}/") == 5 and culprits[1][3].endswith("… (+2)")
    assert culprits[1][4:] == [
        "created, history[1].created",
        "the clock moved; set SOURCE_DATE_EPOCH",
    ]
    assert culprits[2] == [f"env=X={HOSTILE}", "ok", "identical", "—", "—", "—"]
    assert "<li>note: rewrite-timestamp ignored &lt;script&gt;" in page
    assert "<li>buildx makes it identical: docker buildx build &lt;script&gt;" in page
    # the sections come before the plots: the rich display is the page's prefix
    assert page.removesuffix("</div>") in result.to_html()


def test_markdown_sections(plain):
    result = with_sections(plain)
    md = result.to_markdown()
    assert_inert(md)
    assert PIPES not in md and "files \\| \\`id -u\\` \\| \\*bold\\* &lt;i&gt;" in md
    assert md_table(md, "### Packages (3 differ: 1 added, 1 changed, 1 removed)") == [
        ["change", "manager", "package", "A", "B"],
        ["changed", "dpkg", "libc6", "2.36-9", "2.36-9+deb12u4"],
        ["added", "dpkg", HOSTILE, "—", "1.0|`2`"],
        ["removed", "python", "requests", "2.31.0", "—"],
    ]
    assert md_table(md, "### Parity (1/4 checks agree)")[1:] == [
        ["**DIFF**", PIPES, '{"uid": 0}', '{"uid": 1000}'],
        ["**DIFF**", "test_motd", "passed", f"failed: {HOSTILE}"],
        ["**ERR**", "gone", "error: no such file", "1"],
        ["same", "os release", '"12"', '"12"'],
    ]
    assert "builder: **buildx** v0.17.1" in md
    builds = md_table(md, "### Builds")
    assert [row[:2] for row in builds[1:]] == [
        ["a", "no variation"],
        ["b", "time"],
        ["c", f"env=X={HOSTILE} on tcp://builder-two:2375"],
    ]
    runs = md_table(md, "runs (each against the first):")
    assert [row[:3] for row in runs[1:]] == [
        ["a vs b", "equivalent", "time"],
        ["a vs c", "identical", f"env=X={HOSTILE}"],
    ]
    culprits = md_table(md, "**culprits:** variation(s) that break reproducibility: time")
    assert [row[:3] for row in culprits[1:]] == [
        ["time", "**BREAKS**", "equivalent"],
        [f"env=X={HOSTILE}", "ok", "identical"],
    ]
    assert "- buildx makes it identical: docker buildx build &lt;script&gt;" in md
    # the new sections follow the rest in the order of the text summary
    order = [md.index(h) for h in ("<summary>Layers (", "### Packages", "### Parity", "### Builds")]
    assert order == sorted(order)


def test_notebook_sections(plain, tmp_path):
    result = with_sections(plain)
    json_path = result.to_notebook(tmp_path / "r.ipynb")
    nb = nbformat.read(tmp_path / "r.ipynb", as_version=4)
    nbformat.validate(nb)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for cell in markdown:
        assert "<script" not in cell
    heads = [cell.splitlines()[0] for cell in markdown]
    assert "## Packages" in heads
    assert "## Parity (1/4 checks agree)" in heads and "## Builds" in heads
    parity = next(c for c in markdown if c.startswith("## Parity"))
    assert md_table(parity, "## Parity")[1][1] == PIPES
    builds = next(c for c in markdown if c.startswith("## Builds"))
    assert "**culprits:** variation(s) that break reproducibility: time" in builds
    # the package cell's output is what running it shows: the DataFrame of the reloaded result
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source == "result.packages"]
    assert len(cells) == 1
    shown = cells[0].outputs[0].data["text/html"]
    loaded = reprokit.load(json_path)
    assert shown == loaded.packages.to_html(max_rows=nb_report.HEAD_ROWS)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script" not in shown
    # the section cells come before the plots
    sources = [c.source for c in nb.cells]
    assert sources.index(builds) < sources.index("## Plots")


def test_sections_absent_when_empty(plain, tmp_path):
    page, md = plain._repr_html_(), plain.to_markdown()
    for heading in ("Packages", "Parity", "Builds"):
        assert f"<h3>{heading}" not in page and f"### {heading}" not in md
    assert "builder:" not in page and "builder:" not in md
    plain.to_notebook(tmp_path / "r.ipynb")
    nb = nbformat.read(tmp_path / "r.ipynb", as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    assert "## Packages" not in sources and "## Parity" not in sources
    assert "## Builds" not in sources and "result.packages" not in sources


def test_plain_builds_stay_compact(plain):
    """Two builds without variations or notes, one run, no culprit search: one builder line
    and one builds line, no tables, nothing about runs or culprits."""
    result = replace(
        copy.deepcopy(plain),
        builds=[
            BuildInfo("a", "docker", "t:a", "sha256:" + "1" * 64, 3.0, version="27.5.1"),
            BuildInfo("b", "docker", "t:b", "sha256:" + "2" * 64, 2.5, version="27.5.1"),
        ],
        runs=[RunComparison("a", "b", "different", "content differs")],
    )
    page = result._repr_html_()
    builds = page.split("<h3>Builds</h3>", 1)[1]
    assert "<table" not in builds
    assert "builder: <b>docker</b> 27.5.1</p>" in builds
    assert "builds: a (sha256:111111111111, 3.0 s), b (sha256:222222222222, 2.5 s)" in builds
    assert "runs" not in builds and "culprits" not in builds and "suggestions" not in builds
    md = result.to_markdown()
    section = md.split("### Builds", 1)[1]
    assert "| " not in section and "builder: **docker** 27.5.1" in section


def test_truncation_with_hidden_counts(plain):
    n_packages, n_parity, n_runs = LIMITS["packages"] + 70, LIMITS["parity"] + 30, 65
    # the agreeing checks come first here: the table must still show every differing one
    result = replace(
        copy.deepcopy(plain),
        package_records=[
            PackageDiff("dpkg", f"pkg{i:03d}", "changed", "1", "2") for i in range(n_packages)
        ],
        parity_records=[
            ParityEntry(f"same{i:03d}", Outcome("ok", i), Outcome("ok", i))
            for i in range(n_parity - 5)
        ]
        + [ParityEntry(f"diff{i}", Outcome("ok", i), Outcome("ok", -i - 1)) for i in range(5)],
        builds=[BuildInfo("a", "docker", "t", "sha256:1", 1.0)],
        runs=[RunComparison("a", f"b{i}", "identical", "same", ["time"]) for i in range(n_runs)],
    )
    page = result._repr_html_()
    tables = html_tables(page)
    packages = tables[f"Packages ({n_packages} differ: {n_packages} changed)"]
    assert len(packages) - 1 == LIMITS["packages"]
    assert packages[-1][2] == f"pkg{LIMITS['packages'] - 1:03d}"
    assert "… 70 more packages not shown" in page
    parity = tables[f"Parity ({n_parity - 5}/{n_parity} checks agree)"]
    assert len(parity) - 1 == LIMITS["parity"]
    assert [row[1] for row in parity[1:6]] == [f"diff{i}" for i in range(5)]
    assert "… 30 more checks not shown" in page
    assert len(tables["runs (each against the first):"]) - 1 == LIMITS["runs"]
    assert f"… {n_runs - LIMITS['runs']} more runs not shown" in page
    md = result.to_markdown()
    assert len(md_table(md, "### Packages")) - 1 == LIMITS["packages"]
    assert "_… 70 more packages not shown" in md and "_… 30 more checks not shown" in md
    assert f"_… {n_runs - LIMITS['runs']} more runs not shown" in md
    assert len(md_table(md, "### Parity")) - 1 == LIMITS["parity"]
    # the DataFrame keeps every package
    assert len(result.packages) == n_packages


def test_json_round_trip_renders_the_same(plain, tmp_path):
    result = with_sections(plain)
    result.to_json(tmp_path / "r.json")
    loaded = reprokit.load(tmp_path / "r.json")
    assert loaded._repr_html_() == result._repr_html_()
    assert loaded.to_html(plots=False) == result.to_html(plots=False)
    assert loaded.to_markdown() == result.to_markdown()
    assert loaded.text() == result.text()
    original = nb_report.build(result, "r.json")
    again = nb_report.build(loaded, "r.json")
    assert [c.source for c in again.cells] == [c.source for c in original.cells]
    assert [c.get("outputs") for c in again.cells] == [c.get("outputs") for c in original.cells]
