"""notebooks/fleet.ipynb, executed with nbclient against the real engine: a survey of the test
fleet, the fleet table, a second survey after a change, the history and its plot. The executed
notebook is kept under artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "fleet.ipynb"


def test_fleet_notebook(client, busybox, tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    monkeypatch.setenv("REPROKIT_ROOT", str(ROOT))
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook's work directory: here
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT),
                       os.environ.get("PYTHONPATH")])))  # fmt: skip
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    nbformat.write(nb, ROOT / "artifacts" / "fleet.ipynb")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("rk-survey" in h and "reproducible" in h for h in html)  # the rich display
    assert any("top_fix" in h for h in html)  # the fleet table
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "changed: dockerfile" in printed
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
