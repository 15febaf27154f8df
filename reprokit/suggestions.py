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
