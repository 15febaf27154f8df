#!/usr/bin/env bash
# Set up everything (engine, tools, venv) and run reprokit's main job on the bundled example:
# build it twice, compare, print the summary and write reports/example.json.
# The example is deliberately not reproducible, so the verdict is DIFFERENT (exit status 1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
mkdir -p reports
VENV="${REPROKIT_VENV:-$ROOT/.venv}"
exec "$VENV/bin/reprokit" check --json reports/example.json "$@"
