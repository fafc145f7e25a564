"""Measure the ledger against the raw database, on SQLite and PostgreSQL, in one run.

    python -m bench.run --quick            # under a minute: 5,000 events
    python -m bench.run --events 1000000   # the full run

Each figure stands next to a raw baseline taken in the same run on the same machine: plain
sqlite3 / psycopg doing the least work that stores or reads the same rows. The table is
printed ratios first and written as JSON (``--out``, default bench/results.json).

PostgreSQL: ``LEDGER_BENCH_PG``, a database the run may fill and empty (default
``postgresql://postgres@127.0.0.1:5432/test``, the test suite's; see docs/benchmark.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench.generate import write as generate
from bench.ingest import PARTNER, as_import, write_pages
from ledger import BULK_CACHE, CHAIN, Ledger, NotFound, parse_event, parse_time, read
from projections import EVENT_REFS, EVENT_REFS_KEY, TABLES, to_us

LEDGER = str(Path(sys.executable).parent / "ledger")
PG_DSN = os.environ.get("LEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Figure:
    store: str
    name: str
    ours: float
    baseline: float
    unit: str
    target: str
    ratio: float = 0.0
    met: bool | None = None
    # The database alone storing (or reading) the very rows the ledger stored, in the same
    # unit as ``ours`` (0: not measured); ``reachable``: whether the target asks for no more
    # than that.
    floor: float = 0.0
    reachable: bool | None = None
    floor_ratio: float = 0.0  # ours / floor (0: no floor measured)


# Runs one command and says its wall time and peak RSS. A child forked from this process
# would report at least this process's own RSS as its peak (Linux carries the high-water
# mark across fork and exec, and this process holds the history), so the command is
# forked from a small launcher instead.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


# The commands run as a user's Python runs them: writing the bytecode of the modules it
# compiles, and reading it the next time (a setting of this machine, PYTHONDONTWRITEBYTECODE,
# would make every process compile the ledger's modules again).
_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def run_process(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process."""
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *args], capture_output=True, env=_ENV)
    *_, last = done.stdout.decode().splitlines() or [""]
    elapsed, rss, code = last.split() if last.count(" ") == 2 else ("0", "0", "1")
    if done.returncode != 0 or code != "0":
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode()}")
    return float(elapsed), int(rss)


