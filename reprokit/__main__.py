"""``python -m reprokit`` and the ``reprokit`` console script: the command line.

Ctrl-C while the command line is still importing is one line and status 130, as it is later
(:func:`reprokit.cli.main` handles it from there).
"""

import os
import sys


def run() -> int:
    """Import the command line and run it."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        os.write(2, b"reprokit: interrupted\n")
        os._exit(130)
    return main()


if __name__ == "__main__":
    sys.exit(run())
