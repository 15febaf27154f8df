"""The docs notebooks (notebooks/*.ipynb), executed with nbclient against the real engine and
signed as trusted, as reprokit executes them (:func:`reprokit.report.notebook.execute`): the
walkthrough, whose verdict goes from different to equivalent once the Dockerfile is fixed, and
one notebook per use — verify a rebuild, parity of two environments, audit before deploy. Each
makes its own inputs and removes them (no image or container is left behind). Each executed
notebook is kept under artifacts/; the copies in git keep their outputs, so they read on
GitHub."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def outputs_of(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def html_outputs(nb) -> list[str]:
    return [o.data["text/html"] for o in outputs_of(nb) if "text/html" in o.get("data", {})]


def roots_of(nb, kind: str) -> list[str]:
    """The rich displays of results of ``kind`` (their root element's class)."""
    return [
        h for h in html_outputs(nb) if h.startswith('<div class="reprokit ') and f" rk-{kind}" in h
    ]


def check_committed(name: str) -> None:
    """The copy in git is read on GitHub: valid, executed, outputs kept, no error."""
    committed = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nbformat.validate(committed)
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.outputs or c.source.startswith(("shutil.rmtree", "for tag in made")) for c in code)
    assert not [o for o in outputs_of(committed) if o.output_type == "error"]


def check_executed(path) -> object:
    nb = nbformat.read(path, as_version=4)
    assert NotebookNotary().check_signature(nb), "executed notebooks are signed as trusted"
    assert not [o for o in outputs_of(nb) if o.output_type == "error"]
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    return nb


def test_walkthrough_notebook(executed_notebooks):
    committed = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(committed)
    # the copy in git is read on GitHub: it keeps its outputs, and a real verdict in them
    banners = [
        o for o in outputs_of(committed) if "rk-banner" in o.get("data", {}).get("text/html", "")
    ]
    assert len(banners) == 2
    nb = check_executed(executed_notebooks("walkthrough"))
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


def test_verify_rebuild_notebook(executed_notebooks):
    check_committed("verify-rebuild")
    nb = check_executed(executed_notebooks("verify-rebuild"))
    checks = roots_of(nb, "comparison")
    assert len(checks) == 2
    assert 'class="rk-banner rk-different"' in checks[0]
    assert 'class="rk-banner rk-equivalent"' in checks[1]
    assert "What to change" in checks[0] and "SOURCE_DATE_EPOCH" in checks[0]
    assert "runs (each against the first)" in checks[1]  # runs=3: every run listed
    printed = "".join(o.get("text", "") for o in outputs_of(nb) if o.output_type == "stream")
    assert "different → equivalent | ok: True" in printed
    markdown = [
        o.data["text/markdown"] for o in outputs_of(nb) if "text/markdown" in o.get("data", {})
    ]
    assert len(markdown) == 1 and markdown[0].startswith("## reprokit: EQUIVALENT")
    progress = [
        o.data["text/plain"]
        for o in outputs_of(nb)
        if "reprokit-progress" in o.get("data", {}).get("text/html", "")
    ]
    assert [line.split(" — ")[0] for line in progress[1].splitlines()[:3]] == [
        "✓ build a",
        "✓ build b",
        "✓ build c",
    ]


def test_parity_notebook(executed_notebooks):
    check_committed("parity")
    nb = check_executed(executed_notebooks("parity"))
    (parity,) = roots_of(nb, "parity")
    assert "rk-diffcell" in parity and "hello, world" in parity  # differing cells highlighted
    assert "3/6 checks agree" in parity
    assert len(roots_of(nb, "inventory")) == 1 and len(roots_of(nb, "replay")) == 1
    frames = [h for h in html_outputs(nb) if 'class="dataframe' in h]
    assert frames and all("<td>{" not in h for h in frames)  # values flat, no dicts


def test_audit_notebook(executed_notebooks):
    check_committed("audit")
    nb = check_executed(executed_notebooks("audit"))
    audits = roots_of(nb, "audit")
    assert len(audits) == 2
    assert "secret-aws-key" in audits[0] and "setuid-file" in audits[0]
    assert "AKIA" not in "".join(html_outputs(nb)).replace("AKIA…", "")  # only redacted
    assert "rk-high" in audits[0] and "#b3261e" in audits[0]  # severity colours, inline
    printed = "".join(o.get("text", "") for o in outputs_of(nb) if o.output_type == "stream")
    assert "fail_on=high   ok=False" in printed and "False → True" in printed
    (drift,) = roots_of(nb, "drift")
    assert "/app/conf/app.ini" in drift.replace("<wbr>", "")
