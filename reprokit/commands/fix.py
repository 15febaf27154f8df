"""``reprokit fix CONTEXT``: patch the Dockerfile with the fixes a check finds, and prove the
patch by building it twice (bounded rounds). Exit 0 when the required verdict is reached, 1 when
not, 2 on errors. ``--json``/``--report`` write the fix result (kind ``fix``) in any format."""

from __future__ import annotations

import argparse

from ..api import fix
from ..fixing import ROUNDS
from .check import builder_options, builder_values, spec_arguments, spec_options
from .common import EXIT_FAILED, EXIT_OK, check_output_path, report_option, say, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fix", help="patch a Dockerfile with its fixes and prove it by rebuilding")
    p.add_argument("context", help="build context")
    p.add_argument(
        "-f", "--file", dest="dockerfile", help="Dockerfile (default: CONTEXT/Dockerfile)"
    )
    p.add_argument("--output", metavar="PATH", help="patched Dockerfile (DOCKERFILE.fixed)")
    p.add_argument("--in-place", action="store_true", help="rewrite the Dockerfile itself")
    p.add_argument("--no-verify", action="store_true", help="write the patch without rebuilding")
    p.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds at most ({ROUNDS})")
    p.add_argument(
        "--require",
        choices=("identical", "equivalent"),
        default="equivalent",
        help="verdict to reach (default: equivalent)",
    )
    p.add_argument("--json", metavar="PATH", help="write the fix result as JSON")
    report_option(p)
    spec_arguments(p)
    p.add_argument("--platform", help="os/arch[/variant] to build")
    p.add_argument("--ignore", action="append", default=[], metavar="GLOB", help="ignore paths")
    p.add_argument("--config", metavar="TOML", help="settings file (reprokit.toml)")
    builder_options(p, analysis=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    check_output_path("--output", args.output)
    result = fix(
        args.context,
        dockerfile=args.dockerfile,
        output=args.output,
        in_place=args.in_place,
        verify=not args.no_verify,
        rounds=args.rounds,
        require=args.require,
        **spec_options(args),
        platform=args.platform,
        ignore=args.ignore,
        config=args.config,
        **builder_values(args),
    )
    write_outputs(result, args)
    say(result.text())
    return EXIT_OK if result.ok else EXIT_FAILED
