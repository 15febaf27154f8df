"""Layers → Dockerfile steps: which instruction made each layer, on which line, and one
grouped fix per step covering all of its causes.

>>> [(i.line, i.keyword) for i in parse_dockerfile("FROM x\\nRUN a \\\\\\n  && b\\nCOPY . /\\n")]
[(1, 'FROM'), (2, 'RUN'), (4, 'COPY')]
>>> keyword_of("/bin/sh -c #(nop) COPY file:ab in /app "), keyword_of("|1 A=b /bin/sh -c make")
('COPY', 'RUN')
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..layer_history import KEYWORDS, display
from ..layer_history import keyword as keyword_of
from .causes import CAUSES, TIME_ONLY

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its first line number, keyword, text and stage."""

    line: int
    keyword: str
    text: str
    stage: int
    stage_name: str | None = None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with their line numbers (continuations, comments, heredocs handled)."""
    lines = text.splitlines()
    escape = "\\"
    n = 0
    while n < len(lines) and (m := _DIRECTIVE.match(lines[n])):  # parser directives
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
        n += 1
    out: list[Instruction] = []
    stage, stage_name = -1, None
    while n < len(lines):
        line = lines[n].strip()
        if not line or line.startswith("#"):
            n += 1
            continue
        start, parts = n + 1, []
        while True:
            current = lines[n].rstrip()
            n += 1
            if current.endswith(escape):
                parts.append(current[:-1].strip())
                while n < len(lines) and lines[n].strip().startswith("#"):
                    n += 1  # comment lines inside a continuation are dropped
                if n < len(lines):
                    continue
            else:
                parts.append(current.strip())
            break
        joined = " ".join(p for p in parts if p)
        for tag in _HEREDOC.findall(joined):  # skip heredoc bodies
            while n < len(lines) and lines[n].strip() != tag:
                n += 1
            n += 1
        keyword, _, rest = joined.partition(" ")
        keyword = keyword.upper()
        if keyword not in KEYWORDS:
            continue
        if keyword == "FROM":
            stage += 1
            m = re.search(r"\s+as\s+(\S+)\s*$", rest, re.IGNORECASE)
            stage_name = m.group(1) if m else None
        out.append(Instruction(start, keyword, f"{keyword} {rest.strip()}", stage, stage_name))
    return out


def final_stage(instructions: list[Instruction], target: str | None = None) -> list[Instruction]:
    """The instructions of the stage that was built (``target`` or the last one)."""
    stages = {i.stage for i in instructions}
    chosen = max(stages) if stages else -1
    if target:
        named = [i.stage for i in instructions if i.keyword == "FROM" and i.stage_name == target]
        chosen = named[0] if named else chosen
    return [i for i in instructions if i.stage == chosen]


def map_layers(
    created_by: list[str | None], instructions: list[Instruction]
) -> list[Instruction | None]:
    """For each layer (by its history ``created_by``), the instruction that made it.

    Layers are matched from the top down to the stage's instructions of the same keyword, in
    order; layers below the first matched one come from the base image (its FROM line).

    >>> steps = parse_dockerfile("FROM b\\nCOPY x /x\\nRUN make\\n")
    >>> [i.line if i else None for i in map_layers(["base", "COPY x /x", "/bin/sh -c make"], steps)]
    [1, 2, 3]
    """
    out: list[Instruction | None] = [None] * len(created_by)
    candidates = [i for i in instructions if i.keyword != "FROM"]
    pointer = len(candidates) - 1
    lowest_matched = len(created_by)
    for layer in range(len(created_by) - 1, -1, -1):
        keyword = keyword_of(created_by[layer])
        k = pointer
        while k >= 0 and candidates[k].keyword != keyword:
            k -= 1
        if k < 0:
            break
        out[layer] = candidates[k]
        pointer = k - 1
        lowest_matched = layer
    base = next((i for i in instructions if i.keyword == "FROM"), None)
    for layer in range(lowest_matched):
        out[layer] = base
    return out


#: Instructions that write files into a layer.
FILESYSTEM = frozenset({"RUN", "COPY", "ADD"})

_WRITERS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # (paths, what a RUN command says when it writes them)
    (
        re.compile(r"/(site|dist)-packages/|\.pyc$|/\.cache/pip|/tmp/pip-|/bin/pip|\.dist-info"),
        re.compile(r"\bpip3?\b|-m pip\b|\bsetup\.py\b|\bpoetry\b|\buv\b|ensurepip|venv"),
    ),
    (
        re.compile(r"/node_modules/|/\.npm/|/\.yarn|/\.cache/yarn|node-compile-cache"),
        re.compile(r"\b(npm|yarn|pnpm|npx|corepack)\b"),
    ),
    (
        re.compile(
            r"^/var/(lib|cache|log)/(dpkg|apt|debconf)|^/var/log/(dpkg|alternatives)\.log"
            r"|^/etc/ld\.so\.cache|^/var/cache/(ldconfig|man)/|^/usr/share/doc/"
        ),
        re.compile(r"\b(apt-get|apt|dpkg|aptitude)\b"),
    ),
    (re.compile(r"^/(var/cache/apk|lib/apk|etc/apk)/"), re.compile(r"\bapk\b")),
)


def writes(instruction: Instruction, path: str) -> int:
    """How strongly ``instruction`` looks like the step that wrote ``path`` (0: no sign)."""
    text = instruction.text
    if instruction.keyword in ("COPY", "ADD"):
        words = [w for w in text.split()[1:] if not w.startswith("--")]
        dest = words[-1] if len(words) >= 2 else ""
        return 2 if dest.startswith("/") and path.startswith(dest.rstrip("/") + "/") else 0
    score = 0
    for paths, command in _WRITERS:
        if paths.search(path) and command.search(text):
            score += 3
    for word in re.findall(r"(?<![\w$])/[\w./-]+", text):
        word = word.rstrip("/.")
        if len(word) > 1 and (path == word or path.startswith(word + "/")):
            score += 1
    return score


def split_by_step(
    instruction: Instruction | None,
    stage: list[Instruction],
    matched: list[Instruction | None],
    diffs: list[Any],
) -> list[tuple[Instruction | None, list[Any]]]:
    """The differences of one layer grouped by the Dockerfile step that wrote them.

    A layer is one step, except when a builder squashed several into one (``buildah bud
    --layers=false`` commits the stage once, and its history names the last instruction, often
    a CMD): then each difference goes to the RUN/COPY/ADD step that most likely wrote it (a pip
    command for site-packages and pycs, npm for node_modules, apt for dpkg and apt files, a
    COPY for its destination, a RUN naming the path), else the last of them.

    >>> steps = parse_dockerfile("FROM b\\nRUN pip install x\\nRUN mkdir /data\\nCMD x\\n")
    >>> class D: path = "/usr/lib/python3/site-packages/x.pyc"
    >>> [(i.line, len(ds)) for i, ds in split_by_step(steps[3], steps, [steps[0], steps[3]], [D])]
    [(2, 1)]
    """
    if instruction is None or instruction.keyword == "FROM":
        return [(instruction, diffs)]
    used = {i.line for i in matched if i is not None}
    below = [
        i
        for i in stage
        if i.keyword in FILESYSTEM and i.line <= instruction.line and i.line not in used
    ]
    candidates = below + ([instruction] if instruction.keyword in FILESYSTEM else [])
    if not candidates or (len(candidates) == 1 and candidates[0] is instruction):
        return [(instruction, diffs)]
    groups: dict[int, list[Any]] = {}
    by_line = {i.line: i for i in candidates}
    for d in diffs:
        scores = [(writes(i, d.path), i.line) for i in candidates]
        best = max(scores)
        line = best[1] if best[0] > 0 else candidates[-1].line
        groups.setdefault(line, []).append(d)
    return [(by_line[line], groups[line]) for line in sorted(groups)]


def instruction_text(created_by: str | None, matched: Instruction | None) -> str:
    """What to call a step: the Dockerfile instruction when known, else the history entry."""
    if matched is None:
        return display(created_by)
    if matched.keyword == "FROM":
        return f"{matched.text} (base image layer: {display(created_by)})"
    return matched.text


#: Order in which causes are addressed in a grouped fix.
_ORDER = [
    "log-file", "package-manager-cache", "ldconfig-cache", "identity", "dependency-drift",
    "python-bytecode", "embedded-timestamp", "ownership", "permissions", "timestamp",
    "unexplained",
]  # fmt: skip


def grouped_fix(
    keyword: str,
    causes: Counter[str],
    cleanup: list[str],
    other_fixes: dict[str, str],
) -> str:
    """One recommendation for a step covering all its causes.

    >>> print(grouped_fix("RUN", Counter({"log-file": 2, "timestamp": 5}), ["/var/log/*"], {}))
    ... # doctest: +ELLIPSIS
    At the end of this RUN step, delete ...: `rm -rf /var/log/*`. Timestamps (5): clamp ...
    """
    parts: list[str] = []
    if cleanup:
        where = "this RUN step" if keyword == "RUN" else "the RUN step that writes them"
        parts.append(
            f"At the end of {where}, delete what differs between builds: "
            f"`rm -rf {' '.join(dict.fromkeys(cleanup))}`."
        )
    cleaned = (
        {"log-file", "package-manager-cache", "ldconfig-cache", "identity"} if cleanup else set()
    )
    for cause in sorted(causes, key=lambda c: _ORDER.index(c) if c in _ORDER else len(_ORDER)):
        if cause in cleaned or cause in TIME_ONLY - {"timestamp"}:
            continue
        fix = other_fixes.get(cause) or (CAUSES[cause].detail if cause in CAUSES else "")
        if not fix:
            continue
        label = cause.replace("-", " ").capitalize() if cause != "timestamp" else "Timestamps"
        parts.append(f"{label} ({causes[cause]}): {fix.rstrip('.')}.")
    return " ".join(parts)
