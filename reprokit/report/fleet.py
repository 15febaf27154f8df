"""Presenters of the fleet's kinds: ``survey`` (a row per target) and ``history`` (the fleet
over time). Registered in :data:`reprokit.report.view.EXTRA` on import, so every presenter
(text, HTML, Markdown, notebook) shows them as documents of facts and tables.

Result modules import this one; it never imports them (it reads their records only).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import UsageError
from ..text import clean, one_line
from .view import EXTRA, NONE, Document, Table, _table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _causes(causes: dict[str, int]) -> str:
    return ", ".join(f"{c} {n}" for c, n in sorted(causes.items(), key=lambda kv: -kv[1]))


def _seconds(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f} s"


class SurveyPresenter:
    """``survey``: PASSES when every target meets its requirement, FAILS otherwise."""

    @staticmethod
    def state(result: Any) -> tuple[str, str]:
        if result.ok:
            return "PASSES", "ok"
        return f"FAILS ({result.summary['failing']} of {result.summary['targets']})", "fail"

    @staticmethod
    def headline(result: Any) -> str:
        s = result.summary
        counts = ", ".join(
            f"{s[v]} {v}" for v in ("identical", "equivalent", "different", "error") if s[v]
        )
        took = f" in {result.duration_s:.1f} s" if result.duration_s is not None else ""
        return (
            f"survey: {SurveyPresenter.state(result)[0]} — {s['ok']}/{s['targets']} targets "
            f"meet their requirement ({counts or 'no targets'}){took}"
        )

    @staticmethod
    def rows(result: Any) -> list[list[Any]]:
        return [
            [
                r.target,
                r.verdict,
                "yes" if r.ok else "NO",
                r.require,
                _causes(r.causes),
                r.unexplained,
                r.top_fix,
                r.builder,
                r.worker if result.executor == "dask" else r.engine,
                _seconds(r.duration_s),
                r.error,
            ]
            for r in sorted(result.target_records, key=lambda r: (r.ok, r.target))
        ]

    HEADERS: ClassVar[list[str]] = [
        "target",
        "verdict",
        "ok",
        "require",
        "causes",
        "unexplained",
        "top fix",
        "builder",
        "where",
        "took",
        "error",
    ]

    @staticmethod
    def document(result: Any) -> Document:
        facts = [
            f"executor: {result.executor}"
            + (f" ({result.concurrency} at once)" if result.concurrency else "")
        ]
        if result.scheduler:
            facts.append(f"scheduler: {result.scheduler}")
        if result.dashboard:
            facts.append(f"dashboard: {result.dashboard}")
        if result.started:
            facts.append(f"started: {result.started}, took {_seconds(result.duration_s)}")
        if any(r.report for r in result.target_records):
            facts.append("each target's full report: targets/NAME.(json|html|md|ipynb)")
        tables = [
            _table(
                "Targets",
                SurveyPresenter.HEADERS,
                SurveyPresenter.rows(result),
                "targets",
                "targets",
                "No targets.",
            )
        ]
        causes = result.causes
        if causes:
            rows = [
                [r.target, *[r.causes.get(c, 0) for c in causes]]
                for r in result.target_records
                if r.causes
            ]
            tables.append(_table("Causes by target", ["target", *causes], rows, "targets", "rows"))
        word, tone = SurveyPresenter.state(result)
        title = f"reprokit survey: {len(result.target_records)} target(s)"
        return Document(
            "survey", title, SurveyPresenter.headline(result), word, tone, facts, tables
        )

    @staticmethod
    def text(result: Any, top: int | None = None) -> str:
        lines = [clean(SurveyPresenter.headline(result))]
        width = max([len(r.target) for r in result.target_records] + [6])
        width = min(width, 40)
        for r in sorted(result.target_records, key=lambda r: (r.ok, r.target)):
            mark = "ok  " if r.ok else "FAIL"
            detail = r.error or _causes(r.causes) or ""
            took = f"{r.duration_s:5.1f} s" if r.duration_s is not None else ""
            lines.append(
                f"  {mark} {clean(r.target, width):<{width}} {clean(r.verdict):<10} {took}  "
                f"{clean(one_line(detail), 90)}"
            )
            if not r.ok and r.top_fix:
                lines.append(f"       fix: {clean(one_line(r.top_fix), 110)}")
        if result.dashboard:
            lines.append(f"dashboard: {clean(result.dashboard)}")
        return "\n".join(lines)


class HistoryPresenter:
    """``history``: PASSES when every target's latest entry meets its requirement."""

    @staticmethod
    def state(result: Any) -> tuple[str, str]:
        failing = sum(1 for s in result.status_records if not s["ok"])
        return ("PASSES", "ok") if not failing else (f"{failing} FAILING", "fail")

    @staticmethod
    def headline(result: Any) -> str:
        failing = [s["target"] for s in result.status_records if not s["ok"]]
        flaky = {f["target"] for f in result.flaky_records}
        return (
            f"history: {len(result.status_records)} target(s) over {result.runs} run(s); "
            f"{len(failing)} failing now, {len(flaky)} with flaky causes"
        )

    @staticmethod
    def document(result: Any) -> Document:
        status = [
            [s["target"], s["runs"], s["latest"], "yes" if s["ok"] else "NO", s["since"],
             s["changed"], s["last_ok"]]
            for s in sorted(result.status_records, key=lambda s: (s["ok"], s["target"]))
        ]  # fmt: skip
        flaky = [
            [f["target"], f["cause"], f"{f['present']}/{f['runs']}", (f["fingerprint"] or "")[:12]]
            for f in result.flaky_records
        ]
        entries = [
            [e["time"], e["target"], e["verdict"], "yes" if e["ok"] else "NO",
             (e["fingerprint"] or "")[:12], _causes(e["causes"]), e["error"]]
            for e in reversed(result.timeline_records)
        ]  # fmt: skip
        tables: list[Table] = [
            _table(
                "Status",
                ["target", "runs", "latest", "ok", "failing since", "changed", "last ok"],
                status,
                "status",
                "targets",
            ),
            _table(
                "Flaky causes",
                ["target", "cause", "present in runs", "fingerprint"],
                flaky,
                "flaky",
                "causes",
                "No cause comes and goes.",
            ),
            _table(
                "Timeline",
                ["time", "target", "verdict", "ok", "fingerprint", "causes", "error"],
                entries,
                "timeline",
                "checks",
            ),
        ]
        word, tone = HistoryPresenter.state(result)
        facts = [f"store: {result.store}"] if result.store else []
        return Document(
            "history", "reprokit history", HistoryPresenter.headline(result), word, tone,
            facts, tables,
        )  # fmt: skip

    @staticmethod
    def text(result: Any, top: int | None = None) -> str:
        lines = [clean(HistoryPresenter.headline(result))]
        for s in sorted(result.status_records, key=lambda s: (s["ok"], s["target"])):
            if s["ok"]:
                latest, runs = clean(s["latest"]), clean(s["runs"])
                lines.append(f"  ok   {clean(s['target'], 40)}: {latest} ({runs} runs)")
            else:
                latest, since = clean(s["latest"]), clean(s["since"])
                last = clean(s["last_ok"] or "never")
                lines.append(
                    f"  FAIL {clean(s['target'], 40)}: {latest} since {since}; "
                    f"changed: {clean(s['changed'] or NONE)}; last ok: {last}"
                )
        for f in result.flaky_records[: top or None]:
            lines.append(
                f"  flaky {clean(f['target'], 40)}: {clean(f['cause'])} in {clean(f['present'])} "
                f"of {clean(f['runs'])} runs of one spec"
            )
        return "\n".join(lines)


