"""``reprokit drift CONTAINER``: paths and config of a container that differ from its image.
Exit 1 when anything outside runtime state (/tmp, /run, caches, logs) drifted."""

from __future__ import annotations

import argparse

from ..auditing.drift import drift
from .common import check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drift", help="what changed in a container since its image")
    p.add_argument("container", help="container name or id (running or stopped)")
    p.add_argument("--json", metavar="PATH", help="write the JSON report (kind: drift)")
    report_option(p)
    p.add_argument("--top", type=int, default=50, help="drifted paths to list (50)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    result = drift(args.container)
    write_outputs(result, args)
    say(result.text(args.top))
    return status(result)
