"""Command line: argument parsing only; the work is done by the public API.

Exit status: 0 when the verdict meets ``--require``, 1 when it does not, 2 on any error (one
line on stderr, never a traceback), 130 when interrupted.

>>> build_parser().parse_args(["diff", "a", "b"]).require
'equivalent'
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import progress, redaction
from .commands import COMMANDS
from .commands.common import EXIT_ERROR, EXIT_INTERRUPTED
from .errors import BuildError, Cancelled, ReprokitError
from .text import clean
from .version import __version__


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"reprokit: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand (each registered by its module in ``commands/``)."""
    parser = _Parser(
        prog="reprokit",
        description="Prove container images are reproducible: build twice, diff, explain.",
    )
    parser.add_argument("--version", action="version", version=f"reprokit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    for each in sub.choices.values():  # every command: secrets hidden unless asked
        each.add_argument(
            "--show-secrets",
            action="store_true",
            help="show secrets in every output instead of [redacted: …] (only for images you own)",
        )
    return parser


def _line(text: object, limit: int | None = None) -> str:
    """One printable line of an error, its secrets hidden (unless --show-secrets)."""
    return clean(redaction.redact_line(str(text)), limit)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the command line; returns the exit status."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except KeyboardInterrupt:
        print("reprokit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        args = build_parser().parse_args(argv)
        redaction.show_secrets(getattr(args, "show_secrets", False))
        if getattr(args, "quiet", False):
            progress.configure(False)
        return int(args.run(args))
    except BuildError as err:
        print(f"reprokit: error: {_line(err)}", file=sys.stderr)
        for line in err.log_tail[-15:]:
            print(f"  | {_line(line)}", file=sys.stderr)
        return EXIT_ERROR
    except Cancelled as err:
        print(f"reprokit: {_line(err)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ReprokitError as err:
        print(f"reprokit: error: {_line(err)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("reprokit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a bug: still one line, with a way to see the traceback
        if isinstance(err.__cause__, KeyboardInterrupt):  # Ctrl-C while a class was made
            print("reprokit: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        if os.environ.get("REPROKIT_DEBUG"):
            raise
        print(
            f"reprokit: internal error: {type(err).__name__}: {_line(err, 200)} "
            "(set REPROKIT_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
