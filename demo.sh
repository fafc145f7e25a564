#!/usr/bin/env bash
# Sets up the ledger in .venv and runs its main job on the embedded default (SQLite):
# records the sample history of samples/contoso.jsonl into a fresh demo.db, prints the stored,
# chained events, and shows the rulebook refusing a CSP partner reselling to a CSP partner.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
export LEDGER_DB="sqlite:///$PWD/demo.db"
rm -f demo.db demo.db-wal demo.db-shm
ledger=.venv/bin/ledger

echo "== import samples/contoso.jsonl (one transaction)"
"$ledger" import samples/contoso.jsonl
echo
echo "== the stored events (ledger export): position, type, effective_at, hash"
"$ledger" export | .venv/bin/python -c '
import sys, orjson
for line in sys.stdin:
    e = orjson.loads(line)
    print("{position:>3}  {type:<24} {effective_at}  {hash:.16}".format(**e))'
echo
echo "== importing the same file again stores nothing new"
"$ledger" import samples/contoso.jsonl
echo
echo "== northwind (a CSP partner) tries to sell to fabrikam (itself a CSP partner)"
"$ledger" record customer.registered --effective-at 2021-01-01T00:00:00Z --actor-id ops@fabrikam.example \
  --actor-role global-admin --actor-tenant-id fabrikam --customer-id fabrikam --name Fabrikam --cloud commercial
set +e
"$ledger" record subscription.purchased --effective-at 2021-02-01T00:00:00Z --actor-id sales@northwind.example \
  --actor-role sales-agent --actor-tenant-id northwind --subscription-id o365-fab --customer-id fabrikam \
  --offer "Office 365 E3" --service license --channel csp --seller-id northwind --term-end 2022-02-01T00:00:00Z
echo "exit code $? (3: rejected by the rulebook; nothing was stored)"
