"""The benchmark runs end to end (a smoke run: it measures nothing here, asserts no timing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench.generate import History
from ledger import Ledger, parse_event


def test_generated_history_passes_the_rulebook_on_both_stores(url: str) -> None:
    events = list(History(600, seed=5).events())
    types = {e["type"] for e in events}
    assert {"subscription.purchased", "subscription.switched", "subscription.cancelled"} <= types
    assert {
        "delegation.granted",
        "delegation.revoked",
        "relationship.accepted",
        "relationship.removed",
    } <= types
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
    # The README's table, from that JSON: a row per figure, both stores side by side.
    shown = subprocess.run(
        [sys.executable, "-m", "bench.report", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert shown.returncode == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| figure | sqlite ours / raw") and "postgresql ours / raw" in rows[0]
    bulk = next(row for row in rows if row.startswith("| bulk import"))
    sqlite_import = next(f for f in figures if f["store"] == "sqlite" and f["name"] == "bulk import")
    assert f"{sqlite_import['ratio']:.3f}" in bulk
    assert len(rows) == 1 + 9  # the header and one row a figure
    # and the run said each figure as it went
    assert "sqlite: bulk import:" in done.stderr and "postgresql: verify:" in done.stderr


def test_the_generated_history_depends_on_the_seed_only(tmp_path: Path) -> None:
    """Same seed, same bytes, whatever Python's string hashing does in each process."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"history-{hash_seed}.jsonl"
        done = subprocess.run(
            [sys.executable, "-m", "bench.generate", str(out), "--events", "3000"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 3000


def test_the_peak_memory_measured_is_the_commands_own() -> None:
    """A figure of the command's own memory, not of the (large) benchmark that runs it."""
    from bench.run import run_process

    held = bytearray(200 * 1024 * 1024)  # the benchmark holds a large history
    held[::4096] = b"x" * len(held[::4096])  # ...resident, page by page
    _, small = run_process([sys.executable, "-c", "pass"])
    _, large = run_process(
        [sys.executable, "-c", "x = bytearray(120 * 1024 * 1024); x[::4096] = b'y' * len(x[::4096])"]
    )
    assert small < 100 * 1024 < 120 * 1024 < large  # KiB
    with pytest.raises(SystemExit, match="failed"):
        run_process([sys.executable, "-c", "raise SystemExit(3)"])
