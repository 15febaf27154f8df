"""``reprokit inventory IMAGE``: OS, packages, Python distributions, users, config of an image,
read from its filesystem (no container, so shell-less images work too)."""

from __future__ import annotations

import argparse

from .common import check_output_path, say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inventory", help="list what an image holds (no container needed)")
    p.add_argument("image", help="the image, any transport")
    p.add_argument("--json", metavar="PATH", help="write the inventory as JSON")
    p.add_argument("--platform", help="os/arch[/variant] to pick from an index")
    p.add_argument("--top", type=int, default=50, help="packages to list (50)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..packages.reader import inventory
    from ..report.json import document

    check_output_path("--json", args.json)
    found = inventory(args.image, platform=args.platform)
    if args.json:
        document(found.to_dict(), args.json)
    say(found.text(args.top))
    return 0
