"""The exception family every public reprokit call raises.

Each message is one line a person can act on; the CLI prints it after ``reprokit: error:``
and exits with status 2.

>>> try:
...     raise ImageNotFoundError("docker-daemon:nope:1", "no such image in the engine")
... except ReprokitError as err:
...     print(err)
docker-daemon:nope:1: no such image in the engine
"""

from __future__ import annotations


class ReprokitError(Exception):
    """Base class of every error reprokit raises on purpose."""


class UsageError(ReprokitError):
    """The caller asked for something that cannot work (bad option, bad reference)."""


class SpecError(ReprokitError):
    """A build spec is invalid: missing context directory, missing Dockerfile, bad build arg."""


class EngineError(ReprokitError):
    """The Docker Engine could not be reached or refused a request."""


class ImageNotFoundError(ReprokitError):
    """An image reference does not resolve to an image."""

    def __init__(self, ref: str, why: str) -> None:
        super().__init__(f"{ref}: {why}")
        self.ref = ref


class ArchiveError(ReprokitError):
    """An image archive or layout is corrupt, truncated or not an image."""

    def __init__(self, ref: str, why: str) -> None:
        super().__init__(f"{ref}: {why}")
        self.ref = ref


class IntegrityError(ArchiveError):
    """Bytes of an image do not match the digest that names them (a layer's diff_id, a blob's
    digest): the image is corrupt or was tampered with. Never a verdict."""

    def __init__(self, ref: str, what: str, declared: str, actual: str) -> None:
        why = (
            f"{what} does not match its digest: declared {declared}, content {actual} "
            "(corrupt or tampered image)"
        )
        super().__init__(ref, why)
        self.what, self.declared, self.actual = what, declared, actual


class BuildError(ReprokitError):
    """A build failed. ``step`` names the failing Dockerfile step, ``log_tail`` ends its log."""

    def __init__(self, message: str, step: str | None = None, log_tail: list[str] | None = None):
        super().__init__(message)
        self.step = step
        self.log_tail = log_tail or []


class ReportError(ReprokitError):
    """A saved report cannot be read back (not JSON, or not a reprokit report)."""


class Cancelled(ReprokitError):
    """The run was interrupted (Ctrl-C or SIGTERM); everything it created was removed."""
