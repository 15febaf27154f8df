"""Immutability audit: secrets in every layer (also deleted ones), unpinned bases, root users,
permissions, wasted bytes, read-only readiness; drift of containers; an image overview.

>>> from reprokit.audit import RULES
>>> "secret-private-key" in RULES and "root-user" in RULES
True
"""

from __future__ import annotations

from .drift import drift
from .images import images
from .model import DriftEntry, Finding
from .result import AuditResult
from .rules import RULES, Rule
from .scan import audit
from .testing import assert_no_findings

__all__ = [
    "RULES",
    "AuditResult",
    "DriftEntry",
    "Finding",
    "Rule",
    "assert_no_findings",
    "audit",
    "drift",
    "images",
]
