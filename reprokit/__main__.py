"""``python -m reprokit`` and the ``reprokit`` console script: the command line.

Ctrl-C while the command line is still importing is one line and status 130, as it is later
(:func:`reprokit.cli.main` handles it from there).
"""

import os
import sys


def _interrupted(err: BaseException | None) -> bool:
    """Whether ``err`` is Ctrl-C, or an error Python raised because Ctrl-C came at a point it
    wraps (``RuntimeError: Error calling __set_name__`` while a class is made)."""
    seen = 0
    while err is not None and seen < 16:
        if isinstance(err, KeyboardInterrupt):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def run() -> int:
    """Import the command line and run it."""
    try:
        from .cli import main
    except BaseException as err:
        if not _interrupted(err):
            raise
        os.write(2, b"reprokit: interrupted\n")
        os._exit(130)
    return main()


if __name__ == "__main__":
    sys.exit(run())
