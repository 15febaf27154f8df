"""``reprokit history [STORE]``: the fleet over time, from the surveys' history store — since
when a target fails, which spec change did it, which causes are flaky (docs/fleet.md)."""

from __future__ import annotations

import argparse

from .common import check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="the fleet over time, from a survey history store")
    p.add_argument(
        "store",
        nargs="?",
        default="reprokit-history.db",
        metavar="PATH_OR_URL",
        help="SQLite file or SQLAlchemy URL (default: reprokit-history.db)",
    )
    p.add_argument("--target", help="only this target")
    p.add_argument("--since", metavar="ISO_TIME", help="only entries from this time on")
    p.add_argument(
        "--plot",
        action="append",
        default=[],
        metavar="KIND=PATH.png",
        help="save a plot: verdicts (by day) or causes (by target); repeatable",
    )
    p.add_argument("--json", metavar="PATH", help="write the JSON report")
    report_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..fleet.history import history

    check_output_path("--json", args.json)
    plots = []
    for item in args.plot:
        kind, sep, path = item.partition("=")
        if not sep or kind not in ("verdicts", "causes") or not path.endswith(".png"):
            raise UsageError(f"--plot {item!r}: use verdicts=PATH.png or causes=PATH.png")
        check_output_path("--plot", path)
        plots.append((kind, path))
    result = history(args.store, target=args.target, since=args.since)
    write_outputs(result, args)
    for kind, path in plots:
        result.plot(kind).savefig(path)
    say(result.text())
    return status(result)
