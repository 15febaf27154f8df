"""The base image of every FROM of a Dockerfile (stages named earlier and ``scratch`` are not
bases), and how it is pinned; parsing is :func:`reprokit.explain.steps.parse_dockerfile`'s.

>>> text = "ARG V=1\\nFROM --platform=$P busybox:1.36 AS build\\nFROM build\\nFROM alpine\\n"
>>> [(b.line, b.image, b.stage) for b in bases(text)]
[(2, 'busybox:1.36', 'build'), (4, 'alpine', None)]
>>> pinning("alpine"), pinning("a/b:1"), pinning("a@sha256:" + "0" * 64), pinning("$BASE")
('latest', 'tag', 'digest', 'arg')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..explain.steps import parse_dockerfile

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Base:
    """A FROM's base image as written (``image``), its line and the stage name it defines."""

    line: int
    image: str
    stage: str | None


def bases(text: str) -> list[Base]:
    """The base image of each FROM, skipping ``scratch`` and earlier stages."""
    stages: set[str] = set()
    out = []
    for ins in parse_dockerfile(text):
        if ins.keyword != "FROM":
            continue
        words = [w for w in ins.text.split()[1:] if not w.startswith("--")]
        if not words:
            continue
        image = words[0]
        stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
        if image.lower() != "scratch" and image.lower() not in stages:
            out.append(Base(ins.line, image, stage))
        if stage:
            stages.add(stage.lower())
    return out


def pinning(image: str) -> str:
    """How a base is pinned: ``digest``, ``tag``, ``latest`` (no tag or :latest) or ``arg``."""
    if "$" in image:
        return "arg"
    if _DIGEST.search(image):
        return "digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "latest"
    return "tag"


def read(path: str | Path) -> str:
    """The Dockerfile's text (:class:`UsageError` when it cannot be read)."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise UsageError(f"--dockerfile {path}: cannot read ({err.strerror})") from None
