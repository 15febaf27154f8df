"""``reprokit check [CONTEXT]``: build a context twice without cache and compare."""

from __future__ import annotations

import argparse
from typing import Any

from ..api import check
from ..builders import CHOICES
from ..errors import UsageError
from ..spec import parse_build_args
from ..variations import NAMES
from .common import check_output_path, comparison_options, finish


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="build a context twice without cache and compare")
    p.add_argument(
        "context",
        nargs="?",
        help="build context (default: the bundled example), or a Packer template "
        "(*.pkr.json, *.pkr.hcl, legacy *.json)",
    )
    p.add_argument(
        "-f", "--file", dest="dockerfile", help="Dockerfile (default: CONTEXT/Dockerfile)"
    )
    spec_arguments(p)
    p.add_argument("--pull", action="store_true", help="pull base images (off by default)")
    p.add_argument("--keep-images", action="store_true", help="keep both built images")
    builder_options(p)
    packer_options(p)
    comparison_options(p)
    p.set_defaults(run=run)


def spec_arguments(p: argparse.ArgumentParser) -> None:
    """--build-arg, --target, --network, --label: what goes into the build spec (check, fix)."""
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="build arg")
    p.add_argument("--target", help="target stage of a multi-stage Dockerfile")
    p.add_argument("--network", default="none", help="network of RUN steps: none (default) or host")
    p.add_argument("--label", action="append", default=[], metavar="K=V", help="image label")


def spec_options(args: argparse.Namespace) -> dict[str, object]:
    """The keyword arguments of :func:`reprokit.check` that :func:`spec_arguments` gives."""
    return {
        "build_args": parse_build_args(args.build_arg),
        "target": args.target,
        "network": args.network,
        "labels": labels(args.label),
    }


def builder_options(p: argparse.ArgumentParser, *, analysis: bool = True) -> None:
    """--builder, --source-date-epoch, --vary, --vary-build-arg, --engine, --runs, --delay and,
    with ``analysis``, --find-culprits and --suggest (issue 6)."""
    g = p.add_argument_group("builders and variations (docs/builders.md)")
    g.add_argument(
        "--builder",
        choices=CHOICES,
        default="auto",
        help="auto (default: buildx when its plugin answers, else docker), docker, buildx, buildah",
    )
    g.add_argument(
        "--source-date-epoch",
        type=int,
        metavar="N",
        help="reproducible setup: SOURCE_DATE_EPOCH=N (buildx: rewrite-timestamp; buildah: "
        "--timestamp N)",
    )
    g.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help=f"vary the builds after the first: {', '.join(NAMES)} (build-arg=NAME)",
    )
    g.add_argument(
        "--vary-build-arg", action="append", default=[], metavar="NAME", help="vary build arg NAME"
    )
    g.add_argument(
        "--engine",
        action="append",
        default=[],
        metavar="URL_OR_CONTEXT",
        help="a second engine (DOCKER_HOST URL or docker context name): implies --vary engine",
    )
    g.add_argument("--runs", type=int, default=2, metavar="N", help="build N times (default 2)")
    g.add_argument(
        "--delay", type=float, default=2.0, metavar="S", help="seconds of --vary time (2)"
    )
    if analysis:
        g.add_argument(
            "--find-culprits",
            action="store_true",
            help="find which variations break reproducibility, one at a time",
        )
        g.add_argument(
            "--suggest",
            action="store_true",
            help="when the docker builder gives only equivalent, try buildx and buildah set up "
            "for reproducibility and suggest the one that gives identical images",
        )


def builder_values(args: argparse.Namespace) -> dict[str, Any]:
    """What :func:`builder_options` parsed, as keyword arguments of ``check`` (and ``fix``)."""
    return {
        "builder": args.builder,
        "source_date_epoch": args.source_date_epoch,
        "vary": args.vary,
        "vary_build_args": args.vary_build_arg,
        "engines": args.engine,
        "runs": args.runs,
        "delay": args.delay,
    }


def packer_options(p: argparse.ArgumentParser) -> None:
    """--var and --only for Packer templates (docs/machine-images.md)."""
    g = p.add_argument_group("Packer templates (docs/machine-images.md)")
    g.add_argument("--var", action="append", default=[], metavar="K=V", help="packer -var")
    g.add_argument("--only", action="append", default=[], metavar="BUILD", help="packer -only")


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
        **spec_options(args),
        platform=args.platform,
        pull=args.pull,
        keep_images=args.keep_images,
        ignore=args.ignore,
        config=args.config,
        **builder_values(args),
        find_culprits=args.find_culprits,
        suggest=args.suggest,
        variables=labels(args.var) if args.var else None,
        only=args.only,
        verify_digests=args.verify_digests,
    )
    return finish(result, args)
