"""Every kind of result, and reading back whichever kind a JSON document holds.

The registry sits above every result module (and below :mod:`reprokit.api`): result modules
and presenters never import it, so it adds no import cycle.

>>> sorted(REGISTRY) == sorted(KINDS)
True
>>> kind_of({"schema": "reprokit/v1", "verdict": "identical"})  # written before kinds
'comparison'
>>> kind_of({"ref": "busybox:1", "id": "sha256:1", "os": {}, "packages": []})
'inventory'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .auditing.images import ImagesResult
from .auditing.result import AuditResult
from .baseline import ReplayResult
from .behaviour.result import ParityResult
from .errors import ReportError
from .fixing import FixResult
from .fleet.history import HistoryResult
from .fleet.result import SurveyResult
from .packages.model import Inventory
from .protocol import KINDS
from .report.json import COMPACT_SCHEMA, read_json, to_dict
from .result import Result
from .schemas import validate

#: What :func:`load` returns: one of the result kinds.
AnyResult = (
    Result | ParityResult | AuditResult | Inventory | ReplayResult | ImagesResult | SurveyResult
    | HistoryResult | FixResult
)  # fmt: skip

#: kind → the class whose ``from_dict`` reads it
REGISTRY: dict[str, type[AnyResult]] = {
    "comparison": Result,
    "parity": ParityResult,
    "audit": AuditResult,
    "drift": AuditResult,
    "inventory": Inventory,
    "replay": ReplayResult,
    "images": ImagesResult,
    "fix": FixResult,
    "survey": SurveyResult,
    "history": HistoryResult,
}


def kind_of(data: Any) -> str:
    """The kind a document holds: its ``kind``; a ``reprokit/v1`` document without one is a
    comparison, and the bare facts ``reprokit inventory --json`` used to write an inventory."""
    if not isinstance(data, dict):
        raise ReportError(f"not a reprokit report (a JSON {type(data).__name__})")
    if "kind" in data:
        kind = data["kind"]
        if kind not in REGISTRY:
            raise ReportError(f"not a reprokit report kind: {kind!r} (known: {', '.join(KINDS)})")
        return str(kind)
    if data.get("schema") is None and {"ref", "id", "os", "packages"} <= data.keys():
        return "inventory"
    return "comparison"  # from_dict checks the schema


def from_dict(data: Any, source: str = "report") -> AnyResult:
    """The result a JSON document holds, of whichever kind (:class:`ReportError` naming
    ``source`` and the field when it is none, or fails the schema of its kind)."""
    try:
        kind = kind_of(data)
    except ReportError as err:
        raise ReportError(f"{source}: {err}") from None
    validate(data, kind, source)
    try:
        return REGISTRY[kind].from_dict(data)
    except ReportError as err:
        message = str(err)
        raise ReportError(
            message if message.startswith(source) else f"{source}: {message}"
        ) from None


def load(path: str | Path) -> AnyResult:
    """Read a JSON document written by ``--json``, ``--report x.json``, ``to_json`` or
    ``write`` back into its result; the document is validated first
    (:func:`reprokit.schemas.validate`)."""
    return from_dict(read_json(path), str(path))


def expanded(data: dict[str, Any]) -> dict[str, Any]:
    """A comparison document as ``reprokit/v1`` (one object per difference, for ``jq`` and
    ``grep``), whichever version it was written in; other documents are returned as they are.

    >>> from reprokit.model import ImageInfo
    >>> img = ImageInfo("a", "sha256:1", [])
    >>> expanded(to_dict(Result("identical", "same", (img, img))))["files"]
    []
    """
    if not isinstance(data, dict) or data.get("schema") != COMPACT_SCHEMA:
        return data
    return to_dict(Result.from_dict(data), compact=False)
