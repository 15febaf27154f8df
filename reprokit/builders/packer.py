"""Packer as a builder: ``packer build`` a template twice, each build apart, and compare.

Each build runs in its own temporary copy of the template's directory with its own
``PACKER_CACHE_DIR``, ``PACKER_CONFIG_DIR``, ``PACKER_PLUGIN_PATH`` and ``TMPDIR`` (and
``CHECKPOINT_DISABLE=1``), so the two builds share nothing but the engine. What each build
produced is read from Packer's machine-readable artifact lines:

- ``docker`` with ``commit: true``: an image in the engine (``docker-daemon:ID``); JSON
  templates get reprokit's run label through ``changes`` (``LABEL io.reprokit.run=…``);
- ``docker`` with ``export_path``: a root filesystem tarball (``rootfs-archive:PATH``);
- a builder whose artifact is a disk image file (``qemu`` with ``output_directory``, …):
  ``disk:PATH``.

A builder whose artifacts reprokit cannot read (``amazon-ebs`` and other cloud builders) is
refused before anything is built, with one error naming it. The images, the temporary
copies and every output directory are removed at the end, on errors and Ctrl-C too.
Template functions that give each build another value (``{{timestamp}}``, ``{{uuid}}``,
``timestamp()``, ``uuidv4()``) are recorded per build, and differences carrying their values
are explained as ``build-variable``.

>>> template_syntax("app.pkr.hcl"), template_syntax("app.pkr.json"), template_syntax("x.json")
('hcl2', 'hcl2-json', 'legacy-json')
>>> [b.type for b in builds_of({"builders": [{"type": "docker", "commit": True}]}, "legacy-json")]
['docker']
>>> artifact_kind(Build("docker", "docker", {"export_path": "root.tar"}))
'rootfs-archive'
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..engine import RUN_LABEL, Run, open_client
from ..errors import BuildError, Cancelled, UsageError
from ..model import BuildInfo
from ..sources.image import Source

#: Builders whose artifact is a disk image file in ``output_directory``.
DISK_BUILDERS = (
    "qemu",
    "virtualbox-iso",
    "virtualbox-ovf",
    "vmware-iso",
    "vmware-vmx",
    "hyperv-iso",
    "hyperv-vmcx",
    "parallels-iso",
    "file",
)
#: Template functions giving each build its own value.
VARYING = re.compile(r"\{\{\s*(timestamp|uuid|isotime[^}]*)\s*\}\}|\b(timestamp|uuidv4|uuidv5)\(\)")


@dataclass
class Build:
    """One builder (legacy) or source (HCL2) of a template."""

    name: str
    type: str
    config: dict[str, Any] = field(default_factory=dict)


def is_template(path: str | Path) -> bool:
    """Whether ``path`` is a Packer template (``*.pkr.hcl``, ``*.pkr.json``, or a legacy JSON
    template: a ``.json`` file with ``builders``)."""
    p = Path(path)
    if not p.is_file():
        return False
    if p.name.endswith((".pkr.hcl", ".pkr.json")):
        return True
    if p.suffix == ".json" and p.stat().st_size < 4 << 20:
        try:
            return "builders" in json.loads(p.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, TypeError):
            return False
    return False


def template_syntax(path: str | Path) -> str:
    """``hcl2``, ``hcl2-json`` or ``legacy-json``."""
    name = str(path)
    return (
        "hcl2"
        if name.endswith(".pkr.hcl")
        else ("hcl2-json" if name.endswith(".pkr.json") else "legacy-json")
    )


def load_template(path: Path) -> dict[str, Any]:
    """The template as data (HCL through python-hcl2)."""
    text = path.read_text(encoding="utf-8")
    if template_syntax(path) == "hcl2":
        import hcl2

        try:
            return hcl2.loads(text)
        except Exception as err:  # lark's errors have no common base worth naming
            raise UsageError(f"{path}: not valid HCL ({str(err).splitlines()[0]})") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise UsageError(f"{path}: not valid JSON ({err})") from None


def _unlist(value: Any) -> Any:
    """python-hcl2 wraps blocks in lists; JSON does not."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def builds_of(data: dict[str, Any], syntax: str) -> list[Build]:
    """Every builder (legacy) or source (HCL2) of a template."""
    if syntax == "legacy-json":
        return [
            Build(b.get("name") or b.get("type", "?"), b.get("type", "?"), b)
            for b in data.get("builders") or []
        ]
    found = []
    sources = data.get("source") or []
    for block in sources if isinstance(sources, list) else [sources]:
        for btype, named in (block or {}).items():
            for name, cfg in (_unlist(named) or {}).items():
                found.append(Build(f"{btype}.{name}", btype, _unlist(cfg) or {}))
    return found


