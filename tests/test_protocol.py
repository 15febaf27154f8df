"""The result protocol, without an engine: every kind renders in every format, loads back as
the same kind, reports written before still load, and every format lists the same top paths."""

from __future__ import annotations

import ast
import json
import random
import re
import shutil
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

import reprokit
from reprokit.auditing.images import ImagesResult
from reprokit.auditing.model import DriftEntry, Finding
from reprokit.auditing.result import AuditResult
from reprokit.baseline import Mismatch, ReplayResult
from reprokit.behaviour.result import ParityResult
from reprokit.commands.common import status
from reprokit.explain.fixes import Edit
from reprokit.fixing import FixResult, Round, Unfixed
from reprokit.fleet.history import HistoryResult
from reprokit.fleet.result import SurveyResult, TargetRow
from reprokit.kinds import REGISTRY
from reprokit.model import (
    ConfigDiff,
    FileDiff,
    ImageInfo,
    LayerDiff,
    Outcome,
    PackageDiff,
    ParityEntry,
)
from reprokit.packages.model import Inventory, Package
from reprokit.protocol import KINDS, Reported
from reprokit.report.view import rank
from reprokit.result import Result

DATA = Path(__file__).parent / "data" / "v1"
HOSTILE = "<img src=x onerror=alert(1)>|`x`*y*\x1b[2J"


def comparison() -> Result:
    a = ImageInfo(f"app:{HOSTILE}", "sha256:" + "a" * 64, ["sha256:x", "sha256:y"], size=1000)
    b = ImageInfo("app:b", "sha256:" + "b" * 64, ["sha256:x", "sha256:z"], size=1200)
    return Result(
        "different",
        f"content differs {HOSTILE}",
        (a, b),
        layer_records=[
            LayerDiff(0, "sha256:x", "sha256:x", True, "FROM scratch", 0),
            LayerDiff(1, "sha256:y", "sha256:z", False, f"RUN make {HOSTILE}", 2),
        ],
        config_records=[ConfigDiff("created", "changed", "2020", "2021", cause="timestamp")],
        file_records=[
            FileDiff(f"/app/{HOSTILE}", "modified", ["content"], layer=1, cause="unexplained"),
            FileDiff("/app/stamp", "modified", ["mtime"], layer=1, cause="timestamp"),
        ],
        package_records=[PackageDiff("dpkg", HOSTILE, "changed", "1", "2")],
        parity_records=[ParityEntry(HOSTILE, Outcome("ok", {"uid": 1}), Outcome("ok", {"uid": 2}))],
        require="identical",
    )


def parity() -> ParityResult:
    return ParityResult(
        ("a:1", f"b:{HOSTILE}"),
        [
            ParityEntry("file /etc/passwd", Outcome("ok", "x"), Outcome("ok", "x")),
            ParityEntry(f"user {HOSTILE}", Outcome("ok", {"uid": 1}), Outcome("ok", {"uid": 2})),
            ParityEntry("gone", Outcome("ok", 1), Outcome("error", message=HOSTILE)),
        ],
        image_ids=("sha256:1", "sha256:2"),
        run_id="r1",
        duration_s=1.5,
    )


def audit() -> AuditResult:
    return AuditResult(
        "audit",
        f"busybox:{HOSTILE}",
        [
            Finding("secret-private-key", "high", "final", 1, f"/srv/{HOSTILE}", "a key", "rm it"),
            Finding("root-user", "medium", "config", None, "config.User", "root", "add USER"),
        ],
        image={"id": "sha256:" + "c" * 64, "repo_tags": [HOSTILE]},
        stats={"layers": 2, "files_scanned": 10, "efficiency": 0.5, "wasted_bytes": 10},
        disabled=["waste"],
        fail_on="medium",
    )


def drift() -> AuditResult:
    return AuditResult(
        "drift",
        "container c1",
        drift_records=[
            DriftEntry(f"/etc/{HOSTILE}", "changed", "config", ["content"], detail=HOSTILE),
            DriftEntry("/tmp/state", "added", "runtime-state"),
        ],
        image={"id": "sha256:1", "container": "c" * 64},
    )


