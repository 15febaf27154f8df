"""``reprokit survey TARGET...``: check many targets (contexts, globs, pairs A=B, manifests),
locally or on a Dask cluster; a row per target; history and JUnit for CI (docs/fleet.md)."""

from __future__ import annotations

import argparse
import sys

from ..builders import CHOICES
from ..redaction import redact_line
from ..spec import parse_build_args
from ..text import clean
from .common import check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "survey", help="check many targets (contexts, globs, pairs A=B, a manifest) in one run"
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="a build context, a glob such as 'services/*/', an image pair A=B or a manifest "
        "(.toml)",
    )
    p.add_argument("-m", "--manifest", help="a TOML manifest of targets and their options")
    p.add_argument(
        "--require",
        choices=("identical", "equivalent"),
        help="verdict each target needs unless it sets its own (default: equivalent)",
    )
    p.add_argument("--builder", choices=CHOICES, help="builder of targets that set none (auto)")
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="build arg")
    p.add_argument(
        "--ignore", action="append", default=[], metavar="GLOB", help="ignored paths, all targets"
    )
    p.add_argument("--source-date-epoch", type=int, metavar="N", help="SOURCE_DATE_EPOCH for all")
    where = p.add_argument_group("where targets run")
    where.add_argument(
        "-j",
        "--concurrency",
        type=int,
        metavar="N",
        help="targets at once, locally (default: half the CPUs)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run each target on a worker of this Dask scheduler (its own engine)",
    )
    where.add_argument(
        "--max-context",
        type=int,
        default=64,
        metavar="MiB",
        help="largest context (tarred) shipped to a worker (64 MiB)",
    )
    p.add_argument(
        "--history",
        metavar="PATH_OR_URL",
        help="append this run to a history store: a SQLite file or a SQLAlchemy URL",
    )
    p.add_argument("--json", metavar="PATH", help="write the survey's JSON report")
    report_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(run=run)


def _progress(line: str) -> None:
    print(f"reprokit {clean(redact_line(line))}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..fleet.survey import survey

    check_output_path("--json", args.json)
    if not args.targets and not args.manifest:
        raise UsageError("survey needs targets: contexts, globs, pairs A=B or --manifest")
    if args.concurrency is not None and args.scheduler:
        raise UsageError("--concurrency is for local runs; a Dask cluster has its own workers")
    result = survey(
        args.targets,
        manifest=args.manifest,
        require=args.require,
        builder=args.builder,
        ignore=args.ignore,
        build_args=parse_build_args(args.build_arg),
        source_date_epoch=args.source_date_epoch,
        concurrency=args.concurrency,
        scheduler=args.scheduler,
        max_context=args.max_context << 20,
        history=args.history,
        say=None if args.quiet else _progress,
    )
    write_outputs(result, args)
    text = result.text()
    say(text.splitlines()[0] if args.quiet else text)
    return status(result)