def artifact_kind(build: Build) -> str:
    """What the build leaves: ``docker-daemon``, ``rootfs-archive`` or ``disk``; raises for a
    builder reprokit cannot read."""
    if build.type == "docker":
        if build.config.get("export_path"):
            return "rootfs-archive"
        if build.config.get("commit"):
            return "docker-daemon"
        raise UsageError(
            f"builder {build.name} (docker) neither commits nor exports: set commit: true or "
            "export_path"
        )
    if build.type in DISK_BUILDERS:
        return "disk"
    raise UsageError(
        f"builder {build.name} ({build.type}) produces nothing reprokit can read here (it reads "
        "docker commits and exports, and disk image files such as qemu's); check another "
        "builder of the template with --only"
    )


def _selected(builds: list[Build], only: Iterable[str]) -> list[Build]:
    wanted = list(only)
    if not wanted:
        return builds
    chosen = [b for b in builds if b.name in wanted or b.name.split(".")[-1] in wanted]
    if not chosen:
        raise UsageError(
            f"--only {', '.join(wanted)}: no such build (have: {', '.join(b.name for b in builds)})"
        )
    return chosen


def _label(data: dict[str, Any], syntax: str, run: Run, builds: list[Build]) -> bool:
    """Add reprokit's run label to docker commits of a JSON template (in the copy)."""
    change = f"LABEL {RUN_LABEL}={run.id}"
    labelled = False
    if syntax == "legacy-json":
        for b in data.get("builders") or []:
            if b.get("type") == "docker" and b.get("commit"):
                b["changes"] = [*b.get("changes", []), change]
                labelled = True
    elif syntax == "hcl2-json":
        for build in builds:
            if build.type == "docker" and build.config.get("commit"):
                build.config["changes"] = [*build.config.get("changes", []), change]
                labelled = True
    return labelled


@dataclass
class PackerBuild:
    """One ``packer build``: its directory, its artifacts, its log."""

    index: int
    workdir: Path
    artifacts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)


