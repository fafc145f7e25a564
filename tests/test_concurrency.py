"""Real processes writing one ledger at once: conflicting writers never both pass.

Every race runs separate OS processes against a store set up through the library, on
PostgreSQL and on a SQLite file. Each worker imports everything first, says it is ready,
then waits on a gate file; the test opens the gate only once all are ready, so the appends
themselves start together (a barrier), not the interpreters. Two launchers:

- ``ledger --db URL record --json --event ...``, the installed command, behind that gate
  (``cli.app:main``, exactly what the console script runs);
- a small Python worker calling ``Ledger.record`` in a loop, for many appends per process.

After each race the log is checked whole: positions 1..N with no gap and no duplicate, as
many events as chain rows, the chain verifies, the projections match a rebuild.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger

from builders import accept, customer, partner, purchase, raw, request

CHALLENGERS = ["northwind", "litware", "adatum", "tailspin", "woodgrove"]
SWITCH_AT = "2019-06-01T00:00:00Z"
TIMEOUT = 60  # seconds, for any one race

# Runs the installed command's entry point once the gate opens: imports (typer, rich,
# eventsourcing, psycopg) happen before "ready", so only the command itself races.
GATED_CLI = """
import os, sys, time
from cli.app import main
ready, gate = sys.argv[1], sys.argv[2]
open(ready, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(gate):
    if time.monotonic() > deadline:
        sys.exit(98)
    time.sleep(0.001)
sys.argv = ["ledger", *sys.argv[3:]]
main()
"""

# Appends many events, one transaction each, through the library; prints the receipts,
# when it started and ended appending, and how many times an append was tried (judged).
GATED_WRITER = """
import json, os, sys, time
from ledger import Ledger, parse_event
ready, gate, url, events = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
parsed = [parse_event(e) for e in events]
attempts = 0
def counted(head):
    global attempts
    attempts += 1
with Ledger(url, on_lock=counted) as ledger:
    open(ready, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            sys.exit(98)
        time.sleep(0.001)
    started = time.time()
    receipts = [ledger.record(e).to_json() for e in parsed]
    ended = time.time()
print(json.dumps({"receipts": receipts, "started": started, "ended": ended, "attempts": attempts}))
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def race(
    tmp_path: Path,
    script: str,
    argvs: list[list[str]],
    after_gate: Callable[[list[subprocess.Popen[str]]], None] | None = None,
) -> list[Outcome]:
    """Start one process per argv, wait until all are ready, open the gate, (``after_gate``
    with the processes), collect them."""
    gate = tmp_path / "gate"
    assert not gate.exists()
    ready = [tmp_path / f"ready-{i}" for i in range(len(argvs))]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(r), str(gate), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r, argv in zip(ready, argvs, strict=True)
    ]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not all(r.exists() for r in ready):
            failed = [p for p in procs if p.poll() is not None]
            if failed:
                _, err = failed[0].communicate()
                pytest.fail(f"a worker exited before the start (code {failed[0].returncode}): {err}")
            assert time.monotonic() < deadline, "workers did not get ready in time"
            time.sleep(0.01)
        gate.touch()  # all are waiting: go
        if after_gate is not None:
            after_gate(procs)
        outcomes = []
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            outcomes.append(Outcome(p.returncode, out, err))
        return outcomes
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for r in ready:
            r.unlink(missing_ok=True)
        gate.unlink(missing_ok=True)


def record_race(tmp_path: Path, url: str, events: list[dict[str, Any]]) -> list[Outcome]:
    """One ``ledger record --json --event`` process per event, all at once."""
    argvs = [["--db", url, "record", "--json", "--event", json.dumps(e)] for e in events]
    outcomes = race(tmp_path, GATED_CLI, argvs)
    for o in outcomes:
        assert "Traceback" not in o.stderr, o.stderr
    return outcomes


def assert_log_whole(url: str, expected_count: int) -> list[dict[str, Any]]:
    """Positions 1..N, no gap, no duplicate; one chain row per event; chain and projections verify."""
    with Ledger(url) as ledger:
        events = list(ledger.stored())
        positions = [e["position"] for e in events]
        assert positions == list(range(1, expected_count + 1))
        ids = [e["event_id"] for e in events]
        assert len(set(ids)) == len(ids), "an event was stored twice"
        with ledger.read() as db:
            db.execute(
                f'SELECT COUNT(*) AS n, COUNT(DISTINCT originator_version) AS d FROM "{ledger.events_table}"'
            )
            stored = db.fetchone()
            db.execute(
                "SELECT COUNT(*) AS n, COUNT(DISTINCT position) AS d, MAX(position) AS head FROM ledger_chain"
            )
            chain = db.fetchone()
        assert stored is not None and chain is not None
        assert (int(stored["n"]), int(stored["d"])) == (expected_count, expected_count)
        assert (int(chain["n"]), int(chain["d"]), int(chain["head"])) == (expected_count,) * 3
        assert ledger.verify_chain() == expected_count
        assert ledger.verify() == expected_count
        return events


def por(url: str, subscription_id: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ledger"), "--db", url, "por", subscription_id, "--json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def setup_switchable(url: str) -> int:
    """fabrikam sold csp usage sub-1 to contoso; every challenger has an accepted relationship."""
    events = [partner("fabrikam"), *[partner(p) for p in CHALLENGERS], customer("contoso")]
    events += [request(f"r-{p}", p, "contoso") for p in ["fabrikam", *CHALLENGERS]]
    events += [accept(f"r-{p}", "contoso") for p in ["fabrikam", *CHALLENGERS]]
    events.append(purchase("sub-1", "contoso", service="usage", channel="csp", seller="fabrikam"))
    with Ledger(url) as ledger:
        receipts = ledger.record_many(list(enumerate(events, start=1)))
    assert [r.position for r in receipts] == list(range(1, len(events) + 1))
    return len(events)


def switch_json(to: str) -> dict[str, Any]:
    return raw(
        "subscription.switched",
        SWITCH_AT,
        "sales-agent",
        to,
        subscription_id="sub-1",
        from_partner_id="fabrikam",
        to_partner_id=to,
    )


def test_concurrent_switches_of_one_subscription_have_one_winner(url: str, tmp_path: Path) -> None:
    head = setup_switchable(url)
    outcomes = record_race(tmp_path, url, [switch_json(p) for p in CHALLENGERS])

    codes = Counter(o.code for o in outcomes)
    assert codes == {0: 1, 3: len(CHALLENGERS) - 1}, [(o.code, o.stdout, o.stderr) for o in outcomes]
    winner_index = next(i for i, o in enumerate(outcomes) if o.code == 0)
    winner = CHALLENGERS[winner_index]
    receipt = outcomes[winner_index].json()
    assert receipt["position"] == head + 1
    assert receipt["duplicate"] is False

    for o in outcomes:
        if o.code == 3:
            error = o.json()["error"]
            assert error["code"] == "rule-violation"
            assert error["rule"] == "azure-switch-between-csp-partners"
            # Judged again after the winner's commit: fabrikam is no longer the PoR.
            assert "fabrikam is not the partner of record of sub-1" in error["message"]
            assert f"({winner} is)" in error["message"]

    events = assert_log_whole(url, head + 1)
    assert events[-1]["type"] == "subscription.switched"
    assert events[-1]["data"]["to_partner_id"] == winner
    assert events[-1]["hash"] == receipt["hash"]
    answer = por(url, "sub-1")
    assert answer["partner_of_record"] == winner
    assert answer["since"] == SWITCH_AT


def test_concurrent_acceptances_of_one_request_have_one_winner(url: str, tmp_path: Path) -> None:
    with Ledger(url) as ledger:
        for e in (partner("northwind"), customer("contoso"), request("r-1", "northwind", "contoso")):
            ledger.record(e)
    head = 3
    # Four acceptances of the one request, each its own event (its own event_id).
    acceptance = raw(
        "relationship.accepted", "2019-02-02T00:00:00Z", "customer-global-admin", "contoso", request_id="r-1"
    )
    outcomes = record_race(tmp_path, url, [acceptance] * 4)

    codes = Counter(o.code for o in outcomes)
    assert codes == {0: 1, 3: 3}, [(o.code, o.stdout, o.stderr) for o in outcomes]
    for o in outcomes:
        if o.code == 0:
            assert o.json()["position"] == head + 1
        else:
            error = o.json()["error"]
            assert (error["code"], error["rule"]) == ("rule-violation", "known-references")
            assert "request r-1 was already accepted" in error["message"]
    events = assert_log_whole(url, head + 1)
    assert [e["type"] for e in events].count("relationship.accepted") == 1


def test_concurrent_records_of_one_event_id_store_it_once(url: str, tmp_path: Path) -> None:
    with Ledger(url) as ledger:
        ledger.record(partner("northwind"))
    event = raw(
        "customer.registered",
        "2019-01-01T00:00:00Z",
        "global-admin",
        "contoso",
        customer_id="contoso",
        name="Contoso",
        cloud="commercial",
    )
    event["event_id"] = "7f1c6a52-0f5e-4d0e-9d43-3c7a1f0b9e21"
    outcomes = record_race(tmp_path, url, [event] * 4)

    assert [o.code for o in outcomes] == [0] * 4, [(o.code, o.stdout, o.stderr) for o in outcomes]
    receipts = [o.json() for o in outcomes]
    assert sorted(r["duplicate"] for r in receipts) == [False, True, True, True]
    assert {(r["event_id"], r["position"], r["hash"]) for r in receipts} == {
        (event["event_id"], 2, receipts[0]["hash"])
    }
    assert_log_whole(url, 2)


def test_concurrent_independent_appends_all_land_gap_free(url: str, tmp_path: Path) -> None:
    writers, per_writer = 4, 30
    with Ledger(url) as ledger:
        ledger.record(partner("fabrikam"))
    batches = [
        [
            raw(
                "customer.registered",
                "2019-01-01T00:00:00Z",
                "global-admin",
                f"w{w}-c{i}",
                customer_id=f"w{w}-c{i}",
                name=f"Customer {w}.{i}",
                cloud="commercial",
            )
            for i in range(per_writer)
        ]
        for w in range(writers)
    ]
    outcomes = race(tmp_path, GATED_WRITER, [[url, json.dumps(b)] for b in batches])
    assert [o.code for o in outcomes] == [0] * writers, [o.stderr for o in outcomes]

    total = 1 + writers * per_writer
    reports = [o.json() for o in outcomes]
    # Each append took the write lock, read the head under it and was judged exactly once:
    # none lost its position to another writer and had to be judged again.
    assert [r["attempts"] for r in reports] == [per_writer] * writers
    # The writers really ran at once: each one was appending while another was.
    for i, mine in enumerate(reports):
        assert any(
            mine["started"] < other["ended"] and other["started"] < mine["ended"]
            for j, other in enumerate(reports)
            if j != i
        ), "a writer ran alone: the race was not exercised"
    positions: list[int] = []
    for report in reports:
        receipts = report["receipts"]
        assert len(receipts) == per_writer
        mine = [r["position"] for r in receipts]
        assert mine == sorted(mine), "one writer's appends are ordered"
        assert not any(r["duplicate"] for r in receipts)
        positions += mine
    assert sorted(positions) == list(range(2, total + 1))  # each position taken exactly once

    events = assert_log_whole(url, total)
    registered = {e["data"]["customer_id"] for e in events if e["type"] == "customer.registered"}
    assert registered == {f"w{w}-c{i}" for w in range(writers) for i in range(per_writer)}
    by_position = {e["position"]: e for e in events}
    for report in reports:
        for r in report["receipts"]:
            assert by_position[r["position"]]["event_id"] == r["event_id"]
            assert by_position[r["position"]]["hash"] == r["hash"]


def test_commands_started_together_on_a_fresh_sqlite_file_all_succeed(tmp_path: Path) -> None:
    """Commands started together on a SQLite file that does not exist yet all succeed: each
    waits for the write lock like any other write (up to the busy timeout), and none fails
    at once with "database is locked".

    The first connection of a process switches the file to WAL mode (eventsourcing's
    datastore does, on connect): SQLite reads the file's header, then takes the write lock
    to rewrite it. While another process holds that lock, as the one that got there first
    does during its own switch, SQLite refuses to turn the read into a write at once,
    without calling the busy handler (its deadlock avoidance). Left to chance that hit about
    one round in a hundred of four imports started at once. Here the test holds the fresh
    file's write lock itself, as that first process would, from before the commands start
    until they have all met it (or exited), so every one of them does; then lets go, and
    they race each other for the switch, the schema and the import."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    events = [
        partner("fabrikam"),
        customer("contoso"),
        request("r-1", "fabrikam", "contoso"),
        accept("r-1", "contoso"),
        purchase("sub-1", "contoso", seller="fabrikam"),
    ]
    story = tmp_path / "story.jsonl"
    story.write_text("".join(json.dumps(e.to_json()) + "\n" for e in events))
    imports = [["--db", url, "import", str(story), "--json"]] * 4
    reads = [["--db", url, "por", "sub-1", "--json"]] * 2

    holder = sqlite3.connect(path, isolation_level=None)  # creates the file, empty
    holder.execute("BEGIN IMMEDIATE")  # its write lock (a rollback-journal file: RESERVED)

    def let_go(procs: list[subprocess.Popen[str]]) -> None:
        # No command can get past the lock; one that fails at it exits at once.
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.01)
        holder.rollback()
        holder.close()

    try:
        outcomes = race(tmp_path, GATED_CLI, imports + reads, after_gate=let_go)
    finally:
        holder.close()

    details = [(o.code, o.stdout, o.stderr) for o in outcomes]
    for o in outcomes:
        assert "database is locked" not in o.stdout + o.stderr, details
        assert "Traceback" not in o.stderr, details
    imported = outcomes[: len(imports)]
    assert [o.code for o in imported] == [0] * len(imports), details
    summaries = sorted((o.json() for o in imported), key=lambda s: -s["imported"])
    assert summaries == [
        {"imported": 5, "duplicates": 0, "first_position": 1, "last_position": 5, "head": 5},
        *[{"imported": 0, "duplicates": 5, "first_position": None, "last_position": None, "head": 5}]
        * (len(imports) - 1),
    ]
    for o in outcomes[len(imports) :]:
        if o.code == 0:  # after the import committed
            assert o.json()["partner_of_record"] == "fabrikam", details
        else:  # before it: an empty ledger
            assert (o.code, o.json()["error"]["code"]) == (1, "not-found"), details

    assert_log_whole(url, len(events))
    assert por(url, "sub-1")["partner_of_record"] == "fabrikam"


def test_verify_reads_the_log_as_it_was_when_it_began(
    ledger: Ledger, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append that commits while a verification reads the log is not a broken chain:
    the verification checks the log up to the head it began with."""
    ledger.record(partner("fabrikam"))
    ledger.record(customer("contoso"))
    stored = Ledger.stored

    def appended_meanwhile(self: Ledger, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with Ledger(url) as other:  # another writer commits between the head and the events
            other.record(partner("northwind"))
        yield from stored(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "stored", appended_meanwhile)
    assert ledger.verify_chain() == 2
    monkeypatch.undo()
    assert ledger.head() == 3
    assert ledger.verify() == 3
