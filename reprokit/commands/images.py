"""``reprokit images``: the engine's images with size, age, tags, use and dangling state.
Read-only: it never deletes anything."""

from __future__ import annotations

import argparse

from ..auditing.images import image_rows
from ..report.json import document
from ..text import clean, human_size
from .common import EXIT_OK, check_output_path, say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="list the engine's images: size, age, use (read-only)")
    p.add_argument("--json", metavar="PATH", help="write the list as JSON (kind: images)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    rows = image_rows()
    if args.json:
        document({"schema": "reprokit/v1", "kind": "images", "images": rows}, args.json)
    say(f"{'IMAGE ID':<19} {'SIZE':>9} {'AGE':>8} {'USED':>4} {'DANGLING':<8} TAGS")
    for r in rows:
        tags = ", ".join(r["tags"]) or "<none>"
        used = f"{r['containers']}" + ("*" if r["running"] else "")
        say(
            f"{r['id'][:19]:<19} {human_size(r['size']):>9} {r['age_days']:>7}d "
            f"{used:>4} {'yes' if r['dangling'] else 'no':<8} {clean(tags, 80)}"
        )
    return EXIT_OK
