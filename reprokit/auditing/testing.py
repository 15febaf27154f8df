"""A pytest helper: fail a test when an image has findings of a given severity or graver.

>>> from reprokit.auditing.testing import assert_no_findings
>>> assert_no_findings("myapp:1.2", severity="medium")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .result import AuditResult
from .rules import at_least


def assert_no_findings(image: str, severity: str = "high", **kwargs: Any) -> AuditResult:
    """Audit ``image`` (keyword arguments go to :func:`reprokit.audit`) and raise an
    AssertionError listing the findings at ``severity`` or graver; returns the result."""
    __tracebackhide__ = True
    from .scan import audit

    result = replace(audit(image, **kwargs), fail_on=severity)  # validates the severity
    if not result.ok:
        bad = [f for f in result.finding_records if at_least(f.severity, severity)]
        shown = AuditResult(result.kind, result.subject, bad, stats=result.stats)
        raise AssertionError(f"{len(bad)} finding(s) at {severity} or graver:\n{shown.text()}")
    return result
