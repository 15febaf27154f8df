"""The result of a parity run: every check's outcome on both images, side by side.

>>> ParityResult(("a", "b")).holds
False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ReportError
from ..model import ParityEntry
from ..report.text import outcome_text, render_parity
from ..text import clean

if TYPE_CHECKING:
    import pandas as pd


COLUMNS = ["check", "a", "b", "same", "status_a", "status_b"]


@dataclass
class ParityResult:
    """Checks on both images side by side. ``holds`` when every check agrees and none failed."""

    images: tuple[str, str]
    entries: list[ParityEntry] = field(default_factory=list)
    image_ids: tuple[str | None, str | None] = (None, None)
    run_id: str | None = None
    duration_s: float | None = None
    kind: str = "checks"

    @property
    def holds(self) -> bool:
        return bool(self.entries) and all(e.good for e in self.entries)

    @property
    def errors(self) -> list[ParityEntry]:
        return [e for e in self.entries if "error" in (e.a.status, e.b.status)]

    @property
    def summary(self) -> dict[str, int]:
        return {
            "checks": len(self.entries),
            "same": sum(e.same for e in self.entries),
            "differing": sum(not e.same for e in self.entries),
            "failed": sum("failed" in (e.a.status, e.b.status) for e in self.entries),
            "errors": len(self.errors),
        }

    def exit_status(self) -> int:
        """0 when parity holds, 1 when an outcome differs or fails, 2 on any error."""
        if self.errors or not self.entries:
            return 2
        return 0 if self.holds else 1

    @property
    def frame(self) -> pd.DataFrame:
        """One row per check: ``check, a, b, same, status_a, status_b``."""
        import pandas as pd

        rows = [
            {
                "check": e.name,
                "a": e.a.value if e.a.status == "ok" else outcome_text(e.a),
                "b": e.b.value if e.b.status == "ok" else outcome_text(e.b),
                "same": e.same,
                "status_a": e.a.status,
                "status_b": e.b.status,
            }
            for e in self.entries
        ]
        return pd.DataFrame(rows, columns=COLUMNS)

    def text(self, width: int = 36) -> str:
        """A side-by-side table: each check, its outcome on A and on B, and whether they agree."""
        s = self.summary
        state = "HOLDS" if self.holds else "ERROR" if self.errors else "BROKEN"
        lines = [
            f"parity: {state} — {s['same']}/{s['checks']} {self.kind} agree"
            + (f", {s['failed']} failed" if s["failed"] else "")
            + (f", {s['errors']} error(s)" if s["errors"] else ""),
            f"  A  {clean(self.images[0], 60)}",
            f"  B  {clean(self.images[1], 60)}",
        ]
        lines += render_parity(self.entries, width, "test" if self.kind == "tests" else "check")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A ``reprokit/v1`` document of kind ``parity``."""
        from ..report.json import SCHEMA
        from ..version import __version__

        return {
            "schema": SCHEMA,
            "kind": "parity",
            "reprokit_version": __version__,
            "images": [
                {"ref": ref, "id": image_id}
                for ref, image_id in zip(self.images, self.image_ids, strict=True)
            ],
            "holds": self.holds,
            "summary": self.summary,
            "parity": [e.to_dict() for e in self.entries],
            "run_id": self.run_id,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
        }

    def to_json(self, path: str | Path | None = None) -> str | None:
        """The JSON document: returned as text, or written atomically to ``path``."""
        from ..report.json import document

        return document(self.to_dict(), path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityResult:
        if not isinstance(data, dict) or data.get("kind") != "parity":
            raise ReportError("not a reprokit parity report")
        try:
            images = [i.get("ref", "") for i in data["images"]]
            ids = [i.get("id") for i in data["images"]]
            return cls(
                images=(images[0], images[1]),
                entries=[ParityEntry.from_dict(e) for e in data.get("parity") or []],
                image_ids=(ids[0], ids[1]),
                run_id=data.get("run_id"),
                duration_s=data.get("duration_s"),
            )
        except (KeyError, IndexError, TypeError, AttributeError) as err:
            raise ReportError(f"malformed parity report: {type(err).__name__} {err}") from None

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<reprokit.ParityResult {'holds' if self.holds else 'does not hold'}: "
            f"{s['same']}/{s['checks']} agree, {s['errors']} error(s)>"
        )


def load(path: str | Path) -> ParityResult:
    """Read a parity report written by ``reprokit parity --json`` or ``ParityResult.to_json``."""
    from ..report.json import read_json

    return ParityResult.from_dict(read_json(path))
