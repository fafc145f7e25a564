#!/usr/bin/env bash
# Regenerates docs/report.png, the README's picture of the auditor report: `ledger demo` into a
# temporary SQLite ledger, `ledger report contoso`, and a screenshot of the page's top (header,
# findings, legend, timeline) in headless Chromium at 1280 pixels wide. Needs .venv
# (./demo.sh or ./test.sh sets it up) and Debian's chromium (./test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="sqlite:///$work/ledger.db"
.venv/bin/ledger --db "$db" demo >/dev/null
.venv/bin/ledger --db "$db" report contoso --out "$work/report.html"
mkdir -p docs
.venv/bin/python tests/browser.py "$work/report.html" docs/report.png --width 1280 --height "${HEIGHT:-1750}" --viewport-only
