"""One module per CLI subcommand; each has ``register(sub)`` and ``run(args) -> int``.

A new subcommand is a new module here plus one entry in :data:`COMMANDS`.

>>> [m.__name__.rsplit(".", 1)[1] for m in COMMANDS][:2]
['check', 'diff']
"""

from __future__ import annotations

from . import (
    audit,
    capture,
    causes,
    check,
    diff,
    drift,
    fix,
    history,
    images,
    inventory,
    parity,
    replay,
    report,
    survey,
)

COMMANDS = [
    *[check, diff, fix, report, causes, parity, inventory, capture, replay, audit, drift],
    *[images, survey, history],
]
