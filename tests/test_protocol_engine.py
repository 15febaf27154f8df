"""The result protocol on real results of the busybox test image (reprokit-test/busybox:1):
an audit, a parity run, an inventory, a replay, the engine's images and a comparison, each
rendered in every format and loaded back as the same kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from test_protocol import check_every_format

import reprokit
from reprokit.behaviour.checks import command, file


@pytest.fixture(scope="module")
def results(busybox: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    spec = tmp_path_factory.mktemp("spec") / "facts.json"
    facts = reprokit.capture(busybox, files=["/bin/busybox", "/bin/s*"])
    from reprokit.baseline import write_spec

    write_spec(facts, spec)
    checks = [file("/bin/busybox"), command("echo hello"), command("id -u")]
    return {
        "comparison": reprokit.compare(busybox, busybox),
        "audit": reprokit.audit(busybox),
        "parity": reprokit.parity(busybox, busybox, checks),
        "inventory": reprokit.inventory(busybox),
        "replay": reprokit.replay(busybox, spec),
        "images": reprokit.images(),
    }


@pytest.mark.parametrize("kind", ["comparison", "audit", "parity", "inventory", "replay", "images"])
def test_engine_results_follow_the_protocol(results, kind: str, tmp_path: Path):
    result = results[kind]
    assert result.kind == kind
    check_every_format(result, tmp_path)


def test_engine_results_pass_as_expected(results, busybox: str):
    assert results["comparison"].ok and results["comparison"].verdict == "identical"
    assert results["parity"].ok, results["parity"].text()
    assert results["replay"].ok and results["replay"].checked > 0
    assert results["inventory"].ok and results["images"].ok
    assert any(busybox in tags for tags in results["images"].images["tags"])


def test_engine_cli_reports_for_every_command(busybox: str, tmp_path: Path):
    spec = tmp_path / "facts.json"
    assert run_cli("capture", busybox, str(spec)).returncode == 0
    for args, name in (
        (["replay", busybox, str(spec)], "replay"),
        (["inventory", busybox], "inv"),
        (["images"], "images"),
        (["audit", busybox, "--fail-on", "low"], "audit"),
    ):
        out = tmp_path / f"{name}.md"
        proc = run_cli(*args, "--report", str(out), "--json", str(tmp_path / f"{name}.json"))
        assert proc.returncode in (0, 1), proc.stderr
        assert out.read_text().startswith("## reprokit")
        assert reprokit.load(tmp_path / f"{name}.json").ok == (proc.returncode == 0)
