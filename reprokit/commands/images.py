"""``reprokit images``: the engine's images with size, age, tags, use and dangling state.
Read-only: it never deletes anything."""

from __future__ import annotations

import argparse

from ..auditing.images import images
from .common import EXIT_OK, check_output_path, report_option, say, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="list the engine's images: size, age, use (read-only)")
    p.add_argument("--json", metavar="PATH", help="write the list as JSON (kind: images)")
    report_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    result = images()
    write_outputs(result, args)
    say(result.text())
    return EXIT_OK
