"""Variations between builds (reprotest's idea, applied to what a Docker build can see).

A variation changes one thing about a build so that a difference a laptop and CI would see
shows up on one machine: the context's mtimes or permission bits (a fresh checkout, another
umask), its directory, the clock, a build arg, the engine. Each is named; ``--vary`` picks
them. A varied build's context is a copy in the run's work directory (every copy lives in its
own directory; ``context-path`` moves it further, under other names and another depth).

>>> [v.name for v in parse_vary("context-mtime,time")]
['context-mtime', 'time']
>>> parse_vary("build-arg=VERSION")[0].describe(VaryOptions())
'build arg VERSION gets another value'
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SpecError, UsageError
from .spec import BuildSpec

#: seconds added to every mtime of a ``context-mtime`` copy (one day and a bit)
MTIME_SHIFT = 86400 + 17
#: the permission bit ``context-umask`` flips: group write (umask 002 vs 022)
UMASK_BIT = 0o020


@dataclass
class VaryOptions:
    """What the variations need: the delay, the second engine, the build arg to change."""

    delay_s: float = 2.0
    engine: str | None = None
    build_args: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """One build's inputs after its variations: spec, engine (None: the main one), delay."""

    spec: BuildSpec
    engine: str | None = None
    delay_s: float = 0.0
    copied: bool = False
    applied: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Variation:
    """One named variation; ``arg`` is the build arg name for ``build-arg``."""

    name: str
    arg: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}={self.arg}" if self.arg else self.name

    def describe(self, opts: VaryOptions) -> str:
        """One line saying what this variation does."""
        return {
            "context-mtime": f"the context is a copy whose mtimes are {MTIME_SHIFT} s later",
            "context-umask": "the context is a copy with the group-write bit flipped "
            "(umask 002 vs 022)",
            "context-path": "the context is built from another directory path",
            "time": f"the build starts {opts.delay_s:g} s later, so clocks differ",
            "build-arg": f"build arg {self.arg} gets another value",
            "engine": f"the build runs on engine {opts.engine}",
        }[self.name]

    def apply(self, prepared: Prepared, workdir: Path, n: int, opts: VaryOptions) -> Prepared:
        """``prepared`` with this variation applied; copies go into ``workdir``."""
        out = replace(prepared, applied=[*prepared.applied, self.label])
        if self.name in ("context-mtime", "context-umask", "context-path"):
            out = _ensure_copy(out, workdir, n, moved=self.name == "context-path")
            root = out.spec.context
            if self.name == "context-mtime":
                _walk_bottom_up(root, _shift_mtime)
            elif self.name == "context-umask":
                _walk_bottom_up(root, _flip_group_write)
        elif self.name == "time":
            out.delay_s = max(out.delay_s, opts.delay_s)
        elif self.name == "build-arg":
            assert self.arg
            args = dict(out.spec.build_args)
            args[self.arg] = args.get(self.arg, "reprokit") + "-varied"
            out.spec = replace(out.spec, build_args=args)
        elif self.name == "engine":
            out.engine = opts.engine
        return out


NAMES = ("context-mtime", "context-umask", "context-path", "time", "build-arg", "engine")


def parse_vary(
    items: str | list[str] | None, build_args: list[str] | None = None
) -> list[Variation]:
    """``"context-mtime,build-arg=V"`` (or a list of such) → variations, in a stable order.

    ``build_args`` adds a ``build-arg`` variation per name (``--vary-build-arg``).
    """
    if isinstance(items, str):
        items = [items]
    found: list[Variation] = []
    for item in items or []:
        for part in filter(None, (p.strip() for p in item.split(","))):
            name, _, arg = part.partition("=")
            if name not in NAMES:
                raise UsageError(f"unknown variation {name!r}; available: {', '.join(NAMES)}")
            if name == "build-arg" and not arg:
                raise UsageError("variation build-arg needs a name: --vary build-arg=NAME")
            if arg and name != "build-arg":
                raise UsageError(f"variation {name} takes no value ({part!r})")
            found.append(Variation(name, arg or None))
    found += [Variation("build-arg", name) for name in build_args or []]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda v: (NAMES.index(v.name), v.arg or ""))


def prepare(
    spec: BuildSpec, variations: list[Variation], workdir: Path, n: int, opts: VaryOptions
) -> Prepared:
    """The inputs of build number ``n`` with ``variations`` applied (none: ``spec`` itself)."""
    prepared = Prepared(spec=spec)
    for variation in variations:
        prepared = variation.apply(prepared, workdir, n, opts)
    return prepared


def _ensure_copy(prepared: Prepared, workdir: Path, n: int, moved: bool) -> Prepared:
    """Copy the context once (mtimes, modes and owners kept), so variations change the copy."""
    spec = prepared.spec
    if prepared.copied:
        if moved:  # move the existing copy further away
            target = workdir / f"moved-{n}" / "elsewhere" / "deeper" / "context"
            target.parent.mkdir(parents=True)
            spec.context.rename(target)
            return replace(prepared, spec=_with_context(spec, target))
        return prepared
    target = (
        workdir / f"moved-{n}" / "elsewhere" / "deeper" / "context"
        if moved
        else workdir / f"copy-{n}" / "context"
    )
    target.parent.mkdir(parents=True)
    _copy_tree(spec.context, target)
    return replace(prepared, spec=_with_context(spec, target), copied=True)


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` keeping mtimes, modes, symlinks and (as root) owners.

    ``cp -a`` does it about three times faster than ``shutil.copytree`` (bench/vary_bench.py).
    """
    if shutil.which("cp"):
        proc = subprocess.run(
            ["cp", "-a", "--", str(src), str(dst)], capture_output=True, text=True
        )
        if proc.returncode == 0:
            return
        shutil.rmtree(dst, ignore_errors=True)
        raise SpecError(f"cannot copy the build context {src}: {proc.stderr.strip()}")
    shutil.copytree(src, dst, symlinks=True, copy_function=_copy_owned)
    _copy_owner(src, dst)


def _with_context(spec: BuildSpec, context: Path) -> BuildSpec:
    dockerfile = spec.dockerfile
    outside = Path(dockerfile).is_absolute() and not Path(dockerfile).resolve().is_relative_to(
        spec.context.resolve()
    )
    if Path(dockerfile).is_absolute() and not outside:
        dockerfile = str(Path(dockerfile).resolve().relative_to(spec.context.resolve()))
    return replace(spec, context=context, dockerfile=dockerfile)


def _copy_owned(src: str, dst: str) -> str:
    shutil.copy2(src, dst, follow_symlinks=False)
    _copy_owner(Path(src), Path(dst))
    return dst


def _copy_owner(src: Path, dst: Path) -> None:
    try:
        st = src.lstat()
        os.lchown(dst, st.st_uid, st.st_gid)
    except OSError:
        pass  # not root: the copy is ours, as a fresh checkout would be


def _walk_bottom_up(root: Path, change: Callable[[Path], None]) -> None:
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in [*filenames, *dirnames]:
            change(Path(dirpath) / name)
    change(root)


def _shift_mtime(path: Path) -> None:
    st = path.lstat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + MTIME_SHIFT * 10**9), follow_symlinks=False)


def _flip_group_write(path: Path) -> None:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return
    mtime = (st.st_atime_ns, st.st_mtime_ns)
    os.chmod(path, stat.S_IMODE(st.st_mode) ^ UMASK_BIT)
    os.utime(path, ns=mtime)  # only the mode changes
