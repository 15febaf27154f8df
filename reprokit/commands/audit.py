"""``reprokit audit IMAGE``: secrets in every layer, base pinning, root user, permissions,
waste and (``--runtime``) read-only readiness. Exit 1 when a finding reaches ``--fail-on``."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import replace

from ..auditing.rules import SEVERITIES
from ..auditing.scan import audit
from .common import check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit an image: secrets in any layer, pinning, root, waste")
    p.add_argument("image", help="docker-daemon:REF (or REF), docker-archive:, oci:, oci-archive:")
    p.add_argument("--dockerfile", metavar="PATH", help="also check this Dockerfile's FROM lines")
    p.add_argument("--json", metavar="PATH", help="write the JSON report (kind: audit)")
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default="high",
        help="exit 1 when a finding is this grave or graver (default: high)",
    )
    p.add_argument(
        "--disable", action="append", default=[], metavar="RULE", help="skip a rule, repeatable"
    )
    p.add_argument(
        "--runtime",
        action="store_true",
        help="also run the image read-only (tmpfs /tmp, no network) and report its writes",
    )
    p.add_argument("--command", help="command for --runtime instead of the image's own")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds --runtime waits (10)")
    report_option(p)
    p.add_argument("--top", type=int, default=30, help="findings to list (30)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_path("--json", args.json)
    found = audit(
        args.image,
        args.dockerfile,
        disable=args.disable,
        runtime=args.runtime,
        command=shlex.split(args.command) if args.command else None,
        timeout=args.timeout,
    )
    result = replace(found, fail_on=args.fail_on)
    write_outputs(result, args)
    say(result.text(args.top))
    return status(result)
