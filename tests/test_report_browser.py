"""The HTML report in headless Chromium (Debian's ``chromium``, installed by setup.sh): it
renders without console messages, the verdict banner is visible, a screenshot is kept under
artifacts/ for people to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from test_reports import results  # noqa: F401  (module-scoped fixture of real comparisons)

from reprokit.report.plots import CAUSE_COLOURS

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CONSOLE = re.compile(r":CONSOLE[:(]")


def chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is missing: run scripts/setup.sh")
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,2400",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def test_console_messages_are_caught(tmp_path):
    """The detector below is real: a page that logs an error is caught."""
    page = tmp_path / "noisy.html"
    page.write_text("<html><body><script>console.error('boom-7f3a')</script></body></html>")
    proc = chromium(tmp_path, page, "--dump-dom")
    assert any("boom-7f3a" in line for line in console_lines(proc.stderr)), proc.stderr


@pytest.mark.parametrize("verdict", ["different", "equivalent"])
def test_report_renders_in_chromium(results, tmp_path, verdict):  # noqa: F811
    result = results[verdict]
    page = tmp_path / f"report-{verdict}.html"
    result.to_html(page)
    dom = chromium(tmp_path, page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert console_lines(dom.stderr) == []
    assert f"<b>{verdict.upper()}</b>" in dom.stdout
    assert "<script>alert" not in dom.stdout  # the hostile names stayed text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{verdict}.png"
    shot.unlink(missing_ok=True)
    proc = chromium(tmp_path, page, f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr
    assert console_lines(proc.stderr) == []
    # the banner is painted at the top in the verdict's colour
    pixels = imread(shot)[:200, :, :3]
    colour = {"different": (0xB3, 0x26, 0x1E), "equivalent": (0x1F, 0x5F, 0xA8)}[verdict]
    near = np.all(np.abs(pixels * 255 - np.array(colour)) < 8, axis=-1)
    assert near.sum() > 10_000, f"banner colour not found in {shot}"
    # the embedded plots decoded and were painted: bars in the colour of the main cause
    cause = Counter(d.cause or "unexplained" for d in result.file_records).most_common(1)[0][0]
    rgb = tuple(int(CAUSE_COLOURS[cause][i : i + 2], 16) for i in (1, 3, 5))
    everything = imread(shot)[:, :, :3] * 255
    bars = np.all(np.abs(everything - np.array(rgb)) < 8, axis=-1)
    assert bars.sum() > 2_000, f"no {cause} bars painted in {shot}"
