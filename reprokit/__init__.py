"""reprokit: prove container images are reproducible.

Build an image twice from one spec and compare every layer, file and config field:

>>> import reprokit
>>> result = reprokit.check("path/to/context")            # doctest: +SKIP
>>> result.verdict, result.reason                          # doctest: +SKIP
('equivalent', 'only timestamps differ: 312 file mtime(s) in 1 layer(s), 4 creation time(s)')
>>> reprokit.compare("docker-archive:a.tar", "oci:layout").files_df   # doctest: +SKIP
"""

__version__ = "0.1.0"

from .api import check, compare, load  # noqa: E402
from .errors import (  # noqa: E402
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
from .result import Result  # noqa: E402
from .spec import BuildSpec  # noqa: E402

__all__ = [
    "ArchiveError",
    "BuildError",
    "BuildSpec",
    "Cancelled",
    "EngineError",
    "ImageNotFoundError",
    "ReportError",
    "ReprokitError",
    "Result",
    "SpecError",
    "UsageError",
    "__version__",
    "check",
    "compare",
    "load",
]
