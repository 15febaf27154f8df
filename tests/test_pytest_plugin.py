"""The pytest plugin (pytest11 entry point), run through ``pytester`` in a subprocess."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import docker
import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
def test_root(reprokit_host):
    assert reprokit_host.user("root").uid == 0

def test_motd(assert_parity):
    assert_parity(lambda host: host.file("/etc/motd").content_string, name="motd")

def test_shell(assert_parity):
    assert assert_parity(lambda host: host.run("echo hi").stdout) == "hi\\n"
"""


@pytest.fixture(scope="module")
def motd_pair(client: docker.DockerClient, busybox: str) -> Iterator[tuple[str, str]]:
    tags = []
    for text in ("one", "two"):
        tag = f"reprokit-test/motd:{uuid.uuid4().hex[:8]}-{text}"
        client.images.build(
            fileobj=io.BytesIO(f"FROM {busybox}\nRUN echo {text} > /etc/motd\n".encode()),
            tag=tag,
            rm=True,
            network_mode="none",
        )
        tags.append(tag)
    yield tags[0], tags[1]
    for tag in tags:
        client.images.remove(tag, force=True)


@pytest.mark.engine
def test_plugin_runs_tests_on_both_images(pytester, motd_pair, no_leftovers):
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(
        "--reprokit-images", ",".join(motd_pair), "-v", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_root[[]a[]] PASSED*",
            "*test_root[[]b[]] PASSED*",
            "*test_motd FAILED*",
            "*test_shell PASSED*",
        ]
    )
    out = result.stdout.str()
    # the failure points at the user's line, with A and B side by side
    result.stdout.fnmatch_lines(
        [
            "*assert_parity(lambda host: host.file(*",
            "E*parity broken for motd:",
            '*DIFF motd*"one\\n"*"two\\n"*',
        ]
    )
    assert "pytest_plugin.py" not in out


def test_plugin_needs_an_image_pair(pytester):
    pytester.makepyfile(test_user="def test_root(reprokit_host):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # once per session, as a usage error (exit status 4), not per test
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*reprokit: this test needs an image pair: run pytest with --reprokit-images*"]
    )
    both = result.stdout.str() + result.stderr.str()
    assert both.count("needs an image pair") == 1
    assert "During handling" not in both


def test_plugin_costs_nothing_unless_used(pytester):
    pytester.makepyfile(
        test_plain="""
import sys

def test_nothing_heavy_imported():
    # `import reprokit` itself loads the docker SDK (its API module); the plugin adds nothing:
    # no testinfra host, no pandas, no engine connection
    heavy = [m for m in ("pandas", "testinfra.backend.docker", "reprokit.behaviour.suite")
             if m in sys.modules]
    assert heavy == []
    assert "reprokit.pytest_plugin" in sys.modules
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    assert "--reprokit-images=A,B" in help_text and "--reprokit-build=CONTEXT" in help_text


@pytest.mark.engine
def test_plugin_builds_the_pair_from_a_context(pytester, busybox, no_leftovers):
    ctx = pytester.mkdir("ctx")
    (ctx / "Dockerfile").write_text(f"FROM {busybox}\nRUN echo built > /etc/motd\n")
    pytester.makepyfile(
        test_built="""
def test_motd(assert_parity):
    assert assert_parity(lambda host: host.file("/etc/motd").content_string) == "built\\n"
"""
    )
    result = pytester.runpytest_subprocess("--reprokit-build", str(ctx), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
