"""Options and output shared by the comparison subcommands (check, diff).

>>> import argparse
>>> p = argparse.ArgumentParser(); comparison_options(p)
>>> p.parse_args([]).require
'equivalent'
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..outputs import probe, write_all
from ..redaction import redact_line
from ..report.files import check_path
from ..result import Result

if TYPE_CHECKING:
    from ..protocol import Reported
from ..text import clean

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def comparison_options(parser: argparse.ArgumentParser) -> None:
    """Add --require, --json, --platform, --top, --quiet, --report and --verify-digests."""
    parser.add_argument(
        "--require",
        choices=("identical", "equivalent"),
        default="equivalent",
        help="verdict needed for exit status 0 (default: equivalent)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the JSON report (reprokit/v2)")
    report_option(parser)
    parser.add_argument("--platform", help="os/arch[/variant] to build or pick from an index")
    parser.add_argument("--top", type=int, default=10, help="differing paths to list (10)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="GLOB",
        help="report differences at matching paths (or config fields) as ignored; repeatable",
    )
    parser.add_argument(
        "--config",
        metavar="TOML",
        help="settings file: reprokit.toml or a pyproject.toml with [tool.reprokit] "
        "(default: found in the context or the current directory)",
    )
    parser.add_argument(
        "--verify-digests",
        action="store_true",
        help="read images of a local engine through `docker save`, hashing every layer "
        "against its diff_id, instead of in place from the engine's overlay2 storage "
        "(which takes the diff_ids from the engine's layer database)",
    )


def check_output_path(option: str, path: str | None) -> None:
    """Fail early (before any build) when an output file cannot be written: its directory is
    missing, read-only or full (:func:`reprokit.outputs.probe`)."""
    if path:
        probe(path, option)


def report_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--report PATH`` (repeatable; format and directory checked at parse time)."""
    parser.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="PATH",
        type=report_path,
        help="write a report; the extension picks the format: .ipynb .html .md .json (repeatable)",
    )
    parser.add_argument(
        "--junit",
        metavar="PATH",
        type=output_path,
        help="write JUnit XML for CI (a test case per target, parity check or finding)",
    )


def write_outputs(result: Reported, args: argparse.Namespace) -> None:
    """Write the ``--report`` files and the ``--json`` report of a result of any kind."""
    shown = result._shown()  # redacted once (unless --show-secrets), for every file
    writes: list[tuple[Path, Any]] = [
        (Path(path), shown.write) for path in getattr(args, "report", None) or []
    ]
    if getattr(args, "json", None):
        writes.append((Path(args.json), shown.to_json))
    if getattr(args, "junit", None):
        from ..report.junit import write

        writes.append((Path(args.junit), lambda path: write(shown, path)))
    write_all(writes)  # all or none: staged, renamed into place when every one succeeded


def status(result: Reported) -> int:
    """The exit status of a result: 0 when it is ``ok``, 1 when not."""
    return EXIT_OK if result.ok else EXIT_FAILED


def output_path(path: str) -> str:
    """An argparse type: an output file whose directory exists, is writable and has room
    (:func:`reprokit.outputs.probe`)."""
    try:
        probe(path, "")
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return path


def report_path(path: str) -> str:
    """An argparse type: a report path whose format and directory are checked at parse time.

    >>> report_path("r.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: r.txt: unsupported report format '.txt' (use .ipynb, ...)
    """
    try:
        check_path(path)
        probe(path, "")
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return path


def finish(result: Result, args: argparse.Namespace) -> int:
    """Write the reports asked for, print the summary, return the exit status."""
    result = replace(result, require=args.require)  # the reports say what was required
    write_outputs(result, args)
    say(
        result.verdict.upper() + ": " + clean(result.reason)
        if args.quiet
        else result.text(args.top)
    )
    return status(result)


def say(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error."""
    try:
        print(redact_line(text), flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
