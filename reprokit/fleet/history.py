"""The fleet's history: every survey appended to a store, and the questions it answers.

The store is an embedded SQLite file by default (WAL journal and a busy timeout: many
surveys may append at once) or any SQLAlchemy URL (``postgresql+psycopg://…`` for a shared
one). Each run adds one entry per target: time, spec fingerprint and its parts (context
digest, Dockerfile digest, build args and options), image digests, verdict, cause counts.

:func:`history` reads it back as a :class:`HistoryResult` (kind ``history``): since when each
target has not met its requirement, which change of spec made it so, which causes come and go
under an unchanged spec (flaky), and plots of the fleet over time.

>>> import tempfile, os
>>> from reprokit.fleet.result import SurveyResult, TargetRow
>>> db = os.path.join(tempfile.mkdtemp(), "h.db")
>>> def run(when, verdict, dockerfile, causes):
...     row = TargetRow("web", "context", verdict, verdict != "different", causes=causes,
...                     fingerprint=dockerfile, spec={"dockerfile": dockerfile, "context": "c"})
...     with Store.open(db) as store:
...         store.append(SurveyResult([row], started=when, run_id=when))
>>> run("2024-05-01T00:00:00+00:00", "equivalent", "d1", {"timestamp": 3})
>>> run("2024-05-02T00:00:00+00:00", "different", "d2", {"timestamp": 3, "content": 1})
>>> h = history(db)
>>> s = h.status_records[0]
>>> s["since"], s["changed"]
('2024-05-02T00:00:00+00:00', 'dockerfile')
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ReportError, UsageError
from ..protocol import Reported, shown_frame
from ..report import fleet as _presenters  # noqa: F401  (registers the history presenter)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from .result import SurveyResult

TIMELINE_COLUMNS = [
    "time",
    "run_id",
    "target",
    "kind",
    "verdict",
    "ok",
    "require",
    "fingerprint",
    "context_digest",
    "dockerfile_digest",
    "build_args",
    "options",
    "image_a",
    "image_b",
    "causes",
    "unexplained",
    "builder",
    "engine",
    "duration_s",
    "error",
]
STATUS_COLUMNS = [
    "target",
    "runs",
    "latest",
    "ok",
    "since",
    "changed",
    "last_ok",
    "fingerprint",
]
FLAKY_COLUMNS = ["target", "cause", "present", "runs", "fingerprint"]
#: the parts of a spec whose change is named (in this order)
SPEC_PARTS = ("context", "dockerfile", "build_args", "options", "refs")


def _url(where: str | Path) -> str:
    text = str(where)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


class Store:
    """A history store at a SQLite path or SQLAlchemy URL; use as a context manager."""

    def __init__(self, where: str | Path):
        try:
            import sqlalchemy as sa
        except ImportError:  # pragma: no cover - the fleet extra installs it
            raise UsageError(
                "the history store needs SQLAlchemy: pip install 'reprokit[fleet]'"
            ) from None
        self.url = _url(where)
        sqlite = self.url.startswith("sqlite")
        try:
            self.engine = sa.create_engine(
                self.url, connect_args={"timeout": 60} if sqlite else {}, pool_pre_ping=True
            )
        except (sa.exc.ArgumentError, ImportError) as err:
            raise UsageError(f"history store {where}: {err}") from None
        if sqlite:

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi: Any, record: Any) -> None:
                cursor = dbapi.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.close()

        meta = sa.MetaData()
        self.runs = sa.Table(
            "reprokit_runs",
            meta,
            sa.Column("run_id", sa.String(64), primary_key=True),
            sa.Column("started", sa.String(40), index=True),
            sa.Column("duration_s", sa.Float),
            sa.Column("executor", sa.String(20)),
            sa.Column("targets", sa.Integer),
            sa.Column("ok", sa.Boolean),
        )
        self.entries = sa.Table(
            "reprokit_entries",
            meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.String(64), index=True),
            sa.Column("time", sa.String(40), index=True),
            sa.Column("target", sa.String(400), index=True),
            sa.Column("kind", sa.String(20)),
            sa.Column("verdict", sa.String(20)),
            sa.Column("ok", sa.Boolean),
            sa.Column("require", sa.String(20)),
            sa.Column("fingerprint", sa.String(64)),
            sa.Column("context_digest", sa.String(64)),
            sa.Column("dockerfile_digest", sa.String(64)),
            sa.Column("build_args", sa.Text),
            sa.Column("options", sa.Text),
            sa.Column("refs", sa.Text),
            sa.Column("image_a", sa.String(100)),
            sa.Column("image_b", sa.String(100)),
            sa.Column("causes", sa.Text),
            sa.Column("unexplained", sa.Integer),
            sa.Column("builder", sa.String(40)),
            sa.Column("engine", sa.String(400)),
            sa.Column("duration_s", sa.Float),
            sa.Column("error", sa.Text),
        )
        self.meta = meta
        for attempt in range(5):  # another writer may create the tables at the same moment
            try:
                meta.create_all(self.engine, checkfirst=True)
                break
            except sa.exc.DBAPIError as err:
                if attempt == 4 or "exist" not in str(err.orig).lower():
                    raise UsageError(f"history store {where}: {err.orig}") from None

    @classmethod
    def open(cls, where: str | Path) -> Store:
        return cls(where)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def append(self, result: SurveyResult) -> None:
        """Add one run: its summary and an entry per target, in one transaction."""
        rows = []
        for r in result.target_records:
            spec = r.spec or {}
            rows.append(
                {
                    "run_id": result.run_id,
                    "time": result.started,
                    "target": r.target,
                    "kind": r.kind,
                    "verdict": r.verdict,
                    "ok": r.ok,
                    "require": r.require,
                    "fingerprint": r.fingerprint,
                    "context_digest": spec.get("context"),
                    "dockerfile_digest": spec.get("dockerfile"),
                    "build_args": json.dumps(spec.get("build_args"), sort_keys=True),
                    "options": json.dumps(spec.get("options"), sort_keys=True),
                    "refs": spec.get("refs"),
                    "image_a": r.image_a,
                    "image_b": r.image_b,
                    "causes": json.dumps(r.causes, sort_keys=True),
                    "unexplained": r.unexplained,
                    "builder": r.builder,
                    "engine": r.engine,
                    "duration_s": r.duration_s,
                    "error": r.error,
                }
            )
        with self.engine.begin() as conn:
            conn.execute(
                self.runs.insert(),
                {
                    "run_id": result.run_id,
                    "started": result.started,
                    "duration_s": result.duration_s,
                    "executor": result.executor,
                    "targets": len(result.target_records),
                    "ok": result.ok,
                },
            )
            if rows:
                conn.execute(self.entries.insert(), rows)

    def read(self, target: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        """Entries (oldest first), of one target and from a time on when given."""
        query = self.entries.select().order_by(self.entries.c.time, self.entries.c.id)
        if target is not None:
            query = query.where(self.entries.c.target == target)
        if since is not None:
            query = query.where(self.entries.c.time >= since)
        with self.engine.connect() as conn:
            out = []
            for row in conn.execute(query).mappings():
                entry = {k: row[k] for k in TIMELINE_COLUMNS}
                entry["refs"] = row["refs"]
                for key in ("build_args", "options", "causes"):
                    entry[key] = json.loads(entry[key]) if entry[key] else None
                entry["causes"] = entry["causes"] or {}
                entry["ok"] = bool(entry["ok"])
                out.append(entry)
            return out


def _changed(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Which parts of the spec differ between two entries, or why none does."""
    keys = {
        "context": "context_digest",
        "dockerfile": "dockerfile_digest",
        "build_args": "build_args",
        "options": "options",
        "refs": "refs",
    }
    parts = [name for name in SPEC_PARTS if before.get(keys[name]) != after.get(keys[name])]
    if parts:
        return ", ".join(parts)
    return "no spec change (the builds themselves differ: see the causes)"


