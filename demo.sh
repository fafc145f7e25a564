#!/usr/bin/env bash
# Sets up the ledger in .venv and runs its main job on the embedded default (SQLite):
# `ledger demo` loads a realistic built-in history into ./ledger.db (fresh, or holding only the
# demo's own events: loading it again stores nothing new) and shows what the projections derive.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/ledger demo "$@"
