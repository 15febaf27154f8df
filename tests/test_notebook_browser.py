"""The executed walkthrough in a real JupyterLab (PyPI) in headless Chromium (Debian's
``chromium`` + ``chromium-driver``, driven by selenium): light theme at 1400 px, dark theme at
1024 px. Every figure is measured from the page itself (getComputedStyle, element geometry)
and kept, with screenshots, under artifacts/.

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
WALKTHROUGH = ROOT / "notebooks" / "walkthrough.ipynb"
THEMES = {"light": ("JupyterLab Light", 1400), "dark": ("JupyterLab Dark", 1024)}

#: Everything the test asserts, measured in the page. ``root`` is every element a reprokit
#: display starts with; cells are the th/td of reprokit displays and of DataFrames.
MEASURE = (Path(__file__).parent / "jupyterlab_measure.js").read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def executed_walkthrough(tmp: Path) -> Path:
    """The walkthrough, executed against the engine and signed (as reprokit executes every
    docs notebook); REPROKIT_EXECUTED names an already executed one instead."""
    given = os.environ.get("REPROKIT_EXECUTED")
    target = tmp / "walkthrough.ipynb"
    if given:
        shutil.copy(given, target)
        return target
    from reprokit.report.notebook import execute

    execute(WALKTHROUGH, target, cwd=tmp)
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory, client) -> Iterator[tuple[str, Path, Path]]:
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
    executed_walkthrough(root)
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


def open_notebook(driver, url: str, settings: Path, theme: str, width: int) -> None:
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings").write_text(
        json.dumps({"theme": theme})
    )
    driver.set_window_size(width, 1000)
    driver.get(f"{url}/lab/tree/walkthrough.ipynb?reset")
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
    time.sleep(2)  # MathJax typesets after rendering


def test_walkthrough_in_jupyterlab(lab, driver):
    url, root, settings = lab
    nb = nbformat.read(root / "walkthrough.ipynb", as_version=4)
    results_shown = [
        c
        for c in nb.cells
        if c.cell_type == "code" and c.source.strip().splitlines()[-1] in ("result", "again")
    ]
    assert results_shown and all(
        any("text/html" in o.get("data", {}) for o in c.outputs) for c in results_shown
    ), "every result object has a text/html output"
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {}
    for name, (theme, width) in THEMES.items():
        open_notebook(driver, url, settings, theme, width)
        m = driver.execute_script(MEASURE)
        console = driver.get_log("browser")
        (ARTIFACTS / f"jupyterlab-{name}-console.json").write_text(json.dumps(console, indent=1))
        widget_errors = [
            e["message"]
            for e in console
            if (e["level"] in ("SEVERE", "WARNING") and "widget" in e["message"].lower())
            or "model not found" in e["message"].lower()
        ]
        cmin = min(m["contrast"], default=[None])
        figures[name] = {
            "theme": theme,
            "width": width,
            "roots": m["roots"],
            "first_check_height": m["heights"][0] if m["heights"] else None,
            "heights": m["heights"],
            "min_contrast": cmin,
            "below_4.5": sum(1 for c in m["contrast"] if c[0] < 4.5),
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
        driver.save_screenshot(str(ARTIFACTS / f"jupyterlab-{name}-{width}.png"))
        roots = driver.find_elements("css selector", ".reprokit")
        if roots:
            driver.execute_script("arguments[0].scrollIntoView()", roots[0])
            driver.set_window_size(width, min(4000, max(1000, figures[name]["heights"][0] + 300)))
            roots[0].screenshot(str(ARTIFACTS / f"jupyterlab-{name}-first-check.png"))
    out = ARTIFACTS / "jupyterlab-figures.json"
    out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    for name, f in figures.items():
        assert f["roots"] >= len(results_shown), (name, f)
        assert f["mathjax"] == 0, (name, f)
        assert f["misaligned_count"] == 0, (name, f["misaligned"])
        assert f["broken_count"] == 0, (name, f["broken_words"])
        assert f["below_4.5"] == 0, (name, f["min_contrast"])
        assert f["danger"] == 0 and f["widget_error_count"] == 0, (name, f)
        assert not f["overflow"], (name, f["overflow"])
        assert f["first_check_height"] <= 2500, (name, f["heights"])
