"""A crash in the middle of a large import: ``kill -9`` the ``ledger import`` process while it
holds the store's write lock, on SQLite and on PostgreSQL. Afterwards nothing of that file
is stored, ``verify`` passes, and the same import run again succeeds (and a third run finds
every event already stored).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import psycopg

from ledger import Ledger

import clitools
from builders import customer, partner, raw

# Events in the file per store: enough for seconds of transaction on this kind of machine.
SIZES = {"sqlite": 40_000, "postgresql": 40_000}
NAMESPACE = uuid.UUID("3d0c61f4-2b7e-4a57-93c4-5c9a3fd7e0b1")
CLOUD, CUSTOMER_ROLE = "commercial", "customer-global-admin"
LOCK_DEADLINE = 120  # seconds to wait for the import to be inside its transaction


def big_file(path: Path, events: int) -> list[str]:
    """A realistic, valid file: customers invited, accepting, buying Azure through fabrikam."""
    lines: list[bytes] = []
    ids: list[str] = []

    def add(event: dict[str, Any]) -> None:
        event["event_id"] = str(uuid.uuid5(NAMESPACE, f"{path.name}/{len(lines)}"))
        ids.append(event["event_id"])
        lines.append(orjson.dumps(event))

    for i in range(events // 4):
        c = f"big-{i}"
        add(
            raw(
                "customer.registered",
                "2019-02-01T00:00:00Z",
                "global-admin",
                c,
                customer_id=c,
                name=c,
                cloud="commercial",
            )
        )
        add(
            raw(
                "relationship.requested",
                "2019-02-02T00:00:00Z",
                "sales-agent",
                "fabrikam",
                request_id=f"big-r{i}",
                partner_id="fabrikam",
                customer_id=c,
            )
        )
        add(
            raw(
                "relationship.accepted",
                "2019-02-03T00:00:00Z",
                "customer-global-admin",
                c,
                request_id=f"big-r{i}",
            )
        )
        add(
            raw(
                "subscription.purchased",
                "2019-02-04T00:00:00Z",
                "sales-agent",
                "fabrikam",
                subscription_id=f"big-s{i}",
                customer_id=c,
                offer="Azure plan",
                service="usage",
                channel="csp",
                seller_id="fabrikam",
            )
        )
    path.write_bytes(b"\n".join(lines) + b"\n")
    return ids


def writing(url: str) -> bool:
    """Whether some other connection holds the store's write lock right now."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        conn = sqlite3.connect(parts.path[1:], timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            return True
        finally:
            conn.close()
    schema = parse_qs(parts.query)["schema"][0]
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'ledger_chain' AND l.granted "
            "AND l.mode IN ('RowExclusiveLock', 'ExclusiveLock') AND l.pid <> pg_backend_pid()",
            [schema],
        ).fetchone()
    return bool(row and row[0])


def test_kill_9_in_the_middle_of_a_large_import_stores_nothing_of_it(url: str, tmp_path: Path) -> None:
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    with Ledger(url) as ledger:
        ledger.record_many([(1, partner("fabrikam")), (2, customer("contoso"))])
        assert not writing(url)
        before = list(ledger.stored())
    file = tmp_path / "big.jsonl"
    ids = big_file(file, SIZES[kind])

    output = tmp_path / "import.out"
    with output.open("wb") as sink:
        importer = subprocess.Popen(
            [*clitools.ledger_command(), "--db", url, "import", str(file)], stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + LOCK_DEADLINE
        held_since = None
        while True:
            assert importer.poll() is None, (
                "the import finished before it could be killed: make the file bigger",
                output.read_bytes(),
            )
            assert time.monotonic() < deadline, "the import never took the write lock"
            if writing(url):
                held_since = held_since or time.monotonic()
                if time.monotonic() - held_since > 0.5:  # well inside the transaction
                    break
            else:
                held_since = None
            time.sleep(0.02)
        os.kill(importer.pid, signal.SIGKILL)
        importer.wait(timeout=30)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    assert importer.returncode == -signal.SIGKILL

    # Nothing of that file is stored, and the log and projections verify.
    with Ledger(url) as ledger:
        after = list(ledger.stored())
        assert after == before
        assert not set(ids) & {e["event_id"] for e in after}
        assert ledger.verify() == len(before)

    done = clitools.run("--db", url, "import", str(file), "--json")
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert summary["imported"] == len(ids) and summary["duplicates"] == 0
    assert summary["first_position"] == len(before) + 1 and summary["head"] == len(before) + len(ids)

    done = clitools.run("--db", url, "verify", "--json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["verified"] == len(before) + len(ids)

    done = clitools.run("--db", url, "import", str(file), "--json")  # a third time: all there
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["imported"] == 0 and orjson.loads(done.stdout)["duplicates"] == len(ids)


def test_kill_9_right_after_an_import_keeps_what_it_reported(tmp_path: Path) -> None:
    """A process killed just after its import said it was done: all of it is there."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger(url) as ledger:
        ledger.record(partner("fabrikam"))
    file = tmp_path / "small.jsonl"
    ids = big_file(file, 400)
    script = (
        "import os, signal, sys\n"
        "from cli.app import main\n"
        "sys.argv = ['ledger', '--db', sys.argv[1], 'import', sys.argv[2], '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    sys.stdout.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [str(Path(clitools.ledger_command()[0]).parent / "python"), "-c", script, url, str(file)],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL
    assert orjson.loads(done.stdout)["imported"] == len(ids)
    with Ledger(url) as ledger:
        assert [e["event_id"] for e in ledger.stored()][1:] == ids
        assert ledger.verify() == len(ids) + 1
