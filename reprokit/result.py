"""The Result of a check or a diff: the verdict and every difference, as records and DataFrames.

>>> r = Result.from_dict({"schema": "reprokit/v1", "verdict": "identical", "reason": "same",
...     "images": [{"ref": "a", "id": "sha256:1", "diff_ids": []},
...                {"ref": "b", "id": "sha256:1", "diff_ids": []}]})
>>> r.verdict, r.meets("equivalent"), len(r.files), list(r.layers.columns)[:4]
('identical', True, 0, ['index', 'a', 'b', 'same'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
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
    "index",
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


@dataclass(frozen=True)
class Result:
    """A comparison of two images: verdict, reason, both images and all their differences.

    ``layers``, ``config``, ``files`` and ``merged`` are pandas DataFrames (columns below);
    the plain records behind them, which every presenter renders, are ``layer_records``,
    ``config_records``, ``file_records`` and ``merged_records``.

    A Result is built once and is immutable: a check's provenance (builds, runs, …) is added
    with :func:`dataclasses.replace`, which makes a new one.
    """

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
    parity: list[ParityEntry] = field(default_factory=list)

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

    @cached_property
    def layers(self) -> pd.DataFrame:
        """One row per layer index (columns: :data:`LAYER_COLUMNS`)."""
        import pandas as pd

        rows = [
            {k: v for k, v in d.to_dict().items() if k in LAYER_COLUMNS} for d in self.layer_records
        ]
        return pd.DataFrame(rows, columns=LAYER_COLUMNS)

    @cached_property
    def steps(self) -> pd.DataFrame:
        """One row per differing layer: its step, causes and fix (:data:`STEP_COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame([s.to_dict() for s in self.step_records], columns=STEP_COLUMNS)

    @cached_property
    def packages(self) -> pd.DataFrame:
        """One row per differing package: ``manager, name, change, a, b`` (versions)."""
        import pandas as pd

        return pd.DataFrame([p.to_dict() for p in self.package_records], columns=PACKAGE_COLUMNS)

    @cached_property
    def config(self) -> pd.DataFrame:
        """One row per differing config field: ``field, change, a, b``."""
        import pandas as pd

        return pd.DataFrame([c.to_dict() for c in self.config_records], columns=CONFIG_COLUMNS)

    @cached_property
    def files(self) -> pd.DataFrame:
        """One row per per-layer file difference (columns: :data:`FILE_COLUMNS`)."""
        return _files_frame(self.file_records, FILE_COLUMNS)

    @cached_property
    def merged(self) -> pd.DataFrame:
        """One row per difference of the final filesystems (:data:`FILE_COLUMNS` minus layer)."""
        return _files_frame(self.merged_records, FILE_COLUMNS[1:])

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (schema ``reprokit/v1``) as a dict."""
        from .report.json import to_dict

        return to_dict(self)

    def to_json(self, path: str | Path | None = None) -> str | None:
        """The JSON report: returned as text, or streamed to ``path`` (atomically) and None."""
        from .report.json import chunks, dumps, write_atomic

        if path is None:
            return dumps(self)
        write_atomic(Path(path), chunks(self))
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Rebuild a Result from a JSON report dict (see :func:`reprokit.load`)."""
        from .report.json import from_dict

        return from_dict(data)

    def text(self, top: int = 10) -> str:
        """The human summary the CLI prints."""
        from .report.text import render

        return render(self, top=top)

    def _repr_html_(self) -> str:
        """The rich display in Jupyter: verdict banner, images, layers, top files, fixes."""
        from .report.html import fragment

        return fragment(self)

    def to_html(self, path: str | Path | None = None, *, plots: bool = True) -> str | None:
        """A standalone HTML page (plots embedded): returned, or written to ``path``."""
        from .report.html import page
        from .report.json import write_atomic

        text = page(self, plots=plots)
        if path is None:
            return text
        write_atomic(Path(path), text)
        return None

    def to_markdown(self, path: str | Path | None = None, *, images: bool = False) -> str:
        """Markdown for pull requests and docs (tables; plots only with ``images``).
        Written to ``path`` too when given."""
        from .report.json import write_atomic
        from .report.markdown import render

        text = render(self, images=images)
        if path is not None:
            write_atomic(Path(path), text + "\n")
        return text

    def to_notebook(self, path: str | Path) -> Path:
        """Write a Jupyter notebook to ``path`` and its JSON report beside it (same name,
        ``.json``), from which the notebook reloads its data; returns the JSON path."""
        from .report.notebook import write

        return write(self, Path(path))

    def plot(self, kind: str = "layers") -> Figure:
        """A matplotlib Figure: ``layers`` (differing files and bytes per layer, stacked by
        cause), ``causes`` (differences per cause) or ``sizes`` (layer sizes of A and B)."""
        from .report.plots import plot

        return plot(self, kind)

    def __repr__(self) -> str:
        a, b = self.images
        return (
            f"<reprokit.Result {self.verdict}: {self.reason}; "
            f"{a.ref if a else '?'} vs {b.ref if b else '?'}; "
            f"{self.summary['layers_differing']}/{self.summary['layers']} layers differ, "
            f"{self.summary['files_differing']} file differences>"
        )


def _files_frame(diffs: list[FileDiff], columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for d in diffs:
        row: dict[str, Any] = {
            "layer": d.layer,
            "path": d.path,
            "change": d.change,
            "fields": ",".join(d.fields),
            "cause": d.cause,
            "ignored": d.ignored,
            "fix": d.fix,
            "evidence": d.evidence,
        }
        for side, rec in (("a", d.a), ("b", d.b)):
            row[f"type_{side}"] = rec.type if rec else None
            row[f"size_{side}"] = rec.size if rec else None
            row[f"mode_{side}"] = f"{rec.mode:04o}" if rec else None
            row[f"mtime_{side}"] = rec.mtime if rec else None
            row[f"sha256_{side}"] = rec.sha256 if rec else None
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
