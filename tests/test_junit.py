"""JUnit XML (--junit) of every kind validates against the JUnit schema CI systems read
(tests/data/junit.xsd, with its source in its header); failures carry reason and top fix."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from test_protocol import MAKERS, survey

from reprokit.auditing.model import Finding
from reprokit.auditing.result import AuditResult
from reprokit.protocol import KINDS
from reprokit.report.junit import render, write

SCHEMA = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit.xsd")


def validate(text: str) -> ET.Element:
    SCHEMA.validate(text)
    return ET.fromstring(text)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gives_valid_junit(kind: str, tmp_path: Path):
    result = MAKERS[kind]()
    write(result, tmp_path / "junit.xml")
    root = validate((tmp_path / "junit.xml").read_text())
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name", "").startswith("reprokit")
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    assert bool(failed) == (not result.ok), kind
    assert int(suite.get("tests", "0")) == len(cases)
    assert "\x1b" not in (tmp_path / "junit.xml").read_text()


def test_survey_cases_are_targets_with_reason_and_fix():
    root = validate(render(survey()))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len(cases) == 3
    different = next(c for n, c in cases.items() if n and n.startswith("svc/"))
    failure = different.find("failure")
    assert failure is not None and failure.get("type") == "different"
    assert "unexplained 1" in failure.get("message", "") and "top fix: pin" in (failure.text or "")
    error = cases["db"].find("error")
    assert error is not None and "build failed" in error.get("message", "")
    assert cases["a=b"].find("failure") is None and cases["a=b"].find("error") is None
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("failures"), suite.get("errors")) == ("1", "1")


def test_audit_cases_are_findings_at_fail_on():
    findings = [
        Finding("secret", "high", "file", 1, "/app/key", "a private key", "remove it", "BEGIN"),
        Finding("user", "medium", "config", None, None, "runs as root", "add USER"),
        Finding("label", "low", "config", None, None, "no labels", "add LABEL"),
    ]
    root = validate(render(AuditResult("audit", "app:1", findings, fail_on="medium")))
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["secret: /app/key", "user: config"]
    passing = validate(render(AuditResult("audit", "app:1", findings[2:], fail_on="medium")))
    assert [c.find("failure") for c in passing.iter("testcase")] == [None]


def test_the_schema_rejects_what_ci_systems_refuse():
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate('<testsuites><testsuite name="x" tests="1"/></testsuites>')  # no failures
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate(
            '<testsuites><testsuite name="x" tests="1" failures="0" errors="0">'
            "<testcase/></testsuite></testsuites>"  # a test case without a name
        )
