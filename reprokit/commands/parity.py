"""``reprokit parity A B TESTS...``: run testinfra test files on both images, side by side.

Exit status: 0 when every test passes on both, 1 when an outcome differs or fails, 2 on error.
"""

from __future__ import annotations

import argparse

from .common import EXIT_ERROR, check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parity", help="run testinfra tests on containers of both images and compare outcomes"
    )
    p.add_argument("a", help="image A, any transport (docker-daemon:, docker-archive:, oci:, …)")
    p.add_argument("b", help="image B, same forms")
    p.add_argument("tests", nargs="+", metavar="TESTS", help="test files or directories (pytest)")
    p.add_argument(
        "--json", metavar="PATH", help="write the parity report (reprokit/v1, kind parity)"
    )
    p.add_argument(
        "--read-only", action="store_true", help="read-only root filesystem (tmpfs /tmp)"
    )
    report_option(p)
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..behaviour.suite import parity_tests

    check_output_path("--json", args.json)
    result = parity_tests(
        args.a, args.b, args.tests, read_only=args.read_only, verbose=args.verbose
    )
    write_outputs(result, args)
    say(result.text())
    if result.errors or not result.parity_records:
        return EXIT_ERROR
    return status(result)
