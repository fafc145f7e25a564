"""The store: appends events through eventsourcing, judged by the rulebook, chained, projected.

``Ledger`` is the write side's one entry point. An append reads the head position, builds
the stream's next versions, and hands eventsourcing's recorder a unit of work that runs
inside the inserting transaction: the rulebook (reading the projections as they stand,
including earlier events of the same batch), the projection fold and the chain row. Any
failure rolls back everything; a concurrent append that took the same position makes this
one retry from the start, to be judged again against the new state.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError

import projections

from . import _rules
from ._chain import GENESIS, canonical, chain_hash
from ._errors import BadInput, IntegrityFailure, LedgerError, RuleViolation, StoreError
from ._events import Event, parse_event
from ._sql import PostgresDb, SqliteDb
from ._stream import STREAM_ID, recorded
from ._time import canonical_to_us, format_time, from_us, normalize_time, now, to_us

DEFAULT_URL = "sqlite:///ledger.db"
_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
Progress = Callable[[int, int], None]  # (position done, positions in all)
MAX_ATTEMPTS = 200
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class Receipt:
    """What the ledger says of one recorded event."""

    event_id: str
    position: int
    recorded_at: str
    hash: str
    duplicate: bool  # already stored with the same content: nothing was written

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "position": self.position,
            "recorded_at": self.recorded_at,
            "hash": self.hash,
            "duplicate": self.duplicate,
        }


class LedgerApplication(Application[Any]):
    """eventsourcing's application, configured for the ledger's recorders."""

    name = "RelationshipLedger"


def store_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for a ``sqlite:///…`` or ``postgresql://…`` URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise BadInput("db", f"{url!r} names no file (use sqlite:///path/to/ledger.db)")
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise StoreError(f"cannot open the store {url}: folder {Path(path).parent} does not exist")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "ledger._recorders:SQLiteLedgerRecorder",
        }
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "localhost",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_LOCK_TIMEOUT": "60",
            "APPLICATION_RECORDER_TOPIC": "ledger._recorders_pg:PostgresLedgerRecorder",
        }
    raise BadInput("db", f"{url!r} is not a sqlite:///… or postgresql://… URL")


@contextmanager
def _store_errors(url: str) -> Iterator[None]:
    """Turn whatever the database driver raises into the contract's ``store`` error."""
    try:
        yield
    except LedgerError:
        raise
    except Exception as exc:
        if not isinstance(exc, _driver_errors()):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot use the store {_redact(url)}: {reason}") from exc


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (PersistenceError, sqlite3.Error, OSError)
    psycopg = sys.modules.get("psycopg")  # loaded only where a PostgreSQL store is in use
    return (*errors, psycopg.Error) if psycopg is not None else errors


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


