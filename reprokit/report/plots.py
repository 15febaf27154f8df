"""Plots of a Result with matplotlib (Agg, no display needed): each returns a Figure.

- ``layers``: per layer, the differing files and their bytes, stacked by cause;
- ``causes``: how many differences each cause explains;
- ``sizes``: the size of each layer in A and B side by side.

>>> from reprokit.model import ImageInfo, LayerDiff
>>> from reprokit.result import Result
>>> img = ImageInfo("a", "sha256:1", ["sha256:x"])
>>> r = Result("identical", "same", (img, img), [LayerDiff(0, "x", "x", True, None, 0, 10, 10)])
>>> fig = plot(r, "sizes")
>>> png(fig)[:8]
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .view import cause_counts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..result import Result

KINDS = ("layers", "causes", "sizes")
#: One colour per cause of the catalogue (docs/causes.md); others cycle through the rest.
CAUSE_COLOURS = {
    "timestamp": "#9ecae1",
    "image-metadata": "#c6dbef",
    "log-file": "#fdd0a2",
    "package-manager-cache": "#fdae6b",
    "ldconfig-cache": "#fd8d3c",
    "python-bytecode": "#a1d99b",
    "embedded-timestamp": "#6baed6",
    "identity": "#bcbddc",
    "ownership": "#9e9ac8",
    "permissions": "#756bb1",
    "dependency-drift": "#e6550d",
    "layer-digest": "#bdbdbd",
    "unexplained": "#d62728",
}
_SPARE = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#2ca02c"]


def _figure(width: float = 7.5, height: float = 3.4) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _ReportFigure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colour(cause: str, spare: dict[str, str]) -> str:
    if cause in CAUSE_COLOURS:
        return CAUSE_COLOURS[cause]
    return spare.setdefault(cause, _SPARE[len(spare) % len(_SPARE)])


def _labels(result: Result) -> list[str]:
    return [f"#{layer.index}" for layer in result.layer_records]


def _layers(result: Result) -> Figure:
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.5, 3.6)
    ax_files, ax_bytes = fig.subplots(1, 2)
    files: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sizes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for d in result.file_records:
        if d.layer is None:
            continue
        cause = d.cause or "unexplained"
        files[cause][d.layer] += 1
        sizes[cause][d.layer] += max(d.a.size if d.a else 0, d.b.size if d.b else 0)
    indexes = [layer.index for layer in result.layer_records]
    spare: dict[str, str] = {}
    for ax, data, title in (
        (ax_files, files, "differing files"),
        (ax_bytes, sizes, "bytes of differing files"),
    ):
        bottom = [0] * len(indexes)
        for cause in sorted(data, key=lambda c: -sum(data[c].values())):
            values = [data[cause].get(i, 0) for i in indexes]
            ax.bar(
                [str(i) for i in indexes],
                values,
                bottom=bottom,
                label=cause,
                color=_colour(cause, spare),
            )
            bottom = [x + y for x, y in zip(bottom, values, strict=True)]
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("layer")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if not data:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    if files:
        ax_files.legend(fontsize=8, title="cause", title_fontsize=8)
        ax_bytes.legend(fontsize=8, title="cause", title_fontsize=8)
    if _spans_orders([v for per in sizes.values() for v in per.values()]):
        ax_bytes.set_yscale("log")
        ax_bytes.set_title("bytes of differing files (log scale)", fontsize=10)
    return fig


def _causes(result: Result) -> Figure:
    from matplotlib.ticker import MaxNLocator

    counts = cause_counts(result)
    fig = _figure(7.0, max(1.6, 0.35 * len(counts) + 1.0))
    ax = fig.subplots()
    items = sorted(counts.items(), key=lambda kv: kv[1])
    spare: dict[str, str] = {}
    ax.barh(
        [k for k, _ in items], [v for _, v in items], color=[_colour(k, spare) for k, _ in items]
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("differences by cause", fontsize=10)
    ax.set_xlabel("differences (files and config fields)")
    if not items:
        ax.text(0.5, 0.5, "no differences", ha="center", va="center", transform=ax.transAxes)
    return fig


def _sizes(result: Result) -> Figure:
    fig = _figure()
    ax = fig.subplots()
    xs = list(range(len(result.layer_records)))
    width = 0.4
    ax.bar(
        [x - width / 2 for x in xs],
        [layer.size_a or 0 for layer in result.layer_records],
        width,
        label="A",
        color="#4c72b0",
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [layer.size_b or 0 for layer in result.layer_records],
        width,
        label="B",
        color="#dd8452",
    )
    ax.set_xticks(xs, _labels(result))
    log = _spans_orders([s for layer in result.layer_records for s in (layer.size_a, layer.size_b)])
    if log:  # small layers stay visible next to large ones
        ax.set_yscale("log")
    scale = ", log scale" if log else ""
    ax.set_title(f"layer sizes (uncompressed bytes{scale})", fontsize=10)
    ax.set_ylabel("bytes")
    ax.legend(fontsize=8, title="image", title_fontsize=8)
    return fig


def _spans_orders(values: list[int | None], orders: int = 2) -> bool:
    """Whether the positive ``values`` span more than ``orders`` orders of magnitude.

    >>> _spans_orders([10, 2_000_000]), _spans_orders([100, 900, None, 0])
    (True, False)
    """
    positive = [v for v in values if v]
    return bool(positive) and max(positive) > min(positive) * 10**orders


def plot(result: Result, kind: str = "layers") -> Figure:
    """One plot of ``result``: ``kind`` is one of :data:`KINDS`."""
    makers = {"layers": _layers, "causes": _causes, "sizes": _sizes}
    if kind not in makers:
        raise UsageError(f"plot kind {kind!r}: use one of {', '.join(KINDS)}")
    return makers[kind](result)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def data_uri(fig: Figure) -> str:
    """The figure as a ``data:image/png;base64,`` URI for self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(png(fig)).decode("ascii")


def _make_figure_class() -> Any:
    from matplotlib.figure import Figure

    class ReportFigure(Figure):
        """A Figure that shows itself as a PNG in Jupyter without pyplot."""

        def _repr_png_(self) -> bytes:
            return png(self)

    return ReportFigure


class _Lazy:
    """Import matplotlib only when the first figure is made (keeps CLI start-up fast)."""

    cls: Any = None

    def __call__(self, *args: Any, **kw: Any) -> Figure:
        if _Lazy.cls is None:
            _Lazy.cls = _make_figure_class()
        return _Lazy.cls(*args, **kw)


_ReportFigure = _Lazy()
