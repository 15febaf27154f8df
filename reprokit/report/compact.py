"""The file differences of a comparison as column tables (``reprokit/v2``), and back.

A table holds one column per field of :class:`~reprokit.model.FileDiff` (each in its
shortest form, :mod:`reprokit.columns`): ``rows``, ``layer``, ``path``, ``change``,
``fields``, ``cause``, ``fix``, ``evidence``, ``ignored``, ``rule``, and ``a``/``b``, the
records of both sides, one column per record field over the rows that have that side
(``present``). A column left out holds its default on every row (null, false, an
empty list). Side ``b`` may say ``{"like_a": COLUMN, "at": COLUMN, "count": n}``: the value
of side ``a`` on the same row, except at the ``n`` positions ``at`` (of the rows having both
sides; ascending) where ``like_a`` gives it, and ``mtime`` may say ``{"plus": COLUMN}``: side
``a``'s time plus a whole number of seconds. So a difference only in time costs its path and
two numbers.

The merged view is ``{"rows": n, "files": COLUMN, "rest": TABLE}``: row ``i`` is the per-layer
row ``files[i]`` (without its layer) when that is ≥ 0, else the next row of ``rest``.

>>> from reprokit.model import FileDiff
>>> from reprokit.records import FileRecord
>>> def record(path, mtime):
...     return FileRecord(path, "file", 0o644, size=2, mtime=mtime, sha256="ab" * 32)
>>> diffs = [FileDiff(p, "modified", ["mtime"], 1, record(p, 1795968521 + n),
...                   record(p, 1795968564 + n), cause="timestamp")
...          for n, p in enumerate(["/data/f0", "/data/f1", "/data/f2"])]
>>> table = encode_table(diffs)
>>> table["a"]["mtime"], table["b"]["mtime"], decode_table(table, "files") == diffs
({'steps': [1795968521, 1, 1]}, {'plus': {'all': 43}}, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from ..columns import ColumnError, decode, decode_ints, encode, encode_texts
from ..model import CHANGES, FileDiff
from ..records import FILE_TYPES, FileRecord

#: record fields in the order of :meth:`FileRecord.to_dict`
_RECORD_FIELDS = (
    "type", "mode", "uid", "gid", "size", "mtime", "sha256", "linkname", "xattrs", "device",
    "invalid",
)  # fmt: skip
#: a column left out of a table holds this on every row
_DEFAULTS: dict[str, Any] = {
    "layer": None, "fields": [], "cause": None, "fix": None, "evidence": None,
    "ignored": False, "rule": None,
    "uid": 0, "gid": 0, "size": 0, "mtime": 0, "sha256": None, "linkname": None,
    "xattrs": None, "device": None, "invalid": None,
}  # fmt: skip
#: the most rows a table may have (a report of ten million differences is not one)
MAX_ROWS = 10_000_000

_MODE = re.compile(r"[0-7]{1,7}\Z")


# --- value checks -----------------------------------------------------------------------------


def _str(v: Any) -> str:
    if type(v) is not str:
        raise TypeError(f"{_shown(v)} is not text")
    return v


def _nstr(v: Any) -> str | None:
    return None if v is None else _str(v)


def _count(v: Any) -> int:
    if type(v) is not int or v < 0:
        raise ValueError(f"{_shown(v)} is not a count")
    return v


def _ncount(v: Any) -> int | None:
    return None if v is None else _count(v)


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise TypeError(f"{_shown(v)} is not a boolean")
    return v


def _enum(words: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in words or type(v) is not str:
            raise ValueError(f"{_shown(v)} is not one of {', '.join(words)}")
        return v

    return check


def _fields(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(type(f) is str for f in v):
        raise TypeError(f"{_shown(v)} is not a list of field names")
    return v


def _mode(v: Any) -> str:
    if type(v) is not str or not _MODE.match(v):
        raise ValueError(f"{_shown(v)} is not an octal mode")
    return v


def _time(v: Any) -> Any:
    if v is None or type(v) is str or type(v) is int:
        return v
    if type(v) is float and math.isfinite(v):
        return v
    raise TypeError(f"{_shown(v)} is not a time")


def _text_map(v: Any) -> dict[str, str] | None:
    if v is None:
        return None
    if not isinstance(v, dict) or not all(type(x) is str for x in v.values()):
        raise TypeError(f"{_shown(v)} is not an object of texts")
    return v


def _device(v: Any) -> list[int] | None:
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != 2:
        raise TypeError(f"{_shown(v)} is not a [major, minor] pair")
    return [_count(v[0]), _count(v[1])]


def _shown(v: Any) -> str:
    from ..text import clean

    return clean(repr(v) if not isinstance(v, (dict, list)) else type(v).__name__, 60)


_DIFF_CHECKS: dict[str, Callable[[Any], Any]] = {
    "layer": _ncount,
    "path": _str,
    "change": _enum(CHANGES),
    "fields": _fields,
    "cause": _nstr,
    "fix": _nstr,
    "evidence": _nstr,
    "ignored": _bool,
    "rule": _nstr,
}
_RECORD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "type": _enum(FILE_TYPES),
    "mode": _mode,
    "uid": _count,
    "gid": _count,
    "size": _count,
    "mtime": _time,
    "sha256": _nstr,
    "linkname": _nstr,
    "xattrs": _text_map,
    "device": _device,
    "invalid": _text_map,
}


# --- encoding ---------------------------------------------------------------------------------


#: how each record field is written, as :meth:`FileRecord.to_dict` writes it (an empty
#: optional field is its default, None)
_WRITTEN: dict[str, Callable[[FileRecord], Any]] = {
    "type": lambda r: r.type,
    "mode": lambda r: f"{r.mode:04o}",
    "uid": lambda r: r.uid,
    "gid": lambda r: r.gid,
    "size": lambda r: r.size,
    "mtime": lambda r: r.mtime,
    "sha256": lambda r: r.sha256,
    "linkname": lambda r: r.linkname,
    "xattrs": lambda r: dict(r.xattrs) if r.xattrs else None,
    "device": lambda r: list(r.device) if r.device is not None else None,
    "invalid": lambda r: dict(r.invalid) if r.invalid else None,
}


def _record_values(rec: FileRecord) -> dict[str, Any]:
    """The record's JSON values by field (see :data:`_WRITTEN`)."""
    return {name: get(rec) for name, get in _WRITTEN.items()}


