"""The Result of a check or a diff: the verdict and every difference, as records and DataFrames.

>>> r = Result.from_dict({"schema": "reprokit/v1", "verdict": "identical", "reason": "same",
...     "images": [{"ref": "a", "id": "sha256:1", "diff_ids": []},
...                {"ref": "b", "id": "sha256:1", "diff_ids": []}]})
>>> r.verdict, r.meets("equivalent"), len(r.files), list(r.layers.columns)[:4]
('identical', True, 0, ['layer', 'a', 'b', 'same'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from . import frames
from .errors import ReportError, UsageError
from .frames import one_line
from .model import (
    VERDICTS,
    BuildInfo,
    ConfigDiff,
    CulpritSearch,
    FileDiff,
    ImageInfo,
    LayerDiff,
    PackageDiff,
    ParityEntry,
    RunComparison,
    StepExplanation,
)
from .protocol import Reported, shown_frame
from .records import FileRecord

if TYPE_CHECKING:  # pandas is imported when a DataFrame is first asked for (CLI start-up)
    import pandas as pd
    from matplotlib.figure import Figure

FILE_COLUMNS = [
    "layer",
    "path",
    "change",
    "fields",
    "cause",
    "ignored",
    "type_a",
    "type_b",
    "size_a",
    "size_b",
    "mode_a",
    "mode_b",
    "mtime_a",
    "mtime_b",
    "sha256_a",
    "sha256_b",
    "fix",
    "evidence",
]
LAYER_COLUMNS = [
    "layer",
    "a",
    "b",
    "same",
    "created_by",
    "files_differing",
    "size_a",
    "size_b",
]
CONFIG_COLUMNS = ["field", "change", "a", "b", "cause", "ignored", "fix", "evidence"]
STEP_COLUMNS = ["layer", "instruction", "dockerfile_line", "causes", "fix"]
PACKAGE_COLUMNS = ["manager", "name", "change", "a", "b"]
PARITY_COLUMNS = ["test", "a", "b", "same", "status_a", "status_b"]
SCHEMA = "reprokit/v1"
#: the schema of a comparison written with column tables (reprokit.report.compact)
COMPACT_SCHEMA = "reprokit/v2"


@dataclass(frozen=True)
class Result(Reported):
    """A comparison of two images: verdict, reason, both images and all their differences.

    ``layers``, ``config``, ``files``, ``merged``, ``steps``, ``packages`` and ``parity`` are
    pandas DataFrames (columns below); the plain records behind them, which every presenter
    renders, are ``layer_records``, ``config_records``, ``file_records``, ``merged_records``,
    ``step_records``, ``package_records`` and ``parity_records``. ``ok`` is whether the
    verdict meets ``require``.

    A Result is built once and is immutable: a check's provenance (builds, runs, …) is added
    with :func:`dataclasses.replace`, which makes a new one.
    """

    kind: ClassVar[str] = "comparison"
    verdict: str
    reason: str
    images: tuple[ImageInfo, ImageInfo]
    layer_records: list[LayerDiff] = field(default_factory=list)
    config_records: list[ConfigDiff] = field(default_factory=list)
    file_records: list[FileDiff] = field(default_factory=list)
    merged_records: list[FileDiff] = field(default_factory=list)
    spec: dict[str, Any] | None = None
    builds: list[BuildInfo] = field(default_factory=list)
    run_id: str | None = None
    duration_s: float | None = None
    kept_images: list[str] = field(default_factory=list)
    #: one entry per differing layer: its Dockerfile step, causes and grouped fix
    step_records: list[StepExplanation] = field(default_factory=list)
    #: True when every difference that counts (not ignored) has a cause other than
    #: ``unexplained``; None when the differences were not explained (e.g. an old report)
    explained: bool | None = None
    #: every pairwise comparison of a check's builds against the first (--runs, --vary)
    runs: list[RunComparison] = field(default_factory=list)
    #: the culprit search (--find-culprits), None when not asked for
    culprits: CulpritSearch | None = None
    #: fixing suggestions tied to the builder, each with the exact command
    suggestions: list[str] = field(default_factory=list)
    #: packages added, removed or at another version (dpkg, apk, rpm, python): reprokit.inventory
    package_records: list[PackageDiff] = field(default_factory=list)
    #: outcomes of parity checks on containers of both images (reprokit.parity), when run
    parity_records: list[ParityEntry] = field(default_factory=list)
    #: the verdict ``ok`` asks for: ``identical`` or ``equivalent`` (the CLI's --require)
    require: str = "equivalent"

    def meets(self, require: str) -> bool:
        """Whether the verdict is at least as good as ``require`` (identical > equivalent).

        >>> Result("equivalent", "", (None, None)).meets("identical")
        False
        """
        if require not in ("identical", "equivalent"):
            raise UsageError(f"--require takes identical or equivalent, not {require!r}")
        return VERDICTS.index(self.verdict) <= VERDICTS.index(require)

    @property
    def ignored_count(self) -> int:
        """Differences reported as ignored (per-layer files and config fields)."""
        return sum(d.ignored for d in self.file_records) + sum(
            c.ignored for c in self.config_records
        )

    @property
    def summary(self) -> dict[str, int]:
        """Counts: layers, layers_differing, files_differing (per layer), merged_differing."""
        return {
            "layers": len(self.layer_records),
            "layers_differing": sum(1 for layer in self.layer_records if not layer.same),
            "files_differing": len(self.file_records),
            "merged_differing": len(self.merged_records),
            "config_differing": len(self.config_records),
        }

    @shown_frame
    def layers(self) -> pd.DataFrame:
        """One row per layer index (columns: :data:`LAYER_COLUMNS`)."""
        import pandas as pd

        rows = []
        for d in self.layer_records:
            row = d.to_dict()
            row["layer"] = row.pop("index")
            rows.append({k: v for k, v in row.items() if k in LAYER_COLUMNS})
        return pd.DataFrame(rows, columns=LAYER_COLUMNS)

    @shown_frame
    def steps(self) -> pd.DataFrame:
        """One row per differing layer: its step, causes and fix (:data:`STEP_COLUMNS`)."""
        import pandas as pd

        rows = []
        for s in self.step_records:
            row = s.to_dict()
            row["causes"] = ", ".join(
                f"{k} {n}" for k, n in sorted(s.causes.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            rows.append(row)
        frame = pd.DataFrame(rows, columns=STEP_COLUMNS)
        return frame.astype({"dockerfile_line": "Int64"})

    @shown_frame
    def packages(self) -> pd.DataFrame:
        """One row per differing package: ``manager, name, change, a, b`` (versions)."""
        rows = [p.to_dict() for p in self.package_records]
        return frames.frame(rows, PACKAGE_COLUMNS, categories=["manager", "change"])

    @shown_frame
    def parity(self) -> pd.DataFrame:
        """One row per parity check run on both images (columns: :data:`PARITY_COLUMNS`)."""
        return parity_frame(self.parity_records)

    @shown_frame
    def config(self) -> pd.DataFrame:
        """One row per differing config field: ``field, change, a, b``."""
        import pandas as pd

        frame = pd.DataFrame([c.to_dict() for c in self.config_records], columns=CONFIG_COLUMNS)
        frame["evidence"] = frame["evidence"].map(one_line, na_action="ignore")
        return frame.astype({"change": "category", "cause": "category"})

    @shown_frame
    def files(self) -> pd.DataFrame:
        """One row per per-layer file difference (columns: :data:`FILE_COLUMNS`)."""
        return _files_frame(self.file_records, FILE_COLUMNS)

    @shown_frame
    def merged(self) -> pd.DataFrame:
        """One row per difference of the final filesystems (:data:`FILE_COLUMNS` minus layer)."""
        return _files_frame(self.merged_records, FILE_COLUMNS[1:])

    @property
    def ok(self) -> bool:
        """Whether the verdict meets :attr:`require` (what ``--require`` asks for).

        >>> Result("equivalent", "", (None, None)).ok
        True
        """
        return self.meets(self.require)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (schema ``reprokit/v2``: file differences as column tables, kind
        ``comparison``) as a dict."""
        from .report.json import to_dict

        return to_dict(self)

    def to_json(
        self, path: str | Path | None = None, *, show_secrets: bool | None = None
    ) -> str | None:
        """The JSON report: returned as text, or streamed to ``path`` (atomically) and None."""
        from .report.json import chunks, dumps, write_atomic

        shown = self._shown(show_secrets)
        if path is None:
            return dumps(shown)
        write_atomic(Path(path), chunks(shown))
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Rebuild a Result from a JSON report dict (see :func:`reprokit.load`), written as
        ``reprokit/v2`` (column tables) or ``reprokit/v1``; a report without ``kind`` (written
        before kinds existed) is a comparison."""
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema not in (SCHEMA, COMPACT_SCHEMA):
            found = schema if isinstance(data, dict) else type(data).__name__
            raise ReportError(f"not a {SCHEMA} or {COMPACT_SCHEMA} report (schema: {found!r})")
        if data.get("kind", "comparison") != "comparison":
            raise ReportError(f"a {data.get('kind')} report, not a comparison")
        if schema == COMPACT_SCHEMA:
            from .report.compact import decode_merged, decode_table

            files = decode_table(data.get("files"), "files")
            merged = decode_merged(data.get("merged"), files)
        try:
            a, b = (ImageInfo.from_dict(i) for i in data["images"])
            if schema == SCHEMA:
                files = [FileDiff.from_dict(x) for x in data.get("files") or []]
                merged = [FileDiff.from_dict(x) for x in data.get("merged") or []]
            return cls(
                verdict=data["verdict"],
                reason=data.get("reason", ""),
                images=(a, b),
                layer_records=[LayerDiff.from_dict(x) for x in data.get("layers") or []],
                config_records=[ConfigDiff.from_dict(x) for x in data.get("config") or []],
                file_records=files,
                merged_records=merged,
                spec=data.get("spec"),
                builds=[BuildInfo.from_dict(x) for x in data.get("builds") or []],
                run_id=data.get("run_id"),
                duration_s=data.get("duration_s"),
                kept_images=list(data.get("kept_images") or []),
                step_records=[StepExplanation.from_dict(x) for x in data.get("steps") or []],
                explained=data.get("explained"),
                runs=[RunComparison.from_dict(x) for x in data.get("runs") or []],
                culprits=(
                    CulpritSearch.from_dict(data["culprits"]) if data.get("culprits") else None
                ),
                suggestions=list(data.get("suggestions") or []),
                package_records=[PackageDiff.from_dict(x) for x in data.get("packages") or []],
                parity_records=[ParityEntry.from_dict(x) for x in data.get("parity") or []],
                require=data.get("require") or "equivalent",
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ReportError(f"malformed {SCHEMA} report: {type(err).__name__} {err}") from None

    def plot(self, kind: str = "layers") -> Figure:
        """A matplotlib Figure: ``layers`` (differing files and bytes per layer, stacked by
        cause), ``causes`` (differences per cause) or ``sizes`` (layer sizes of A and B)."""
        from .report.plots import plot

        return plot(self, kind)

    __repr__ = Reported.__repr__


def _files_frame(diffs: list[FileDiff], columns: list[str]) -> pd.DataFrame:
    """The file differences as a DataFrame, built column by column (a dict per row of 100,000
    differences took 120 MB more), with one text per distinct field list and mode."""
    import pandas as pd

    joined: dict[tuple[str, ...], str] = {}
    modes: dict[int, str] = {}

    def fields(d: FileDiff) -> str:
        key = tuple(d.fields)
        text = joined.get(key)
        if text is None:
            text = joined[key] = ",".join(key)
        return text

    def mode(rec: FileRecord | None) -> str | None:
        if rec is None:
            return None
        text = modes.get(rec.mode)
        if text is None:
            text = modes[rec.mode] = f"{rec.mode:04o}"
        return text

    if not diffs:  # no rows: every column of object dtype, as from no records
        return _typed(pd.DataFrame([], columns=columns))
    sides = {"a": [d.a for d in diffs], "b": [d.b for d in diffs]}

    def column(name: str) -> list[Any]:
        attr, _, side = name.rpartition("_")
        if side in sides and attr in ("type", "size", "mode", "mtime", "sha256"):
            if attr == "mode":
                return [mode(r) for r in sides[side]]
            get = attrgetter(attr)
            return [None if r is None else get(r) for r in sides[side]]
        if name == "fields":
            return [fields(d) for d in diffs]
        return list(map(attrgetter(name), diffs))

    # one column's list at a time: each becomes its array before the next is made
    frame = pd.DataFrame({c: pd.Series(column(c)) for c in columns}, columns=columns, copy=False)
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """A files frame with its times, one-line evidence, categories and nullable layer."""
    import pandas as pd

    for side in ("a", "b"):  # a time kept as text (out of range, "inf") is NaT, not an error
        seconds = frame[f"mtime_{side}"]
        if seconds.dtype == object:
            seconds = pd.to_numeric(seconds, errors="coerce")
        mtime = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
        frame[f"mtime_{side}"] = mtime.astype("datetime64[ns, UTC]")
    frame["evidence"] = frame["evidence"].map(one_line, na_action="ignore")
    small = ["change", "cause", "type_a", "type_b"]
    types = {c: "category" for c in small}
    if "layer" in frame:
        types["layer"] = "Int64"
    return frame.astype(types)


def parity_frame(entries: list[ParityEntry]) -> pd.DataFrame:
    """One row per parity entry: ``test, a, b, same, status_a, status_b`` (a side's value when
    it ran, else its status and message), as the JSON's ``parity`` entries name them; values
    flat (:mod:`reprokit.frames`)."""
    from .report.view import outcome_text

    rows = [
        {
            "test": e.name,
            "a": e.a.value if e.a.status == "ok" else outcome_text(e.a),
            "b": e.b.value if e.b.status == "ok" else outcome_text(e.b),
            "same": e.same,
            "status_a": e.a.status,
            "status_b": e.b.status,
        }
        for e in entries
    ]
    return frames.frame(rows, PARITY_COLUMNS, categories=["status_a", "status_b"])
