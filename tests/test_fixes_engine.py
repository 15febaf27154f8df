"""Issue 13 on a real engine: whiteouts of a real apt layer are not differences, and the
timestamp fix every check gives is the command that works with its builder and image store —
applied, it makes the images identical."""

from __future__ import annotations

import json
import re
import shlex
import tarfile

import pytest
from conftest import run_cli

import reprokit

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def whiteouts(client, tag: str, tmp_path) -> list[list[str]]:
    """The whiteout entries of each layer of ``tag`` (``docker save`` read with tarfile)."""
    archive = tmp_path / "saved.tar"
    with archive.open("wb") as out:
        for chunk in client.images.get(tag).save(named=False):
            out.write(chunk)
    found = []
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer), mode="r:*") as inner:
                found.append([t.name for t in inner if "/.wh." in "/" + t.name])
    archive.unlink()
    return found


def test_whiteouts_of_a_later_apt_clean_are_not_differences(debian, context, client, tmp_path):
    """``apt-get install`` keeps the .deb files; ``apt-get clean`` in a later RUN deletes them:
    that layer is made of whiteouts, the same in both builds (only their mtimes differ)."""
    install = "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello"
    clean = "RUN apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log"
    ctx = context(f"FROM {debian}\n{install}\n{clean}\n")
    result = reprokit.check(ctx, network="host", keep_images=True)
    try:
        wh = whiteouts(client, result.kept_images[0], tmp_path)
        debs = [w for w in wh[-1] if w.endswith(".deb")]
        assert debs, wh[-1]  # the deletions are there, as whiteouts
        clean_layer = len(wh) - 1
        paths = [d.path for d in result.file_records]
        assert not [p for p in paths if "/.wh." in p], "a whiteout counted as a difference"
        deleted = [d for d in result.file_records if d.layer == clean_layer]
        assert not [d for d in deleted if d.path.endswith(".deb")], deleted[:3]
        assert all(".deb" not in d.path for d in result.merged_records)
        assert result.explained is True
    finally:
        for tag in result.kept_images:
            client.images.remove(tag, force=True)


def test_timestamp_fix_is_the_command_that_works_here(context, no_leftovers):
    """A plain check (not --require identical) of a classic-builder build that is only
    equivalent (the directories COPY creates get the build time) carries the command for
    this engine's store in its steps and suggestions; running that command gives identical."""
    ctx = context("FROM scratch\nCOPY app.txt /app/conf/app.txt\n", files={"app.txt": "hello\n"})
    result = reprokit.check(ctx, builder="docker")
    assert result.verdict == "equivalent", result.reason
    advice = result.suggestions[0]
    assert advice.startswith("file times: the classic docker builder cannot clamp them")
    assert "--builder buildah --source-date-epoch 0" in advice
    for step in (s for s in result.step_records if "timestamp" in s.causes):
        assert "--builder buildah --source-date-epoch 0" in step.fix
    assert "for identical:" in result.text().splitlines()[1]
    command = re.search(r"`(reprokit check [^`]*--builder buildah[^`]*)`", advice)
    assert command, advice
    proc = run_cli(*shlex.split(command.group(1))[1:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("reprokit: IDENTICAL"), proc.stdout
