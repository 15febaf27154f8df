"""Fixing suggestions tied to the builder: would another builder's reproducible setup do better?

When a check without a ``SOURCE_DATE_EPOCH`` (typically with the classic ``docker`` builder)
is only ``equivalent`` (timestamps), the same spec is checked again with
``buildx --source-date-epoch 0`` and ``buildah --timestamp 0`` (those installed); each that
comes out ``identical`` becomes a suggestion with the exact command to use, and with what that
builder noted (e.g. that rewrite-timestamp has no effect on the classic image store).

>>> user_command(["docker", "buildx", "build", "--progress", "plain", "--label",
...     "io.reprokit.run=abc", "--iidfile", "/tmp/x.iid", "--output",
...     "type=docker,name=reprokit-build:abc-a,rewrite-timestamp=true", "CONTEXT"], "ctx")
'docker buildx build --output type=docker,name=IMAGE,rewrite-timestamp=true ctx'
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from .builders.buildah import buildah_version
from .builders.buildx import buildx_version
from .engine import RUN_LABEL
from .model import BuildInfo
from .result import Result

#: what each alternative builder is given for a reproducible setup
ALTERNATIVES = (("buildx", "--source-date-epoch 0"), ("buildah", "--source-date-epoch 0"))


def user_command(command: list[str], context: str) -> str:
    """A builder command line as a user would type it: reprokit's own bookkeeping removed."""
    out: list[str] = []
    skip = False
    for n, arg in enumerate(command):
        if skip:
            skip = False
            continue
        nxt = command[n + 1] if n + 1 < len(command) else ""
        if arg in ("--iidfile", "--progress") or (arg == "--label" and nxt.startswith(RUN_LABEL)):
            skip = True
            continue
        if arg == "CONTEXT":
            arg = context
        arg = re.sub(r"name=reprokit-build:[\w.-]+", "name=IMAGE", arg)
        arg = re.sub(r"dest=[^,]+", "dest=image.tar", arg)
        arg = re.sub(r"^localhost/reprokit-build:[\w.-]+$", "IMAGE", arg)
        out.append(arg)
    return shlex.join(out)


def suggest(
    result: Result, context: str, recheck: Callable[[str], Result], base_url: str | None = None
) -> list[str]:
    """Suggestions for an ``equivalent`` result of a check without a SOURCE_DATE_EPOCH;
    ``recheck(builder)`` checks the same spec with that builder and ``source_date_epoch=0``."""
    if result.verdict != "equivalent" or not result.builds:
        return []
    found = []
    available = {"buildx": bool(buildx_version(base_url)), "buildah": bool(buildah_version())}
    for builder, flags in ALTERNATIVES:
        if not available[builder]:
            continue
        other = recheck(builder)
        if other.verdict != "identical":
            continue
        command = _command(other.builds[0], context)
        caveats = "".join(f"; but note: {note}" for note in other.builds[0].notes)
        found.append(
            f"with {builder} and a fixed SOURCE_DATE_EPOCH the images are identical: "
            f"reprokit check {shlex.quote(context)} --builder {builder} {flags}"
            + (f"  (builds with: {command})" if command else "")
            + caveats
        )
    return found


def _command(info: BuildInfo, context: str) -> str:
    command = info.options.get("command")
    if not isinstance(command, list):
        return ""
    env = "".join(f"{k}={shlex.quote(str(v))} " for k, v in (info.options.get("env") or {}).items())
    return env + user_command(list(command), context)


#: what every timestamp suggestion starts with (the reports' headline looks for it)
TIMESTAMP_PREFIX = "file times: "


def timestamp_advice(build: BuildInfo | None, context: str = "CONTEXT") -> str:
    """The command that clamps file times with the builder, image store and buildx driver of
    ``build`` (a check's first build), or what to use instead where they cannot; ``context``
    is the check's context as typed (quoted already).

    >>> b = BuildInfo("a", "buildx", "t", "sha256:1", 1.0, options={"image_store": "containerd"})
    >>> timestamp_advice(b, "app")  # doctest: +ELLIPSIS
    'file times: ...`reprokit check app --builder buildx --source-date-epoch 0`...'
    >>> print(timestamp_advice(None, "app"))  # doctest: +ELLIPSIS
    file times: the classic docker builder cannot clamp them (it ignores SOURCE_DATE_EPOCH)...
    """
    ctx = context
    builder = build.builder if build else "docker"
    store = (build.options.get("image_store") if build else None) or "classic"
    clamped = bool(build and (build.options.get("env") or {}).get("SOURCE_DATE_EPOCH"))
    buildah = (
        f"`reprokit check {ctx} --builder buildah --source-date-epoch 0` (it runs `buildah bud "
        "--timestamp 0 --build-arg SOURCE_DATE_EPOCH=0`)"
    )
    if builder == "buildah":
        command = " ".join(map(str, build.options.get("command") or [])) if build else ""
        if "--timestamp" in command:
            return TIMESTAMP_PREFIX + "buildah already clamps them with --timestamp"
        return TIMESTAMP_PREFIX + f"clamp them with {buildah}"
    if builder == "buildx" and store == "containerd":
        return TIMESTAMP_PREFIX + (
            f"clamp them with `reprokit check {ctx} --builder buildx --source-date-epoch 0` "
            "(it runs `docker buildx build --build-arg SOURCE_DATE_EPOCH=0 --output "
            "type=oci,dest=image.tar,rewrite-timestamp=true`; on this containerd image store "
            "`--output type=docker,rewrite-timestamp=true` works too)"
        )
    container = (
        "a buildx instance with the docker-container driver (`docker buildx create --name "
        "reproducible --driver docker-container`, then `docker buildx build --builder "
        "reproducible --build-arg SOURCE_DATE_EPOCH=0 --output type=oci,dest=image.tar,"
        "rewrite-timestamp=true`; it runs the moby/buildkit image, pulled from a registry)"
    )
    if builder == "buildx":
        done = "; SOURCE_DATE_EPOCH was set and still" if clamped else ","
        return TIMESTAMP_PREFIX + (
            f"buildx's docker driver on the classic image store ignores rewrite-timestamp{done} "
            'it cannot export OCI (`--output type=oci` fails: "OCI exporter is not supported '
            f'for the docker driver"); clamp them with {buildah}, or with {container}, or '
            "turn on the containerd image store and use `--builder buildx --source-date-epoch 0`"
        )
    return TIMESTAMP_PREFIX + (
        "the classic docker builder cannot clamp them (it ignores SOURCE_DATE_EPOCH); use "
        f"{buildah}, or turn on the containerd image store and use `reprokit check {ctx} "
        f"--builder buildx --source-date-epoch 0`, or {container}"
    )


def with_timestamp_advice(result: Result, context: str) -> Result:
    """``result`` with the builder-specific timestamp advice in its steps' fixes and in its
    suggestions, when times (file mtimes, the config's creation times) are among the
    differences that keep it from ``identical``."""
    from dataclasses import replace

    from .explain.causes import TIMESTAMP_FIX

    diffs = [*result.file_records, *result.merged_records, *result.config_records]
    times = {"timestamp", "image-metadata"}
    if result.verdict == "identical" or not any(d.cause in times for d in diffs):
        return result
    advice = timestamp_advice(result.builds[0] if result.builds else None, context)
    text = advice.removeprefix(TIMESTAMP_PREFIX)
    steps = [
        replace(s, fix=s.fix.replace(TIMESTAMP_FIX, text)) if TIMESTAMP_FIX in s.fix else s
        for s in result.step_records
    ]
    return replace(result, step_records=steps, suggestions=[advice, *result.suggestions])