def inventory() -> Inventory:
    return Inventory(
        f"busybox:{HOSTILE}",
        "sha256:" + "d" * 64,
        {"PRETTY_NAME": HOSTILE},
        [Package("dpkg", HOSTILE, "5.2", "amd64"), Package("python", "requests", "2.31")],
        [{"name": "root", "uid": 0, "gid": 0, "home": "/root", "shell": "/bin/sh"}],
        [{"name": "root", "gid": 0, "members": []}],
        {"PATH": "/bin", "X": HOSTILE},
        entrypoint=["/bin/sh"],
        exposed_ports=["80/tcp"],
        labels={"l": HOSTILE},
        platform="linux/amd64",
    )


def replay() -> ReplayResult:
    mismatches = [Mismatch(f"env {HOSTILE}", HOSTILE, None), Mismatch("os ID", "a", "b")]
    return ReplayResult("app:2", "sha256:2", f"app:{HOSTILE}", 12, mismatches)


def images() -> ImagesResult:
    rows = [
        {"id": "sha256:1", "tags": [HOSTILE], "size": 10, "created": "2024-01-01T00:00:00",
         "age_days": 1.0, "containers": 1, "running": 0, "dangling": False},
        {"id": "sha256:2", "tags": [], "size": 5, "created": "2024-01-01T00:00:00",
         "age_days": 2.0, "containers": 0, "running": 0, "dangling": True},
    ]  # fmt: skip
    return ImagesResult(rows)


def survey() -> SurveyResult:
    rows = [
        TargetRow(f"svc/{HOSTILE}", "context", "different", False, causes={"timestamp": 2,
                  "unexplained": 1}, unexplained=1, top_fix=f"pin {HOSTILE}", duration_s=1.5,
                  report="svc"),
        TargetRow("db", "context", "error", False, error=f"build failed: {HOSTILE}"),
        TargetRow("a=b", "pair", "identical", True, require="identical"),
    ]  # fmt: skip
    return SurveyResult(rows, started="2024-05-01T00:00:00+00:00", duration_s=3.0, run_id="r1")


def history() -> HistoryResult:
    def entry(time: str, verdict: str, fingerprint: str, causes: dict) -> dict:
        return {"time": time, "run_id": time[:10], "target": HOSTILE, "kind": "context",
                "verdict": verdict, "ok": verdict != "different", "require": "equivalent",
                "fingerprint": fingerprint, "context_digest": "c", "dockerfile_digest":
                fingerprint, "build_args": {}, "options": {}, "image_a": None, "image_b": None,
                "causes": causes, "unexplained": 0, "builder": "docker", "engine": None,
                "duration_s": 1.0, "error": None}  # fmt: skip

    return HistoryResult.of(
        [
            entry("2024-05-01T00:00:00+00:00", "equivalent", "f1", {"timestamp": 1}),
            entry("2024-05-02T00:00:00+00:00", "equivalent", "f1", {}),
            entry("2024-05-03T00:00:00+00:00", "different", "f2", {"unexplained": 1}),
        ],
        "history.db",
    )


def fixed() -> FixResult:
    original = f"FROM scratch\nRUN pip install flask # {HOSTILE}\n"
    patched = original.replace("pip install", "pip install --no-compile")
    before = comparison()
    after = Result("equivalent", "only timestamps differ", before.images, require="equivalent")
    edit = Edit("flag", 2, "--no-compile", "python-bytecode", f"pip compiles {HOSTILE}")
    return FixResult(
        Path("/tmp/ctx/Dockerfile.fixed"),
        original,
        patched,
        before,
        after,
        round_records=[Round(1, [edit], "equivalent", "only timestamps differ")],
        unfixed_records=[Unfixed(2, f"RUN {HOSTILE}", "timestamp", 3, f"use buildah {HOSTILE}")],
        duration_s=42.5,
        source=Path("/tmp/ctx/Dockerfile"),
    )


MAKERS = {
    "comparison": comparison,
    "parity": parity,
    "audit": audit,
    "drift": drift,
    "inventory": inventory,
    "replay": replay,
    "images": images,
    "survey": survey,
    "history": history,
    "fix": fixed,
}


