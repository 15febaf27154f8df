"""``reprokit replay IMAGE SPEC``: check an image against facts captured from another.

Exit status: 0 when every fact holds, 1 when one differs, 2 on error.
"""

from __future__ import annotations

import argparse

from .common import check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="check an image against a spec written by capture")
    p.add_argument("image", help="the image, any transport")
    p.add_argument("spec", help="spec file written by reprokit capture")
    p.add_argument("--json", metavar="PATH", help="write the replay result as JSON (kind: replay)")
    report_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..baseline import replay

    check_output_path("--json", args.json)
    result = replay(args.image, args.spec)
    write_outputs(result, args)
    say(result.text())
    return status(result)
