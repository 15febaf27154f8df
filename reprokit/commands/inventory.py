"""``reprokit inventory IMAGE``: OS, packages, Python distributions, users, config of an image,
read from its filesystem (no container, so shell-less images work too)."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, check_output_path, report_option, say, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inventory", help="list what an image holds (no container needed)")
    p.add_argument("image", help="the image, any transport")
    p.add_argument("--json", metavar="PATH", help="write the inventory as JSON (kind: inventory)")
    report_option(p)
    p.add_argument("--platform", help="os/arch[/variant] to pick from an index")
    p.add_argument("--top", type=int, default=50, help="packages to list (50)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..packages.reader import inventory

    check_output_path("--json", args.json)
    result = inventory(args.image, platform=args.platform)
    write_outputs(result, args)
    say(result.text(args.top))
    return EXIT_OK