def check_every_format(result: Reported, tmp_path: Path) -> None:
    """The protocol: rich display, text, the four formats, and a reload of the same kind."""
    html = result._repr_html_()
    assert html.startswith("<div") and "reprokit-report" in html
    assert "<img" not in html and "\x1b" not in html  # every image-derived string escaped
    text = result.text()
    assert text.strip() and "\x1b" not in text
    assert repr(result).startswith(f"<reprokit.{type(result).__name__} ")
    for ext in ("json", "html", "md", "ipynb"):
        result.write(tmp_path / f"r.{ext}")
    page = (tmp_path / "r.html").read_text()
    assert page.lower().startswith("<!doctype html>") and "<img src=x" not in page
    md = (tmp_path / "r.md").read_text()
    assert "<img" not in md and "\x1b" not in md
    nb = nbformat.read(tmp_path / "r.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and "reprokit.load('r.json')" in nb.cells[1].source
    back = reprokit.load(tmp_path / "r.json")
    assert type(back) is type(result) and back.kind == result.kind
    assert back.to_dict() == result.to_dict() and back.ok == result.ok
    assert json.loads(result.to_json() or "") == result.to_dict()
    assert back.text() == text and back._repr_html_() == html


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_format_and_loads_back(kind: str, tmp_path: Path):
    result = MAKERS[kind]()
    assert result.kind == kind and REGISTRY[kind] is type(result)
    check_every_format(result, tmp_path)


def test_one_ok_with_one_sense():
    assert not comparison().ok and Result("equivalent", "", comparison().images).ok
    assert not parity().ok and parity().errors
    assert not audit().ok and AuditResult("audit", "x", audit().finding_records[1:]).ok
    assert not drift().ok and AuditResult("drift", "c", drift_records=drift().drift_records[1:]).ok
    assert not replay().ok and ReplayResult("a", "sha256:1", "b", 3).ok
    assert inventory().ok and images().ok
    assert fixed().ok and not replace(fixed(), after=None).ok
    assert [status(r) for r in (comparison(), replay(), inventory())] == [1, 1, 0]
    for gone in ("fails", "holds", "exit_status", "write_report", "entries", "frame"):
        for maker in MAKERS.values():
            assert not hasattr(maker(), gone), gone


def test_dataframes_are_named_as_their_records_and_computed_once():
    pairs = {
        "comparison": [("parity", "parity_records"), ("packages", "package_records")],
        "parity": [("parity", "parity_records")],
        "audit": [("findings", "finding_records")],
        "drift": [("drift", "drift_records"), ("findings", "finding_records")],
        "inventory": [("packages", "package_records"), ("users", "user_records")],
        "replay": [("mismatches", "mismatch_records")],
        "images": [("images", "image_records")],
        "survey": [("targets", "target_records")],
        "history": [("status", "status_records"), ("flaky", "flaky_records"),
                    ("timeline", "timeline_records")],
        "fix": [("rounds", "round_records"), ("unfixed", "unfixed_records")],
    }  # fmt: skip
    for kind, names in pairs.items():
        result = MAKERS[kind]()
        for frame, records in names:
            assert len(getattr(result, frame)) == len(getattr(result, records)), (kind, frame)
            assert getattr(result, frame) is getattr(result, frame)
    assert parity().parity.columns[0] == "test" == comparison().parity.columns[0]


@pytest.mark.parametrize("kind", KINDS)
def test_reports_written_before_the_protocol_still_load(kind: str, tmp_path: Path):
    """tests/data/v1 was written by the code before this protocol (no ``kind`` in comparisons,
    ``holds`` in parity and replay, bare facts for an inventory)."""
    result = reprokit.load(DATA / f"{kind}.json")
    assert result.kind == kind
    old = json.loads((DATA / f"{kind}.json").read_text())
    assert "kind" not in old if kind in ("comparison", "inventory") else old["kind"] == kind
    check_every_format(result, tmp_path)
    if "holds" in old:
        assert result.ok == old["holds"]


def test_report_converts_any_kind(tmp_path: Path):
    from conftest import run_cli

    for kind in ("parity", "replay", "inventory", "images", "drift"):
        shutil.copy(DATA / f"{kind}.json", tmp_path / f"{kind}.json")
        out = tmp_path / f"{kind}-out.html"
        proc = run_cli("report", str(tmp_path / f"{kind}.json"), "--to", str(out))
        assert proc.returncode == 0, proc.stderr
        assert out.read_text().lower().startswith("<!doctype html>")


def test_unknown_documents_are_refused(tmp_path: Path):
    for data, message in (
        ({"schema": "reprokit/v1", "kind": "nope"}, "kind"),
        ({"schema": "other"}, "schema"),
        ([1, 2], "not a reprokit report"),
    ):
        path = tmp_path / "x.json"
        path.write_text(json.dumps(data))
        with pytest.raises(reprokit.ReportError, match=message):
            reprokit.load(path)


# --- one ranking of the top differing paths -------------------------------------------------


def ranked_result(n: int = 60) -> Result:
    causes = [None, "unexplained", "timestamp", "embedded-timestamp", "build-id"]
    fields = [["mtime"], ["content"], ["content", "mtime"], ["mode"]]
    rnd = random.Random(7)
    diffs = [
        FileDiff(
            f"/app/{rnd.choice('abcdef')}{i:03d}",
            rnd.choice(["modified", "added", "deleted"]),
            rnd.choice(fields),
            layer=rnd.choice([1, 2]),
            cause=rnd.choice(causes),
            ignored=rnd.random() < 0.15,
        )
        for i in range(n)
    ]
    rnd.shuffle(diffs)
    img = ImageInfo("a", "sha256:1", ["sha256:x", "sha256:y", "sha256:z"])
    layers = [LayerDiff(i, "sha256:x", "sha256:y", i == 0, "RUN x", 0) for i in range(3)]
    return Result("different", "differs", (img, img), layer_records=layers, file_records=diffs)


def text_paths(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("top differing paths"))
    out = []
    for line in lines[start + 1 :]:
        m = re.match(r"^  \S+\s+(?:#\d+ )?(/\S+)  ", line)
        if not m:
            if line.startswith("           "):  # evidence
                continue
            break
        out.append(m.group(1))
    return out


def markdown_paths(md: str, heading: str) -> list[str]:
    part = md.split(heading, 1)[1].split("\n\n", 2)[1]
    rows = [line for line in part.splitlines() if line.startswith("| /")]
    return [row.split(" | ")[0].removeprefix("| ").removesuffix(" (ignored)") for row in rows]


def test_every_format_lists_the_same_top_paths_in_the_same_order(tmp_path: Path):
    result = ranked_result()
    expected = [d.path for d in sorted(result.file_records, key=rank)]
    assert len({tuple(rank(d)[:2]) for d in result.file_records}) > 4  # mixed tiers
    from_text = text_paths(result.text(top=10))
    html = result._repr_html_()
    top_table = html.split("Every differing path", 1)[1].split("</table>", 1)[0]
    cells = re.findall(r'<tr><td style="[^"]*"><code>(.+?)</code>', top_table)
    from_html = [c.replace("<wbr>", "") for c in cells][:20]
    from_md = markdown_paths(result.to_markdown(), "### Top differing files")
    result.write(tmp_path / "r.ipynb")
    nb = nbformat.read(tmp_path / "r.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("## Top differing files"))
    from_nb = markdown_paths(cell.source, "## Top differing files")
    assert from_text == expected[:10]
    assert from_html == from_md == from_nb == expected[:20]


# --- presenters never import results --------------------------------------------------------

RESULT_MODULES = {
    "reprokit.result",
    "reprokit.behaviour.result",
    "reprokit.auditing.result",
    "reprokit.auditing.images",
    "reprokit.baseline",
    "reprokit.packages.model",
    "reprokit.kinds",
    "reprokit.protocol",
    "reprokit.fixing",
}


def runtime_imports(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports outside ``if TYPE_CHECKING:``, inside functions too."""
    tree = ast.parse(path.read_text())
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            mod = ".".join([*base, node.module or ""]) if node.level else node.module or ""
            out |= {mod.rstrip(".")} | {f"{mod}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_presenters_never_import_a_result_module():
    report = Path(reprokit.__file__).parent / "report"
    for path in report.glob("*.py"):
        found = runtime_imports(path, "reprokit.report") & RESULT_MODULES
        assert not found, (path.name, found)


@pytest.mark.parametrize("name", ["r.json", "r.ipynb", "r.md", "r.html"])
def test_write_shows_secrets_only_when_asked(name: str, tmp_path: Path):
    secret = "Sup3rS3cretValue42"
    result = replace(
        comparison(),
        config_records=[
            ConfigDiff("config.Env[0]", "changed", f"DB_PASSWORD={secret}", "DB_PASSWORD=x")
        ],
    )
    hidden, shown = tmp_path / "hidden", tmp_path / "shown"
    hidden.mkdir()
    shown.mkdir()
    result.write(hidden / name)
    result.write(shown / name, show_secrets=True)
    texts = {d: "".join(p.read_text() for p in d.iterdir()) for d in (hidden, shown)}
    assert secret not in texts[hidden] and "redacted" in texts[hidden]
    assert secret in texts[shown]
