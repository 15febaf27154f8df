"""``reprokit audit IMAGE``: secrets in every layer, base pinning, root user, permissions,
waste and (``--runtime``) read-only readiness. Exit 1 when a finding reaches ``--fail-on``."""

from __future__ import annotations

import argparse
import shlex
import time
from dataclasses import replace

from ..auditing.result import AuditResult
from ..auditing.rules import SEVERITIES
from ..auditing.scan import audit
from ..errors import UsageError
from .common import check_output_path, report_option, say, status, write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit an image: secrets in any layer, pinning, root, waste")
    p.add_argument(
        "image",
        nargs="?",
        help="docker-daemon:REF (or REF), docker-archive:, oci:, oci-archive:, rootfs-archive:, "
        "dir:, disk: (optional with --deploy)",
    )
    p.add_argument(
        "--deploy",
        nargs="+",
        default=[],
        metavar="PATH",
        help="also (or only) report mutable image references in Terraform, Compose, Kubernetes "
        "and Packer files (docs/machine-images.md)",
    )
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
    if args.image is None:
        if not args.deploy:
            raise UsageError("audit needs an IMAGE, --deploy PATH..., or both")
        found = _deploy_only(args.deploy)
    else:
        found = _with_deploy(
            args.deploy,
            audit(
                args.image,
                args.dockerfile,
                disable=args.disable,
                runtime=args.runtime,
                command=shlex.split(args.command) if args.command else None,
                timeout=args.timeout,
            ),
        )
    result = replace(found, fail_on=args.fail_on)
    write_outputs(result, args)
    say(result.text(args.top))
    return status(result)


def _deploy_only(paths: list[str]) -> AuditResult:
    from ..auditing.deploy import audit_deploy

    started = time.monotonic()
    findings, stats = audit_deploy(paths)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: (order.get(f.severity, 9), f.where))
    return AuditResult(
        kind="audit",
        subject="deploy: " + " ".join(paths),
        finding_records=findings,
        stats=stats,
        duration_s=time.monotonic() - started,
    )


def _with_deploy(paths: list[str], found: AuditResult) -> AuditResult:
    if not paths:
        return found
    extra = _deploy_only(paths)
    return replace(
        found,
        finding_records=[*found.finding_records, *extra.finding_records],
        stats={**found.stats, **extra.stats},
    )
