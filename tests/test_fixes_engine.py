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


#: A stand-in for pip (busybox sh): it writes a module's bytecode as pip does — a pyc stamped
#: with the install time, or a hash-based one when SOURCE_DATE_EPOCH is set — and ignores
#: --no-compile, as when the pycs come from a later import of what was installed.
FAKE_PIP = r"""#!/bin/sh
set -e
d=/usr/lib/python3/dist-packages/m/__pycache__
mkdir -p "$d"
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then flags=3; t=0; else flags=0; t=$(date +%s); fi
le() { v=$1; for _ in 1 2 3 4; do printf "\\$(printf %03o $((v & 255)))"; v=$((v >> 8)); done; }
f="$d/m.cpython-311.pyc"
{ printf '\247\015\015\012'; le $flags; le $t; le 120; printf '\343code-object'; } > "$f"
"""


def test_fix_keeps_only_the_edits_that_had_an_effect(busybox, context, no_leftovers, tmp_path):
    """Round 1's `--no-compile` changes nothing (this pip ignores it), round 2's `ARG
    SOURCE_DATE_EPOCH=0` fixes the bytecode: a last check proves the patch without round 1's
    edit, and that is the patch written."""
    dockerfile = (
        f"FROM {busybox}\nCOPY pip /usr/local/bin/pip\nRUN sh /usr/local/bin/pip install m\n"
    )
    ctx = context(dockerfile, files={"pip": FAKE_PIP})
    out = tmp_path / "Dockerfile.fixed"
    result = reprokit.fix(ctx, output=out, vary="time")
    assert result.before.verdict == "different", result.before.reason
    assert {d.cause for d in result.before.merged_records} >= {"python-bytecode"}
    rounds = result.round_records
    assert [[e.text for e in r.edits] for r in rounds] == [
        ["--no-compile"],
        ["ARG SOURCE_DATE_EPOCH=0"],
        [],
    ]
    assert [r.verdict for r in rounds] == ["different", "equivalent", "equivalent"]
    assert [(e.text, e.line) for e in rounds[2].removed] == [("--no-compile", 3)]
    assert result.ok and result.after is not None and result.after.meets("equivalent")
    patched = out.read_text()
    assert result.patched == patched and "ARG SOURCE_DATE_EPOCH=0" in patched
    assert "--no-compile" not in patched and "--no-compile" not in result.patch
    assert "without `--no-compile` on line 3" in result.text()
    result.to_json(tmp_path / "fix.json")
    loaded = reprokit.load(tmp_path / "fix.json")
    assert loaded.round_records[2].removed == rounds[2].removed
    plain = reprokit.check(ctx, dockerfile=str(out), vary="time")  # the patch alone suffices
    assert plain.meets("equivalent"), plain.reason
    # the CLI passes the variations on: without --vary time, both builds of each check could
    # fall in the same second and agree by chance
    proc = run_cli("fix", str(ctx), "--vary", "time", "--output", str(tmp_path / "cli.fixed"),
                   "--json", str(tmp_path / "cli.json"))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "cli.json").read_text())
    assert [len(r["edits"]) for r in doc["rounds"]] == [1, 1, 0]
    assert [e["text"] for e in doc["rounds"][2]["removed"]] == ["--no-compile"]
    assert (tmp_path / "cli.fixed").read_text() == patched
