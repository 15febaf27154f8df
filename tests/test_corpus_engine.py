"""The corpus of real Dockerfiles (tests/data/dockerfiles, each with SOURCE.md): for each, the
verdict and causes of a check, and a run of ``reprokit fix`` that reaches the required verdict
(or says why not), checked against an independent extraction of both images (``docker save``
read with Python's tarfile) and by a plain ``reprokit check -f PATCHED`` with the same options.

Bases are made once per engine (tests/corpus.py). Builds need ``--network host`` (Debian's
mirror, PyPI, npm)."""

from __future__ import annotations

import corpus
import pytest
from conftest import run_cli

import reprokit
from reprokit.fixing import fix

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# name → (check options, expected causes before (a subset), a cause that needs an edit)
PROJECTS = {
    "distroless-cc": ({}, {"unexplained"}),
    "distroless-python3-requirements": ({}, {"python-bytecode"}),
    "compose-node-web": ({}, set()),
    "distroless-node-express": ({}, set()),
    "distroless-python3": ({}, set()),
    "compose-flask-backend": ({"target": "builder"}, {"python-bytecode"}),
}


@pytest.fixture(scope="module")
def corpus_bases(client, debian):
    return {
        "debian": debian,
        "python": corpus.ensure(client, corpus.PYTHON),
        "node": corpus.ensure(client, corpus.NODE),
        "gcc": corpus.ensure(client, corpus.GCC),
    }


@pytest.mark.parametrize("name", list(PROJECTS))
def test_corpus_project_is_explained_and_fixed(name, corpus_bases, client, tmp_path):
    options, expected = PROJECTS[name]
    ctx = corpus.context(name, tmp_path, **corpus_bases)
    out = tmp_path / f"{name}.Dockerfile"
    original = (ctx / "Dockerfile").read_text()
    result = fix(ctx, output=out, network="host", keep_images=True, **options)
    before, after = result.before, result.after or result.before
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
            assert all(r.verdict for r in result.rounds)
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
        for tag in {*before.kept_images, *(result.after.kept_images if result.after else [])}:
            client.images.remove(tag, force=True)


def test_the_patched_dockerfile_passes_a_plain_check(corpus_bases, tmp_path):
    ctx = corpus.context("distroless-cc", tmp_path, **corpus_bases)
    out = tmp_path / "Dockerfile.fixed"
    cli = run_cli("fix", str(ctx), "--output", str(out), "--no-verify")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "ARG SOURCE_DATE_EPOCH=0" in out.read_text()
    assert "(not verified)" in cli.stdout
    plain = reprokit.check(ctx, dockerfile=str(out))
    assert plain.meets("equivalent"), plain.reason