def _column(values: list[Any], name: str) -> Any:
    """The encoded column, or None when every value is the default (the column is left out)."""
    if name in _DEFAULTS and all(v == _DEFAULTS[name] and type(v) is type(_DEFAULTS[name])
                                 for v in values):  # fmt: skip
        return None
    return encode(values)


def _side(records: list[FileRecord | None], base: list[FileRecord | None] | None) -> Any:
    """The columns of one side, built one field at a time (the writer's memory stays one
    column, not one dict per record)."""
    present = [r is not None for r in records]
    out: dict[str, Any] = {}
    if not all(present):
        out["present"] = encode(present)
    rows = [r for r in records if r is not None]
    # side b against side a, when every row having b also has a
    others = [] if base is None else [x for x, r in zip(base, records, strict=True) if r]
    paired = base is not None and bool(rows) and all(x is not None for x in others)
    for name, get in _WRITTEN.items():
        values = [get(r) for r in rows]
        column = _column(values, name)
        if paired:
            column = _shorter(column, _like_a([get(x) for x in others], values, name))
        if column is not None:
            out[name] = column
    return out


def _like_a(base: list[Any], values: list[Any], name: str) -> Any:
    """Side b's column said as side a's: whole seconds added (``mtime``), or a's values
    except where b differs."""
    if name == "mtime" and all(type(a) is int and type(b) is int
                               for a, b in zip(base, values, strict=True)):  # fmt: skip
        return {"plus": encode([b - a for a, b in zip(base, values, strict=True)])}
    at = [n for n, (a, b) in enumerate(zip(base, values, strict=True)) if not _same(a, b)]
    if not at:
        return {"like_a": []}
    return {"like_a": encode([values[n] for n in at]), "at": encode(at), "count": len(at)}


def _same(x: Any, y: Any) -> bool:
    return x == y and type(x) is type(y)


def _shorter(a: Any, b: Any) -> Any:
    from ..columns import _size

    if a is None:  # every value is the default: left out, shortest
        return None
    return b if _size(b) < _size(a) else a


def encode_table(diffs: list[FileDiff], layer: bool = True) -> dict[str, Any]:
    """The column table of ``diffs`` (``layer`` False: the merged view, no layer column)."""
    return dict(table_items(diffs, layer))


