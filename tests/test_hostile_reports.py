"""Reports are data (issue #12, part B): every writer escapes every field of every kind, a
report that fails its schema is refused (one line, exit 2), JSON is strict, output paths are
checked before any work and every report of a run is written whole or not at all.

The hostile reports of the corpus (exit status, one-line error, time, peak RSS, nothing written
outside the outputs) are in tests/hostile/reports.py; the output-directory cases here need a
read-only bind mount or a full tmpfs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_protocol import MAKERS

import reprokit
from reprokit.errors import ReportError
from reprokit.kinds import expanded
from reprokit.model import LayerDiff
from reprokit.outputs import write_all
from reprokit.protocol import KINDS, Reported

ROOT = Path(__file__).resolve().parents[1]

#: every kind of markup an untrusted string could smuggle into a report
PAYLOAD = (
    "<script>alert(1)</script></textarea></pre>|a|b|`x```*y*_z_"
    "[x](javascript:alert(1))<img src=x onerror=alert(2)>"
    "\x1b[2J\x1b]8;;http://evil.example/\x07link\x1b]8;;\x07\x07\x9b31m\r\n# h\n"
)
#: fields whose values presenters look up (an enumeration): kept, hostile elsewhere
KEEP = {
    "kind",
    "verdict",
    "status",
    "change",
    "severity",
    "where",
    "cls",
    "require",
    "type",
    "mode",
    "what",
    "fail_on",
    "manager",
    "time",  # parsed as a time (history)
}
#: number fields presenters show as they are: made hostile text (constructed in Python,
#: never loaded: validation refuses them)
NUMBERS = {"index"}
#: maps whose keys come from the image
FREE_MAPS = {"env", "labels", "os", "xattrs", "image", "stats"}


def poison(value: Any, name: str = "") -> Any:
    """``value`` with every string (and the shown number fields) replaced by :data:`PAYLOAD`."""
    if name in KEEP:
        return value
    if isinstance(value, str):
        return value[:3] + PAYLOAD
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and name in NUMBERS:
        return PAYLOAD
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: poison(getattr(value, f.name), f.name)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):  # keys of free maps (env, labels) too, not of records
        free = name in FREE_MAPS
        return {
            (poison(k) if free else k): poison(v, k if isinstance(k, str) else "")
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(poison(v, name) for v in value)
    if isinstance(value, list):
        return [poison(v, name) for v in value]
    return value


RAW_CONTROL = re.compile("[\x1b\x07\x9b\x00-\x08\x0b\x0c\x0e-\x1f]")


def assert_safe_html(html: str) -> None:
    low = html.lower()
    assert "<script>alert" not in low and "</textarea>" not in low and "<img src=x" not in low
    assert 'href="javascript' not in low and "href='javascript" not in low
    assert not RAW_CONTROL.search(html.replace("\n", "").replace("\t", "").replace("\r", ""))


def assert_safe_markdown(md: str) -> None:
    assert_safe_html(md)
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # no link a renderer would follow


def assert_safe_text(text: str) -> None:
    assert not RAW_CONTROL.search(text.replace("\n", "").replace("\t", ""))


@pytest.mark.parametrize("kind", KINDS)
def test_every_writer_escapes_every_field(kind: str, tmp_path: Path):
    result: Reported = poison(MAKERS[kind]())
    result.revealing()  # redaction must not be what makes it safe
    assert_safe_text(result.text())
    assert_safe_text(repr(result))
    assert_safe_html(result._repr_html_())
    for ext in ("json", "html", "md", "ipynb"):
        result.write(tmp_path / f"r.{ext}")
    assert_safe_html((tmp_path / "r.html").read_text())
    assert_safe_markdown((tmp_path / "r.md").read_text())
    json.loads((tmp_path / "r.json").read_text())  # strict JSON
    assert_safe_notebook(tmp_path / "r.ipynb")


def assert_safe_notebook(path: Path) -> None:
    """Markdown cells and HTML outputs are rendered: safe; plain-text outputs have no escapes."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert_safe_markdown(cell.source)
        for out in cell.get("outputs", []):
            assert_safe_html(out.get("data", {}).get("text/html", ""))
            assert_safe_text(out.get("data", {}).get("text/plain", ""))