EXTRA["survey"] = SurveyPresenter
EXTRA["history"] = HistoryPresenter

# --- plots ---------------------------------------------------------------------------------------

VERDICT_COLOURS = {
    "identical": "#1b7f3b",
    "equivalent": "#1f5fa8",
    "different": "#b3261e",
    "error": "#7f7f7f",
}


def _figure(width: float = 8, height: float = 4) -> Any:
    from .plots import _figure as figure

    return figure(width, height)


def _stacked(ax: Any, labels: list[str], series: dict[str, list[float]], colours: dict) -> None:
    bottom = [0.0] * len(labels)
    for name, values in series.items():
        ax.bar(labels, values, bottom=bottom, label=name, color=colours.get(name))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if series:
        ax.legend(fontsize="small")
    ax.tick_params(axis="x", labelrotation=30)


def survey_plot(result: Any, kind: str = "causes") -> Figure:
    """``causes``: differences per cause, stacked, per target; ``durations``: seconds."""
    fig = _figure()
    ax = fig.add_subplot()
    labels = [r.target for r in result.target_records]
    if kind == "causes":
        from .plots import CAUSE_COLOURS

        series = {c: [r.causes.get(c, 0) for r in result.target_records] for c in result.causes}
        _stacked(ax, labels, series, CAUSE_COLOURS)
        ax.set_ylabel("differences")
        ax.set_title("Differences by cause, per target")
    elif kind == "durations":
        colours = [VERDICT_COLOURS.get(r.verdict) for r in result.target_records]
        ax.bar(labels, [r.duration_s or 0 for r in result.target_records], color=colours)
        ax.set_ylabel("seconds")
        ax.set_title("Time per target")
        ax.tick_params(axis="x", labelrotation=30)
    else:
        raise UsageError(f"plot kind {kind!r}: use causes or durations")
    return fig


def history_plot(result: Any, kind: str = "verdicts") -> Figure:
    """``verdicts``: targets per verdict, by day; ``causes``: differences per cause, by target
    (summed over every run)."""
    fig = _figure()
    ax = fig.add_subplot()
    if kind == "verdicts":
        days: dict[str, Counter[str]] = defaultdict(Counter)
        for e in result.timeline_records:
            days[str(e["time"])[:10]][e["verdict"]] += 1
        labels = sorted(days)
        series = {v: [days[d][v] for d in labels] for v in VERDICT_COLOURS}
        _stacked(ax, labels, {k: v for k, v in series.items() if any(v)}, VERDICT_COLOURS)
        ax.set_ylabel("target checks")
        ax.set_title("Verdicts by day")
    elif kind == "causes":
        from .plots import CAUSE_COLOURS

        per: dict[str, Counter[str]] = defaultdict(Counter)
        for e in result.timeline_records:
            per[e["target"]].update(e["causes"])
        labels = sorted(per)
        causes = sorted({c for counts in per.values() for c in counts})
        _stacked(ax, labels, {c: [per[t][c] for t in labels] for c in causes}, CAUSE_COLOURS)
        ax.set_ylabel("differences (all runs)")
        ax.set_title("Causes by target")
    else:
        raise UsageError(f"plot kind {kind!r}: use verdicts or causes")
    return fig
