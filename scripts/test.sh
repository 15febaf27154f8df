#!/usr/bin/env bash
# Set up everything (engine, tools, venv) and run the whole test suite.
# Usage: scripts/test.sh [pytest args...]     e.g. scripts/test.sh -m "not slow"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
VENV="${REPROKIT_VENV:-$ROOT/.venv}"
"$VENV/bin/ruff" check reprokit tests bench
"$VENV/bin/ruff" format --check reprokit tests bench
"$VENV/bin/pytest" --doctest-modules reprokit -q -p no:cacheprovider
exec "$VENV/bin/pytest" tests -ra -p no:cacheprovider "$@"
