"""Apply fix edits (:class:`reprokit.explain.fixes.Edit`) to a Dockerfile's text, and show the
change as a unified diff.

Edits are anchored at an instruction's first line in the text they were planned on; they are
applied bottom-up so earlier lines keep their numbers. An edit that is already there (the same
``ARG`` line, the same flag) is skipped; one that cannot be applied (an exec-form RUN, a
heredoc) is returned with the reason.

>>> from reprokit.explain.fixes import Edit
>>> text = "FROM b\\nRUN apt-get update \\\\\\n && apt-get install -y x\\nCMD [\\"x\\"]\\n"
>>> new, skipped = apply_edits(text, [Edit("append", 2, "rm -rf /var/log/dpkg.log", "log-file"),
...                                   Edit("stage-arg", 2, "ARG SOURCE_DATE_EPOCH=0", "x")])
>>> print(new, end="")
FROM b
ARG SOURCE_DATE_EPOCH=0
RUN apt-get update \\
 && apt-get install -y x && rm -rf /var/log/dpkg.log
CMD ["x"]
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .explain.fixes import Edit
from .explain.steps import parse_dockerfile

_PIP_INSTALL = re.compile(r"\b((?:pip3?(?:\.\d+)?|-m\s+pip)\s+install)\b(?!\s+--no-compile)")


def _escape(lines: list[str]) -> str:
    for line in lines:
        m = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", line)
        if m:
            return m.group(1)
        if line.strip() and not line.startswith("#"):
            break
    return "\\"


def _end(lines: list[str], start: int, escape: str) -> int:
    """The index of the last line of the instruction starting at index ``start``."""
    n = start
    while n < len(lines) - 1:
        if not lines[n].rstrip().endswith(escape):
            return n
        n += 1
        while n < len(lines) - 1 and lines[n].strip().startswith("#"):
            n += 1
    return n


def apply_edits(text: str, edits: Iterable[Edit]) -> tuple[str, list[tuple[Edit, str]]]:
    """The Dockerfile ``text`` with ``edits`` applied, and the edits skipped with why."""
    lines = text.splitlines()
    trailing = "\n" if text.endswith("\n") else ""
    escape = _escape(lines)
    instructions = parse_dockerfile(text)
    by_line = {i.line: i for i in instructions}
    froms = [i for i in instructions if i.keyword == "FROM"]
    skipped: list[tuple[Edit, str]] = []
    appends: dict[int, list[str]] = {}
    flags: dict[int, list[str]] = {}
    inserts: dict[int, list[str]] = {}  # index of the line to insert before → lines
    for edit in dict.fromkeys(edits):
        instruction = by_line.get(edit.line)
        if instruction is None:
            skipped.append((edit, f"no instruction starts on line {edit.line}"))
            continue
        if edit.kind in ("append", "flag") and instruction.keyword != "RUN":
            skipped.append((edit, f"line {edit.line} is not a RUN step"))
            continue
        if edit.kind in ("append", "flag") and instruction.text[3:].strip().startswith("["):
            skipped.append((edit, f"line {edit.line} is an exec-form RUN (no shell to chain to)"))
            continue
        if edit.kind in ("append", "flag") and "<<" in instruction.text:
            skipped.append((edit, f"line {edit.line} has a heredoc; edit it by hand"))
            continue
        if edit.kind == "append":
            appends.setdefault(edit.line, []).append(edit.text)
        elif edit.kind == "flag":
            flags.setdefault(edit.line, []).append(edit.text)
        elif edit.kind == "stage-arg":
            stage_from = [f for f in froms if f.line <= edit.line]
            if not stage_from:
                skipped.append((edit, "no FROM before it"))
                continue
            first = stage_from[-1]
            stage = [i for i in instructions if i.stage == first.stage]
            if any(i.text.split()[:2] == edit.text.split()[:2] for i in stage) or any(
                i.keyword == "ARG" and i.text.split("=")[0] == edit.text.split("=")[0]
                for i in stage
            ):
                continue
            at = _end(lines, first.line - 1, escape) + 1
            inserts.setdefault(at, []).append(edit.text)
        elif edit.kind == "before":
            inserts.setdefault(edit.line - 1, []).append(edit.text)
        else:
            skipped.append((edit, f"unknown edit kind {edit.kind!r}"))
    for line, words in flags.items():
        last = _end(lines, line - 1, escape)
        for n in range(line - 1, last + 1):
            for word in dict.fromkeys(words):
                if word == "--no-compile":
                    lines[n] = _PIP_INSTALL.sub(r"\1 --no-compile", lines[n])
    for line, texts in appends.items():
        last = _end(lines, line - 1, escape)
        lines[last] = lines[last].rstrip() + "".join(f" && {t}" for t in dict.fromkeys(texts))
    for at in sorted(inserts, reverse=True):
        lines[at:at] = list(dict.fromkeys(inserts[at]))
    return "\n".join(lines) + trailing, skipped


def unified(before: str, after: str, name: str = "Dockerfile") -> str:
    """A unified diff of two Dockerfile texts (empty when they are the same).

    >>> print(unified("FROM a\\n", "FROM b\\n"), end="")
    --- a/Dockerfile
    +++ b/Dockerfile
    @@ -1 +1 @@
    -FROM a
    +FROM b
    """
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{name}",
            f"b/{name}",
        )
    )
