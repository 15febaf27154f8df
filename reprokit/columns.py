"""Columns of a table as compact JSON, and back, strictly.

A column is the list of one field's values over a table's rows. :func:`encode` writes it in
whichever of these JSON forms is shortest; :func:`decode` reads any of them back, checking
every value and every count (a :class:`ColumnError` names the column and the row):

``[v0, v1, …]``
    the values, one per row
``{"all": v}``
    the same value on every row
``{"runs": [v0, n0, v1, n1, …]}``
    run-length: ``v0`` on ``n0`` rows, then ``v1`` on ``n1`` rows, …
``{"dict": [d0, d1, …], "index": COLUMN}``
    each row is ``dict[i]`` for its ``i`` in the (integer) index column
``{"steps": COLUMN}``
    integers as their running sum: row ``i`` is ``steps[0] + … + steps[i]``
``{"prefix": COLUMN, "suffix": [s0, s1, …]}``
    front-coded text: row ``i`` is the first ``prefix[i]`` characters of row ``i-1``
    followed by ``suffix[i]``
``{"sha256": BASE64, "present": COLUMN}``
    SHA-256 digests (64 hex digits) as the base64 of their 32 bytes one after the other;
    ``present`` (booleans, default all true) says which rows have one (the others are null)

Nested columns (an index, steps, prefixes, presence) take only the first three forms or
``steps``, so decoding never recurses deeper than two levels, and every form is expanded to
exactly the row count the caller gives, never more: a document cannot make a small file
expand into a huge table.

>>> encode([7, 7, 7, 7])
{'all': 7}
>>> encode_texts(["/usr/lib/python3/a.py", "/usr/lib/python3/b.py", "/usr/lib/python3/c.py"])
{'prefix': [0, 17, 17], 'suffix': ['/usr/lib/python3/a.py', 'b.py', 'c.py']}
>>> decode({"runs": ["a", 2, "b", 1]}, 3, "files.cause", str)
['a', 'a', 'b']
>>> decode({"runs": ["a", 2]}, 3, "files.cause", str)
Traceback (most recent call last):
...
reprokit.columns.ColumnError: field files.cause: the runs cover 2 rows, not 3
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import operator
import re
from collections.abc import Callable
from typing import Any

from .errors import ReportError

#: A check of one value: returns it (possibly converted) or raises ValueError/TypeError.
Check = Callable[[Any], Any]

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


class ColumnError(ReportError):
    """A column that is not one of the forms above, or whose values fail their check."""


# --- encoding -------------------------------------------------------------------------------


def _key(value: Any) -> Any:
    """A hashable stand-in for a JSON value (lists and dicts by their JSON text)."""
    if type(value) is list and all(type(v) is str for v in value):
        return ("l", *value)
    if isinstance(value, (list, dict)):
        return "\0" + json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return ("f", value)  # 1.0 and 1 are equal but not the same JSON
    if isinstance(value, bool):
        return ("b", value)
    return value


#: value types that are their own key (no two of them are equal across these types)
_PLAIN = frozenset({str, type(None)})


def _keys(values: list[Any]) -> list[Any]:
    """The keys of a column's values: the values themselves when they are all text (or
    null), or all integers (the common cases), else :func:`_key` of each."""
    types = set(map(type, values))
    if types <= _PLAIN or types == {int}:
        return values
    return [_key(v) for v in values]


def _size(data: Any) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False))


def _starts(keys: list[Any]) -> list[int]:
    """Where each run of equal keys starts (comparisons made in C, not a Python loop).

    >>> _starts(["a", "a", "b", "a"])
    [0, 2, 3]
    """
    if not keys:
        return []
    changed = map(operator.ne, itertools.islice(keys, 1, None), keys)
    return [0, *itertools.compress(range(1, len(keys)), changed)]


def _runs(values: list[Any], starts: list[int]) -> list[Any]:
    """``[value, count, value, count, …]`` of the runs of ``values`` starting at ``starts``.

    >>> _runs([1, 1, 2, 1], _starts([1, 1, 2, 1]))
    [1, 2, 2, 1, 1, 1]
    """
    out: list[Any] = []
    for i, end in zip(starts, [*starts[1:], len(values)], strict=True):
        out += [values[i], end - i]
    return out


def _is_int(v: Any) -> bool:
    return type(v) is int


def _simple(values: list[Any], keys: list[Any] | None = None) -> Any:
    """The shortest of the plain list, ``all`` and ``runs``."""
    keys = _keys(values) if keys is None else keys
    starts = _starts(keys)
    if len(starts) == 1:
        return {"all": values[0]}
    if 2 * len(starts) < len(values):  # (runs are two items each: shorter as a list)
        candidate = {"runs": _runs(values, starts)}
        if _size(candidate) < _size(values):
            return candidate
    return list(values)


def _ints(values: list[int]) -> Any:
    """Integers: the simple forms, or their steps in a simple form."""
    best = _simple(values)
    if len(values) > 2:
        steps = [values[0]] + [b - a for a, b in itertools.pairwise(values)]
        candidate = {"steps": _simple(steps)}
        if _size(candidate) < _size(best):
            best = candidate
    return best


def encode(values: list[Any]) -> Any:
    """The shortest JSON form of a column (see the module's documentation)."""
    keys = _keys(values)
    best = _simple(values, keys)
    if len(values) < 2 or (isinstance(best, dict) and "all" in best):
        return best
    candidates = []
    if keys is values and type(values[0]) is int:
        candidates.append(_ints(values))
    else:
        distinct: dict[Any, int] = {}
        firsts: list[Any] = []
        index = []
        for v, k in zip(values, keys, strict=True):
            i = distinct.setdefault(k, len(distinct))
            if i == len(firsts):
                firsts.append(v)
            index.append(i)
        if len(distinct) * 2 <= len(values):
            candidates.append({"dict": firsts, "index": _ints(index)})
        if all(type(v) is str for v in values):
            candidates.append(_front_coded(values))
        present = [v is not None for v in values]
        digests = [v for v in values if v is not None]
        if digests and all(type(v) is str and _HEX64.match(v) for v in digests):
            raw = b"".join(bytes.fromhex(v) for v in digests)
            candidate: dict[str, Any] = {"sha256": base64.b64encode(raw).decode("ascii")}
            if not all(present):
                candidate["present"] = _simple(present)
            candidates.append(candidate)
    for candidate in candidates:
        if _size(candidate) < _size(best):
            best = candidate
    return best


def encode_texts(values: list[str]) -> Any:
    """Texts written one per row, as a list or front-coded (whichever is shorter): the forms
    whose length is the row count (a table's paths, which anchor its row count)."""
    coded = _front_coded(values)
    return coded if _size(coded) < _size(values) else list(values)


def _front_coded(values: list[str]) -> dict[str, Any]:
    """Each text as the length it shares with the one before and the rest.

    >>> _front_coded(["/usr/lib/a", "/usr/lib/b", "/usr/bin"])
    {'prefix': [0, 9, 5], 'suffix': ['/usr/lib/a', 'b', 'bin']}
    """
    prefix, suffix, last, n = [], [], "", 0
    for v in values:
        limit = min(len(v), len(last))
        n = min(n, limit)  # the last prefix's length is the best first guess
        while n and v[:n] != last[:n]:
            n -= 1
        while n < limit and v[n] == last[n]:
            n += 1
        prefix.append(n)
        suffix.append(v[n:])
        last = v
    return {"prefix": _ints(prefix), "suffix": suffix}


# --- decoding -------------------------------------------------------------------------------


def _fail(where: str, message: str) -> ColumnError:
    return ColumnError(f"field {where}: {message}")


def _check_all(values: list[Any], where: str, check: Check) -> list[Any]:
    out = []
    for n, v in enumerate(values):
        try:
            out.append(check(v))
        except (TypeError, ValueError) as err:
            raise _fail(f"{where}[{n}]", str(err) or type(err).__name__) from None
    return out


def _count(v: Any) -> int:
    if type(v) is not int or v < 0:
        raise ValueError(f"{_shown(v)} is not a count")
    return v


def _any_int(v: Any) -> int:
    if type(v) is not int:
        raise ValueError(f"{_shown(v)} is not an integer")
    return v


def _boolean(v: Any) -> bool:
    if type(v) is not bool:
        raise ValueError(f"{_shown(v)} is not a boolean")
    return v


def _shown(v: Any) -> str:
    from .text import clean

    return clean(repr(v) if not isinstance(v, (dict, list)) else type(v).__name__, 60)


def _simple_decode(column: Any, rows: int, where: str, check: Check) -> list[Any]:
    """The plain, ``all`` and ``runs`` forms (the ones nested columns may take)."""
    if isinstance(column, list):
        if len(column) != rows:
            raise _fail(where, f"{len(column)} values for {rows} rows")
        return _check_all(column, where, check)
    if not isinstance(column, dict) or len(column) != 1:
        raise _fail(where, "not a column (a list, or an object of one form)")
    if "all" in column:
        (value,) = _check_all([column["all"]], where, check)
        return [value] * rows
    if "runs" in column:
        runs = column["runs"]
        if not isinstance(runs, list) or len(runs) % 2:
            raise _fail(where, "runs must be a list of value, count pairs")
        out: list[Any] = []
        for i in range(0, len(runs), 2):
            count = runs[i + 1]
            if type(count) is not int or count < 1 or len(out) + count > rows:
                raise _fail(where, f"the runs cover more than {rows} rows or a count is bad")
            (value,) = _check_all([runs[i]], f"{where}.runs[{i}]", check)
            out.extend([value] * count)
        if len(out) != rows:
            raise _fail(where, f"the runs cover {len(out)} rows, not {rows}")
        return out
    raise _fail(where, f"unknown column form {_shown(next(iter(column)))}")


def decode_ints(column: Any, rows: int, where: str, check: Check = _any_int) -> list[int]:
    """An integer column (simple forms or ``steps``), each value then checked by ``check``."""
    if isinstance(column, dict) and set(column) == {"steps"}:
        steps = _simple_decode(column["steps"], rows, f"{where}.steps", _any_int)
        out, total = [], 0
        for s in steps:
            total += s
            out.append(total)
        return _check_all(out, where, check)
    return _simple_decode(column, rows, where, lambda v: check(_any_int(v)))


def decode(column: Any, rows: int, where: str, check: Check) -> list[Any]:
    """The ``rows`` values of ``column`` (any form), each checked by ``check`` (which raises
    ValueError or TypeError on a bad value); :class:`ColumnError` on anything wrong."""
    if type(rows) is not int or rows < 0:
        raise _fail(where, "bad row count")
    if not isinstance(column, dict) or (len(column) == 1 and ("all" in column or "runs" in column)):
        return _simple_decode(column, rows, where, check)
    if set(column) == {"steps"}:
        return decode_ints(column, rows, where, lambda v: check(v))
    if set(column) == {"dict", "index"}:
        values = column["dict"]
        if not isinstance(values, list):
            raise _fail(f"{where}.dict", "not a list")
        values = _check_all(values, f"{where}.dict", check)
        bound = len(values)

        def in_dict(i: int) -> int:
            if not 0 <= i < bound:
                raise ValueError(f"index {i} is outside the {bound} values")
            return i

        return [values[i] for i in decode_ints(column["index"], rows, f"{where}.index", in_dict)]
    if set(column) == {"prefix", "suffix"}:
        suffix = column["suffix"]
        if not isinstance(suffix, list) or len(suffix) != rows:
            raise _fail(f"{where}.suffix", f"must be a list of {rows} texts")
        prefix = decode_ints(column["prefix"], rows, f"{where}.prefix", _count)
        out, last = [], ""
        for n, (p, s) in enumerate(zip(prefix, suffix, strict=True)):
            if type(s) is not str or p > len(last):
                raise _fail(f"{where}[{n}]", "bad prefix or suffix")
            last = last[:p] + s
            out.append(last)
        return _check_all(out, where, check)
    if set(column) <= {"sha256", "present"} and "sha256" in column:
        present = (
            _simple_decode(column["present"], rows, f"{where}.present", _boolean)
            if "present" in column
            else [True] * rows
        )
        text = column["sha256"]
        if type(text) is not str or len(text) > 44 * rows + 4:
            raise _fail(f"{where}.sha256", "not base64 text of the digests")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(f"{where}.sha256", "not base64") from None
        if len(raw) != 32 * sum(present):
            raise _fail(f"{where}.sha256", f"{len(raw)} bytes for {sum(present)} digests")
        hexes = iter(raw[i : i + 32].hex() for i in range(0, len(raw), 32))
        return _check_all([next(hexes) if p else None for p in present], where, check)
    raise _fail(where, "not a column (a list, or an object of one form)")
