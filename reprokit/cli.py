"""Command line: argument parsing only; the work is done by the public API.

Exit status: 0 when the verdict meets ``--require``, 1 when it does not, 2 on any error (one
line on stderr, never a traceback), 130 when interrupted.

>>> build_parser().parse_args(["diff", "a", "b"]).require
'equivalent'
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .api import check, compare
from .errors import BuildError, Cancelled, ReprokitError, UsageError
from .report.text import clean
from .result import Result
from .spec import parse_build_args

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"reprokit: error: {message} (see {self.prog} --help)\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require",
        choices=("identical", "equivalent"),
        default="equivalent",
        help="verdict needed for exit status 0 (default: equivalent)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the JSON report (reprokit/v1)")
    parser.add_argument("--platform", help="os/arch[/variant] to build or pick from an index")
    parser.add_argument("--top", type=int, default=10, help="differing paths to list (10)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reprokit",
        description="Prove container images are reproducible: build twice, diff, explain.",
    )
    parser.add_argument("--version", action="version", version=f"reprokit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

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
    _common(p)

    p = sub.add_parser("diff", help="compare two existing images (any transport)")
    p.add_argument(
        "a", help="image A: docker-daemon:REF (or REF), docker-archive:, oci:, oci-archive:"
    )
    p.add_argument("b", help="image B, same forms")
    _common(p)
    return parser


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key or not sep:
            raise ReprokitError(f"label {item!r} is not K=V")
        out[key] = value
    return out


def _run(args: argparse.Namespace) -> Result:
    if args.command == "check":
        return check(
            args.context,
            dockerfile=args.dockerfile,
            build_args=parse_build_args(args.build_arg),
            target=args.target,
            network=args.network,
            labels=_labels(args.label),
            platform=args.platform,
            pull=args.pull,
            keep_images=args.keep_images,
        )
    return compare(args.a, args.b, platform=args.platform)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reprokit`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.json and not Path(args.json).resolve().parent.is_dir():
            raise UsageError(
                f"--json {args.json}: directory {Path(args.json).parent} does not exist"
            )
        result = _run(args)
        if args.json:
            result.to_json(args.json)
    except BuildError as err:
        print(f"reprokit: error: {clean(err)}", file=sys.stderr)
        for line in err.log_tail[-15:]:
            print(f"  | {clean(line)}", file=sys.stderr)
        return EXIT_ERROR
    except Cancelled as err:
        print(f"reprokit: {clean(err)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ReprokitError as err:
        print(f"reprokit: error: {clean(err)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("reprokit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("REPROKIT_DEBUG"):
            raise
        print(
            f"reprokit: internal error: {type(err).__name__}: {clean(err, 200)} "
            "(set REPROKIT_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(
        result.verdict.upper() + ": " + clean(result.reason)
        if args.quiet
        else result.text(args.top)
    )
    return EXIT_OK if result.meets(args.require) else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
