"""reprokit: prove container images are reproducible.

Build an image twice from one spec and compare every layer, file and config field:

>>> import reprokit
>>> result = reprokit.check("path/to/context")            # doctest: +SKIP
>>> result.verdict, result.reason                          # doctest: +SKIP
('equivalent', 'only timestamps differ: 312 file mtime(s) in 1 layer(s), 4 creation time(s)')
>>> reprokit.compare("docker-archive:a.tar", "oci:layout").files   # doctest: +SKIP
"""

__version__ = "0.1.0"

from .api import check, compare, load
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
from .inventory import inventory
from .parity import ParityResult, parity
from .result import Result
from .spec import BuildSpec

__all__ = [
    "ArchiveError",
    "BuildError",
    "BuildSpec",
    "Cancelled",
    "EngineError",
    "ImageNotFoundError",
    "ParityResult",
    "ReportError",
    "ReprokitError",
    "Result",
    "SpecError",
    "UsageError",
    "__version__",
    "capture",
    "check",
    "compare",
    "inventory",
    "load",
    "parity",
    "replay",
]
