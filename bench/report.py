"""docs/benchmark.md's speed table from a benchmark's JSON: ``python -m bench.report bench/results.json``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

ROWS = (
    ("bulk import, events/s", "bulk import"),
    ("import with the Merkle tree / without, events/s", "import, tree / no tree"),
    ("single record (library), events/s", "single record (library)"),
    ("ingest of pc-audit records / import of the same events, events/s", "ingest pc-audit / import"),
    ("rebuild, events/s", "rebuild"),
    ("verify, events/s", "verify"),
    ("as-of `por` p50, ms", "as-of por p50"),
    ("as-of `por` p99, ms", "as-of por p99"),
    ("late record before 1,000 later events, ms", "late record, 1,000 later"),
    ("late record before 10 later events, ms", "late record, 10 later"),
    ("inclusion proof p50, ms (/ one lookup)", "inclusion proof p50"),
    ("consistency proof p50, ms (/ one lookup)", "consistency proof p50"),
    ("CLI start `ledger por`, s", "CLI start, ledger por"),
    ("peak RSS import, MB", "peak RSS import"),
    ("peak RSS rebuild, MB", "peak RSS rebuild"),
)


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def table(results: dict[str, Any]) -> str:
    """One row a figure: ours / raw, the ratio, met or not on each store, and the floor
    (the database alone storing or reading the same rows), marked where the target asks for
    more than it; then the target."""
    by = {(f["store"], f["name"]): f for f in results["figures"]}
    stores = sorted({f["store"] for f in results["figures"]}, key=["sqlite", "postgresql"].index)
    head = "| figure | " + " | ".join(f"{s} ours / raw | ratio | met | floor" for s in stores) + " | target |"
    lines = [head, "|---" * (2 + 4 * len(stores)) + "|"]
    for label, name in ROWS:
        cells, target = [], ""
        for store in stores:
            f = by.get((store, name))
            if f is None:
                cells += ["", "", "", ""]
                continue
            target = f["target"]
            ours = _number(f["ours"])
            pair = f"{ours} / {_number(f['baseline'])}" if f["baseline"] else ours
            ratio = f"{f['ratio']:.3f}" if f["baseline"] else ""
            met = {True: "yes", False: "**no**", None: ""}[f["met"]]
            floor = ""
            if f.get("floor"):
                floor = _number(f["floor"])
                if f.get("floor_ratio"):  # ours / floor: what a target "x floor" is judged by
                    floor += f" (ours {f['floor_ratio']:.3f}x)"
                floor += "" if f["reachable"] else " (below the target)"
            cells += [pair, ratio, met, floor]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Print a benchmark's figures as docs/benchmark.md's table.")
    parser.add_argument("results", type=Path, help="the JSON that bench.run wrote")
    args = parser.parse_args()
    results = orjson.loads(args.results.read_bytes())
    print(
        f"{results['events']:,} events, {results['machine']['cores']} cores, "
        f"Python {results['machine']['python']}\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
