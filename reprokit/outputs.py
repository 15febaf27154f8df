"""Output files of a run: checked before any work, written whole or not at all.

:func:`probe` checks an output path before a build or a read starts: its directory exists, is
a directory, is writable and has room for a first block (a probe file of :data:`BLOCK` bytes
is written, synced and removed). :func:`write_all` writes every report of a run (``--report``
files, the ``--json`` report, a notebook with its JSON) into a staging directory beside each
target and renames them into place only when every one succeeded: a failed write (a full
disk, an unwritable directory) leaves none of them, and no half-written file.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> probe(os.path.join(d, "r.json"), "--json")
>>> probe(os.path.join(d, "nope", "r.json"), "--json")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
reprokit.errors.UsageError: --json .../nope/r.json: directory .../nope does not exist
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import ReprokitError, UsageError

#: bytes an output directory must take before any work starts
BLOCK = 64 * 1024


def probe(path: str | Path, option: str = "output") -> None:
    """:class:`UsageError` unless a file can be written at ``path`` (see the module)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    where = f"{option} {path}" if option else str(path)
    if not directory.is_dir():
        raise UsageError(f"{where}: directory {directory} does not exist")
    if target.is_dir():
        raise UsageError(f"{where}: is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".reprokit-probe-", dir=directory)
    except OSError as err:
        raise UsageError(f"{where}: cannot write in {directory} ({_why(err)})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"\0" * BLOCK)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise UsageError(f"{where}: cannot write in {directory} ({_why(err)})") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _move(stage: Path, directory: Path) -> None:
    """Rename every file under ``stage`` to the same place under ``directory`` (folders a
    writer made, such as a survey's ``targets/``, are merged)."""
    for staged in sorted(stage.iterdir()):
        target = directory / staged.name
        if staged.is_dir() and not staged.is_symlink():
            target.mkdir(exist_ok=True)
            _move(staged, target)
        else:
            os.replace(staged, target)


def _why(err: OSError) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left"
    return err.strerror or type(err).__name__


def write_all(writes: Iterable[tuple[Path, Callable[[Path], Any]]]) -> None:
    """Run each ``writer(staged_path)`` for its target path in a staging directory beside the
    target, then move every file written there into place; when any writer fails nothing is
    moved and the staging directories are removed (the error is raised, one line)."""
    stages: dict[Path, Path] = {}
    target = None
    try:
        for target, writer in writes:
            directory = (target.parent if str(target.parent) else Path(".")).resolve()
            if directory not in stages:
                stages[directory] = Path(tempfile.mkdtemp(prefix=".reprokit-", dir=directory))
            writer(stages[directory] / target.name)
        for directory, stage in stages.items():
            _move(stage, directory)
    except OSError as err:
        name = target if target is not None else "the reports"
        why = _why(err)
        raise ReprokitError(f"{name}: cannot write the report ({why}); none was written") from None
    finally:
        for stage in stages.values():
            shutil.rmtree(stage, ignore_errors=True)
