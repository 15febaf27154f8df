"""The JSON documents: a versioned contract that loads back into the result it came from
(:func:`reprokit.load`).

A comparison is written as ``schema: reprokit/v2``: the ``reprokit/v1`` document with its
``files`` and ``merged`` lists as column tables (:mod:`reprokit.report.compact`), about ten
times smaller; ``compact=False`` still writes ``reprokit/v1``, and both load. Within a
version keys are only ever added, never renamed or removed. See docs/json-schema.md.

>>> from reprokit.model import ImageInfo
>>> from reprokit.result import Result
>>> img = ImageInfo("a", "sha256:1", [])
>>> data = to_dict(Result("identical", "same", (img, img)))
>>> data["schema"], data["kind"], data["ok"], Result.from_dict(data).verdict
('reprokit/v2', 'comparison', True, 'identical')
>>> to_dict(Result("identical", "same", (img, img)), compact=False)["schema"]
'reprokit/v1'
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ReportError, ReprokitError
from ..version import __version__

if TYPE_CHECKING:
    from ..result import Result

SCHEMA = "reprokit/v1"
#: the schema of a comparison whose file differences are column tables
COMPACT_SCHEMA = "reprokit/v2"


#: Keys whose lists can hold one entry per differing file: written one entry per line.
_STREAMED = ("files", "merged")


def _header(result: Result) -> dict[str, Any]:
    """Every key of the report, with the per-file lists left empty (they are streamed)."""
    return {
        "schema": SCHEMA,
        "kind": "comparison",
        "reprokit_version": __version__,
        "verdict": result.verdict,
        "reason": result.reason,
        "images": [image.to_dict() for image in result.images],
        "layers": [layer.to_dict() for layer in result.layer_records],
        "config": [c.to_dict() for c in result.config_records],
        "files": [],
        "merged": [],
        "summary": result.summary,
        "spec": result.spec,
        "builds": [b.to_dict() for b in result.builds],
        "run_id": result.run_id,
        "duration_s": None if result.duration_s is None else round(result.duration_s, 3),
        "kept_images": list(result.kept_images),
        "explained": result.explained,
        "steps": [s.to_dict() for s in result.step_records],
        "runs": [r.to_dict() for r in result.runs],
        "culprits": result.culprits.to_dict() if result.culprits else None,
        "suggestions": list(result.suggestions),
        "packages": [p.to_dict() for p in result.package_records],
        "parity": [e.to_dict() for e in result.parity_records],
        "require": result.require,
        "ok": result.ok,
    }


def to_dict(result: Result, compact: bool = True) -> dict[str, Any]:
    """The report as plain JSON-ready data: ``reprokit/v2`` (column tables), or
    ``reprokit/v1`` (one object per difference) when not ``compact``."""
    data = _header(result)
    if compact:
        data.update(_tables(result))
        return data
    data["files"] = [d.to_dict() for d in result.file_records]
    data["merged"] = [d.to_dict() for d in result.merged_records]
    return data


def _tables(result: Result) -> dict[str, Any]:
    """The ``reprokit/v2`` keys: the schema and both tables of differences."""
    return {
        "schema": COMPACT_SCHEMA,
        "files": finite(_files_table(result)),
        "merged": finite(_merged_table(result)),
    }


def _files_table(result: Result) -> dict[str, Any]:
    from .compact import encode_table

    return encode_table(result.file_records)


def _merged_table(result: Result) -> dict[str, Any]:
    from .compact import encode_merged

    return encode_merged(result.merged_records, result.file_records)


def chunks(result: Result, compact: bool = True) -> Iterator[str]:
    """The report as JSON text in pieces, so that writing a report of 100,000 differences
    never holds its text whole in memory: ``reprokit/v2`` with one column per line, or
    ``reprokit/v1`` (not ``compact``) with one file difference per line."""
    header = _header(result)
    if compact:
        header["schema"] = COMPACT_SCHEMA
    streamed = _columns if compact else _entries
    yield "{"
    for n, (key, value) in enumerate(header.items()):
        yield ("\n" if n == 0 else ",\n") + f"  {json.dumps(key)}: "
        if key in _STREAMED:
            yield from streamed(result, key)
        else:
            yield _dumps(value, indent=2).replace("\n", "\n  ")
    yield "\n}\n"


def _entries(result: Result, key: str) -> Iterator[str]:
    """A ``reprokit/v1`` list of differences (``files`` or ``merged``), one per line."""
    diffs = result.file_records if key == "files" else result.merged_records
    if not diffs:
        yield "[]"
        return
    yield "["
    for i, diff in enumerate(diffs):
        yield ("\n    " if i == 0 else ",\n    ") + _dumps(diff.to_dict())
    yield "\n  ]"


def _columns(result: Result, key: str) -> Iterator[str]:
    """A ``reprokit/v2`` table (``files`` or ``merged``), one column per line, each column
    built just before it is written."""
    from .compact import table_items

    items = (
        table_items(result.file_records) if key == "files" else iter(_merged_table(result).items())
    )
    yield "{"
    for i, (name, column) in enumerate(items):
        yield ("\n    " if i == 0 else ",\n    ") + f"{json.dumps(name)}: "
        yield _dumps(column, separators=(",", ":"))
    yield "\n  }"


def finite(data: Any) -> Any:
    """``data`` with every number JSON cannot hold (NaN, ±Infinity) written as its text.

    >>> finite({"mtime": float("inf"), "n": [1.5, float("nan")]})
    {'mtime': 'inf', 'n': [1.5, 'nan']}
    """
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def _dumps(data: Any, indent: int | None = None, separators: tuple[str, str] | None = None) -> str:
    """Strict JSON (never NaN or Infinity, which are not JSON)."""
    return json.dumps(
        finite(data), indent=indent, separators=separators, default=str, allow_nan=False
    )


def dumps(result: Result) -> str:
    """The whole report as one string."""
    return "".join(chunks(result))


def document(data: Any, path: str | Path | None = None) -> str | None:
    """A JSON document held whole in memory (every kind but comparisons): returned as text,
    or written atomically to ``path`` and None.

    >>> document({"kind": "x"})
    '{\\n  "kind": "x"\\n}\\n'
    """
    text = _dumps(data, indent=2) + "\n"
    if path is None:
        return text
    write_atomic(Path(path), text)
    return None


def read_json(path: str | Path) -> Any:
    """The JSON document at ``path``; :class:`ReportError` when unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_not_json)
    except OSError as err:
        raise ReportError(f"{path}: cannot read ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: not JSON ({err})") from None
    except ValueError as err:  # NaN, Infinity
        raise ReportError(f"{path}: not strict JSON ({err})") from None
    except RecursionError:
        raise ReportError(f"{path}: not a reprokit report (JSON nested too deeply)") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces) to ``path`` through a temporary file renamed into place,
    so no half-written report is ever left. The file gets the usual umask-based mode."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ReprokitError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for piece in [text] if isinstance(text, str) else text:
                f.write(piece)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
