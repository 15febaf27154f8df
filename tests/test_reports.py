"""Reports: rich display, HTML, Markdown, plots, generated notebooks, CLI --report, progress.

Results come from real :func:`reprokit.compare` runs on archives crafted with :mod:`tarcraft`
(no engine); explanation fields (cause/fix/evidence/steps) are set on the records by the
tests, since what is tested here is how they are rendered.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
import tarcraft as tc
from conftest import run_cli
from nbclient import NotebookClient

import reprokit
from reprokit import progress
from reprokit.errors import UsageError
from reprokit.kinds import expanded
from reprokit.model import FileDiff, ImageInfo, LayerDiff, StepExplanation
from reprokit.records import FileRecord
from reprokit.report import html as html_report
from reprokit.result import Result

HOSTILE = "<script>alert(1)</script>"
M0 = tc.MTIME


def base_layer() -> tc.Layer:
    return tc.make_layer([tc.directory("etc/"), tc.file("etc/os-release", b"ID=test\n")], "gzip")


def app_layer(content: bytes, mtime: float = M0) -> tc.Layer:
    return tc.make_layer(
        [
            tc.directory("app/", mtime=mtime),
            tc.file("app/main.py", b"print('hi')\n", mtime=mtime),
            tc.file(f"app/{HOSTILE}", content, mtime=mtime),
            tc.file("app/build-id", content, mtime=mtime),
        ]
    )


def archive(path: Path, app: tc.Layer, created: str) -> str:
    layers = [base_layer(), app]
    config = tc.image_config(layers, created=created)
    config["history"][1]["created_by"] = f"/bin/sh -c echo {HOSTILE} > /app/x"
    tc.write_docker_archive(path, layers, config)
    return f"docker-archive:{path}"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    """One real comparison per verdict; the different one carries explanations."""
    d = tmp_path_factory.mktemp("archives")
    a = archive(d / "a.tar", app_layer(b"1\n"), "2024-01-01T00:00:00Z")
    same = archive(d / "same.tar", app_layer(b"1\n"), "2024-01-01T00:00:00Z")
    later = archive(d / "later.tar", app_layer(b"1\n", M0 + 60), "2024-01-02T00:00:00Z")
    other = archive(d / "other.tar", app_layer(b"2\n", M0 + 60), "2024-01-02T00:00:00Z")
    out = {
        "identical": reprokit.compare(a, same),
        "equivalent": reprokit.compare(a, later),
        "different": reprokit.compare(a, other),
    }
    for verdict, result in out.items():
        assert result.verdict == verdict, result.text()
    out["different"] = explain(out["different"])
    return out


def explain(result: Result) -> Result:
    """A copy of ``result`` with causes set the way reprokit.explain would (what is tested is
    their rendering)."""

    def file(d: FileDiff) -> FileDiff:
        if "content" in d.fields:
            return replace(
                d,
                cause="unexplained",
                rule="fallback",
                fix="make the step write the same bytes",
                evidence=f"- 1\n+ 2 {HOSTILE}",
            )
        return replace(d, cause="timestamp", fix="set SOURCE_DATE_EPOCH and clamp mtimes")

    return replace(
        result,
        file_records=[file(d) for d in result.file_records],
        merged_records=[file(d) for d in result.merged_records],
        config_records=[
            replace(c, cause="image-metadata", fix="set SOURCE_DATE_EPOCH")
            for c in result.config_records
        ],
        step_records=[
            StepExplanation(
                layer=1,
                instruction=f"RUN echo {HOSTILE} > /app/x",
                dockerfile_line=2,
                causes={"unexplained": 2, "timestamp": 2},
                fix="make the step write the same bytes",
            )
        ],
        explained=False,
    )


def assert_inert_html(text: str) -> None:
    """No markup from the images and nothing external: no scripts, links, remote sources."""
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "<link" not in text and "@import" not in text and "url(" not in text


# --- rich display, HTML, Markdown ---------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["identical", "equivalent", "different"])
def test_rich_display_per_verdict(results, verdict):
    result = results[verdict]
    out = result._repr_html_()
    assert f'class="rk-banner rk-{verdict}"' in out
    assert f"<b>{verdict.upper()}</b>" in out
    assert html_report.esc(result.reason) in out
    for image in result.images:
        assert html_report.path(image.ref, 120) in out and image.id[:19] in out
    # MathJax stays off, styles are scoped to the root and inline where legibility needs them
    assert out.startswith('<div class="reprokit reprokit-report tex2jax_ignore mathjax_ignore')
    assert "text-align:left" in out
    # one layer-table row per layer, each saying same or differs on a badge
    assert out.count('class="rk-badge rk-same"') == sum(
        1 for layer in result.layer_records if layer.same
    )
    assert out.count('class="rk-badge rk-differs"') == sum(
        1 for layer in result.layer_records if not layer.same
    )
    assert_inert_html(out)  # the hostile name is in a layer's history
    assert "<img" not in out  # the rich display stays light: plots are in to_html
    text = repr(result)
    assert text.startswith(f"<reprokit.Result {verdict}:") and "\n" not in text


def test_different_shows_causes_fixes_evidence(results):
    result = results["different"]
    out = result._repr_html_()
    assert "What differs beyond timestamps" in out
    # content differences first; timestamp-only ones collapse into one row per layer
    first = out.split("What differs beyond timestamps", 1)[1].split("</table>", 1)[0]
    assert "build-id" in first and "main.py" not in first
    assert "Timestamp-only differences" in out
    top = out.split("Every differing path", 1)[1]
    assert top.index("build-id") < top.index("main.py")
    assert "make the step write the same bytes" in out
    assert "<pre>- 1\n+ 2 &lt;script&gt;" in out  # evidence, escaped, lines kept
    assert "timestamp 2, unexplained 2" in out  # the step's causes in the layer table
    assert "some differences unexplained" in out
    assert "<h3>What to change</h3>" in out
    assert "image-metadata" in out  # config field cause


def unexplained(result: Result) -> Result:
    """``result`` as a report written before differences were explained would load."""
    data = expanded(result.to_dict())
    for key in ("explained", "steps"):
        data.pop(key)
    for entry in [*data["files"], *data["merged"], *data["config"]]:
        for key in ("cause", "fix", "evidence", "ignored", "rule"):
            entry.pop(key)
    return Result.from_dict(data)


def test_unexplained_result_degrades(results):
    result = unexplained(results["different"])
    assert all(d.cause is None for d in result.file_records) and result.explained is None
    out = result._repr_html_()
    assert "<h3>What to change</h3>" not in out and "some differences" not in out
    assert '<td style="text-align:left">—</td>' in out  # cause shown as a dash
    md = result.to_markdown()
    assert "| — |" in md


@pytest.mark.parametrize("verdict", ["identical", "equivalent", "different"])
def test_markdown_per_verdict(results, verdict):
    result = results[verdict]
    md = result.to_markdown()
    lines = md.splitlines()
    assert lines[0] == f"## reprokit: {verdict.upper()}"
    assert "| # | instruction |  | files differing | causes |" in lines
    layer_rows = [line for line in lines if re.match(r"^\| \d+ \| ", line)]
    assert len(layer_rows) == len(result.layer_records)
    assert "<script" not in md and "&lt;script&gt;" in md
    assert "![" not in md  # no images unless asked
    if verdict == "different":
        assert "### What to change" in md and "make the step write the same bytes" in md
    pictures = result.to_markdown(images=True)
    assert pictures.count("](data:image/png;base64,") == 3


def test_hostile_path_in_every_format(results, tmp_path):
    result = results["different"]
    assert any(HOSTILE in d.path for d in result.file_records)
    page = result.to_html()
    assert_inert_html(page)
    md = result.to_markdown()
    assert HOSTILE not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    result.to_notebook(tmp_path / "r.ipynb")
    nb = nbformat.read(tmp_path / "r.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert "<script" not in cell.source
        for output in cell.get("outputs", []):
            assert "<script" not in output.get("data", {}).get("text/html", "")


def test_standalone_page_and_json_roundtrip(results, tmp_path):
    result = results["different"]
    result.to_html(tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('src="data:image/png;base64,') == 3
    # the same content as the rich display, plus the plots
    assert result._repr_html_() in result.to_html(plots=False)
    assert result._repr_html_().removesuffix("</div>") in page
    result.to_json(tmp_path / "r.json")
    loaded = reprokit.load(tmp_path / "r.json")
    assert loaded._repr_html_() == result._repr_html_()
    assert loaded.to_markdown() == result.to_markdown()
    assert list(loaded.steps.columns) == list(result.steps.columns)
    assert len(loaded.steps) == 1
    assert loaded.files["cause"].tolist() == result.files["cause"].tolist()


# --- plots --------------------------------------------------------------------------------------


def test_plots(results):
    result = results["different"]
    fig = result.plot("layers")
    files_ax, bytes_ax = fig.axes
    # one bar container per cause, stacked over the layers
    labels = sorted(c.get_label() for c in files_ax.containers)
    assert labels == ["timestamp", "unexplained"]
    heights = {c.get_label(): [bar.get_height() for bar in c.patches] for c in files_ax.containers}
    counted = {"timestamp": 0, "unexplained": 0}
    for d in result.file_records:
        counted[d.cause] += 1  # type: ignore[index]
    assert {k: sum(v) for k, v in heights.items()} == counted
    assert sum(b.get_height() for c in bytes_ax.containers for b in c.patches) > 0
    causes = result.plot("causes")
    assert sorted(t.get_text() for t in causes.axes[0].get_yticklabels()) == [
        "image-metadata",
        "timestamp",
        "unexplained",
    ]
    sizes = result.plot("sizes")
    bars = [b.get_height() for c in sizes.axes[0].containers for b in c.patches]
    assert bars == [x.size_a for x in result.layer_records] + [
        x.size_b for x in result.layer_records
    ]
    assert fig._repr_png_().startswith(b"\x89PNG")  # shows itself in Jupyter
    with pytest.raises(UsageError):
        result.plot("pie")


# --- big results --------------------------------------------------------------------------------


def big_result(n: int = 100_000) -> Result:
    image = ImageInfo("docker-archive:big.tar", "sha256:" + "1" * 64, ["sha256:a", "sha256:b"])
    diffs = []
    for i in range(n):
        path = f"/usr/share/{HOSTILE}/{i:06d}.txt"
        rec_a = FileRecord(path, "file", 0o644, size=100, mtime=M0, sha256="a" * 64)
        rec_b = FileRecord(path, "file", 0o644, size=100, mtime=M0 + 1, sha256="b" * 64)
        content = i % 10 == 0
        diffs.append(
            FileDiff(
                path,
                "modified",
                ["mtime", "content"] if content else ["mtime"],
                layer=1,
                a=rec_a,
                b=rec_b,
                cause="embedded-timestamp" if content else "timestamp",
                fix="set SOURCE_DATE_EPOCH",
                evidence="- built 2024-01-01\n+ built 2024-01-02",
            )
        )
    layers = [
        LayerDiff(0, "sha256:a", "sha256:a", True, "/bin/sh -c #(nop) ADD file:x in /", 0),
        LayerDiff(1, "sha256:b", "sha256:c", False, "/bin/sh -c make", n, 10**8, 10**8),
    ]
    return Result("different", "content differs", (image, image), layers, [], diffs)


def test_big_result_stays_small(tmp_path):
    """100,000 differing files: the page stays small and says what it left out; the data
    stays whole in the DataFrames. (Render time is measured by bench/report_html.py.)"""
    result = big_result()
    page = result.to_html(plots=False)
    assert len(page.encode()) < 2_000_000
    assert "99480 more differing files not shown" in page
    assert page.count("<tr>") < 600
    md = result.to_markdown()
    assert len(md) < 50_000 and "99980 more differing files not shown" in md
    assert len(result.files) == 100_000
    result.to_html(tmp_path / "big.html")  # with plots
    assert (tmp_path / "big.html").stat().st_size < 3_000_000


# --- notebooks ----------------------------------------------------------------------------------


def test_generated_notebook_executes(results, tmp_path):
    result = results["different"]
    with pytest.raises(UsageError, match=r"\.ipynb"):
        result.to_notebook(tmp_path / "report.json")  # would overwrite its own data
    assert list(tmp_path.iterdir()) == []
    json_path = result.to_notebook(tmp_path / "report.ipynb")
    assert json_path == tmp_path / "report.json"
    nb = nbformat.read(tmp_path / "report.ipynb", as_version=4)
    nbformat.validate(nb)
    prefilled = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert sum("image/png" in o.data for o in prefilled) == 3
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # prove the outputs come from running it
    # move it away from where it was made: it needs only the JSON beside it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "report.json").rename(elsewhere / "report.json")
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(elsewhere)}}
    ).execute()
    nbformat.validate(nb)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    htmls = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any('class="rk-banner rk-different"' in h for h in htmls)  # the rich display
    assert sum("<table" in h and "dataframe" in h for h in htmls) >= 3  # layers, steps, files
    pngs = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 3
    sources = "\n".join(c.source for c in nb.cells)
    assert "reprokit.load('report.json')" in sources and "## Fixes" in sources


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_report_formats(results, tmp_path):
    a, b = (image.ref for image in results["different"].images)
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli(
        "diff", a, b, "--report", str(out / "r.html"), "--report", str(out / "r.md"),
        "--report", str(out / "nb.ipynb"), "--report", str(out / "r.json"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # no build: reading prints no progress when stderr is a pipe
    assert (out / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "r.md").read_text().startswith("## reprokit: DIFFERENT")
    nbformat.validate(nbformat.read(out / "nb.ipynb", as_version=4))
    assert json.loads((out / "nb.json").read_text())["verdict"] == "different"
    converted = tmp_path / "converted.md"
    proc = run_cli("report", str(out / "r.json"), "--to", str(converted))
    assert proc.returncode == 0, proc.stderr
    assert converted.read_text() == (out / "r.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report", "r.pdf"], "unsupported report format '.pdf'"),
        (["--report", "missing-dir/r.html"], "missing-dir does not exist"),
    ],
)
def test_cli_bad_report_path(results, tmp_path, args, message):
    a, b = (image.ref for image in results["different"].images)
    proc = run_cli("diff", a, b, *[x if x.startswith("--") else str(tmp_path / x) for x in args])
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_report_command_errors(tmp_path):
    proc = run_cli("report", str(tmp_path / "none.json"), "--to", str(tmp_path / "r.md"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    proc = run_cli("report", str(tmp_path / "bad.json"), "--to", str(tmp_path / "r.md"))
    assert proc.returncode == 2 and "not a reprokit/v1 report" in proc.stderr
    assert not (tmp_path / "r.md").exists()


# --- progress -----------------------------------------------------------------------------------


def test_progress_bars_when_on_and_silence_when_off(results, capsys):
    a, b = (image.ref for image in results["different"].images)
    try:
        progress.configure(True)
        shown = reprokit.compare(a, b)
        err = capsys.readouterr().err
        assert "layer 0" in err and "layer 1" in err  # one bar per layer indexed
        progress.configure(False)
        quiet = reprokit.compare(a, b)
        assert capsys.readouterr().err == ""
    finally:
        progress.configure(None)
    assert shown.verdict == quiet.verdict == "different"
    assert len(shown.file_records) == len(quiet.file_records)


# --- documentation ------------------------------------------------------------------------------


def test_documented_dataframe_columns_are_the_real_ones(results):
    """docs/guide.md lists every DataFrame's columns; they are a contract."""
    guide = (Path(__file__).resolve().parent.parent / "docs" / "guide.md").read_text()
    documented = dict(re.findall(r"^\| `Result` \| `(\w+)` \| `([\w, ]+)`", guide, re.MULTILINE))
    result = results["different"]
    for name in ("layers", "config", "files", "steps"):
        assert documented[name].split(", ") == list(getattr(result, name).columns), name
    assert list(result.merged.columns) == list(result.files.columns)[1:]


def run_in_terminal(*args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (100 columns); returns (status, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "reprokit", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            timeout=120,
        )
    finally:
        os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, b"".join(seen).decode("utf-8", "replace")


def test_progress_on_a_terminal_and_not_with_quiet(results):
    a, b = (image.ref for image in results["different"].images)
    status, err = run_in_terminal("diff", a, b)
    assert status == 1
    assert "layer 0: " in err and "B/s" in err  # a tqdm bar per layer read
    status, err = run_in_terminal("diff", a, b, "--quiet")
    assert status == 1 and err == ""