def table_items(diffs: list[FileDiff], layer: bool = True) -> Iterator[tuple[str, Any]]:
    """The keys of :func:`encode_table` one at a time, each column built when asked for (a
    writer holds one column, never the whole table)."""
    yield "rows", len(diffs)
    for name in _DIFF_CHECKS:
        if name == "layer" and not layer:
            continue
        values = [list(d.fields) if name == "fields" else getattr(d, name) for d in diffs]
        if name == "path":
            yield name, encode_texts(values)
            continue
        column = _column(values, name)
        if column is not None or name == "change":
            yield name, column if column is not None else encode(values)
    a = [d.a for d in diffs]
    yield "a", _side(a, None)
    yield "b", _side([d.b for d in diffs], a)


def encode_merged(merged: list[FileDiff], files: list[FileDiff]) -> dict[str, Any]:
    """The merged view: each row that equals a per-layer row (but for its layer) refers to it;
    the others are in ``rest``."""
    by_path: dict[str, list[int]] = {}
    for n, d in enumerate(files):
        by_path.setdefault(d.path, []).append(n)
    refs, rest = [], []
    used: set[int] = set()
    for d in merged:
        found = -1
        for n in by_path.get(d.path, ()):
            if n not in used and _equal_but_layer(files[n], d):
                found = n
                break
        if found < 0:
            rest.append(d)
        else:
            used.add(found)
        refs.append(found)
    return {"rows": len(merged), "files": encode(refs), "rest": encode_table(rest, layer=False)}


def _equal_but_layer(f: FileDiff, d: FileDiff) -> bool:
    return (
        d.layer is None
        and (f.path, f.change, f.fields, f.cause, f.fix, f.evidence, f.ignored, f.rule)
        == (d.path, d.change, d.fields, d.cause, d.fix, d.evidence, d.ignored, d.rule)
        and _same_record(f.a, d.a)
        and _same_record(f.b, d.b)
    )


def _same_record(x: FileRecord | None, y: FileRecord | None) -> bool:
    if x is None or y is None:
        return x is y
    return x is y or (x == y and type(x.mtime) is type(y.mtime))


# --- decoding ---------------------------------------------------------------------------------


def _rows(table: Any, where: str) -> int:
    if not isinstance(table, dict):
        raise ColumnError(f"field {where}: not a table (an object with rows and columns)")
    rows = table.get("rows")
    if type(rows) is not int or not 0 <= rows <= MAX_ROWS:
        raise ColumnError(f"field {where}.rows: not a row count (0 to {MAX_ROWS})")
    return rows


def _get(table: dict[str, Any], name: str, rows: int, where: str, check: Any) -> list[Any]:
    if name not in table or table[name] is None:
        if name not in _DEFAULTS and rows:
            raise ColumnError(f"field {where}.{name}: a required column is missing")
        return [_DEFAULTS.get(name)] * rows
    return decode(table[name], rows, f"{where}.{name}", check)


def _anchor(table: dict[str, Any], rows: int, where: str) -> None:
    """The path column holds one written text per row: a table cannot claim more rows than
    its document holds."""
    path = table.get("path")
    texts = path.get("suffix") if isinstance(path, dict) and "suffix" in path else path
    if rows and (not isinstance(texts, list) or len(texts) != rows):
        raise ColumnError(f"field {where}.path: must list one path (or suffix) per row")


def decode_table(table: Any, where: str) -> list[FileDiff]:
    """The differences of a column table; :class:`ColumnError` naming the field and row when
    the table is malformed."""
    rows = _rows(table, where)
    _anchor(table, rows, where)
    cols = {name: _get(table, name, rows, where, check) for name, check in _DIFF_CHECKS.items()}
    a = _decode_side(table.get("a"), rows, f"{where}.a", cols["path"], None)
    b = _decode_side(table.get("b"), rows, f"{where}.b", cols["path"], a)
    return [
        FileDiff(
            path=cols["path"][n],
            change=cols["change"][n],
            fields=list(cols["fields"][n]),
            layer=cols["layer"][n],
            a=a[n],
            b=b[n],
            cause=cols["cause"][n],
            fix=cols["fix"][n],
            evidence=cols["evidence"][n],
            ignored=cols["ignored"][n],
            rule=cols["rule"][n],
        )
        for n in range(rows)
    ]