def test_a_layer_index_of_markup_is_refused_on_load_and_escaped_when_built(tmp_path: Path):
    result = MAKERS["comparison"]()
    data = result.to_dict()
    data["layers"][1]["index"] = "<script>alert(1)</script>"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=r"r\.json: field layers\[1\]\.index: "):
        reprokit.load(path)
    built = dataclasses.replace(
        result,
        layer_records=[LayerDiff("<script>alert(1)</script>", "a", "b", False, "RUN x", 1)],  # type: ignore[arg-type]
    )
    for ext in ("html", "md", "ipynb"):
        built.write(tmp_path / f"x.{ext}")
    assert "<script>" not in (tmp_path / "x.html").read_text()
    assert "<script>" not in (tmp_path / "x.md").read_text()
    assert_safe_notebook(tmp_path / "x.ipynb")


BAD_FIELDS = [
    ("comparison", ["verdict"], "sure"),
    ("comparison", ["layers", 0, "index"], -1),
    ("comparison", ["layers", 0, "size_a"], "12"),
    ("comparison", ["files", 0, "a"], {"type": "file", "mode": "rwx"}),
    ("comparison", ["files", 0, "layer"], 1.5),
    ("comparison", ["images"], [{"ref": "a", "id": "b"}]),
    ("audit", ["findings", 0, "severity"], "<b>"),
    ("audit", ["findings", 0, "layer"], "1"),
    ("drift", ["drift", 0, "class"], "x"),
    ("parity", ["parity", 0, "a"], "maybe"),
    ("inventory", ["env", "X"], 1),
    ("replay", ["checked"], -3),
    ("images", ["images", 0, "size"], "big"),
]


@pytest.mark.parametrize(("kind", "where", "bad"), BAD_FIELDS)
def test_reports_are_validated_by_type_and_range(kind, where, bad, tmp_path: Path):
    data = expanded(json.loads(MAKERS[kind]().revealing().to_json() or ""))  # v1: entries
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = bad
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    field = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in where).lstrip(".")
    with pytest.raises(ReportError) as err:
        reprokit.load(path)
    assert str(path) in str(err.value) and f"field {field}" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
def test_the_schema_checker_agrees_with_jsonschema(kind: str):
    from jsonschema import Draft202012Validator

    from reprokit.schemas import first_error, schema_of

    written = json.loads(MAKERS[kind]().revealing().to_json() or "")
    version = written.get("schema", "reprokit/v1")
    Draft202012Validator.check_schema(schema_of(kind, version))
    assert first_error(schema_of(kind, version), written) is None
    assert Draft202012Validator(schema_of(kind, version)).is_valid(written)
    schema = schema_of(kind)  # reprokit/v1: a comparison's differences one entry each
    Draft202012Validator.check_schema(schema)
    good = expanded(written)
    assert first_error(schema, good) is None and Draft202012Validator(schema).is_valid(good)
    for case_kind, where, bad in BAD_FIELDS:
        if case_kind != kind:
            continue
        data = json.loads(json.dumps(good))
        node = data
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = bad
        assert first_error(schema, data) is not None
        assert not Draft202012Validator(schema).is_valid(data)