def analyse(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per target: its status (since when it fails, which change did it) and its flaky causes
    (present in some runs, absent in others, under one fingerprint)."""
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        by_target[e["target"]].append(e)
    status, flaky = [], []
    for target, runs in by_target.items():
        latest = runs[-1]
        since = changed = None
        if not latest["ok"]:
            first = len(runs) - 1
            while first > 0 and not runs[first - 1]["ok"]:
                first -= 1
            since = runs[first]["time"]
            changed = (
                _changed(runs[first - 1], runs[first]) if first > 0 else "failing since first run"
            )
        last_ok = next((e["time"] for e in reversed(runs) if e["ok"]), None)
        status.append(
            {
                "target": target,
                "runs": len(runs),
                "latest": latest["verdict"],
                "ok": latest["ok"],
                "since": since,
                "changed": changed,
                "last_ok": last_ok,
                "fingerprint": latest["fingerprint"],
            }
        )
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for e in runs:
            if e["verdict"] != "error":
                groups[e["fingerprint"]].append(e)
        for fingerprint, group in groups.items():
            present: Counter[str] = Counter()
            for e in group:
                present.update(c for c, n in e["causes"].items() if n)
            for cause, n in sorted(present.items()):
                if n < len(group):
                    flaky.append(
                        {
                            "target": target,
                            "cause": cause,
                            "present": n,
                            "runs": len(group),
                            "fingerprint": fingerprint,
                        }
                    )
    return status, flaky


@dataclass(repr=False)
class HistoryResult(Reported):
    """What the history store holds about the fleet. Records and DataFrames: ``status``
    (a row per target: latest verdict, ``since`` when it fails, which spec part ``changed``),
    ``flaky`` (causes that come and go under one fingerprint) and ``timeline`` (every target of
    every run). ``ok`` when every target's latest entry meets its requirement."""

    kind: ClassVar[str] = "history"
    timeline_records: list[dict[str, Any]] = field(default_factory=list)
    status_records: list[dict[str, Any]] = field(default_factory=list)
    flaky_records: list[dict[str, Any]] = field(default_factory=list)
    store: str | None = None

    @classmethod
    def of(cls, entries: list[dict[str, Any]], store: str | None = None) -> HistoryResult:
        status, flaky = analyse(entries)
        return cls(entries, status, flaky, store)

    @property
    def ok(self) -> bool:
        return all(s["ok"] for s in self.status_records)

    @property
    def runs(self) -> int:
        return len({e["run_id"] for e in self.timeline_records})

    @shown_frame
    def timeline(self) -> pd.DataFrame:
        from ..frames import frame

        return frame(
            self.timeline_records,
            TIMELINE_COLUMNS,
            times=["time"],
            categories=["kind", "verdict", "require", "builder"],
        )

    @shown_frame
    def status(self) -> pd.DataFrame:
        from ..frames import frame

        return frame(
            self.status_records,
            STATUS_COLUMNS,
            times=["since", "last_ok"],
            categories=["latest"],
        )

    @shown_frame
    def flaky(self) -> pd.DataFrame:
        from ..frames import frame

        return frame(self.flaky_records, FLAKY_COLUMNS, categories=["cause"])

    def target(self, name: str) -> dict[str, Any]:
        """The status of one target."""
        for s in self.status_records:
            if s["target"] == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "reprokit/v1",
            "kind": self.kind,
            "ok": self.ok,
            "store": self.store,
            "status": self.status_records,
            "flaky": self.flaky_records,
            "timeline": self.timeline_records,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryResult:
        if not isinstance(data, dict) or data.get("kind") != "history":
            raise ReportError("not a history report")
        return cls(
            list(data.get("timeline") or []),
            list(data.get("status") or []),
            list(data.get("flaky") or []),
            data.get("store"),
        )

    def plot(self, kind: str = "verdicts") -> Figure:
        """A matplotlib Figure: ``verdicts`` (targets per verdict, by day) or ``causes``
        (differences per cause, by target, over every run)."""
        from ..report.fleet import history_plot

        return history_plot(self, kind)

    __repr__ = Reported.__repr__


def history(
    store: str | Path = "reprokit-history.db",
    *,
    target: str | None = None,
    since: str | None = None,
) -> HistoryResult:
    """Read the history store (SQLite path or SQLAlchemy URL) and answer: since when each
    target fails, which spec change made it so, which causes are flaky; ``plot()`` shows the
    fleet over time. ``target``/``since`` (ISO time) narrow what is read."""
    if "://" not in str(store) and not Path(store).is_file():
        raise UsageError(f"history store {store} does not exist (run a survey with --history)")
    with Store.open(store) as s:
        entries = s.read(target, since)
    return HistoryResult.of(entries, str(store))
