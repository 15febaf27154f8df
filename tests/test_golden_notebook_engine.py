"""notebooks/golden-image.ipynb executed with nbclient (engine, packer and libguestfs): a Packer
template rebuilt twice, a disk pair compared, the deployment files audited."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("packer") and shutil.which("guestfish")), reason="packer, libguestfs"
    ),
]

ROOT = Path(__file__).resolve().parent.parent


def test_golden_image_notebook(busybox, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{__import__('os').environ['PATH']}")
    nb = nbformat.read(ROOT / "notebooks" / "golden-image.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "different ['/etc/built']" in printed
    assert "equivalent — same files" in printed
    (ROOT / "artifacts").mkdir(exist_ok=True)
    nbformat.write(nb, ROOT / "artifacts" / "golden-image.ipynb")