def _decode_side(
    side: Any, rows: int, where: str, paths: list[str], base: list[FileRecord | None] | None
) -> list[FileRecord | None]:
    if side is None:
        side = {"present": {"all": False}} if rows else {}
    if not isinstance(side, dict):
        raise ColumnError(f"field {where}: not an object of record columns")
    present = _get({"present": side.get("present", {"all": True})}, "present", rows, where, _bool)
    count = sum(present)
    if count and "type" not in side:
        raise ColumnError(f"field {where}.type: a required column is missing")
    pairs: list[int] = []  # for side b: the index among a's present rows of each b row
    a_rows: list[dict[str, Any]] = []
    if base is not None:
        a_values = [_record_values(r) for r in base if r is not None]
        index = [-1] * rows
        k = 0
        for n, r in enumerate(base):
            if r is not None:
                index[n] = k
                k += 1
        pairs = [index[n] for n in range(rows) if present[n]]
        a_rows = a_values
    columns: dict[str, list[Any]] = {}
    for name, check in _RECORD_CHECKS.items():
        column = side.get(name)
        if isinstance(column, dict) and ("like_a" in column or "plus" in column):
            if base is None:
                raise ColumnError(f"field {where}.{name}: side a cannot be said like side a")
            columns[name] = _decode_like_a(column, name, pairs, a_rows, f"{where}.{name}", check)
        elif column is None:
            if name == "type" or name == "mode":
                if count:
                    raise ColumnError(f"field {where}.{name}: a required column is missing")
                columns[name] = []
            else:
                columns[name] = [_DEFAULTS[name]] * count
        else:
            columns[name] = decode(column, count, f"{where}.{name}", check)
    out: list[FileRecord | None] = []
    k = 0
    for n in range(rows):
        if not present[n]:
            out.append(None)
            continue
        data = {name: columns[name][k] for name in _RECORD_FIELDS}
        data = {key: v for key, v in data.items() if v is not None}
        try:
            out.append(FileRecord.from_dict(data, paths[n]))
        except (KeyError, TypeError, ValueError) as err:
            raise ColumnError(f"field {where}[{k}]: {type(err).__name__} {err}") from None
        k += 1
    return out


def _decode_like_a(
    column: dict[str, Any],
    name: str,
    pairs: list[int],
    a_rows: list[dict[str, Any]],
    where: str,
    check: Any,
) -> list[Any]:
    if (not a_rows and pairs) or any(i < 0 for i in pairs):
        raise ColumnError(f"field {where}: said like side a on a row without side a")
    base = [a_rows[i][name] for i in pairs]
    if set(column) == {"plus"}:
        plus = decode_ints(column["plus"], len(pairs), f"{where}.plus")
        if not all(type(x) is int for x in base):
            raise ColumnError(f"field {where}: plus on a time that is not whole seconds")
        return [check(x + p) for x, p in zip(base, plus, strict=True)]
    if set(column) == {"like_a"} and column["like_a"] == []:
        return base
    count = column.get("count")
    if set(column) != {"like_a", "at", "count"} or type(count) is not int:
        raise ColumnError(f"field {where}: like_a needs at and count")
    if not 0 <= count <= len(pairs):
        raise ColumnError(f"field {where}.count: not a count of at most {len(pairs)} rows")
    at = decode_ints(column["at"], count, f"{where}.at")
    values = decode(column["like_a"], count, f"{where}.like_a", check)
    last = -1
    for pos, v in zip(at, values, strict=True):
        if not last < pos < len(pairs):
            raise ColumnError(f"field {where}.at: positions must ascend within {len(pairs)} rows")
        base[pos] = v
        last = pos
    return base


def decode_merged(merged: Any, files: list[FileDiff], where: str = "merged") -> list[FileDiff]:
    """The merged view from its table and the per-layer differences it refers to."""
    rows = _rows(merged, where)
    rest = decode_table(merged.get("rest", {"rows": 0}), f"{where}.rest")
    bound = len(files)
    if rows > bound + len(rest):
        raise ColumnError(f"field {where}.rows: more rows than files and rest hold")
    if not rows:
        return []

    def ref(i: int) -> int:
        if not -1 <= i < bound:
            raise ValueError(f"{i} is not a row of files")
        return i

    refs = decode_ints(merged.get("files"), rows, f"{where}.files", ref)
    if sum(1 for i in refs if i < 0) != len(rest):
        raise ColumnError(f"field {where}.rest: {len(rest)} rows, not one per -1 of files")
    used: set[int] = set()
    out, others = [], iter(rest)
    for i in refs:
        if i < 0:
            out.append(next(others))
            continue
        if i in used:
            raise ColumnError(f"field {where}.files: row {i} of files is used twice")
        used.add(i)
        f = files[i]
        out.append(
            FileDiff(f.path, f.change, list(f.fields), None, f.a, f.b, f.cause, f.fix,
                     f.evidence, f.ignored, f.rule)
        )  # fmt: skip
    return out
