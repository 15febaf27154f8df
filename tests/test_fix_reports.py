"""Issue 13 without an engine: reports list the differences without a cause first, with why
their content was not read, under one headline of what stands between the verdict and the
next; evidence shows the differing part of a long line; the timestamp command follows the
builder, image store and buildx driver."""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

from reprokit.explain.content import text_diff
from reprokit.model import BuildInfo, FileDiff, ImageInfo, LayerDiff, StepExplanation
from reprokit.report.view import build, headline
from reprokit.result import Result
from reprokit.suggestions import timestamp_advice, with_timestamp_advice

IMG = ImageInfo("app:1", "sha256:" + "a" * 64, ["sha256:x", "sha256:y"])
UNREAD = "4096 → 4100 bytes, sha256 1a… → 2b… (content not read: evidence budget)"


def mixed() -> Result:
    stamps = [
        FileDiff(f"/a/{i:03d}", "modified", ["mtime"], 1, cause="timestamp") for i in range(30)
    ]
    unknown = [
        FileDiff("/z/blob.bin", "modified", ["content"], 1, cause="unexamined", evidence=UNREAD),
        FileDiff("/z/build.id", "modified", ["content"], 1, cause="unexplained", evidence="@@"),
    ]
    return Result(
        "different",
        "2 path(s) differ beyond timestamps in layer 1",
        (IMG, IMG),
        layer_records=[LayerDiff(1, "sha256:y", "sha256:z", False, "RUN make", 32)],
        file_records=[*stamps, *unknown],
        explained=False,
    )


def test_differences_without_a_cause_come_first_in_every_format(tmp_path: Path):
    """HTML and Markdown list them first in "what differs beyond timestamps" (the first
    screen), with the evidence that says why the content was not read; the notebook and the
    text list them first too."""
    result = mixed()
    page = result._repr_html_()
    section = page.split("What differs beyond timestamps (2)", 1)[1].split("</table>")[0]
    section = section.replace("<wbr>", "")
    assert section.index("/z/blob.bin") < section.index("/z/build.id")
    assert "content not read: evidence budget" in section
    md = result.to_markdown()
    section = md.split("### What differs beyond timestamps (2)", 1)[1].split("\n\n", 2)[1]
    assert section.index("/z/blob.bin") < section.index("/z/build.id")
    assert "content not read: evidence budget" in section
    result.write(tmp_path / "r.ipynb")
    first = nbformat.read(tmp_path / "r.ipynb", as_version=4).cells[0].source
    assert "Differences without a known cause (2)" in first and "/z/blob.bin" in first
    top = result.text().split("top differing paths", 1)[1].splitlines()
    assert "/z/blob.bin" in top[1] and "unexamined" in top[1]
    assert "content not read" in top[2]
    assert "/z/build.id" in top[3]


def test_one_headline_in_every_format(tmp_path: Path):
    result = mixed()
    line = headline(result)
    assert line.startswith("different: 2 difference(s) have no known cause (1 not read")
    assert "raise the evidence limits" in line
    assert result.text().splitlines()[1] == line
    assert html.escape(line) in result._repr_html_()
    assert build(result).headline == line
    result.write(tmp_path / "r.md")
    result.write(tmp_path / "r.ipynb")
    assert line.replace("(", "") in (tmp_path / "r.md").read_text().replace("(", "")
    nb = nbformat.read(tmp_path / "r.ipynb", as_version=4)
    assert "raise the evidence limits" in nb.cells[0].source


def test_headline_names_what_would_reach_the_next_verdict():
    pyc = [
        FileDiff(f"/usr/lib/x/{i}.pyc", "modified", ["content"], 7, cause="python-bytecode")
        for i in range(131)
    ]
    step = StepExplanation(7, "RUN pip install flask", 9, {"python-bytecode": 131}, "…")
    different = Result("different", "", (IMG, IMG), file_records=pyc, step_records=[step])
    assert headline(different).startswith("different: 131 python-bytecode differences (")
    assert headline(different).endswith("— `reprokit fix` can patch step #7 (line 9)")
    stamps = [FileDiff("/app", "modified", ["mtime"], 1, cause="timestamp")]
    equivalent = with_timestamp_advice(
        Result("equivalent", "only times", (IMG, IMG), file_records=stamps), "app"
    )
    line = headline(equivalent)
    assert line.startswith("equivalent: only timestamps differ — for identical: ")
    assert "`reprokit check app --builder buildah --source-date-epoch 0`" in line
    assert headline(Result("identical", "", (IMG, IMG))).startswith("identical: ")


def test_evidence_shows_the_differing_part_of_a_long_line():
    a = "x" * 500 + "built at 2024-05-01T00:00:00Z by ci-runner-17" + "y" * 500
    b = a.replace("ci-runner-17", "ci-runner-42")
    diff = text_diff(a, b)
    assert "ci-runner-17" in diff and "ci-runner-42" in diff
    assert all(len(line) <= 122 for line in diff.splitlines())


def _build(builder: str, **options) -> BuildInfo:
    return BuildInfo("a", builder, "t", "sha256:1", 1.0, options=options)


def test_timestamp_command_follows_builder_store_and_driver():
    docker = timestamp_advice(_build("docker"), "app")
    assert "classic docker builder cannot clamp them" in docker
    assert "--builder buildah --source-date-epoch 0" in docker
    classic = timestamp_advice(_build("buildx", image_store="classic"), "app")
    assert "OCI exporter is not supported for the docker driver" in classic
    assert "--driver docker-container" in classic and "--builder buildah" in classic
    assert "type=docker,rewrite-timestamp=true" not in classic
    containerd = timestamp_advice(_build("buildx", image_store="containerd"), "app")
    assert "--builder buildx --source-date-epoch 0" in containerd
    assert "type=docker,rewrite-timestamp=true" in containerd
    buildah = timestamp_advice(_build("buildah", command=["buildah", "bud"]), "app")
    assert "--builder buildah --source-date-epoch 0" in buildah
    done = timestamp_advice(_build("buildah", command=["buildah", "bud", "--timestamp", "0"]))
    assert "already clamps" in done


def test_every_check_carries_the_timestamp_command_in_its_steps():
    from reprokit.explain.causes import TIMESTAMP_FIX

    stamps = [FileDiff("/app", "modified", ["mtime"], 1, cause="timestamp")]
    step = StepExplanation(
        1, "COPY . /app", 2, {"timestamp": 1}, f"Timestamps (1): {TIMESTAMP_FIX}."
    )
    result = Result(
        "equivalent",
        "only times",
        (IMG, IMG),
        file_records=stamps,
        step_records=[step],
        builds=[_build("buildx", image_store="classic")],
    )
    advised = with_timestamp_advice(result, "app")
    assert advised.suggestions[0].startswith("file times: buildx's docker driver")
    assert TIMESTAMP_FIX not in advised.step_records[0].fix
    assert "--builder buildah --source-date-epoch 0" in advised.step_records[0].fix
    assert with_timestamp_advice(Result("identical", "", (IMG, IMG)), "app").suggestions == []
