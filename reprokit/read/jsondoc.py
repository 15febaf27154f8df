"""Metadata JSON from an image, parsed within bounds, and its fields read with their types checked.

The size and nesting depth of a document are checked before :func:`json.loads` runs (its
recursion would otherwise fail on a deep document); numbers that are not finite are refused.
Every error names the document and, for a field, its path.

>>> load_json(b'{"a": [1, {"b": 2}]}', "oci:x", "index.json")
{'a': [1, {'b': 2}]}
>>> load_json(b"[" * 100 + b"]" * 100, "oci:x", "index.json")
Traceback (most recent call last):
reprokit.errors.ArchiveError: oci:x: index.json is nested deeper than 64 levels (limit json_depth)
>>> load_json(b'{"a": 1e400}', "oci:x", "config")
Traceback (most recent call last):
reprokit.errors.ArchiveError: oci:x: config is not valid JSON (number 1e400 is out of range)
>>> field({"config": {"Env": [1]}}, "config.Env", list, "oci:x", "config")
[1]
>>> field({"config": {"Env": "x"}}, "config.Env", list, "oci:x", "config")
Traceback (most recent call last):
reprokit.errors.ArchiveError: oci:x: config: field config.Env is a string, not an array
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ArchiveError
from .limits import current

_SPECIAL = re.compile(rb'["\\\[\]{}]')
_OPEN = frozenset(b"[{")
_TYPE_NAMES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def _too_deep(data: bytes, depth: int) -> bool:
    """Whether brackets outside strings nest deeper than ``depth`` (a linear scan)."""
    if data.count(b"[") + data.count(b"{") <= depth:
        return False
    level, in_string, escaped_at = 0, False, -1
    for m in _SPECIAL.finditer(data):
        ch, pos = m.group(), m.start()
        if in_string:
            if ch == b"\\":
                if escaped_at != pos:
                    escaped_at = pos + 1
            elif ch == b'"' and escaped_at != pos:
                in_string = False
        elif ch == b'"':
            in_string = True
        elif ch in (b"[", b"{"):
            level += 1
            if level > depth:
                return True
        elif ch in (b"]", b"}"):
            level -= 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def load_json(data: bytes, where: str, name: str) -> Any:
    """Parse one metadata document of an image, within :class:`~reprokit.read.limits.Limits`."""
    limits = current()
    if len(data) > limits.metadata_bytes:
        raise ArchiveError(
            where,
            f"{name} is {len(data)} bytes, more than {limits.metadata_bytes} "
            "(limit metadata_bytes)",
        )
    if _too_deep(data, limits.json_depth):
        raise ArchiveError(
            where, f"{name} is nested deeper than {limits.json_depth} levels (limit json_depth)"
        )
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ArchiveError(where, f"{name} is not valid JSON ({err})") from None


def type_name(value: Any) -> str:
    """How a JSON value's type is called in messages."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def field(doc: Any, dotted: str, kind: type | tuple[type, ...], where: str, name: str) -> Any:
    """The value at ``dotted`` (``a.b.c``) in ``doc``, None when absent or null, else checked to
    be of ``kind``."""
    value = doc
    for part in dotted.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ArchiveError(where, f"{name}: field {dotted} is inside {type_name(value)}")
        value = value.get(part)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ArchiveError(
            where,
            f"{name}: field {dotted} is {type_name(value)}, not {type_name(kinds[0]())}",
        )
    return value


def string_list(doc: Any, dotted: str, where: str, name: str) -> list[str]:
    """A field that must be an array of strings (absent or null: empty)."""
    items = field(doc, dotted, list, where, name) or []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ArchiveError(
                where, f"{name}: field {dotted}[{i}] is {type_name(item)}, not a string"
            )
    return items
