"""JUnit XML of a result, for CI systems (``--junit PATH``): one test case per target of a
survey, per parity check, per audit finding at or above ``--fail-on``, and one for a check or a
diff. A failing case carries the reason and the top fix.

The document follows the JUnit XML format that Jenkins, GitLab and GitHub test reporters read
(``testsuites`` > ``testsuite`` > ``testcase`` with ``failure``/``error``/``skipped``);
tests/test_junit.py validates it against the schema in tests/data.

>>> from reprokit.baseline import ReplayResult
>>> xml = render(ReplayResult("app:2", "sha256:2", "app:1", checked=3))
>>> '<testsuite name="reprokit replay"' in xml and 'tests="1" failures="0"' in xml
True
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..text import clean
from .view import headline


@dataclass
class Case:
    """One test case: its name, class name, seconds, and a failure or an error (or neither)."""

    name: str
    classname: str
    time: float | None = None
    failure: str | None = None  # the message (reason)
    error: str | None = None
    details: str = ""
    kind: str = ""


def _comparison_cases(result: Any) -> list[Case]:
    spec = result.spec or {}
    a, b = result.images
    what = spec.get("context") or f"{a.ref if a else '?'} vs {b.ref if b else '?'}"
    case = Case(str(what), "reprokit.check" if spec else "reprokit.diff", result.duration_s)
    if not result.ok:
        case.failure = f"{result.verdict} (required: {result.require}): {result.reason}"
        case.kind = result.verdict
        fixes = [s.fix for s in result.step_records if s.fix]
        case.details = "\n".join(["top fix: " + fixes[0]] if fixes else [])
    return [case]


def _survey_cases(result: Any) -> list[Case]:
    cases = []
    for r in result.target_records:
        case = Case(r.target, f"reprokit.survey.{r.kind}", r.duration_s)
        if r.verdict == "error":
            case.error, case.kind = r.error or "error", "error"
        elif not r.ok:
            counts = ", ".join(f"{c} {n}" for c, n in r.causes.items())
            case.failure = f"{r.verdict} (required: {r.require})" + (
                f"; causes: {counts}" if counts else ""
            )
            case.kind = r.verdict
            lines = [f"what: {r.what}"] if r.what else []
            if r.top_fix:
                lines.append(f"top fix: {r.top_fix}")
            if r.unexplained:
                lines.append(f"unexplained differences: {r.unexplained}")
            case.details = "\n".join(lines)
        cases.append(case)
    return cases


def _parity_cases(result: Any) -> list[Case]:
    from .view import parity_cells

    cases = []
    for e in result.parity_records:
        case = Case(e.name, f"reprokit.parity.{result.what}")
        if "error" in (e.a.status, e.b.status):
            _, a, b = parity_cells(e)
            case.error, case.kind, case.details = f"could not run: A {a}; B {b}", "error", ""
        elif not e.good:
            _, a, b = parity_cells(e)
            case.failure = "A and B disagree" if not e.same else f"failed on both: {a}"
            case.kind = "differs" if not e.same else "failed"
            case.details = f"A: {a}\nB: {b}"
        cases.append(case)
    return cases


def _audit_cases(result: Any) -> list[Case]:
    from ..auditing.rules import at_least

    counted = [f for f in result.finding_records if at_least(f.severity, result.fail_on)]
    if not counted:
        return [Case(f"no finding at {result.fail_on} or graver", f"reprokit.{result.kind}")]
    cases = []
    for f in counted:
        where = f.path or f.where
        case = Case(f"{f.rule}: {where}", f"reprokit.audit.{f.severity}")
        case.failure, case.kind = f.message, f.rule
        case.details = "\n".join(
            [f"fix: {f.fix}"] + ([f"evidence: {f.evidence}"] if f.evidence else [])
        )
        cases.append(case)
    return cases


def _generic_cases(result: Any) -> list[Case]:
    case = Case(result.kind, f"reprokit.{result.kind}")
    if not result.ok:
        case.failure, case.kind = headline(result), result.kind
    return [case]


def cases(result: Any) -> list[Case]:
    """The test cases of a result of any kind."""
    makers = {
        "comparison": _comparison_cases,
        "survey": _survey_cases,
        "parity": _parity_cases,
        "audit": _audit_cases,
    }
    return makers.get(result.kind, _generic_cases)(result)


def _time(seconds: float | None) -> str:
    return f"{max(0.0, seconds or 0.0):.3f}"


def _text(value: Any, limit: int = 4000) -> str:
    """Printable text (control characters escaped) with its line breaks kept."""
    return clean("\n".join(clean(line) for line in str(value).splitlines()), None)[:limit]


def render(result: Any) -> str:
    """The JUnit XML document (UTF-8 text) of a result of any kind."""
    found = cases(result)
    failures = sum(1 for c in found if c.failure)
    errors = sum(1 for c in found if c.error)
    total = sum(c.time or 0.0 for c in found)
    name = "reprokit check" if result.kind == "comparison" else f"reprokit {result.kind}"
    duration = getattr(result, "duration_s", None)
    root = ET.Element(
        "testsuites",
        name="reprokit",
        tests=str(len(found)),
        failures=str(failures),
        errors=str(errors),
        time=_time(duration if duration is not None else total),
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(found)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=_time(duration if duration is not None else total),
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="kind", value=result.kind)
    ET.SubElement(props, "property", name="headline", value=_text(headline(result), 500))
    for c in found:
        case = ET.SubElement(
            suite, "testcase", name=_text(c.name, 500), classname=c.classname, time=_time(c.time)
        )
        if c.error is not None:
            element = ET.SubElement(case, "error", message=_text(c.error, 1000), type=c.kind)
            element.text = _text(c.details) or None
        elif c.failure is not None:
            element = ET.SubElement(case, "failure", message=_text(c.failure, 1000), type=c.kind)
            element.text = _text(c.details) or None
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write(result: Any, path: str | Path) -> None:
    """Write the JUnit XML of ``result`` to ``path`` atomically."""
    from .json import write_atomic

    write_atomic(Path(path), render(result))
