"""The benchmark runs end to end (a smoke run: it measures nothing here, asserts no timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from bench.generate import History
from ledger import Ledger, parse_event


def test_generated_history_passes_the_rulebook_on_both_stores(url: str) -> None:
    events = list(History(600, seed=5).events())
    types = {e["type"] for e in events}
    assert {"subscription.purchased", "subscription.switched", "subscription.cancelled"} <= types
    assert {"delegation.granted", "delegation.revoked", "relationship.accepted"} <= types
    with Ledger(url) as ledger:
        ledger.record_many([(i, parse_event(e)) for i, e in enumerate(events, start=1)])
        assert ledger.verify() == len(events)


def test_the_benchmark_runs_and_writes_its_table(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--events",
            "300",
            "--singles",
            "5",
            "--queries",
            "20",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    figures = orjson.loads(out.read_bytes())["figures"]
    names = {(f["store"], f["name"]) for f in figures}
    for store in ("sqlite", "postgresql"):
        assert (store, "bulk import") in names and (store, "as-of por p99") in names
    assert all(f["ours"] > 0 for f in figures)
    assert "ratio" in done.stdout.splitlines()[1]
