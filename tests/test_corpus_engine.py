"""The corpus of real Dockerfiles (tests/data/dockerfiles, each with SOURCE.md): for each, the
verdict and causes of a check, and a run of ``reprokit fix`` that reaches the required verdict
(or says why not), checked against an independent extraction of both images (``docker save``
read with Python's tarfile) and by a plain ``reprokit check -f PATCHED`` with the same options.

Bases are made once per engine (tests/corpus.py). Builds need ``--network host`` (Debian's
mirror, PyPI, npm)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import corpus
import pytest

import reprokit
from reprokit.api import fix

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# name → (check options, expected causes before (a subset), a cause that needs an edit)
PROJECTS = {
    # the binary embeds __TIME__: build b later (vary time), or two fast builds in one second
    # agree by chance
    "distroless-cc": ({"vary": "time"}, {"embedded-timestamp"}),
    # pip writes each .pyc with its source's install time: two builds in one second agree
    "distroless-python3-requirements": ({"vary": "time"}, {"python-bytecode"}),
    "compose-node-web": ({}, set()),
    "distroless-node-express": ({}, set()),
    "distroless-python3": ({}, set()),
    "compose-flask-backend": ({"target": "builder", "vary": "time"}, {"python-bytecode"}),
}


@pytest.fixture(scope="module")
def corpus_bases(client, debian):
    return {
        "debian": debian,
        "python": corpus.ensure(client, corpus.PYTHON),
        "node": corpus.ensure(client, corpus.NODE),
        "gcc": corpus.ensure(client, corpus.GCC),
    }


def figures(name: str, result) -> None:
    """Print the closing figures of a project (and write them, with the fix report, to
    ``$REPROKIT_CORPUS_FIGURES/NAME.json`` and ``NAME.md`` when that is set)."""
    after = result.after or result.before
    row = {
        "project": name,
        "before": result.before.verdict,
        "causes_before": dict(
            sorted(
                {
                    c: sum(1 for d in result.before.merged_records if d.cause == c)
                    for c in {d.cause for d in result.before.merged_records}
                }.items()
            )
        ),
        "after": after.verdict,
        "rounds": len(result.round_records),
        "seconds": round(result.duration_s),
        "patch": result.patch,
        "unfixed": [u.to_dict() for u in result.unfixed_records],
    }
    print(json.dumps(row, indent=2))
    where = os.environ.get("REPROKIT_CORPUS_FIGURES")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        (Path(where) / f"{name}.figures.json").write_text(json.dumps(row, indent=2) + "\n")
        result.write(Path(where) / f"{name}.md")
        result.write(Path(where) / f"{name}.json")


@pytest.mark.parametrize("name", list(PROJECTS))
def test_corpus_project_is_explained_and_fixed(name, corpus_bases, client, no_leftovers, tmp_path):
    options, expected = PROJECTS[name]
    ctx = corpus.context(name, tmp_path, **corpus_bases)
    out = tmp_path / f"{name}.Dockerfile"
    original = (ctx / "Dockerfile").read_text()
    result = fix(ctx, output=out, network="host", keep_images=True, **options)
    before, after = result.before, result.after or result.before
    figures(name, result)
    try:
        # every difference has a cause with default settings
        if "unexplained" not in expected:
            left = [d.path for d in before.merged_records if d.cause == "unexplained"]
            assert before.explained is True, left[:5]
        causes = {d.cause for d in before.merged_records if not d.ignored}
        assert expected <= causes, causes
        # the user's Dockerfile is untouched; the patch is a unified diff of it
        assert (ctx / "Dockerfile").read_text() == original
        assert result.ok, result.text()
        assert after.meets("equivalent")
        if result.patch:
            assert result.patch.startswith("--- a/Dockerfile")
            assert all(r.verdict for r in result.round_records)
        # independent extraction of both final images: only mtimes differ
        tags = after.kept_images
        assert len(tags) == 2, tags
        files = [corpus.save_files(client, tag, tmp_path) for tag in tags]
        independent = corpus.independent_diff(*files)
        assert set(independent.values()) <= {"mtime"}, {
            p: k for p, k in independent.items() if k != "mtime"
        }
        reported = {d.path for d in after.merged_records if d.fields != ["mtime"]}
        assert not reported
    finally:
        for tag in result.kept_images:  # every round's images too (no_leftovers checks)
            client.images.remove(tag, force=True)


def test_the_patched_dockerfile_passes_a_plain_check(corpus_bases, tmp_path):
    ctx = corpus.context("distroless-cc", tmp_path, **corpus_bases)
    out = tmp_path / "Dockerfile.fixed"
    # the binary embeds __TIME__: build b a few seconds later (--vary time), or two fast
    # builds in the same second would agree by chance
    fixed = reprokit.fix(ctx, output=out, verify=False, vary="time")
    assert fixed.before.verdict == "different", fixed.before.reason
    assert "ARG SOURCE_DATE_EPOCH=0" in out.read_text()
    assert "(not verified)" in fixed.text()
    plain = reprokit.check(ctx, dockerfile=str(out), vary="time")
    assert plain.meets("equivalent"), plain.reason