class Ledger:
    """The relationship ledger on one store (SQLite file or PostgreSQL database)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or os.environ.get("LEDGER_DB") or DEFAULT_URL
        env = store_env(self.url)
        self._schema = env.get("POSTGRES_SCHEMA", "")
        with _store_errors(self.url):
            self.app = LedgerApplication(env=env)
        recorder: Any = self.app.recorder  # SQLiteLedgerRecorder or PostgresLedgerRecorder
        self._recorder = recorder
        self.dialect: str = recorder.dialect
        self.events_table: str = recorder.events_table_name

    # --- reading ------------------------------------------------------------------------

    def read(self) -> AbstractContextManager[projections.Db]:
        """A read-only transaction on the store, for queries."""
        return self._transaction(commit=False)

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[projections.Db]:
        with _store_errors(self.url), self._recorder.datastore.transaction(commit=commit) as cursor:
            if self.dialect == "sqlite":
                yield SqliteDb(cursor)
            else:
                yield PostgresDb(cursor, self._schema)

    def head(self) -> int:
        """The position of the newest stored event (0 when empty)."""
        with self.read() as db:
            return _head(db)

    def stored(
        self, start: int = 1, stop: int | None = None, batch: int = 1000, *, exact: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Stored events in position order, as ``export`` writes them, in bounded memory.

        ``exact`` (``verify_chain``): also demand that each event's stored bytes are exactly
        the ledger's own encoding of it and that its chain row's ``recorded_us`` is its
        ``recorded_at``, since neither is covered by the hash."""
        position = start - 1
        while True:
            with _store_errors(self.url):
                rows = self._recorder.select_events(STREAM_ID, gt=position, lte=stop, limit=batch)
            if not rows:
                return
            chain = self._chain_rows(rows[0].originator_version, rows[-1].originator_version)
            for stored_event in rows:
                if exact and stored_event.originator_version != position + 1:
                    raise IntegrityFailure(
                        f"position {position + 1} is missing from the log", position=position + 1
                    )
                position = stored_event.originator_version
                try:
                    domain_event = self.app.mapper.to_domain_event(stored_event)
                    event = dict(domain_event.event)  # type: ignore[attr-defined]
                except Exception as exc:  # any decoding failure of stored bytes is tampering
                    raise IntegrityFailure(
                        f"the stored event at position {position} cannot be decoded ({exc})",
                        position=stored_event.originator_version,
                    ) from None
                link = chain.get(position)
                if link is None or link["event_id"] != event.get("event_id"):
                    raise IntegrityFailure(
                        f"position {position} has no matching chain row", position=position
                    )
                if exact and not self._exact(stored_event, event, link):
                    raise IntegrityFailure(
                        f"the stored bytes at position {position} are not the ledger's own record of "
                        "its event and chain row",
                        position=position,
                    )
                event["position"] = position
                event["recorded_at"] = link["recorded_at"]
                event["prev_hash"] = link["prev_hash"]
                event["hash"] = link["hash"]
                yield event

    def _exact(self, stored_event: Any, event: dict[str, Any], link: Mapping[str, Any]) -> bool:
        try:
            own = self.app.mapper.to_stored_event(recorded(stored_event.originator_version, dict(event)))
            recorded_us = canonical_to_us(str(link["recorded_at"]))
        except Exception:  # a stored value the ledger could not have written
            return False
        return (
            own.topic == stored_event.topic
            and bytes(own.state) == bytes(stored_event.state)
            and recorded_us == link["recorded_us"]
        )

    def _chain_rows(self, first: int, last: int) -> dict[int, dict[str, Any]]:
        with self.read() as db:
            db.execute(
                "SELECT position, event_id, recorded_at, recorded_us, prev_hash, hash FROM ledger_chain "
                "WHERE position >= ? AND position <= ? ORDER BY position",
                [first, last],
            )
            return {int(r["position"]): dict(r) for r in db.fetchall()}

    def verify_chain(self, progress: Progress | None = None) -> int:
        """Recompute every hash from the stored events; return the count verified.

        Raises ``IntegrityFailure`` naming the first position that does not verify."""
        prev_hash, expected = GENESIS, 1
        with self.read() as db:
            db.execute("SELECT COUNT(*) AS n, MAX(position) AS head FROM ledger_chain")
            counts = db.fetchone() or {}
        for event in self.stored(exact=True):
            position = event["position"]
            if position != expected:
                raise IntegrityFailure(f"position {expected} is missing from the log", position=expected)
            body = {
                k: v for k, v in event.items() if k not in ("position", "recorded_at", "prev_hash", "hash")
            }
            if (
                event["prev_hash"] != prev_hash
                or chain_hash(body, position, event["recorded_at"], prev_hash) != event["hash"]
            ):
                raise IntegrityFailure(f"the chain breaks at position {position}", position=position)
            prev_hash, expected = event["hash"], expected + 1
            if progress is not None:
                progress(position, int(counts.get("head") or 0))
        if counts.get("n") not in (None, expected - 1) or (counts.get("head") or 0) != expected - 1:
            raise IntegrityFailure(
                f"the chain has rows past position {expected - 1} with no stored event", position=expected
            )
        return expected - 1

    def verify(self, progress: Progress | None = None, *, digest: str | None = None) -> int:
        """Recompute the chain and every projection from the stored events and compare them
        with what is stored; return the number of events verified. With ``digest`` (a head
        hash seen earlier), also prove that the log still extends the one that had it
        (``extends``), so a truncated or rewritten log is caught even where it verifies.

        Raises ``IntegrityFailure`` naming the first bad position."""
        count = self.verify_chain(progress)
        if digest is not None:
            self.extends(digest)
        with self.read() as db:
            if self.dialect == "postgresql":
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with self._twins(db, None):
                difference = projections.first_difference(db, self._real_schema)
        if difference is not None:
            table, position = difference
            raise IntegrityFailure(
                f"the projection {table} does not match a rebuild from the events, "
                f"first at position {position}",
                position=position,
            )
        return count

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild every projection from position 1 and replace the old state atomically.

        Appends wait until it is done. Returns the number of events folded."""
        with self._transaction(commit=True) as db:
            if self.dialect == "postgresql":
                db.execute(f'LOCK TABLE "{self.events_table}" IN EXCLUSIVE MODE')
            else:  # any write statement takes SQLite's one writer lock until commit
                db.execute("DELETE FROM main.prj_event_refs WHERE 1 = 0")
            with self._twins(db, progress) as head:
                projections.replace_with_twins(db, self._real_schema)
        return head

    @contextmanager
    def _twins(self, db: projections.Db, progress: Progress | None) -> Iterator[int]:
        """Fold every stored event up to the head into temporary twins of the projection
        tables (see ``projections._rebuild``); yields the head position."""
        head = _head(db)
        projections.create_twins(db, self.dialect)
        try:
            for event in self.stored(1, head):
                projections.apply(db, event, event["position"])
                if progress is not None:
                    progress(event["position"], head)
            yield head
        finally:
            projections.drop_twins(db, self.dialect)

    @property
    def _real_schema(self) -> str:
        return "main" if self.dialect == "sqlite" else f'"{self._schema}"'

    def extends(self, digest: str) -> int:
        """The position of the stored event whose hash is ``digest``, a head seen earlier (0
        for 64 zeros, the empty log's head). After ``verify_chain`` this proves the log still
        extends the log that had that head: every hash covers the one before it.

        Raises ``BadInput`` for a malformed digest, ``IntegrityFailure`` when no stored event
        has that hash: the log was truncated or rewritten since."""
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise BadInput("digest", "must be a head hash as verify prints it: 64 hexadecimal digits")
        digest = digest.lower()
        if digest == GENESIS:
            return 0
        with self.read() as db:
            db.execute("SELECT position FROM ledger_chain WHERE hash = ?", [digest])
            row = db.fetchone()
        if row is None:
            raise IntegrityFailure(
                f"the log no longer contains the head {digest} it had: it was truncated or "
                "rewritten since that digest was taken"
            )
        return int(row["position"])

    def head_hash(self) -> str:
        """The newest event's hash: a digest of the whole log (64 zeros when empty)."""
        with self.read() as db:
            db.execute("SELECT hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
            row = db.fetchone()
        return str(row["hash"]) if row else GENESIS

    def events_at(self, positions: Sequence[int]) -> Iterator[dict[str, Any]]:
        """The stored events at these positions (ascending), as ``export`` writes them."""
        run: list[int] = []
        for position in [*positions, -1]:
            if run and position != run[-1] + 1:
                yield from self.stored(run[0], run[-1])
                run = []
            run.append(position)

    # --- writing ------------------------------------------------------------------------

    def record(self, event: Event) -> Receipt:
        """Record one event (idempotent by ``event_id``)."""
        return self.record_many([(0, event)])[0]

    def record_many(
        self, lines: Iterable[tuple[int, Event]], progress: Progress | None = None
    ) -> list[Receipt]:
        """Record events in one transaction, all or nothing.

        ``lines`` pairs each event with its input line number (0: none), which errors name."""
        return self._append(list(lines), None, progress)

    def restore(
        self, lines: Iterable[tuple[int, dict[str, Any]]], progress: Progress | None = None
    ) -> list[Receipt]:
        """Load an export back into an empty ledger, keeping positions, ``recorded_at`` and
        hashes. The file's chain is verified first; a file that does not verify is refused
        whole, and every event is judged by the rulebook as it is restored."""
        if self.head() != 0:
            raise BadInput("file", f"restore needs an empty ledger; {_redact(self.url)} holds events")
        batch: list[tuple[int, Event]] = []
        chain: list[tuple[str, str]] = []
        prev_hash, prev_recorded = GENESIS, 0
        seen: set[str] = set()
        for index, (line, stored) in enumerate(lines, start=1):
            for key in ("position", "recorded_at", "prev_hash", "hash"):
                if key not in stored:
                    raise BadInput(key, "is missing: restore takes a file written by export", line=line)
            event = parse_event(stored)
            recorded_at = normalize_time(stored["recorded_at"], "recorded_at")
            body = event.to_json()
            if stored["position"] != index:
                raise IntegrityFailure(f"position {stored['position']} is out of sequence", line=line)
            if canonical_to_us(recorded_at) < prev_recorded:
                raise IntegrityFailure("recorded_at goes backwards", position=index, line=line)
            if (
                stored["prev_hash"] != prev_hash
                or chain_hash(body, index, recorded_at, prev_hash) != stored["hash"]
            ):
                raise IntegrityFailure(
                    f"the file's chain does not verify at position {index}", position=index, line=line
                )
            if event.event_id in seen:
                raise IntegrityFailure(f"event {event.event_id} appears twice", position=index, line=line)
            seen.add(event.event_id)
            batch.append((line, event))
            chain.append((recorded_at, stored["hash"]))
            prev_hash, prev_recorded = stored["hash"], canonical_to_us(recorded_at)
        return self._append(batch, chain, progress)

    def _append(
        self,
        batch: list[tuple[int, Event]],
        restored: list[tuple[str, str]] | None,
        progress: Progress | None,
    ) -> list[Receipt]:
        for attempt in range(MAX_ATTEMPTS):
            try:
                with _store_errors(self.url):
                    return self._try_append(batch, restored, progress)
            except StoreError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
                # Another writer took the positions (or stored the same event_id) first.
                time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
        raise StoreError(f"the store {_redact(self.url)} is too busy: gave up after {MAX_ATTEMPTS} attempts")

    def _try_append(
        self,
        batch: list[tuple[int, Event]],
        restored: list[tuple[str, str]] | None,
        progress: Progress | None,
    ) -> list[Receipt]:
        receipts: dict[int, Receipt] = {}
        # The head first, then the event_id lookup: an event another writer commits after
        # the head was read takes a position this append then conflicts on (so it retries
        # and finds it); one committed before is seen by the lookup. Read the other way
        # round, a concurrent record of the same event_id could slip between the two reads
        # and this one be judged, as a second copy, by the rulebook instead of reported as
        # a duplicate.
        head = self.head()
        known = {} if restored else self._stored_receipts([e.event_id for _, e in batch])
        new: list[tuple[int, int, Event]] = []  # (index in batch, line, event)
        first_seen: dict[str, tuple[int, Event]] = {}
        for index, (line, event) in enumerate(batch):
            stored = known.get(event.event_id)
            if stored is not None:
                receipt, stored_event = stored
                if canonical(stored_event) != canonical(event.to_json()):
                    raise BadInput(
                        "event_id",
                        f"{event.event_id} is already stored at position {receipt.position} "
                        "with different content",
                        line=line or None,
                    )
                receipts[index] = receipt
                continue
            earlier = first_seen.get(event.event_id)
            if earlier is not None:
                if canonical(earlier[1].to_json()) != canonical(event.to_json()):
                    raise BadInput(
                        "event_id",
                        f"{event.event_id} appears earlier in this input (line {earlier[0]}) "
                        "with different content",
                        line=line or None,
                    )
                continue  # the same event twice in one input: stored once
            first_seen[event.event_id] = (line, event)
            new.append((index, line, event))
        if new:
            payloads = [event.to_json() for _, _, event in new]
            domain_events = [recorded(head + 1 + i, p) for i, p in enumerate(payloads)]
            written: list[Receipt] = []

            def work(db: projections.Db) -> None:
                written.clear()
                written.extend(self._judge_chain_project(db, head, new, payloads, restored, progress))

            self.app.save(*domain_events, ledger_work=work)
            for (index, _, _), receipt in zip(new, written, strict=True):
                receipts[index] = receipt
        by_id = {r.event_id: r for r in receipts.values()}
        return [receipts.get(i) or _as_duplicate(by_id[event.event_id]) for i, (_, event) in enumerate(batch)]

    def _judge_chain_project(
        self,
        db: projections.Db,
        head: int,
        new: list[tuple[int, int, Event]],
        payloads: list[dict[str, Any]],
        restored: list[tuple[str, str]] | None = None,
        progress: Progress | None = None,
    ) -> list[Receipt]:
        """Inside the appending transaction: rulebook, projections, chain, for each event."""
        db.execute("SELECT position, hash, recorded_us FROM ledger_chain ORDER BY position DESC LIMIT 1")
        last = db.fetchone()
        if (int(last["position"]) if last else 0) != head:
            raise IntegrityFailure("the chain's head does not match the stored events", position=head)
        prev_hash = str(last["hash"]) if last else GENESIS
        recorded_us = max(to_us(now()), int(last["recorded_us"]) if last else 0)
        recorded_at = format_time(from_us(recorded_us))
        view = projections.StateView(db)
        out: list[Receipt] = []
        for offset, ((_, line, event), payload) in enumerate(zip(new, payloads, strict=True)):
            position = head + 1 + offset
            try:
                _rules.check(event, view)
                touched = projections.apply(db, payload, position)
                _rules.check_effects(event, touched)
            except RuleViolation as violation:
                raise (violation.at_line(line) if line else violation) from None
            if restored is not None:
                recorded_at, expected = restored[offset]
                recorded_us = canonical_to_us(recorded_at)
            digest = chain_hash(payload, position, recorded_at, prev_hash)
            if restored is not None and digest != expected:
                raise IntegrityFailure(f"position {position} does not restore to its hash", position=position)
            db.execute(
                "INSERT INTO ledger_chain (position, event_id, recorded_at, recorded_us, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [position, event.event_id, recorded_at, recorded_us, prev_hash, digest],
            )
            out.append(Receipt(event.event_id, position, recorded_at, digest, duplicate=False))
            prev_hash = digest
            if progress is not None:
                progress(offset + 1, len(new))
        return out

    def _stored_receipts(self, event_ids: list[str]) -> dict[str, tuple[Receipt, dict[str, Any]]]:
        """The stored events among ``event_ids``, with their receipts."""
        found: dict[str, tuple[Receipt, dict[str, Any]]] = {}
        unique = sorted(set(event_ids))
        for i in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[i : i + _LOOKUP_CHUNK]
            with self.read() as db:
                db.execute(
                    "SELECT position, event_id, recorded_at, hash FROM ledger_chain "
                    f"WHERE event_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
                rows = db.fetchall()
            for row in rows:
                position = int(row["position"])
                stored = next(self.stored(position, position))
                body = {
                    k: v
                    for k, v in stored.items()
                    if k not in ("position", "recorded_at", "prev_hash", "hash")
                }
                receipt = Receipt(row["event_id"], position, row["recorded_at"], row["hash"], duplicate=True)
                found[row["event_id"]] = (receipt, body)
        return found

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _head(db: projections.Db) -> int:
    db.execute("SELECT MAX(position) AS head FROM ledger_chain")
    row = db.fetchone()
    return int(row["head"]) if row and row["head"] is not None else 0


def _as_duplicate(receipt: Receipt) -> Receipt:
    return Receipt(receipt.event_id, receipt.position, receipt.recorded_at, receipt.hash, duplicate=True)
