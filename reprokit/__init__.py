"""reprokit: prove container images are reproducible.

Build an image twice from one spec and compare every layer, file and config field:

>>> import reprokit
>>> result = reprokit.check("path/to/context")            # doctest: +SKIP
>>> result.verdict, result.reason                          # doctest: +SKIP
('equivalent', 'only timestamps differ: 312 file mtime(s) in 1 layer(s), 4 creation time(s)')
>>> result.steps[["instruction", "causes", "fix"]]                # doctest: +SKIP
>>> reprokit.compare("docker-archive:a.tar", "oci:layout").files   # doctest: +SKIP
"""

__version__ = "0.1.0"

from .api import check, compare, load
from .audit import AuditResult, assert_no_findings, audit, drift, images
from .capture import capture, replay
from .errors import (
    ArchiveError,
    BuildError,
    Cancelled,
    EngineError,
    ImageNotFoundError,
    ReportError,
    ReprokitError,
    SpecError,
    UsageError,
)
from .explain import CAUSES, Rule, Settings
from .inventory import inventory
from .parity import ParityResult, parity
from .result import Result
from .spec import BuildSpec

__all__ = [
    "CAUSES",
    "ArchiveError",
    "AuditResult",
    "BuildError",
    "BuildSpec",
    "Cancelled",
    "EngineError",
    "ImageNotFoundError",
    "ParityResult",
    "ReportError",
    "ReprokitError",
    "Result",
    "Rule",
    "Settings",
    "SpecError",
    "UsageError",
    "__version__",
    "assert_no_findings",
    "audit",
    "capture",
    "check",
    "compare",
    "drift",
    "images",
    "inventory",
    "load",
    "parity",
    "replay",
]
