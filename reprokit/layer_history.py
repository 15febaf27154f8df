"""Layer history, read once: each ``history`` entry of an image config as a :class:`Step`.

A config's ``history`` lists every Dockerfile step; those marked ``empty_layer`` (ENV, CMD,
LABEL…) made no layer, the others made one layer each, in order.

>>> config = {"history": [
...     {"created_by": "/bin/sh -c #(nop) ADD file:ab in / "},
...     {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
...     {"created_by": "|1 TOKEN=x /bin/sh -c make"},
... ]}
>>> [(s.index, s.layer, s.keyword, s.text) for s in steps(config)]  # doctest: +NORMALIZE_WHITESPACE
[(0, 0, 'ADD', 'ADD file:ab in /'), (1, None, 'CMD', 'CMD ["sh"]'),
 (2, 1, 'RUN', '|1 TOKEN=x /bin/sh -c make')]
>>> [s.args for s in layer_steps(config, 3) if s]
[{}, {'TOKEN': 'x'}]
>>> layer_steps(config, 3)[2] is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The Dockerfile instruction keywords.
KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})  # fmt: skip
_NOP = "/bin/sh -c #(nop) "
_SHELL = "/bin/sh -c "


@dataclass(frozen=True, slots=True)
class Step:
    """One history entry: where it is (``index`` in ``history``, ``layer`` it made or None),
    what made it (``created_by``), its Dockerfile ``keyword``, the build args its RUN line
    records and its Dockerfile-like ``text``.

    >>> of("/bin/sh -c apt-get update").text, of(None).text
    ('RUN apt-get update', '(no history)')
    """

    index: int
    layer: int | None
    created_by: str | None
    keyword: str
    build_args: tuple[tuple[str, str], ...]
    text: str

    @property
    def args(self) -> dict[str, str]:
        """The build args as a dict (``|2 A=1 B=2 …`` → ``{'A': '1', 'B': '2'}``)."""
        return dict(self.build_args)


def of(created_by: str | None, index: int = 0, layer: int | None = None) -> Step:
    """The :class:`Step` of one ``created_by``."""
    return Step(
        index,
        layer,
        created_by,
        keyword(created_by),
        tuple(build_args(created_by).items()),
        display(created_by),
    )


def steps(config: dict[str, Any]) -> list[Step]:
    """Every ``history`` entry of an image config, empty-layer ones with ``layer`` None."""
    out: list[Step] = []
    layer = 0
    for index, entry in enumerate(config.get("history") or []):
        empty = bool(entry.get("empty_layer"))
        out.append(of(entry.get("created_by"), index, None if empty else layer))
        layer += 0 if empty else 1
    return out


def layer_steps(config: dict[str, Any], layers: int) -> list[Step | None]:
    """The step of each of ``layers`` layers (None where the history says nothing)."""
    made: list[Step | None] = [s for s in steps(config) if s.layer is not None][:layers]
    return made + [None] * (layers - len(made))


def keyword(created_by: str | None) -> str:
    """The Dockerfile keyword a ``created_by`` comes from (RUN when it is a command).

    >>> keyword("/bin/sh -c #(nop) COPY file:ab in /app "), keyword("|1 A=b /bin/sh -c make")
    ('COPY', 'RUN')
    """
    text = (created_by or "").strip()
    if "#(nop)" in text:
        word = text.split("#(nop)", 1)[1].split(None, 1)
        return word[0].upper() if word else "RUN"
    first = text.split(None, 1)[0] if text else ""
    return first if first in KEYWORDS else "RUN"


def build_args(created_by: str | None) -> dict[str, str]:
    """The build args a classic builder's RUN line records (``|2 A=1 B=2 /bin/sh -c …``).

    >>> build_args("|2 TOKEN=abc V=1 /bin/sh -c make")
    {'TOKEN': 'abc', 'V': '1'}
    >>> build_args("RUN |1 X=y /bin/sh -c true"), build_args("/bin/sh -c true")
    ({'X': 'y'}, {})
    """
    text = (created_by or "").strip().removeprefix("RUN ").lstrip()
    if not text.startswith("|"):
        return {}
    count, _, rest = text[1:].partition(" ")
    if not count.isdigit() or len(count) > 6:
        return {}
    out = {}
    for word in rest.split(" ")[: int(count)]:
        name, _, value = word.partition("=")
        out[name] = value
    return out


def display(created_by: str | None) -> str:
    """A Dockerfile-like rendering of a ``created_by``.

    >>> display('/bin/sh -c #(nop)  CMD ["sh"]'), display("/bin/sh -c make")
    ('CMD ["sh"]', 'RUN make')
    """
    if not created_by:
        return "(no history)"
    text = created_by.strip()
    if text.startswith(_NOP):
        return text[len(_NOP) :].strip()
    if text.startswith(_SHELL):
        return "RUN " + text[len(_SHELL) :]
    return text
