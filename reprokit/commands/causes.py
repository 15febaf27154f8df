"""``reprokit causes``: the cause catalogue and the rules that assign causes (built-in ones and
those of a settings file), so a user can see what explains what before writing a rule."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..api import settings_for
from ..explain.causes import CAUSES
from .common import say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("causes", help="list the causes and the rules that assign them")
    p.add_argument(
        "--config",
        metavar="TOML",
        help="also list the rules, ignores and disabled rules of this settings file "
        "(default: found in the current directory)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args.config, search=[Path.cwd()])
    lines = ["causes:"]
    for cause in CAUSES.values():
        lines.append(f"  {cause.name:<22} {cause.summary}")
    lines.append("rules (first match wins):")
    for rule in [*settings.file_rules(), *settings.config_rules()]:
        lines.append(f"  {rule.id:<20} {rule.target:<6} → {rule.cause:<22} {rule.describe()}")
    for rule_id in sorted(set(settings.disable)):
        lines.append(f"  {rule_id:<20} (disabled)")
    if settings.ignore:
        lines.append("ignored: " + ", ".join(settings.ignore))
    if settings.origin:
        lines.append(f"settings: {settings.origin}")
    say("\n".join(lines))
    return 0