def packer_version() -> str:
    try:
        out = subprocess.run(["packer", "version"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise UsageError("packer is not installed (apt-get install packer)") from None
    return out.stdout.strip().splitlines()[0] if out.stdout else "packer"


def run_packer(
    build: PackerBuild, template: str, variables: dict[str, str], only: list[str]
) -> None:
    """``packer build -machine-readable`` in ``build.workdir``; artifacts by build name."""
    home = build.workdir.parent
    env = dict(os.environ)
    for name, sub in (
        ("PACKER_CACHE_DIR", "cache"),
        ("PACKER_CONFIG_DIR", "config"),
        ("PACKER_PLUGIN_PATH", "plugins"),
        ("TMPDIR", "tmp"),
    ):
        (home / sub).mkdir(exist_ok=True)
        env[name] = str(home / sub)
    env.update(CHECKPOINT_DISABLE="1", PACKER_NO_COLOR="1")
    env.pop("PACKER_LOG", None)
    cmd = ["packer", "build", "-machine-readable"]
    cmd += [f"-var={k}={v}" for k, v in variables.items()]
    cmd += [f"-only={o}" for o in only]
    cmd.append(template)
    build.started = time.time()
    proc = subprocess.Popen(
        cmd,
        cwd=build.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            _machine_line(build, line.rstrip("\n"))
        proc.wait()
    except BaseException:
        _interrupt(proc)
        raise
    finally:
        build.ended = time.time()
    if proc.returncode != 0:
        errors = [x for x in build.log if "error" in x.lower()][-3:] or build.log[-3:]
        raise BuildError(f"packer build {build.index} failed: " + " | ".join(errors))


def _interrupt(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C: let Packer clean up its own containers and instances, then stop it."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        with suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _machine_line(build: PackerBuild, line: str) -> None:
    parts = line.split(",")
    if len(parts) < 3:
        return
    target, kind = parts[1], parts[2]
    if kind == "ui" and len(parts) >= 5:
        text = ",".join(parts[4:]).replace("%!(PACKER_COMMA)", ",").replace("\\n", "\n")
        build.log.extend(x for x in text.splitlines() if x.strip())
        del build.log[:-2000]
    elif kind == "artifact" and len(parts) >= 6:
        key, value = parts[4], ",".join(parts[5:]).replace("%!(PACKER_COMMA)", ",")
        if key in ("id", "file"):
            value = value.split(",")[-1] if key == "file" else value
            build.artifacts.setdefault(target, []).append((key, value))


def _source_of(build: PackerBuild, b: Build, kind: str, base_url: str | None) -> Source:
    from ..sources.refs import parse_ref

    found = build.artifacts.get(b.name) or build.artifacts.get(b.name.split(".")[-1]) or []
    ids = [v for k, v in found if k == "id"]
    files = [v for k, v in found if k == "file"]
    if kind == "docker-daemon":
        if not ids:
            raise BuildError(f"packer build {build.index}: {b.name} reported no image id")
        return parse_ref(f"docker-daemon:{ids[0]}", base_url=base_url)
    if kind == "rootfs-archive":
        path = build.workdir / str(b.config["export_path"])
        return parse_ref(f"rootfs-archive:{path}")
    disks = [build.workdir / f for f in files if not f.endswith((".json", ".ovf", ".mf"))]
    if not disks:
        outdir = build.workdir / str(b.config.get("output_directory") or f"output-{b.name}")
        disks = sorted(p for p in outdir.glob("*") if p.is_file())
    if not disks:
        raise BuildError(f"packer build {build.index}: {b.name} left no disk image")
    return parse_ref(f"disk:{disks[0]}")


def _varying(text: str) -> list[str]:
    return sorted({m.group(1) or m.group(2) for m in VARYING.finditer(text)})


def check_template(
    template: str | Path,
    compare: Callable[[Source, Source], Any],
    *,
    variables: dict[str, str] | None = None,
    only: Iterable[str] = (),
    keep: bool = False,
    base_url: str | None = None,
) -> Any:
    """Build ``template`` twice, compare the artifacts with ``compare``, clean up; returns the
    comparison with the builds recorded."""
    path = Path(template).resolve()
    syntax = template_syntax(path)
    data = load_template(path)
    only = list(only)
    builds = _selected(builds_of(data, syntax), only)
    if not builds:
        raise UsageError(f"{template}: no builders or sources")
    if len(builds) > 1:
        names = ", ".join(b.name for b in builds)
        raise UsageError(f"{template}: several builds ({names}); choose one with --only")
    chosen = builds[0]
    kind = artifact_kind(chosen)
    version = packer_version()
    varying = _varying(path.read_text(encoding="utf-8"))
    started = time.monotonic()
    with ExitStack() as stack:
        client = open_client(base_url, "build") if kind == "docker-daemon" else None
        run = Run(client=client, keep=keep)
        if client is not None:
            stack.callback(run.cleanup)
        home = Path(tempfile.mkdtemp(prefix="reprokit-packer-"))
        stack.callback(shutil.rmtree, home, True)
        labelled = _label(data, syntax, run, builds)
        done: list[PackerBuild] = []
        sources: list[Source] = []
        try:
            for index in (1, 2):
                root = home / f"build{index}"
                root.mkdir()
                workdir = root / "src"
                shutil.copytree(path.parent, workdir, symlinks=True)
                if syntax != "hcl2":
                    (workdir / path.name).write_text(json.dumps(data))  # with the label
                build = PackerBuild(index, workdir)
                done.append(build)
                run_packer(build, path.name, dict(variables or {}), only)
                source = _source_of(build, chosen, kind, base_url)
                if kind == "docker-daemon":
                    run.track_image(source.ref, final=True)
                sources.append(source)
            result = compare(sources[0], sources[1])
        except KeyboardInterrupt:
            raise Cancelled("interrupted; what the Packer builds made was removed") from None
        infos = [_info(b, chosen, kind, version, varying, labelled, sources) for b in done]
        run_id = run.id
    result = explain_variables(result, done, varying)
    return replace(
        result,
        spec={
            "packer_template": str(template),
            "syntax": syntax,
            "build": chosen.name,
            "builder": chosen.type,
            "artifact": kind,
            "variables": dict(variables or {}),
            "only": only,
        },
        builds=infos,
        run_id=run_id,
        kept_images=list(run.kept),
        duration_s=time.monotonic() - started,
    )


def _info(
    build: PackerBuild,
    chosen: Build,
    kind: str,
    version: str,
    varying: list[str],
    labelled: bool,
    sources: list[Source],
) -> BuildInfo:
    notes = []
    if varying:
        notes.append(
            "template functions with a value per build: "
            + ", ".join(varying)
            + f" (build window {int(build.started)}–{int(build.ended)})"
        )
    if kind == "docker-daemon" and not labelled:
        notes.append("HCL template: the run label could not be added; the image is removed by id")
    source = sources[build.index - 1] if len(sources) >= build.index else None
    return BuildInfo(
        name=f"build{build.index}",
        builder="packer",
        tag=str(source) if source else "",
        image_id=source.ref if source else "",
        duration_s=max(build.ended - build.started, 0.0),
        log_tail=build.log[-20:],
        log=list(build.log),
        version=version,
        options={"build": chosen.name, "type": chosen.type, "artifact": kind},
        source=str(source) if source else None,
        notes=notes,
    )


def explain_variables(result: Any, builds: list[PackerBuild], varying: list[str]) -> Any:
    """Differences whose two values carry each build's ``{{timestamp}}`` (an epoch inside that
    build's window) or a ``{{uuid}}`` are explained as ``build-variable``."""
    if not varying or len(builds) < 2:
        return result
    windows = [(int(b.started) - 1, int(b.ended) + 1) for b in builds[:2]]

    def carries(value: Any, window: tuple[int, int]) -> str | None:
        text = str(value)
        for m in re.finditer(r"\b\d{10}\b", text):
            if window[0] <= int(m.group()) <= window[1]:
                return "timestamp"
        if re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text):
            return "uuid"
        return None

    changed = []
    for rec in result.config_records:
        if rec.cause in (None, "unexplained", "embedded-timestamp"):
            va, vb = carries(rec.a, windows[0]), carries(rec.b, windows[1])
            if va and va == vb:
                rec = replace(
                    rec,
                    cause="build-variable",
                    rule="packer-variable",
                    fix="pass the value as a --var fixed for both builds, or leave it out",
                    evidence=f"{{{{{va}}}}} of build 1 → build 2: {rec.a} → {rec.b}",
                )
        changed.append(rec)
    explained = None
    if result.explained is not None:
        records = [*changed, *result.file_records]
        explained = all(r.cause not in (None, "unexplained") or r.ignored for r in records)
    return replace(result, config_records=changed, explained=explained)
