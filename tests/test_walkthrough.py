"""The docs notebooks (notebooks/*.ipynb), executed with nbclient against the real engine and
signed as trusted, as reprokit executes them (:func:`reprokit.report.notebook.execute`). The
walkthrough's verdict goes from different to equivalent once the Dockerfile is fixed. Each
executed notebook is kept under artifacts/; the copies in git keep their outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

from reprokit.report.notebook import execute

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def outputs_of(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_walkthrough_notebook(client, tmp_path, no_leftovers):
    committed = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(committed)
    # the copy in git is read on GitHub: it keeps its outputs, and a real verdict in them
    banners = [
        o for o in outputs_of(committed) if "rk-banner" in o.get("data", {}).get("text/html", "")
    ]
    assert len(banners) == 2
    (ROOT / "artifacts").mkdir(exist_ok=True)
    target = ROOT / "artifacts" / "walkthrough.ipynb"
    nb = execute(NOTEBOOK, target, cwd=tmp_path)
    assert NotebookNotary().check_signature(nbformat.read(target, as_version=4))
    outputs = outputs_of(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    banners = [
        verdict
        for o in outputs
        for verdict in ("identical", "equivalent", "different")
        if f'class="rk-banner rk-{verdict}"' in o.get("data", {}).get("text/html", "")
    ]
    assert banners == ["different", "equivalent"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "different → equivalent" in printed
    markdown = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert len(markdown) == 1 and markdown[0].startswith("## reprokit: EQUIVALENT")
    assert "\\$" in markdown[0] or "$" not in markdown[0]  # no math in a Markdown cell
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    # progress: no widget; one clean line per build and one for the layers read
    assert not [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    progress = [
        o.data["text/plain"]
        for o in outputs
        if "reprokit-progress" in o.get("data", {}).get("text/html", "")
    ]
    assert len(progress) == 2, progress  # one board per check
    for board in progress:
        lines = board.splitlines()
        assert [line.split(" — ")[0] for line in lines[:2]] == ["✓ build a", "✓ build b"], lines
        assert all(line.startswith("✓ ") for line in lines), lines
        assert any(line.startswith("✓ read ") and "layer" in line for line in lines), lines
        steps = [line.split(" — ")[1].split()[0] for line in lines[:2]]
        assert all(a == b for a, b in (s.split("/") for s in steps)), steps  # reached the total
    files_table = next(
        o.data["text/html"]
        for o in outputs
        if "text/html" in o.get("data", {}) and "/app/BUILD_ID" in o.data["text/html"]
    )
    assert "/app/BUILD_DATE" in files_table
