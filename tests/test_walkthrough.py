"""notebooks/walkthrough.ipynb, executed with nbclient against the real engine: the verdict
goes from different to equivalent once the Dockerfile is fixed. The executed notebook is kept
under artifacts/ for people to read."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def test_walkthrough_notebook(client, tmp_path, no_leftovers):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    nbformat.write(nb, ROOT / "artifacts" / "walkthrough.ipynb")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
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
    assert "## reprokit: EQUIVALENT" in printed
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    # progress in a notebook is a widget: one per build, one per layer read
    widgets = [
        o.data["text/plain"]
        for o in outputs
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert sum(w.startswith("build a") for w in widgets) == 2  # one per check
    assert any(" layer " in w or "blobs" in w for w in widgets)
    files_table = next(
        o.data["text/html"]
        for o in outputs
        if "text/html" in o.get("data", {}) and "/app/BUILD_ID" in o.data["text/html"]
    )
    assert "/app/BUILD_DATE" in files_table