@contextmanager
def store(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_DSN}?schema={schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Raw:
    """The baseline: one table of (position, event_id, body), written and read plainly."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.conn: Any = sqlite3.connect(folder / "raw.db", isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("CREATE TABLE raw (position INTEGER PRIMARY KEY, event_id TEXT, body BLOB)")
        else:
            self.schema = f"raw_{uuid.uuid4().hex[:8]}"
            self.conn = psycopg.connect(PG_DSN, autocommit=True)
            self.conn.execute(f'CREATE SCHEMA "{self.schema}"')
            self.conn.execute(f'SET search_path TO "{self.schema}"')
            self.conn.execute("CREATE TABLE raw (position BIGINT PRIMARY KEY, event_id TEXT, body BYTEA)")

    def bulk(self, rows: list[tuple[int, str, bytes]]) -> float:
        started = time.perf_counter()
        if self.kind == "sqlite":
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT INTO raw VALUES (?, ?, ?)", rows)
            self.conn.execute("COMMIT")
        else:
            with self.conn.transaction(), self.conn.cursor().copy("COPY raw FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return time.perf_counter() - started

    def singles(self, rows: list[tuple[int, str, bytes]]) -> float:
        mark = "?" if self.kind == "sqlite" else "%s"
        started = time.perf_counter()
        for row in rows:
            if self.kind == "sqlite":
                self.conn.execute("BEGIN")
                self.conn.execute(f"INSERT INTO raw VALUES ({mark}, {mark}, {mark})", row)
                self.conn.execute("COMMIT")
            else:
                with self.conn.transaction():
                    self.conn.execute(f"INSERT INTO raw VALUES ({mark}, {mark}, {mark})", row)
        return time.perf_counter() - started

    def scan(self, work: Callable[[bytes], object]) -> float:
        started = time.perf_counter()
        cursor = self.conn.cursor()
        cursor.execute("SELECT position, event_id, body FROM raw ORDER BY position")
        while batch := cursor.fetchmany(5000):
            for _, _, body in batch:
                work(bytes(body))
        return time.perf_counter() - started

    def lookups(self, positions: list[int]) -> list[float]:
        mark = "?" if self.kind == "sqlite" else "%s"
        out = []
        for position in positions:
            started = time.perf_counter()
            self.conn.execute(f"SELECT body FROM raw WHERE position = {mark}", (position,)).fetchone()
            out.append(time.perf_counter() - started)
        return out

    def late(self, positions: list[int], position: int) -> float:
        """What an event store does at least for a late recording: read the customer's later
        events (by position) and store the new one, in one transaction."""
        mark = "?" if self.kind == "sqlite" else "%s"
        row = (position, str(uuid.uuid4()), b"{}")
        started = time.perf_counter()
        self.conn.execute("BEGIN")  # both connections are in autocommit mode
        for i in range(0, len(positions), 500):
            chunk = positions[i : i + 500]
            marks = ", ".join([mark] * len(chunk))
            self.conn.execute(f"SELECT body FROM raw WHERE position IN ({marks})", chunk).fetchall()
        self.conn.execute(f"INSERT INTO raw VALUES ({mark}, {mark}, {mark})", row)
        self.conn.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        if self.kind != "sqlite":
            self.conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        self.conn.close()


# The column of a ledger table that says which event wrote a row (the events table, named
# by the library, has the position as its stream's version).
# The Merkle tree's node (level, idx) is written by the append of leaf (idx + 1) << level.
_POSITION_COLUMN = {CHAIN: "position", EVENT_REFS: "position", "ledger_nodes": "((idx + 1) << level)"}
# The projection tables (what a rebuild writes) and their primary keys.
_PROJECTIONS = {**{t.sql_name: t.primary_key for t in TABLES}, EVENT_REFS: EVENT_REFS_KEY}


class DatabaseFloor:
    """The floor: the database alone storing the very rows the ledger stored, copied in SQL
    from the ledger's own tables into empty tables of the same definition (keys and
    indexes), in one transaction. No code that stores these rows can be faster on this
    machine, so a target above the floor cannot be met by this schema, however the rows
    are computed."""

    def __init__(self, kind: str, url: str, folder: Path) -> None:
        self.kind, self.folder = kind, folder
        if kind == "sqlite":
            self.ledger_file = url.removeprefix("sqlite:///")
        else:
            dsn, self.ours = url.rsplit("?schema=", 1)
            self.conn: Any = psycopg.connect(dsn, autocommit=True)
        self.filled: str | None = None  # the copy that holds every row (single records go there)

    def _tables(self) -> list[str]:
        if self.kind == "sqlite":
            with closing(sqlite3.connect(self.ledger_file)) as conn:
                rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                [self.ours],
            ).fetchall()
        return sorted(name for (name,) in rows)

    def _empty_copy(self, tables: list[str], name: str, *, indexes: bool) -> tuple[Any, list[str]]:
        """A connection to empty tables defined as the ledger's ``tables`` are (no triggers),
        with their keys; their other indexes too (``indexes``), or else the statements
        that build those indexes, returned for after the rows are in."""
        if self.kind == "sqlite":
            path = self.folder / f"{name}.db"
            path.unlink(missing_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(BULK_CACHE)  # the ledger's own bulk setting
            conn.execute("ATTACH DATABASE ? AS ours", [self.ledger_file])
            later: list[str] = []
            for kind, sql in conn.execute(
                "SELECT type, sql FROM ours.sqlite_master "
                "WHERE type IN ('table', 'index') AND sql IS NOT NULL "
                "AND tbl_name IN (SELECT value FROM json_each(?)) ORDER BY type DESC",
                [orjson.dumps(tables).decode()],
            ).fetchall():
                if kind == "table" or indexes:
                    conn.execute(sql)
                else:
                    later.append(sql)
            return conn, later
        self.conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.conn.execute(f'CREATE SCHEMA "{name}"')
        later = []
        for table in tables:
            like = "INCLUDING ALL" if indexes else "INCLUDING ALL EXCLUDING INDEXES"
            self.conn.execute(f'CREATE TABLE "{name}"."{table}" (LIKE "{self.ours}"."{table}" {like})')
            if not indexes:
                later += [
                    sql.replace(f" ON {self.ours}.", f' ON "{name}".').replace(
                        f' ON "{self.ours}".', f' ON "{name}".'
                    )
                    for (sql,) in self.conn.execute(
                        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                        [self.ours, table],
                    ).fetchall()
                ]
        return self.conn, later

    def _target(self, name: str) -> str:
        return "main" if self.kind == "sqlite" else f'"{name}"'

    def _source(self) -> str:
        return "ours" if self.kind == "sqlite" else f'"{self.ours}"'

    def _copy(self, tables: dict[str, tuple[str, ...]], prefix: str) -> tuple[float, str, Any]:
        """Seconds to copy every row of ``tables`` (each ordered by its columns, if any) into
        empty copies, the faster of two ways: with every index kept up as the rows go in, or
        with the indexes built after them (in the same transaction); the name and
        connection of the faster copy."""
        best: tuple[float, str, Any] | None = None
        for indexes in (True, False):
            name = f"{prefix}_{uuid.uuid4().hex[:8]}"
            conn, later = self._empty_copy(list(tables), name, indexes=indexes)
            started = time.perf_counter()
            with self._transaction(conn):
                for table, order in tables.items():
                    conn.execute(
                        f"INSERT INTO {self._target(name)}.{table} SELECT * FROM {self._source()}.{table}"
                        + (f" ORDER BY {', '.join(order)}" if order else "")
                    )
                for statement in later:
                    conn.execute(statement)
            elapsed = time.perf_counter() - started
            if best is None or elapsed < best[0]:
                if best is not None:
                    self._drop(best[2], best[1])
                best = (elapsed, name, conn)
            else:
                self._drop(conn, name)
        assert best is not None
        return best

    def copy_all(self) -> float:
        """Seconds to store every row of the ledger, in the order it was written (import)."""
        elapsed, self.filled, self._filled_conn = self._copy(dict.fromkeys(self._tables(), ()), "floor_all")
        return elapsed

    def copy_projections(self) -> float:
        """Seconds to store every projection row, in key order (as a rebuild writes them)."""
        elapsed, name, conn = self._copy(_PROJECTIONS, "floor_prj")
        self._drop(conn, name)
        return elapsed

    def read_projections(self) -> float:
        """Seconds to read every projection row into Python once (what a verification must
        at least look at, besides the events)."""
        conn = sqlite3.connect(self.ledger_file) if self.kind == "sqlite" else self.conn
        schema = "main" if self.kind == "sqlite" else f'"{self.ours}"'
        started = time.perf_counter()
        for table in _PROJECTIONS:
            cursor = conn.cursor()
            cursor.execute(f"SELECT * FROM {schema}.{table}")
            while cursor.fetchmany(5000):
                pass
        elapsed = time.perf_counter() - started
        if self.kind == "sqlite":
            conn.close()
        return elapsed

    def singles(self, positions: list[int]) -> float:
        """Seconds to store the rows each of ``positions`` wrote, one transaction each, into
        the copy of the whole ledger (``copy_all`` first)."""
        assert self.filled is not None, "copy_all first"
        tables = self._tables()
        mark = "?" if self.kind == "sqlite" else "%s"
        source = self._source()
        rows: dict[int, list[tuple[str, tuple[Any, ...]]]] = {p: [] for p in positions}
        conn = self._filled_conn
        for table in tables:
            column = _POSITION_COLUMN.get(table) or (
                "created_pos" if table.startswith("prj_") else "originator_version"
            )
            found = conn.execute(
                f"SELECT {column}, * FROM {source}.{table} WHERE {column} >= {mark}", [min(positions)]
            ).fetchall()
            for position, *values in found:
                if position in rows:
                    rows[position].append((table, tuple(values)))
        target = self._target(self.filled)
        started = time.perf_counter()
        for position in positions:
            with self._transaction(conn):
                for table, values in rows[position]:
                    conn.execute(
                        f"INSERT INTO {target}.{table} VALUES ({', '.join([mark] * len(values))})", values
                    )
        return time.perf_counter() - started

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[None]:
        if self.kind == "sqlite":
            conn.execute("BEGIN")
            yield
            conn.execute("COMMIT")
        else:
            with conn.transaction():
                yield

    def _drop(self, conn: Any, name: str) -> None:
        if self.kind == "sqlite":
            conn.close()
            for suffix in ("", "-wal", "-shm"):
                (self.folder / f"{name}.db{suffix}").unlink(missing_ok=True)
        else:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')

    def close(self) -> None:
        if self.filled is not None:
            if self.kind == "sqlite":
                self._drop(self._filled_conn, self.filled)
            else:
                self._drop(self.conn, self.filled)
        if self.kind != "sqlite":
            self.conn.close()


def tree_cost(kind: str, folder: Path, lines: list[bytes]) -> tuple[float, float]:
    """Seconds of the same import into two empty stores, in this process: with the Merkle
    tree, as the ledger always keeps it, and with its upkeep patched out (no leaf hash, no
    node row), to show what the tree costs an append."""
    from unittest import mock

    class NoTree:
        def append(self, _leaf: bytes) -> list[Any]:
            return []

    events = [(i, parse_event(orjson.loads(line))) for i, line in enumerate(lines, start=1)]
    seconds = []
    for keep in (False, True):
        (folder / f"tree-{keep}").mkdir()
        with store(kind, folder / f"tree-{keep}") as url, Ledger(url) as ledger:
            patched = mock.patch.multiple(
                "ledger._append", open_tree=lambda *_: NoTree(), hash_leaf=lambda leaf: leaf
            )
            with nullcontext() if keep else patched:
                started = time.perf_counter()
                ledger.import_events(iter(events))
                seconds.append(time.perf_counter() - started)
    without, with_tree = seconds
    return with_tree, without


def ingest_cost(kind: str, folder: Path, records: int) -> tuple[int, float, float]:
    """``ledger ingest pc-audit`` of ``records`` generated audit records into an empty store,
    then ``ledger import`` of the very events it recorded (its export, as the ledger's JSON)
    into another: the events recorded, and the seconds of each process (``bench.ingest``)."""
    pages = folder / "audit-pages.json"
    write_pages(pages, records)
    (folder / "ingest").mkdir()
    (folder / "ingest-import").mkdir()
    with store(kind, folder / "ingest") as url, store(kind, folder / "ingest-import") as again:
        ingest_s, _ = run_process(
            [LEDGER, "--db", url, "ingest", "pc-audit", str(pages), "--partner", PARTNER]
        )
        export = subprocess.run([LEDGER, "--db", url, "export"], capture_output=True, check=True).stdout
        events = folder / "ingested.jsonl"
        events.write_bytes(as_import(export))
        import_s, _ = run_process([LEDGER, "--db", again, "import", str(events)])
    return export.count(b"\n"), ingest_s, import_s


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


LATE_LATER = (1000, 10)  # a customer's later events before which one event is recorded late
LATE_ROUNDS = 5


def _event(type_: str, at: str, tenant: str, role: str, **data: Any) -> Any:
    actor = {"id": f"bench@{tenant}", "role": role, "tenant_id": tenant}
    return parse_event({"type": type_, "effective_at": at, "actor": actor, "data": data})


def late_recordings(ledger: Ledger, raw: Raw, later: int, events: int) -> tuple[float, float]:
    """A new customer with ``later`` purchases from 2020 on, then ``LATE_ROUNDS`` purchases
    of it recorded late (effective in 2019, before all of them), each judged with the
    later ones judged again and folded again: the median milliseconds of one, and of the
    raw database reading ``later`` events and storing one."""
    cid = f"late-{later}"
    setup = [_event("customer.registered", "2016-01-01T00:00:00Z", cid, "global-admin",
                    customer_id=cid, name=cid, cloud="commercial")]  # fmt: skip
    for i in range(later):
        at = f"2020-01-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
        setup.append(
            _event("subscription.purchased", at, cid, "sales-agent", subscription_id=f"{cid}-s{i}",
                   customer_id=cid, offer="Azure plan", service="usage", channel="microsoft")
        )  # fmt: skip
    ledger.record_many(list(enumerate(setup, start=1)))
    ours = []
    for i in range(LATE_ROUNDS):
        late = _event("subscription.purchased", f"2019-01-01T00:00:{i:02d}Z", cid, "sales-agent",
                      subscription_id=f"{cid}-late{i}", customer_id=cid, offer="Azure plan",
                      service="usage", channel="microsoft")  # fmt: skip
        started = time.perf_counter()
        ledger.record(late)
        ours.append(time.perf_counter() - started)
    positions = list(range(1, min(later, events) + 1))
    base = [raw.late(positions, events + 100_000 + later * 10 + i) for i in range(LATE_ROUNDS)]
    return statistics.median(ours) * 1e3, statistics.median(base) * 1e3


def bench_store(
    kind: str, history: Path, events: int, singles: int, queries: int, ingest: int
) -> list[Figure]:
    figures: list[Figure] = []

    def add(figure: Figure) -> None:
        """Keep a figure and say it on standard error at once (a full run takes a while)."""
        figures.append(figure)
        base = f", raw {figure.baseline:,.3f}" if figure.baseline else ""
        print(f"  {kind}: {figure.name}: {figure.ours:,.3f} {figure.unit}{base}", file=sys.stderr, flush=True)

    lines = history.read_bytes().splitlines()
    rows = [(i, orjson.loads(line)["event_id"], line) for i, line in enumerate(lines, start=1)]
    with tempfile.TemporaryDirectory() as tmp, store(kind, Path(tmp)) as url:
        raw = Raw(kind, Path(tmp))
        floor: DatabaseFloor | None = None
        try:
            # bulk import
            raw_s = raw.bulk(rows)
            ours_s, import_rss = run_process([LEDGER, "--db", url, "import", str(history)])
            floor = DatabaseFloor(kind, url, Path(tmp))
            floor_s = floor.copy_all()
            add(
                Figure(
                    kind,
                    "bulk import",
                    events / ours_s,
                    events / raw_s,
                    "events/s",
                    ">= 0.2x floor",
                    floor=events / floor_s,
                )
            )
            # the Merkle tree's share of an append: the same import, in this process, with and
            # without the tree (same run, same machine)
            with_s, without_s = tree_cost(kind, Path(tmp), lines)
            add(Figure(kind, "import, tree / no tree", events / with_s, events / without_s, "events/s", "-"))
            # ingest of Partner Center audit records / import of the same events as JSON
            recorded, ingest_s, import_s = ingest_cost(kind, Path(tmp), ingest)
            add(
                Figure(
                    kind,
                    "ingest pc-audit / import",
                    recorded / ingest_s,
                    recorded / import_s,
                    "events/s",
                    "-",
                )
            )
            # rebuild and verify
            raw_s = raw.scan(orjson.loads)
            ours_s, rebuild_rss = run_process([LEDGER, "--db", url, "rebuild"])
            floor_s = floor.copy_projections()
            add(
                Figure(
                    kind,
                    "rebuild",
                    events / ours_s,
                    events / raw_s,
                    "events/s",
                    ">= 0.35x floor",
                    floor=events / floor_s,
                )
            )
            raw_s = raw.scan(lambda body: hashlib.sha256(body).hexdigest())
            ours_s, _ = run_process([LEDGER, "--db", url, "verify"])
            floor_s = raw_s + floor.read_projections()
            add(
                Figure(
                    kind,
                    "verify",
                    events / ours_s,
                    events / raw_s,
                    "events/s",
                    ">= 0.35x floor",
                    floor=events / floor_s,
                )
            )
            # as-of partner of record: random (subscription, time) pairs
            rng = random.Random(7)
            subs = [
                (obj["data"]["subscription_id"], obj["effective_at"])
                for obj in (orjson.loads(line) for line in lines)
                if obj["type"] == "subscription.purchased"
            ]
            with Ledger(url) as ledger:
                last = ledger.head()
                picks = [rng.choice(subs) for _ in range(queries)]
                times = []
                for sub, since in picks:
                    at = to_us(parse_time(since, "t")) + rng.randint(0, 400 * 86_400) * 1_000_000
                    started = time.perf_counter()
                    with suppress(NotFound):  # a pick before its purchase answers not-found
                        read.por(ledger, sub, at)
                    times.append(time.perf_counter() - started)
                base = raw.lookups([rng.randint(1, last) for _ in range(queries)])
                add(Figure(kind, "as-of por p50", pct(times, 0.5) * 1e3, pct(base, 0.5) * 1e3, "ms", "-"))
                # proofs on the whole ledger: a handful of node reads each, never a scan
                proofs, growths = [], []
                for _ in range(min(queries, 300)):
                    started = time.perf_counter()
                    ledger.prove_inclusion(rng.randint(1, last))
                    proofs.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    ledger.prove_consistency(rng.randint(1, last))
                    growths.append(time.perf_counter() - started)
                lookup = pct(base, 0.5) * 1e3
                add(Figure(kind, "inclusion proof p50", pct(proofs, 0.5) * 1e3, lookup, "ms", "-"))
                add(Figure(kind, "consistency proof p50", pct(growths, 0.5) * 1e3, lookup, "ms", "-"))
                add(
                    Figure(
                        kind, "as-of por p99", pct(times, 0.99) * 1e3, pct(base, 0.99) * 1e3, "ms", "<= 5x"
                    )
                )
                # single records, one event per transaction
                extra = [
                    parse_event(
                        {
                            "type": "partner.registered",
                            "effective_at": "2016-01-01T00:00:00Z",
                            "actor": {"id": "bench@x", "role": "global-admin", "tenant_id": f"single-{i}"},
                            "data": {
                                "partner_id": f"single-{i}",
                                "name": "n",
                                "cloud": "commercial",
                                "program": "none",
                            },
                        }
                    )
                    for i in range(singles)
                ]
                first = ledger.head() + 1
                started = time.perf_counter()
                for single in extra:
                    ledger.record(single)
                ours_s = time.perf_counter() - started
            raw_rows = [(events + 1000 + i, str(uuid.uuid4()), b"{}") for i in range(singles)]
            raw_s = raw.singles(raw_rows)
            floor_s = floor.singles(list(range(first, first + singles)))
            add(
                Figure(
                    kind,
                    "single record (library)",
                    singles / ours_s,
                    singles / raw_s,
                    "events/s",
                    ">= 0.8x floor",
                    floor=singles / floor_s,
                )
            )
            # a late recording: one event before a customer's 1,000 (and 10) later events
            with Ledger(url) as ledger:
                for later in LATE_LATER:
                    ours_ms, raw_ms = late_recordings(ledger, raw, later, events)
                    add(Figure(kind, f"late record, {later:,} later", ours_ms, raw_ms, "ms", "-"))
            procs = []
            for i in range(10):
                text = orjson.dumps(
                    {
                        "type": "partner.registered",
                        "effective_at": "2016-01-01T00:00:00Z",
                        "actor": {"id": "bench@x", "role": "global-admin", "tenant_id": f"proc-{i}"},
                        "data": {
                            "partner_id": f"proc-{i}",
                            "name": "n",
                            "cloud": "commercial",
                            "program": "none",
                        },
                    }
                ).decode()
                procs.append(run_process([LEDGER, "--db", url, "record", "--event", text])[0])
            add(
                Figure(
                    kind,
                    "single record (process)",
                    1 / statistics.median(procs),
                    singles / raw_s,
                    "events/s",
                    "-",
                )
            )
            # CLI start (after one run that compiles what a question loads)
            run_process([LEDGER, "--db", url, "por", subs[0][0]])
            starts = [run_process([LEDGER, "--db", url, "por", subs[0][0]])[0] for _ in range(7)]
            # the baseline: a process that imports the driver, connects and selects one row
            driver = [sys.executable, "-c", _DRIVER[kind], url]
            run_process(driver)
            bare = [run_process(driver)[0] for _ in range(7)]
            add(
                Figure(
                    kind,
                    "CLI start, ledger por",
                    statistics.median(starts),
                    statistics.median(bare),
                    "s",
                    "<= 3x",
                )
            )
            add(Figure(kind, "peak RSS import", import_rss / 1024, 0, "MB", "< 300 MB"))
            add(Figure(kind, "peak RSS rebuild", rebuild_rss / 1024, 0, "MB", "< 300 MB"))
        finally:
            raw.close()
            if floor is not None:
                floor.close()
    for f in figures:
        judge(f)
    return figures


# A process that imports the database's driver, connects and selects one row: what
# ``ledger por``'s process is measured against (argv[1]: the ledger's URL).
_DRIVER = {
    "sqlite": (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1].removeprefix('sqlite:///')); "
        f"c.execute('SELECT * FROM {CHAIN} LIMIT 1').fetchone()"
    ),
    "postgresql": (
        "import sys, psycopg; dsn, _, schema = sys.argv[1].partition('?schema='); "
        "c = psycopg.connect(dsn); "
        f"c.execute('SELECT * FROM ' + schema + '.{CHAIN} LIMIT 1').fetchone()"
    ),
}


def judge(f: Figure) -> None:
    """The figure's ratios and whether its target is met. A target "x floor" is a ratio to
    the floor measured in the same run (the database alone storing or reading exactly the
    rows the ledger stores: this schema's physical limit), so it is always reachable; the
    others are ratios to the raw baseline (``ratio``) or absolute."""
    f.ratio = f.ours / f.baseline if f.baseline else 0.0
    f.floor_ratio = f.ours / f.floor if f.floor else 0.0
    words = f.target.split()
    if f.target.startswith(">=") and f.target.endswith("x floor"):
        wanted = float(words[1].rstrip("x"))
        f.met = f.floor_ratio >= wanted if f.floor else None
        f.reachable = wanted <= 1
    elif f.target.startswith(">="):
        wanted = float(words[1].rstrip("x"))
        f.met = f.ratio >= wanted
        if f.floor:
            f.reachable = f.floor >= wanted * f.baseline
    elif f.target.startswith("<=") and words[1].endswith("x"):
        f.met = f.ratio <= float(words[1].rstrip("x"))
    elif f.target.startswith("< 300 MB"):
        f.met = f.ours < 300


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the ledger against the raw database.")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the generated history")
    parser.add_argument("--quick", action="store_true", help="5,000 events, fewer queries: under a minute")
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--singles", type=int, help="single records per store (default 1000; quick 200)")
    parser.add_argument("--queries", type=int, help="as-of queries per store (default 10000; quick 1000)")
    parser.add_argument(
        "--ingest", type=int, help="audit records ingested per store (default: the events, at most 100,000)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results.json"), help="where to write the JSON"
    )
    args = parser.parse_args()
    events = 5_000 if args.quick else args.events
    singles, queries = (200, 1000) if args.quick else (1000, 10_000)
    singles, queries = args.singles or singles, args.queries or queries
    ingest = args.ingest or min(events, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.jsonl"
        print(f"generating a history of {events:,} events...", file=sys.stderr, flush=True)
        events = generate(history, events, seed=2016)
        figures: list[Figure] = []
        for kind in args.stores.split(","):
            figures += bench_store(kind, history, events, singles, queries, ingest)
    print(
        f"{events} events, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"{'store':<11} {'figure':<26} {'ratio':>7} {'ours':>12} {'baseline':>12} {'floor':>12} "
        f"{'/floor':>7} {'unit':<9} {'target':<15} met  reachable"
    )
    for f in figures:
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        reachable = "-" if f.reachable is None else ("yes" if f.reachable else "NO")
        floor = f"{f.floor:>12.1f}" if f.floor else f"{'-':>12}"
        of_floor = f"{f.floor_ratio:>7.3f}" if f.floor else f"{'-':>7}"
        print(
            f"{f.store:<11} {f.name:<26} {f.ratio:>7.3f} {f.ours:>12.1f} {f.baseline:>12.1f} {floor} "
            f"{of_floor} {f.unit:<9} {f.target:<15} {met:<4} {reachable}"
        )
    print(
        "ratio: ours / the raw baseline; floor: the database alone storing (verify: reading) the "
        "very rows the ledger stored, copied in SQL; /floor: ours / floor, what a target "
        "'x floor' is judged by; reachable: the target asks for no more than the floor"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(
        orjson.dumps(
            {
                "events": events,
                "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
                "figures": [asdict(f) for f in figures],
            },
            option=orjson.OPT_INDENT_2,
        )
    )


if __name__ == "__main__":
    main()