def test_json_is_strict_and_times_out_of_range_are_text(tmp_path: Path):
    from reprokit.records import FileRecord

    result = MAKERS["comparison"]()
    record = FileRecord("/x", "file", 0o644, 0, 0, 1, float("inf"), sha256="s")
    files = [dataclasses.replace(result.file_records[0], a=record, b=record)]
    result = dataclasses.replace(result, file_records=files).revealing()
    result.write(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert "Infinity" not in text and '"inf"' in text
    assert expanded(json.loads(text))["files"][0]["a"]["mtime"] == "inf"
    assert reprokit.load(tmp_path / "r.json").file_records[0].a.mtime == "inf"
    (tmp_path / "nan.json").write_text(text.replace('"inf"', "NaN"))
    with pytest.raises(ReportError, match="not strict JSON"):
        reprokit.load(tmp_path / "nan.json")


def test_all_reports_of_a_run_are_written_or_none(tmp_path: Path):
    result = MAKERS["comparison"]()

    def fail(path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    writes = [(tmp_path / "r.json", result.write), (tmp_path / "r.ipynb", fail)]
    with pytest.raises(reprokit.ReprokitError, match="no space left"):
        write_all(writes)
    assert list(tmp_path.iterdir()) == []
    write_all([(tmp_path / "r.json", result.write), (tmp_path / "r.ipynb", result.write)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.ipynb", "r.json"]


# -- the hostile corpus (part B): the CLI in a child process ---------------------------------


def run_cli(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str, str, float, int]:
    """(exit status, stdout, stderr, seconds, peak RSS in KB) of ``reprokit ARGS``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPROKIT_DEBUG": ""}
    env.pop("REPROKIT_DEBUG")
    start = time.monotonic()
    code = (
        "import resource, sys\n"
        "from reprokit.cli import main\n"
        "try:\n    rc = main(sys.argv[1:])\n"
        "except SystemExit as e:\n    rc = e.code if isinstance(e.code, int) else 2\n"
        "sys.stderr.write('\\nRSS=%d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - start
    err, _, rss = proc.stderr.rpartition("\nRSS=")
    return proc.returncode, proc.stdout, err, seconds, int(rss or 0)


def test_read_only_or_missing_output_directory_is_found_before_any_work(tmp_path: Path):
    # root writes in a read-only directory: then a read-only bind mount stands in for it
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    mounted = (
        os.geteuid() == 0
        and not subprocess.run(
            ["mount", "-o", "bind,ro", str(ro), str(ro)], capture_output=True
        ).returncode
    )
    try:
        cases = [
            ["inventory", "docker-archive:/nonexistent.tar", "--json", str(tmp_path / "no" / "r")],
            ["audit", "docker-archive:/nonexistent.tar", "--report", str(tmp_path / "no/r.html")],
        ]
        if mounted or os.geteuid() != 0:
            cases += [
                ["diff", "docker-archive:/nonexistent-a.tar", "b", "--json", str(ro / "r.json")],
                ["audit", "docker-archive:/nonexistent.tar", "--report", str(ro / "r.html")],
                ["capture", "docker-archive:/nonexistent.tar", str(ro / "spec.json")],
                ["check", "--report", str(ro / "r.ipynb")],
            ]
        for args in cases:
            rc, _, stderr, _, _ = run_cli(args, tmp_path)
            assert rc == 2 and len(stderr.strip().splitlines()) == 1, stderr
            # the output path is named, not the missing image (checked before any read)
            assert "nonexistent" not in stderr and "internal error" not in stderr, stderr
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)])


@pytest.fixture
def full_dir(tmp_path: Path):
    """A 1 MB tmpfs that is full (root only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "full"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={mnt}/fill", "bs=64k"], capture_output=True)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)])


def test_full_output_directory_is_found_before_any_work(full_dir: Path, tmp_path: Path):
    rc, _, stderr, _, _ = run_cli(
        ["diff", "docker-archive:/nonexistent-a.tar", "b", "--report", str(full_dir / "r.html")],
        tmp_path,
    )
    assert rc == 2 and "no space left" in stderr and "nonexistent" not in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in full_dir.iterdir()) == ["fill"]


def test_a_report_filling_the_disk_leaves_no_report(full_dir: Path, tmp_path: Path):
    (full_dir / "fill").unlink()
    (full_dir / "fill").write_bytes(b"\0" * (1024 * 1024 - 200 * 1024))  # room for the probe
    big = MAKERS["comparison"]()
    files = big.file_records * 3000  # ~ a MB of JSON
    src = tmp_path / "big.json"
    dataclasses.replace(big, file_records=files).revealing().write(src)
    rc, _, stderr, _, _ = run_cli(
        ["report", str(src), "--to", str(full_dir / "r.html"), "--to", str(full_dir / "r.ipynb")],
        tmp_path,
    )
    assert rc == 2 and "no space left" in stderr and len(stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in full_dir.iterdir()) == ["fill"]  # no r.json, no r.html
