"""reprokit: prove container images are reproducible.

Build an image twice from one spec and compare every layer, file and config field:

>>> import reprokit
>>> result = reprokit.check("path/to/context")            # doctest: +SKIP
>>> result.verdict, result.reason                          # doctest: +SKIP
('equivalent', 'only timestamps differ: 312 file mtime(s) in 1 layer(s), 4 creation time(s)')
>>> result.steps[["instruction", "causes", "fix"]]                # doctest: +SKIP
>>> reprokit.compare("docker-archive:a.tar", "oci:layout").files   # doctest: +SKIP

Every public name is imported when first used, so ``import reprokit`` stays light (no docker SDK,
pandas or matplotlib until a function needs them):

>>> "parity" in dir(reprokit) and "parity" in reprokit.__all__
True
"""

from __future__ import annotations

import sys as _sys

_ARGV = list(getattr(_sys, "orig_argv", None) or getattr(_sys, "argv", None) or [""])
#: whether this process is the command line (``python -m reprokit`` or the console script)
_CLI = (getattr(_sys, "argv", None) or [""])[0].endswith("/reprokit") or (
    "-m" in _ARGV and _ARGV[_ARGV.index("-m") + 1 :][:1] == ["reprokit"]
)

if _CLI:  # the command line starts

    def _interrupted_hook(unraisable, _default=_sys.unraisablehook):
        """Ctrl-C that Python would print and ignore (it came inside a callback while modules
        import): the command line stops, one line, status 130."""
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            import os

            os.write(2, b"reprokit: interrupted\n")
            os._exit(130)
        _default(unraisable)

    _sys.unraisablehook = _interrupted_hook

try:
    from importlib import import_module
    from typing import TYPE_CHECKING, Any

    from .errors import (
        ArchiveError,
        BuildError,
        Cancelled,
        EngineError,
        ImageNotFoundError,
        IntegrityError,
        ReportError,
        ReprokitError,
        SpecError,
        UsageError,
    )
    from .version import __version__
except (KeyboardInterrupt, RuntimeError):  # Ctrl-C while the command line starts: one line, 130
    import os as _os

    _err = _sys.exc_info()[1]
    if _CLI and (
        isinstance(_err, KeyboardInterrupt) or isinstance(_err.__cause__, KeyboardInterrupt)
    ):
        _os.write(2, b"reprokit: interrupted\n")
        _os._exit(130)
    raise

#: public name → the module that defines it (imported on first use)
_LAZY = {
    "check": "reprokit.api",
    "compare": "reprokit.api",
    "load": "reprokit.api",
    "fix": "reprokit.api",
    "FixResult": "reprokit.fixing",
    "audit": "reprokit.auditing.scan",
    "drift": "reprokit.auditing.drift",
    "images": "reprokit.auditing.images",
    "assert_no_findings": "reprokit.auditing.testing",
    "AuditResult": "reprokit.auditing.result",
    "capture": "reprokit.baseline",
    "replay": "reprokit.baseline",
    "inventory": "reprokit.packages.reader",
    "parity": "reprokit.behaviour.runner",
    "host_pair": "reprokit.behaviour.runner",
    "ParityResult": "reprokit.behaviour.result",
    "Result": "reprokit.result",
    "BuildSpec": "reprokit.spec",
    "CAUSES": "reprokit.explain.causes",
    "Rule": "reprokit.explain.rules",
    "Settings": "reprokit.explain.settings",
    "survey": "reprokit.fleet.survey",
    "SurveyResult": "reprokit.fleet.result",
    "history": "reprokit.fleet.history",
    "HistoryResult": "reprokit.fleet.history",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports on demand
    from .api import check, compare, fix, load  # noqa: F401
    from .auditing.drift import drift  # noqa: F401
    from .auditing.images import images  # noqa: F401
    from .auditing.result import AuditResult  # noqa: F401
    from .auditing.scan import audit  # noqa: F401
    from .auditing.testing import assert_no_findings  # noqa: F401
    from .baseline import capture, replay  # noqa: F401
    from .behaviour.result import ParityResult  # noqa: F401
    from .behaviour.runner import host_pair, parity  # noqa: F401
    from .explain.causes import CAUSES  # noqa: F401
    from .explain.rules import Rule  # noqa: F401
    from .explain.settings import Settings  # noqa: F401
    from .fixing import FixResult  # noqa: F401
    from .fleet.history import HistoryResult, history  # noqa: F401
    from .fleet.result import SurveyResult  # noqa: F401
    from .fleet.survey import survey  # noqa: F401
    from .packages.reader import inventory  # noqa: F401
    from .result import Result  # noqa: F401
    from .spec import BuildSpec  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reprokit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ArchiveError",
    "IntegrityError",
    "BuildError",
    "Cancelled",
    "EngineError",
    "ImageNotFoundError",
    "ReportError",
    "ReprokitError",
    "SpecError",
    "UsageError",
    "__version__",
    *_LAZY,
]
