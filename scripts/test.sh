#!/usr/bin/env bash
# Sets up everything and runs the whole test suite: lint, types, layer rules, tests (SQLite, PostgreSQL, Redis).
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
# GramJS for tests/interop: a fresh clone has no node_modules; reinstall when package-lock.json is newer.
NODE_DIR=tests/interop/node
if [ ! -f "$NODE_DIR/node_modules/.package-lock.json" ] || [ "$NODE_DIR/node_modules/.package-lock.json" -ot "$NODE_DIR/package-lock.json" ]; then
  command -v npm >/dev/null || { echo "npm is needed for tests/interop (GramJS); install node 20 and npm" >&2; exit 1; }
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error || { echo "npm ci --prefix $NODE_DIR failed" >&2; exit 1; }
fi
export TGS_TEST_POSTGRES_URL=${TGS_TEST_POSTGRES_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}
export TGS_TEST_REDIS_URL=${TGS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
.venv/bin/python scripts/check_services.py
echo "== ruff"
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/ruff check src tests bench scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== import-linter"
.venv/bin/lint-imports --no-cache
echo "== pytest"
.venv/bin/pytest "$@"
