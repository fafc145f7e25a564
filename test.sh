#!/usr/bin/env bash
# Sets up everything the suite needs and runs it: lint (ruff), types (mypy), and every test on
# SQLite and on PostgreSQL. PostgreSQL: LEDGER_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test);
# a local server that is installed but stopped is started; where none is installed (Debian,
# as root) one is installed; so is Chromium (Debian's package) for the report's browser tests.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"

export LEDGER_TEST_PG=${LEDGER_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test}
pg_answers() {
  .venv/bin/python - "$1" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1], connect_timeout=3).close()
PY
}
admin_dsn="${LEDGER_TEST_PG%/*}/postgres"
if ! pg_answers "$admin_dsn"; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing PostgreSQL (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_answers "$admin_dsn" && break; sleep 1; done
  pg_answers "$admin_dsn" || { echo "test.sh: PostgreSQL at $admin_dsn does not answer" >&2; exit 1; }
fi
.venv/bin/python - "$admin_dsn" "${LEDGER_TEST_PG##*/}" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [sys.argv[2]]).fetchone():
        conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
PY

# The auditor report's browser tests need Debian's Chromium; as root it is installed if missing.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test.sh: installing Chromium (Debian package) for the report's browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null || echo "test.sh: chromium is missing: the report's browser tests will fail" >&2

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "$@"
