"""``reprokit capture IMAGE SPEC``: record an image's facts (inventory and chosen files) in a
JSON or TOML spec file, to be replayed against another image with ``reprokit replay``."""

from __future__ import annotations

import argparse

from .common import check_output_path, say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture", help="record an image's facts in a spec file (JSON or TOML)")
    p.add_argument("image", help="the image, any transport")
    p.add_argument("spec", help="spec file to write (.toml for TOML, else JSON)")
    p.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="record this file's type, mode, owner and digest (absolute path or pattern; repeat)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..baseline import capture, write_spec

    check_output_path("spec", args.spec)
    spec = capture(args.image, files=args.file)
    write_spec(spec, args.spec)
    facts = spec["facts"]
    say(
        f"captured {len(facts['packages'])} package(s), {len(facts['users'])} user(s), "
        f"{len(spec['files'])} file(s) of {spec['captured']['image']} in {args.spec}"
    )
    return 0
