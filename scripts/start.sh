#!/usr/bin/env bash
# Sets up everything and starts the service: SQLite in ./data (or TGS_DATA_DIR), the simulated Telegram, port 8080
# (or TGS_PORT); settings also come from .env. Prints where it listens, the demo accounts it seeded and the first
# admin key (shown once).
# Usage: bash scripts/start.sh [extra `tgsessions serve` options, e.g. --port 9000]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/tgsessions serve --telegram simulated "$@"
