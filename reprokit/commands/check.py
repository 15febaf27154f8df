"""``reprokit check [CONTEXT]``: build a context twice without cache and compare."""

from __future__ import annotations

import argparse

from ..api import check
from ..errors import UsageError
from ..spec import parse_build_args
from .common import check_output_path, comparison_options, finish


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="build a context twice without cache and compare")
    p.add_argument("context", nargs="?", help="build context (default: the bundled example)")
    p.add_argument(
        "-f", "--file", dest="dockerfile", help="Dockerfile (default: CONTEXT/Dockerfile)"
    )
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="build arg")
    p.add_argument("--target", help="target stage of a multi-stage Dockerfile")
    p.add_argument("--network", default="none", help="network of RUN steps: none (default) or host")
    p.add_argument("--label", action="append", default=[], metavar="K=V", help="image label")
    p.add_argument("--pull", action="store_true", help="pull base images (off by default)")
    p.add_argument("--keep-images", action="store_true", help="keep both built images")
    comparison_options(p)
    p.set_defaults(run=run)


def labels(items: list[str]) -> dict[str, str]:
    """``["k=v"]`` → ``{"k": "v"}``.

    >>> labels(["a=1", "b="])
    {'a': '1', 'b': ''}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or not sep:
            raise UsageError(f"label {item!r} is not K=V")
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    result = check(
        args.context,
        dockerfile=args.dockerfile,
        build_args=parse_build_args(args.build_arg),
        target=args.target,
        network=args.network,
        labels=labels(args.label),
        platform=args.platform,
        pull=args.pull,
        keep_images=args.keep_images,
        ignore=args.ignore,
        config=args.config,
    )
    return finish(result, args)
