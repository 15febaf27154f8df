"""Fixtures for tests that use the real Docker Engine (scripts/setup.sh starts one)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import bases
import docker
import pytest

from reprokit.engine import RUN_LABEL


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    try:
        c = docker.from_env(timeout=600)
        c.ping()
    except docker.errors.DockerException as err:
        pytest.fail(f"these tests need a running Docker Engine (run scripts/setup.sh): {err}")
    yield c
    c.close()


@pytest.fixture(scope="session")
def busybox(client: docker.DockerClient) -> str:
    return bases.ensure_busybox(client)


@pytest.fixture(scope="session")
def debian(client: docker.DockerClient) -> str:
    return bases.ensure_debian(client)


def engine_state(client: docker.DockerClient) -> tuple[set[str], set[str]]:
    """Every image id (intermediates included) and every container id in the engine."""
    images = {i["Id"] for i in client.api.images(all=True)}
    containers = {c["Id"] for c in client.api.containers(all=True)}
    return images, containers


@pytest.fixture
def no_leftovers(client: docker.DockerClient) -> Iterator[None]:
    """Fail the test when it leaves an image or container behind (base images excluded)."""
    images, containers = engine_state(client)
    yield
    after_images, after_containers = engine_state(client)
    new_images = after_images - images
    new_containers = after_containers - containers
    assert not new_containers, f"containers left behind: {new_containers}"
    assert not new_images, f"images left behind: {new_images}"
    labelled = client.api.images(all=True, filters={"label": RUN_LABEL})
    assert not [i for i in labelled if i["Id"] in new_images]


@pytest.fixture
def context(tmp_path: Path):
    """Make a build context: ``context("FROM x\\nRUN ...", files={"a.txt": "..."})``."""

    def make(dockerfile: str, files: dict[str, str] | None = None, name: str = "ctx") -> Path:
        ctx = tmp_path / name
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(dockerfile)
        for rel, text in (files or {}).items():
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx / rel).write_text(text)
        return ctx

    return make


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: int = 900):
    """Run ``python -m reprokit ARGS`` and return the CompletedProcess (text mode)."""
    return subprocess.run(
        [sys.executable, "-m", "reprokit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def execute_notebook(notebook: Path, timeout: int = 120):
    """Run a generated notebook the way tests/test_reports.py does: its pre-filled outputs
    cleared (so what is checked comes from running it), its JSON copied to another directory
    (it needs nothing but the JSON beside it), executed with the ``python3`` kernel there.
    Returns the executed notebook; raises when a cell fails."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    elsewhere = notebook.parent / f"{notebook.stem}-elsewhere"
    elsewhere.mkdir()
    data = notebook.with_suffix(".json")
    (elsewhere / data.name).write_bytes(data.read_bytes())
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(elsewhere)}}
    ).execute()
    nbformat.validate(nb)
    return nb


@contextlib.contextmanager
def kernel_tmpdir(where: Path) -> Iterator[None]:
    """Kernels started in the block make their temporary directories (a notebook's
    ``tempfile.mkdtemp()`` work directory) under ``where``, which pytest cleans, not /tmp."""
    (where / "tmp").mkdir(exist_ok=True)
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(where / "tmp")
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old


#: The docs notebooks (notebooks/NAME.ipynb): the walkthrough and one per use.
DOCS_NOTEBOOKS = ("walkthrough", "verify-rebuild", "parity", "audit")
ROOT = Path(__file__).resolve().parent.parent


class ExecutedNotebooks:
    """Each docs notebook executed at most once per session against the real engine, the way
    reprokit executes them (:func:`reprokit.report.notebook.execute`: nbclient, outputs kept,
    signed as trusted), into artifacts/NAME.ipynb; the notebook must leave no image or
    container behind. Shared by the notebook tests and the JupyterLab browser test."""

    def __init__(self, client: docker.DockerClient, workdir: Path):
        self.client, self.workdir, self.done = client, workdir, {}

    def __call__(self, name: str) -> Path:
        if name not in self.done:
            from reprokit.report.notebook import execute

            (ROOT / "artifacts").mkdir(exist_ok=True)
            target = ROOT / "artifacts" / f"{name}.ipynb"
            cwd = self.workdir / name
            cwd.mkdir()
            before = engine_state(self.client)
            with kernel_tmpdir(cwd):
                execute(ROOT / "notebooks" / f"{name}.ipynb", target, cwd=cwd)
            after = engine_state(self.client)
            images, containers = after[0] - before[0], after[1] - before[1]
            assert not containers, f"{name}: containers left behind: {containers}"
            assert not images, f"{name}: images left behind: {images}"
            self.done[name] = target
        return self.done[name]


@pytest.fixture(scope="session")
def executed_notebooks(client, tmp_path_factory) -> ExecutedNotebooks:
    return ExecutedNotebooks(client, tmp_path_factory.mktemp("notebooks"))
