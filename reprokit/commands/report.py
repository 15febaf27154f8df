"""``reprokit report JSON --to PATH``: convert a saved JSON report to another format."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..api import load
from ..outputs import write_all
from .common import EXIT_OK, report_path, say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="convert a saved JSON report to .ipynb, .html, .md or .json")
    p.add_argument("json", help="a JSON report written by --json or --report PATH.json")
    p.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="PATH",
        type=report_path,
        help="output; the extension picks the format: .ipynb .html .md .json (repeatable)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = load(args.json)
    shown = result._shown()
    write_all((Path(path), shown.write) for path in args.to)
    for path in args.to:
        say(f"wrote {path}")
    return EXIT_OK
