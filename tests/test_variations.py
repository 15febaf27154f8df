"""Variations prepare a build's inputs: copies with other mtimes, modes, paths; args; engines."""

from __future__ import annotations

import os
import stat

import pytest
from conftest import run_cli

from reprokit.errors import UsageError
from reprokit.spec import BuildSpec
from reprokit.variations import MTIME_SHIFT, VaryOptions, parse_vary, prepare


def make_context(tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (ctx / "sub" / "a.txt").write_text("a\n")
    (ctx / "link").symlink_to("sub/a.txt")
    os.chmod(ctx / "sub" / "a.txt", 0o644)
    os.utime(ctx / "sub" / "a.txt", (1_600_000_000, 1_600_000_000))
    return ctx


def test_parse_vary_orders_and_rejects():
    found = parse_vary(["time,context-mtime", "build-arg=V"], ["W", "V"])
    assert [v.label for v in found] == ["context-mtime", "time", "build-arg=V", "build-arg=W"]
    for bad, message in [
        ("bogus", "unknown variation 'bogus'"),
        ("build-arg", "needs a name"),
        ("time=3", "takes no value"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_vary(bad)


def test_prepare_changes_a_copy_only(tmp_path):
    ctx = make_context(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    spec = BuildSpec(ctx, build_args={"V": "1"})
    before = spec.fingerprint()
    variations = parse_vary("context-mtime,context-umask,context-path,time,build-arg=V")
    prepared = prepare(spec, variations, work, 1, VaryOptions(delay_s=3.5))
    copy = prepared.spec.context
    assert copy != ctx and copy.is_relative_to(work) and "deeper" in str(copy)
    assert prepared.spec.dockerfile_path == copy / "Dockerfile"
    a = copy / "sub" / "a.txt"
    assert a.read_text() == "a\n" and (copy / "link").is_symlink()
    assert a.stat().st_mtime == 1_600_000_000 + MTIME_SHIFT
    assert stat.S_IMODE(a.stat().st_mode) == 0o664  # umask 002 instead of 022
    assert prepared.spec.build_args == {"V": "1-varied"}
    assert prepared.delay_s == 3.5 and prepared.engine is None
    assert prepared.applied == [v.label for v in variations]
    # the original context is untouched
    assert spec.fingerprint() == before
    assert (ctx / "sub" / "a.txt").stat().st_mtime == 1_600_000_000
    # no variation: the spec itself, not a copy
    assert prepare(spec, [], work, 2, VaryOptions()).spec is spec
    engine = prepare(spec, parse_vary("engine"), work, 3, VaryOptions(engine="unix:///x.sock"))
    assert engine.engine == "unix:///x.sock" and engine.spec is spec


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--vary", "bogus"], "unknown variation 'bogus'"),
        (["--vary", "engine"], "needs a second engine"),
        (["--runs", "1"], "at least 2"),
        (["--find-culprits"], "needs variations"),
        (["--find-culprits", "--vary", "time", "--runs", "3"], "do not combine"),
        (["--engine", "no-such-context-xyz"], "neither a URL nor a docker context"),
        (["--builder", "buildah", "--engine", "unix:///nope.sock"], "not buildah"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    ctx = make_context(tmp_path)
    proc = run_cli("check", str(ctx), *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("reprokit: error: ") and message in first, first
