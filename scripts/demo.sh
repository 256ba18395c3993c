#!/usr/bin/env bash
# Sets up everything and runs the narrated demo of the session factory (simulated Telegram, embedded SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/python -m tgsessions.demo "$@"
