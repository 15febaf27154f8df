"""``reprokit diff A B``: compare two existing images given in any transport."""

from __future__ import annotations

import argparse

from ..api import compare
from .common import check_output_path, comparison_options, finish


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="compare two existing images (any transport)")
    p.add_argument(
        "a", help="image A: docker-daemon:REF (or REF), docker-archive:, oci:, oci-archive:"
    )
    p.add_argument("b", help="image B, same forms")
    p.add_argument("--dockerfile", metavar="PATH", help="map layers to this Dockerfile's lines")
    p.add_argument("--target", help="the stage of --dockerfile the images were built from")
    comparison_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    result = compare(
        args.a,
        args.b,
        platform=args.platform,
        ignore=args.ignore,
        config=args.config,
        dockerfile=args.dockerfile,
        target=args.target,
        verify_digests=args.verify_digests,
    )
    return finish(result, args)
