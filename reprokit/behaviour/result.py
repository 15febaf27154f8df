"""The result of a parity run: every check's outcome on both images, side by side.

>>> from reprokit.model import Outcome, ParityEntry
>>> r = ParityResult(("a", "b"), [ParityEntry("user app", Outcome("ok", 1), Outcome("ok", 2))])
>>> r.kind, r.ok, list(r.parity.columns)[:4]
('parity', False, ['test', 'a', 'b', 'same'])
>>> ParityResult.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ReportError
from ..model import ParityEntry
from ..protocol import Reported, shown_frame
from ..result import PARITY_COLUMNS, parity_frame

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = "reprokit/v1"
#: the columns of :attr:`ParityResult.parity`, as the JSON's ``parity`` entries name them
COLUMNS = PARITY_COLUMNS


@dataclass(frozen=True, repr=False)
class ParityResult(Reported):
    """Checks on both images side by side. ``ok`` when every check agrees and none failed or
    erred. Records: ``parity_records``; DataFrame: :attr:`parity`. ``what`` is ``checks``
    (``reprokit.parity``) or ``tests`` (testinfra files, ``reprokit parity``)."""

    kind: ClassVar[str] = "parity"
    images: tuple[str, str]
    parity_records: list[ParityEntry] = field(default_factory=list)
    image_ids: tuple[str | None, str | None] = (None, None)
    run_id: str | None = None
    duration_s: float | None = None
    what: str = "checks"

    @property
    def ok(self) -> bool:
        """True when there are checks, every one agrees and none failed or erred."""
        return bool(self.parity_records) and all(e.good for e in self.parity_records)

    @property
    def errors(self) -> list[ParityEntry]:
        """The checks that could not run on A or on B."""
        return [e for e in self.parity_records if "error" in (e.a.status, e.b.status)]

    @property
    def summary(self) -> dict[str, int]:
        """Counts: checks, same, differing, failed, errors."""
        return {
            "checks": len(self.parity_records),
            "same": sum(e.same for e in self.parity_records),
            "differing": sum(not e.same for e in self.parity_records),
            "failed": sum("failed" in (e.a.status, e.b.status) for e in self.parity_records),
            "errors": len(self.errors),
        }

    @shown_frame
    def parity(self) -> pd.DataFrame:
        """One row per check: ``test, a, b, same, status_a, status_b``."""
        return parity_frame(self.parity_records)

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``parity``."""
        from ..version import __version__

        return {
            "schema": SCHEMA,
            "kind": "parity",
            "reprokit_version": __version__,
            "images": [
                {"ref": ref, "id": image_id}
                for ref, image_id in zip(self.images, self.image_ids, strict=True)
            ],
            "holds": self.ok,
            "ok": self.ok,
            "what": self.what,
            "summary": self.summary,
            "parity": [e.to_dict() for e in self.parity_records],
            "run_id": self.run_id,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityResult:
        """Rebuild from a parity document (:class:`ReportError` when it is not one)."""
        if not isinstance(data, dict) or data.get("kind") != "parity":
            raise ReportError("not a reprokit parity report")
        try:
            images = [i.get("ref", "") for i in data["images"]]
            ids = [i.get("id") for i in data["images"]]
            return cls(
                images=(images[0], images[1]),
                parity_records=[ParityEntry.from_dict(e) for e in data.get("parity") or []],
                image_ids=(ids[0], ids[1]),
                run_id=data.get("run_id"),
                duration_s=data.get("duration_s"),
                what=data.get("what") or "checks",
            )
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise ReportError(f"malformed parity report: {type(err).__name__} {err}") from None
