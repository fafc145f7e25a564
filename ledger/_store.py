"""The store: appends events through eventsourcing, judged by the rulebook, chained, projected.

``Ledger`` is the write side's one entry point. An append is one transaction that takes
the store's write lock first, reads the head under it, and then, batch by batch, inserts
the stream's next versions through eventsourcing's recorder and, in the same transaction,
judges each event by the rulebook (against the projections as they stand, including the
earlier events of the same input), folds it into the projections and chains it. Any
failure rolls back everything. Writers are serialised by the lock, so each event is judged
once against everything committed before it; the stream's version constraint would still
refuse a second writer of the same position.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import sys
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple
from urllib.parse import quote

from eventsourcing.application import Application
from eventsourcing.persistence import PersistenceError

import projections
from projections._time import canonical_to_us, format_time, from_us, to_us

from . import _rules
from ._chain import GENESIS, canonical, chain_hash, parse_digest
from ._errors import BadInput, IntegrityFailure, LedgerError, LedgerWarning, RuleViolation, StoreError
from ._events import Event, parse_event
from ._files import create_private_database
from ._recorders import BULK_CACHE, BULK_TEMP_CACHE
from ._sql import PostgresDb, SqliteDb, has_search_path
from ._stream import STREAM_ID, TOPIC, decode, encode, state_bytes
from ._time import normalize_time, now
from ._url import chosen, redact, store_error, store_url
from ._wait import DEFAULT_WAIT, checked_wait, waiting
from ._world import prefetch, prefetch_fold

Progress = Callable[[int, int], None]  # (position done, positions in all)
_LOOKUP_CHUNK = 500
_CHUNK = 2000  # events per batch of an append, a rebuild, a verification
_SMALL = 50  # an append of at most this many events is sent pipelined (PostgreSQL)


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


class Verified(int):
    """What one verification verified, all from one pass over one snapshot of the store.

    The int itself is the number of events verified (what ``verify`` has always answered);
    ``head`` is the last position verified (the same number: positions have no gaps) and
    ``head_hash`` its hash, the digest to hand on (64 zeros for an empty log): appends that
    commit during the verification lie past it. ``extends``: the position of the event
    whose hash is the digest it was given (0 for the empty log's), None when none was."""

    head: int
    head_hash: str
    extends: int | None

    def __new__(cls, count: int, head_hash: str, extends: int | None = None) -> Verified:
        verified = super().__new__(cls, count)
        verified.head, verified.head_hash, verified.extends = count, head_hash, extends
        return verified

    @property
    def count(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"Verified(count={int(self)}, head_hash={self.head_hash!r}, extends={self.extends!r})"

    def __str__(self) -> str:  # the count, as ever (an int's str and format would use __repr__)
        return int.__repr__(self)


class LedgerApplication(Application[Any]):
    """eventsourcing's application, configured for the ledger's recorders."""

    name = "RelationshipLedger"


def store_env(url: str, wait: int = DEFAULT_WAIT) -> dict[str, str]:
    """The eventsourcing environment for a ``sqlite:///…`` or ``postgresql://…`` URL; a
    writer waits up to ``wait`` seconds for another's lock (see ``_wait``)."""
    where = store_url(url)
    if where.dialect == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": where.sqlite_path,
            "SQLITE_LOCK_TIMEOUT": str(wait),
            "APPLICATION_RECORDER_TOPIC": "ledger._recorders:SQLiteLedgerRecorder",
        }
    from ._recorders_pg import pg_env  # the URL's every libpq option, for the pool's connections

    return {
        "PERSISTENCE_MODULE": "ledger._recorders_pg:LedgerPostgresFactory",
        **{f"POSTGRES_{name.upper()}": value for name, value in where.pg},
        "POSTGRES_SCHEMA": where.schema,
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "4",
        "POSTGRES_LOCK_TIMEOUT": str(wait),
        **pg_env(where, wait),
        "APPLICATION_RECORDER_TOPIC": "ledger._recorders_pg:PostgresLedgerRecorder",
    }


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
        raise store_error(url, exc) from exc


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (PersistenceError, sqlite3.Error, OSError)
    psycopg = sys.modules.get("psycopg")  # loaded only where a PostgreSQL store is in use
    return (*errors, psycopg.Error) if psycopg is not None else errors


def _open_read_only(env: dict[str, str]) -> bool:
    """Whether the store is a SQLite file this process may read but not write (an auditor's
    copy), opened read-only then: ``SQLITE_DBNAME`` becomes its read-only URI (see
    ``_reader.sqlite_read_only``), eventsourcing creates no table (which would write), and
    reads take eventsourcing's pooled connections (``_reader.reader_for`` serves no URI)."""
    from ._reader import sqlite_read_only

    path = env.get("SQLITE_DBNAME", "")
    mode = sqlite_read_only(path) if path else None
    if mode is None:
        return False
    env["SQLITE_DBNAME"] = f"file:{quote(os.path.abspath(path))}?mode={mode}"
    env["CREATE_TABLE"] = "false"
    return True


class Ledger:
    """The relationship ledger on one store (SQLite file or PostgreSQL database)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        wait: int = DEFAULT_WAIT,
        on_wait: Callable[[int], None] | None = None,
    ) -> None:
        """``wait``: seconds a write waits for another writer's lock; ``on_wait``: told (with
        ``wait``) when a write has not got it within a moment (see ``_wait``)."""
        self.url = chosen(url)
        self.wait, self._on_wait = checked_wait(wait), on_wait
        env = store_env(self.url, wait)
        self._schema = env.get("POSTGRES_SCHEMA", "")
        self.read_only = _open_read_only(env)
        if not self.read_only:
            create_private_database(env.get("SQLITE_DBNAME", ""))  # owner-only, before SQLite makes it
        with _store_errors(self.url):
            self.app = LedgerApplication(env=env)
        recorder: Any = self.app.recorder  # SQLiteLedgerRecorder or PostgresLedgerRecorder
        self._recorder = recorder
        self.dialect: str = recorder.dialect
        self.events_table: str = recorder.events_table_name
        from ._reader import reader_for  # SQLite: queries' own read-only connection (see there)

        self._reader = reader_for(env.get("SQLITE_DBNAME", ""), float(wait))

    # --- reading ------------------------------------------------------------------------

    def read(self) -> AbstractContextManager[projections.Db]:
        """A read-only transaction on the store, for queries (SQLite: on the ledger's own
        read-only connection, see ``_reader``)."""
        if self._reader is None:
            return self._transaction(commit=False)
        return self._reader.read(_store_errors(self.url), lambda: self._transaction(commit=False))

    @contextmanager
    def statements(self) -> Iterator[projections.Db]:
        """Read statements each on its own (each its own snapshot), with no transaction
        around them: one round trip each on PostgreSQL. For questions of one statement
        over the append-only, bitemporal projections; anything else uses ``read``."""
        if self.dialect != "postgresql":
            with self.read() as db:
                yield db
            return
        with _store_errors(self.url), self._recorder.datastore.get_connection() as conn:
            if not has_search_path(conn, self._schema):  # a connection made before: a transaction
                with conn.transaction(force_rollback=True):
                    yield PostgresDb(conn.cursor(), self._schema)
                return
            yield PostgresDb(conn.cursor(), self._schema)

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
        self, start: int = 1, stop: int | None = None, batch: int = 2000, *, exact: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Stored events in position order, as ``export`` writes them, in bounded memory.

        ``exact`` (``verify_chain``): also demand that each event's stored bytes are exactly
        the ledger's own encoding of it and that its chain row's ``recorded_us`` is its
        ``recorded_at``, since neither is covered by the hash."""
        position = start - 1
        while True:
            with self.read() as db:
                rows = _stored_rows(db, self.events_table, position, stop, batch)
            if not rows:
                return
            for row in rows:
                if exact and row["position"] != position + 1:
                    raise IntegrityFailure(
                        f"position {position + 1} is missing from the log", position=position + 1
                    )
                position = row["position"]
                yield _checked(row, exact=exact)

    def verify_chain(self, progress: Progress | None = None) -> int:
        """Recompute every hash from the stored events; return the count verified.

        Raises ``IntegrityFailure`` naming the first position that does not verify."""
        # What is verified is the log as one statement sees it: appends that commit while
        # it is read lie past ``stop``, whereas a chain row or a stored event past the other
        # table's end lies before it.
        with self.read() as db:
            replay = _Replay(*_extent(db, self.events_table))
        for event in self.stored(stop=replay.stop, exact=True):
            position = replay.chained(event)
            if progress is not None:
                progress(position, replay.stop)
        replay.finish()
        return replay.count

    def verify_guards(self) -> None:
        """Check that the database's append-only guards (the triggers refusing changes to
        the log) are the ledger's own: present, enabled, not altered (see the recorders'
        ``check_guards``; on SQLite a missing one is re-created by the next opening or
        append, so only an altered one fails).

        Raises ``IntegrityFailure`` naming each guard that is not."""
        with self.read() as db:
            self._recorder.check_guards(db)

    def verify(self, progress: Progress | None = None, *, digest: str | None = None) -> Verified:
        """Check the whole log in one pass over one snapshot of the store: recompute the
        chain from the stored events, judge every event again by the rulebook against the
        state before it (as its append did), fold it into temporary twins of the projections,
        and compare them with what is stored. Returns what was verified (``Verified``: the
        count, and the head position and hash this same pass checked; appends that commit
        meanwhile lie past it). With ``digest`` (a head hash seen earlier), also prove in the
        same snapshot that the log still extends the one that had it (``extends``), so a
        truncated or rewritten log is caught even where it verifies.

        Raises ``IntegrityFailure`` naming the first bad position (and, where the rulebook
        refuses an event, the rule); ``BadInput`` for a malformed digest.

        Where the guards are not the ledger's own (``verify_guards``), the log may have been
        changed meanwhile: the whole pass runs all the same, and what it finds, with its
        position, is named first."""
        try:
            self.verify_guards()
        except IntegrityFailure as disarmed:
            try:
                self._verify_log(progress, digest)
            except IntegrityFailure as broken:
                broken.message = f"{broken.message}; and {disarmed.message}"
                broken.args = (broken.message,)
                raise broken from None
            raise
        return self._verify_log(progress, digest)

    def _verify_log(self, progress: Progress | None, digest: str | None) -> Verified:
        """``verify`` less the guards: the one pass over one snapshot."""
        wanted = None if digest is None else parse_digest(digest)
        with self._transaction(commit=False) as db:
            if self.dialect == "postgresql":
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            replay = _Replay(*_extent(db, self.events_table))
            with self._twins(db, progress, replay):
                replay.finish()
                _event_ids_unique(db, replay.count)
                extends = None if wanted is None else _digest_position(db, wanted)
                difference = projections.first_difference(db, self._real_schema)
        if difference is not None:
            table, position = difference
            raise IntegrityFailure(
                f"the projection {table} does not match a rebuild from the events, "
                f"first at position {position}",
                position=position,
            )
        return Verified(replay.count, replay.hash, extends)

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild every projection from position 1 and replace the old state atomically.

        Appends wait until it is done. Returns the number of events folded."""
        self._writable()
        with self._transaction(commit=True) as db:
            with self._waiting():
                if self.dialect == "postgresql":
                    db.execute(f'LOCK TABLE "{self.events_table}" IN EXCLUSIVE MODE')
                else:  # any write statement takes SQLite's one writer lock until commit
                    db.execute("DELETE FROM main.prj_event_refs WHERE 1 = 0")
            with self._twins(db, progress) as head:
                projections.replace_with_twins(db, self._real_schema)
        return head

    def _waiting(self) -> AbstractContextManager[None]:
        """Around taking the write lock (see ``_wait.waiting``)."""
        return waiting(self._on_wait, self.wait, self.url)

    @contextmanager
    def _twins(
        self, db: projections.Db, progress: Progress | None, replay: _Replay | None = None
    ) -> Iterator[int]:
        """Fold every stored event up to the head into temporary twins of the projection
        tables (see ``projections._rebuild``), in batches through one session; yields the
        head position. With ``replay`` (a verification), up to its head, each event's chain
        checked and the event judged by the rulebook before it is folded."""
        head = _head(db) if replay is None else replay.stop
        if self.dialect == "sqlite":
            db.execute(BULK_CACHE)
            db.execute(BULK_TEMP_CACHE)
        projections.create_twins(db, self.dialect)
        try:
            session = projections.Session(db, empty=True)
            position = 0
            with _no_cycle_collection():
                while position < head:
                    rows = _stored_rows(
                        db, self.events_table, position, head, _CHUNK, chain=replay is not None
                    )
                    if not rows:
                        break
                    if replay is not None:
                        position = replay.fold(session, rows)
                    else:
                        events = [(row["position"], _decoded(row)) for row in rows]
                        prefetch_fold(projections.StateView(session), (event for _, event in events))
                        for position, event in events:
                            projections.apply(session, event, position)
                    session.flush(evict=True)
                    if progress is not None:
                        progress(position, head)
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
        digest = parse_digest(digest)
        with self.read() as db:
            return _digest_position(db, digest)

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
        """Record events in one transaction, all or nothing; one receipt per input event.

        ``lines`` pairs each event with its input line number (0: none), which errors name."""
        items = [(line, event, None) for line, event in lines]
        receipts: list[Receipt] = []
        self._append(items, receipts.append, progress, len(items))
        return receipts

    def import_events(
        self,
        lines: Iterable[tuple[int, Event]],
        progress: Progress | None = None,
        total: int = 0,
    ) -> ImportSummary:
        """Record a stream of events in one transaction, all or nothing, in bounded memory
        (``import``). ``lines`` may raise (bad input on a line): nothing is stored then.
        ``total`` (0: unknown) is what ``progress`` counts towards."""
        summary = ImportSummary()
        self._append(((line, event, None) for line, event in lines), summary.add, progress, total)
        return summary

    def restore(
        self,
        lines: Iterable[tuple[int, dict[str, Any]]],
        progress: Progress | None = None,
        total: int = 0,
        *,
        digest: str | None = None,
    ) -> ImportSummary:
        """Load an export back into an empty ledger, keeping positions, ``recorded_at`` and
        hashes. A file whose chain does not verify is refused whole (nothing is stored),
        and every event is judged by the rulebook as it is restored. With ``digest`` (a head
        hash held elsewhere, as ``verify --digest`` takes it), a file whose chain does not
        hold that hash (cut short, or rewritten) is refused whole too. Emptiness is checked
        again under the write lock: a restore that loses a race with another is told so."""
        if digest is not None:
            digest = parse_digest(digest)
        if self.head() != 0:
            raise BadInput("file", f"restore needs an empty ledger; {redact(self.url)} holds events")
        summary = ImportSummary()
        self._append(_restorable(lines, digest), summary.add, progress, total)
        return summary

    def _append(
        self,
        source: Iterable[tuple[int, Event, tuple[str, str] | None]],
        emit: Callable[[Receipt], None],
        progress: Progress | None,
        total: int,
    ) -> None:
        """Append ``source`` in one transaction that takes the store's write lock first:
        appends are serialised, each reads the head and the stored event ids under the lock
        and is judged once, against everything committed before it; the input is read once,
        streaming. Receipts are emitted batch by batch (void if the append then fails)."""
        self._writable()
        it = iter(source)
        first = list(islice(it, _CHUNK))
        with _store_errors(self.url):
            self._try_append(first, it, emit, progress, total)

    def _try_append(
        self,
        first: list[tuple[int, Event, tuple[str, str] | None]],
        rest: Iterator[tuple[int, Event, tuple[str, str] | None]],
        emit: Callable[[Receipt], None],
        progress: Progress | None,
        total: int,
    ) -> None:
        """One append (see ``_Append``)."""
        _Append(self, progress, total).run(first, rest, emit)

    def _writable(self) -> None:
        """Refuse to write a store opened read-only (``_open_read_only``), before trying."""
        if self.read_only:
            raise StoreError(
                f"the store {redact(self.url)} is read-only: this process may read it but not "
                "write it (a read-only file, folder or mount)"
            )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ImportSummary:
    """What an import or restore did: how many events it stored, which positions, the last
    hash; and how many input events were already stored."""

    imported: int = 0
    duplicates: int = 0
    first_position: int | None = None
    last_position: int | None = None
    last_hash: str | None = None

    def add(self, receipt: Receipt) -> None:
        if receipt.duplicate:
            self.duplicates += 1
            return
        self.imported += 1
        if self.first_position is None:
            self.first_position = receipt.position
        self.last_position, self.last_hash = receipt.position, receipt.hash


_CHAIN_FIELDS = frozenset(("position", "recorded_at", "prev_hash", "hash"))  # export adds them
_CHAIN_COLUMNS = ("position", "event_id", "recorded_at", "recorded_us", "prev_hash", "hash")


class _New(NamedTuple):
    """One event an append stores: its input line, the event, its JSON form, and for a
    restore its ``recorded_at`` and hash from the file."""

    line: int
    event: Event
    payload: dict[str, Any]
    restored: tuple[str, str] | None


class _Append:
    """One append of a stream of events in one transaction, under the write lock, batch by
    batch: for each batch, the stored ones are found (duplicates), the new ones inserted
    through the recorder, then each judged by the rulebook against the projections as they stand
    (a session that has folded every event before it) and folded, and the batch's chain
    rows and projection rows written in bulk."""

    def __init__(self, ledger: Ledger, progress: Progress | None, total: int) -> None:
        self.ledger = ledger
        self.progress = progress
        self.total = total
        self.done = 0
        self.lines = array("q")  # input line of each new event, by position - head - 1
        self.stamped_behind: int | None = None  # the clock's time, if behind the head's

    def run(
        self,
        first: list[tuple[int, Event, tuple[str, str] | None]],
        rest: Iterator[tuple[int, Event, tuple[str, str] | None]],
        emit: Callable[[Receipt], None],
    ) -> None:
        ledger = self.ledger
        with _no_cycle_collection(), ledger._recorder.ledger_transaction(small=len(first) <= _SMALL) as tx:
            db: projections.Db = tx.db
            with ledger._waiting():  # PostgreSQL, pipelined: the lock is waited for at the head
                tx.lock()
                ledger._recorder.check_guards(db, writing=True)
                self._read_chain_head(db)
            if self.head and first and first[0][2] is not None:  # a restore, under the lock
                raise BadInput(
                    "file",
                    f"restore needs an empty ledger; {self.head} events were stored in it "
                    "before this restore could begin",
                )
            session = projections.Session(db, empty=self.head == 0)
            view = projections.StateView(session)
            chunk = first
            while chunk:
                known = _stored_receipts(db, ledger.events_table, [e.event_id for _, e, _ in chunk])
                new = self._new(chunk, known)
                if new:
                    tx.insert([encode(self.position + 1 + i, n.payload) for i, n in enumerate(new)])
                    written = self._judge_fold_chain(db, session, view, new)
                else:
                    written = []
                self._receipts(chunk, known, written, emit)
                chunk = list(islice(rest, _CHUNK))
        if self.stamped_behind is not None:
            _clock_behind(self.stamped_behind, self.recorded_us)

    def _new(
        self,
        chunk: list[tuple[int, Event, tuple[str, str] | None]],
        known: dict[str, tuple[Receipt, dict[str, Any]]],
    ) -> list[_New]:
        """The chunk's events not stored yet, each once, with their JSON form; a stored or
        repeated event_id with other content is bad input."""
        new: list[_New] = []
        first_seen: dict[str, tuple[int, dict[str, Any]]] = {}  # event_id -> line, JSON form
        for line, event, restored in chunk:
            stored = known.get(event.event_id)
            if restored is not None and (stored is not None or event.event_id in first_seen):
                raise IntegrityFailure(f"event {event.event_id} appears twice", line=line or None)
            payload = event.to_json()
            if stored is not None:
                receipt, body = stored
                if canonical(body) != canonical(payload):
                    if receipt.position > self.head:  # stored by this append
                        earlier_line = self.lines[receipt.position - self.head - 1]
                        where = f"appears earlier in this input (line {earlier_line})"
                    else:
                        where = f"is already stored at position {receipt.position}"
                    raise BadInput(
                        "event_id", f"{event.event_id} {where} with different content", line=line or None
                    )
                continue
            earlier = first_seen.get(event.event_id)
            if earlier is not None:
                if canonical(earlier[1]) != canonical(payload):
                    raise BadInput(
                        "event_id",
                        f"{event.event_id} appears earlier in this input (line {earlier[0]}) "
                        "with different content",
                        line=line or None,
                    )
                continue  # the same event twice in one input: stored once
            first_seen[event.event_id] = (line, payload)
            new.append(_New(line, event, payload, restored))
        return new

    def _read_chain_head(self, db: projections.Db) -> None:
        """The head: the chain's newest row, read under the write lock."""
        db.execute("SELECT position, hash, recorded_us FROM ledger_chain ORDER BY position DESC LIMIT 1")
        last = db.fetchone()
        self.head = self.position = int(last["position"]) if last else 0
        self.prev_hash = str(last["hash"]) if last else GENESIS
        clock_us = to_us(now())
        self.recorded_us = max(clock_us, int(last["recorded_us"]) if last else 0)
        self.recorded_at = format_time(from_us(self.recorded_us))
        # A clock behind the head (a jump back, or a head from a clock ahead) by more than
        # writers' clocks differ is said once the events stamped with the head's time
        # instead are committed (``run``).
        self.clock_behind = clock_us if self.recorded_us - clock_us > _CLOCK_NOISE_US else None

    def _judge_fold_chain(
        self,
        db: projections.Db,
        session: projections.Session,
        view: projections.StateView,
        new: list[_New],
    ) -> list[Receipt]:
        """Rulebook, projections and chain for each new event of one batch."""
        prefetch(view, [n.event for n in new])
        if new[0].restored is None:
            self.stamped_behind = self.clock_behind
        chain: list[tuple[int, str, str, int, str, str]] = []
        out: list[Receipt] = []
        recorded_at, recorded_us = self.recorded_at, self.recorded_us
        for line, event, payload, restored in new:
            self.position += 1
            position = self.position
            try:
                _rules.check(event, view)
                touched = projections.apply(session, payload, position)
                _rules.check_effects(event, touched)
            except RuleViolation as violation:
                raise (violation.at_line(line) if line else violation) from None
            if restored is not None:
                recorded_at, expected = restored
                recorded_us = canonical_to_us(recorded_at)
            digest = chain_hash(payload, position, recorded_at, self.prev_hash)
            if restored is not None and digest != expected:
                raise IntegrityFailure(f"position {position} does not restore to its hash", position=position)
            chain.append((position, event.event_id, recorded_at, recorded_us, self.prev_hash, digest))
            out.append(Receipt(event.event_id, position, recorded_at, digest, duplicate=False))
            self.lines.append(line)
            self.prev_hash = digest
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
        db.insert_rows("ledger_chain", _CHAIN_COLUMNS, chain)
        session.flush(evict=True)
        return out

    def _receipts(
        self,
        chunk: list[tuple[int, Event, tuple[str, str] | None]],
        known: dict[str, tuple[Receipt, dict[str, Any]]],
        written: list[Receipt],
        emit: Callable[[Receipt], None],
    ) -> None:
        """One receipt per input event of the chunk, in input order: a repeat of an event
        the chunk stored gets the first one's receipt, as a duplicate."""
        by_id = {r.event_id: r for r in written}
        emitted: set[str] = set()
        for _, event, _ in chunk:
            mine = by_id.get(event.event_id)
            if mine is None:
                emit(known[event.event_id][0])
            elif event.event_id in emitted:
                emit(_as_duplicate(mine))
            else:
                emitted.add(event.event_id)
                emit(mine)


class _Replay:
    """A verification's pass over the stored events from position 1 to ``stop``, in
    position order. Each event's chain row is checked (``chained``: the hash covers the
    event and the hash before it); in a full verification (``fold``) the event must also
    be one the ledger could have recorded (it parses, in its normal form) and is judged by
    the rulebook against the twins folded so far, as its append judged it against the
    projections, then folded. The first bad position stops it (``IntegrityFailure``)."""

    def __init__(self, stop: int, chain_rows: int, chain_head: int) -> None:
        self.stop = stop
        self.chain_rows = chain_rows
        self.chain_head = chain_head
        self.count = 0  # positions verified, 1 to count
        self.hash = GENESIS  # the hash at position count
        self.view: projections.StateView | None = None

    def chained(self, stored: dict[str, Any]) -> int:
        """Check the next event (as ``_checked`` gives it, the position after the last one
        checked; its chain fields are popped here, leaving ``stored`` the event's JSON form);
        return its position."""
        position = int(stored.pop("position"))
        recorded_at, prev_hash, digest = (
            stored.pop("recorded_at"),
            stored.pop("prev_hash"),
            stored.pop("hash"),
        )
        if prev_hash != self.hash or chain_hash(stored, position, recorded_at, self.hash) != digest:
            raise IntegrityFailure(f"the chain breaks at position {position}", position=position)
        self.count, self.hash = position, digest
        return position

    def fold(self, session: projections.Session, rows: list[Mapping[str, Any]]) -> int:
        """Check, judge and fold one batch of stored rows (with their chain rows) into
        ``session``; return the last position folded. Every event before a bad one is
        folded first, so the failure is the first bad position whatever its kind."""
        if self.view is None:
            self.view = projections.StateView(session)
        batch: list[tuple[int, Event, dict[str, Any]]] = []
        failure: IntegrityFailure | None = None
        for row in rows:
            try:
                if row["position"] != self.count + 1:
                    raise IntegrityFailure(
                        f"position {self.count + 1} is missing from the log", position=self.count + 1
                    )
                payload = _checked(row, exact=True)
                position = self.chained(payload)
                batch.append((position, _recordable(payload, position), payload))
            except IntegrityFailure as exc:
                failure = exc
                break
        prefetch(self.view, [event for _, event, _ in batch])
        for position, event, payload in batch:
            try:
                _rules.check(event, self.view)
                touched = projections.apply(session, payload, position)
                _rules.check_effects(event, touched)
            except RuleViolation as violation:
                refused = IntegrityFailure(
                    f"the rulebook refuses the event at position {position} ({violation.rule}): "
                    f"{violation.message}",
                    position=position,
                )
                refused.rule = violation.rule
                raise refused from None
        if failure is not None:
            raise failure
        return self.count

    def finish(self) -> None:
        """After the last event: no chain row may lie past it."""
        if self.chain_rows != self.count or self.chain_head != self.count:
            raise IntegrityFailure(
                f"the chain has rows past position {self.count} with no stored event", position=self.count + 1
            )


def _recordable(payload: dict[str, Any], position: int) -> Event:
    """The stored event at ``position`` as the ledger records it: it must parse, and be in
    the normal form every append and restore stores (else its export would not restore)."""
    try:
        event = parse_event(payload)
    except BadInput as exc:
        raise IntegrityFailure(
            f"the stored event at position {position} is not one the ledger could have recorded "
            f"({exc.message})",
            position=position,
        ) from None
    if event.to_json() != payload:
        raise IntegrityFailure(
            f"the stored event at position {position} is not in the form the ledger records",
            position=position,
        )
    return event


def _extent(db: projections.Db, events_table: str) -> tuple[int, int, int]:
    """What one statement sees of the log: the last position either table holds (what a
    verification reads up to), the number of chain rows, and the chain's last position."""
    db.execute(
        "SELECT (SELECT COUNT(*) FROM ledger_chain) AS n, "
        "(SELECT MAX(position) FROM ledger_chain) AS head, "
        f'(SELECT MAX(originator_version) FROM "{events_table}" '
        "WHERE originator_id = ?) AS events",
        [_stream_param(db.dialect)],
    )
    counts = db.fetchone() or {}
    head, events = int(counts.get("head") or 0), int(counts.get("events") or 0)
    return max(head, events), int(counts.get("n") or 0), head


def _event_ids_unique(db: projections.Db, count: int) -> None:
    """No event_id stored twice among the ``count`` events verified (their chain rows name
    them): an append stores an event once, a restore refuses a file that repeats one, and
    the table's UNIQUE constraint can be dropped. One statement through that constraint's
    index; a second one names the first repeat."""
    db.execute("SELECT COUNT(DISTINCT event_id) AS n FROM ledger_chain")
    row = db.fetchone()
    if row is None or int(row["n"]) == count:
        return
    db.execute(
        "SELECT MIN(position) AS position FROM (SELECT position, ROW_NUMBER() OVER "
        "(PARTITION BY event_id ORDER BY position) AS n FROM ledger_chain) AS t WHERE n > 1"
    )
    repeat = db.fetchone()
    position = int(repeat["position"]) if repeat and repeat["position"] is not None else None
    raise IntegrityFailure(
        f"the event at position {position} repeats the event_id of an earlier event", position=position
    )


def _digest_position(db: projections.Db, digest: str) -> int:
    """The position of the stored event whose hash is ``digest`` (0 for the empty log's);
    ``IntegrityFailure`` when there is none: the log was truncated or rewritten since."""
    if digest == GENESIS:
        return 0
    db.execute("SELECT position FROM ledger_chain WHERE hash = ?", [digest])
    row = db.fetchone()
    if row is None:
        raise IntegrityFailure(
            f"the log no longer contains the head {digest} it had: it was truncated or "
            "rewritten since that digest was taken"
        )
    return int(row["position"])


def _restorable(
    lines: Iterable[tuple[int, dict[str, Any]]], digest: str | None = None
) -> Iterator[tuple[int, Event, tuple[str, str] | None]]:
    """The events of an export, checked line by line: every chain field present, positions
    in sequence, ``recorded_at`` never going backwards, each hash covering its event and
    the hash before it; with ``digest``, the chain must hold that hash (checked after the
    last line). A line that fails stops the restore (nothing is stored)."""
    held = digest in (None, GENESIS)
    prev_hash, prev_recorded = GENESIS, 0
    latest = to_us(now()) + CLOCK_SKEW_US
    for index, (line, stored) in enumerate(lines, start=1):
        for key in ("position", "recorded_at", "prev_hash", "hash"):
            if key not in stored:
                raise BadInput(key, "is missing: restore takes a file written by export", line=line)
        event = parse_event(stored)
        recorded_at = normalize_time(stored["recorded_at"], "recorded_at")
        if stored["position"] != index:
            raise IntegrityFailure(f"position {stored['position']} is out of sequence", line=line)
        recorded_us = canonical_to_us(recorded_at)
        if recorded_us > latest:
            raise _from_the_future(recorded_at, line)
        if recorded_us < prev_recorded:
            raise IntegrityFailure("recorded_at goes backwards", position=index, line=line)
        if (
            stored["prev_hash"] != prev_hash
            or chain_hash(event.to_json(), index, recorded_at, prev_hash) != stored["hash"]
        ):
            raise IntegrityFailure(
                f"the file's chain does not verify at position {index}", position=index, line=line
            )
        yield line, event, (recorded_at, stored["hash"])
        prev_hash, prev_recorded = stored["hash"], recorded_us
        held = held or prev_hash == digest
    if not held:
        raise IntegrityFailure(
            f"the file's chain does not hold the head {digest}: it ends with {prev_hash}, so "
            "it was cut short or rewritten since that digest was taken; nothing was restored"
        )


# How far a restored ``recorded_at`` may lie ahead of this machine's clock: the skew between
# the clocks of the machine that recorded it and this one. Beyond it, every event recorded
# after the restore would be stamped with that time (recorded time never goes back).
CLOCK_SKEW_US = 5 * 60 * 1_000_000


# A clock behind the newest recorded time by at most this much is not said: writers on
# several machines, each a few milliseconds apart, would say it all the time.
_CLOCK_NOISE_US = 1_000_000


def _from_the_future(recorded_at: str, line: int) -> BadInput:
    return BadInput(
        "recorded_at",
        f"{recorded_at} lies in the future, more than 5 minutes after this machine's clock "
        f"({format_time(now())}): no ledger can have recorded it yet, and every event recorded "
        "after it would be stamped with that time",
        line=line,
    )


def _clock_behind(clock_us: int, newest_us: int) -> None:
    """Say that new events are stamped with the newest recorded time, not the clock's."""
    newest = format_time(from_us(newest_us))
    warnings.warn(
        f"the system clock ({format_time(from_us(clock_us))}) is behind the ledger's newest "
        f"recorded time ({newest}); recorded at {newest} to keep the log in order",
        LedgerWarning,
        stacklevel=3,
    )


def _stream_param(dialect: str) -> object:
    return STREAM_ID.hex if dialect == "sqlite" else STREAM_ID


def _stored_rows(
    db: projections.Db, events_table: str, after: int, stop: int | None, limit: int, *, chain: bool = True
) -> list[Mapping[str, Any]]:
    """Up to ``limit`` stored events after position ``after`` (to ``stop``), each with its
    chain row's fields (None where it has none) unless ``chain`` is False."""
    columns = "e.originator_version AS position, e.topic AS topic, e.state AS state"
    join = ""
    if chain:
        columns += (
            ", c.event_id AS chain_event_id, c.recorded_at AS recorded_at, c.recorded_us AS recorded_us, "
            "c.prev_hash AS prev_hash, c.hash AS hash"
        )
        join = " LEFT JOIN ledger_chain AS c ON c.position = e.originator_version"
    until = "" if stop is None else " AND e.originator_version <= ?"
    db.execute(
        f'SELECT {columns} FROM "{events_table}" AS e{join} '
        f"WHERE e.originator_id = ? AND e.originator_version > ?{until} "
        "ORDER BY e.originator_version LIMIT ?",
        [_stream_param(db.dialect), after, *([] if stop is None else [stop]), limit],
    )
    return db.fetchall()


def _decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event in one stored row; tampering (bytes that decode to no event) named."""
    try:
        return decode(bytes(row["state"]))
    except Exception as exc:  # any decoding failure of stored bytes is tampering
        raise IntegrityFailure(
            f"the stored event at position {row['position']} cannot be decoded ({exc})",
            position=row["position"],
        ) from None


def _checked(row: Mapping[str, Any], *, exact: bool) -> dict[str, Any]:
    """The stored event of one row with its chain fields, as ``export`` writes it.

    ``exact``: the stored bytes must be the ledger's own encoding of the event, and the
    chain row's ``recorded_us`` its ``recorded_at`` (neither is covered by the hash)."""
    position = int(row["position"])
    event = _decoded(row)
    if row["chain_event_id"] is None or row["chain_event_id"] != event.get("event_id"):
        raise IntegrityFailure(f"position {position} has no matching chain row", position=position)
    if exact:
        try:
            own = state_bytes(event) == bytes(row["state"]) and row["topic"] == TOPIC
            own = own and canonical_to_us(str(row["recorded_at"])) == row["recorded_us"]
            own = own and _CHAIN_FIELDS.isdisjoint(event)  # the chain's fields are not the event's
        except Exception:  # a stored value the ledger could not have written
            own = False
        if not own:
            raise IntegrityFailure(
                f"the stored bytes at position {position} are not the ledger's own record of "
                "its event and chain row",
                position=position,
            )
    event["position"] = position
    event["recorded_at"] = row["recorded_at"]
    event["prev_hash"] = row["prev_hash"]
    event["hash"] = row["hash"]
    return event


def _stored_receipts(
    db: projections.Db, events_table: str, event_ids: list[str]
) -> dict[str, tuple[Receipt, dict[str, Any]]]:
    """The stored events among ``event_ids``, with their receipts and stored content."""
    found: dict[str, tuple[Receipt, dict[str, Any]]] = {}
    unique = sorted(set(event_ids))
    for i in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[i : i + _LOOKUP_CHUNK]
        db.execute(
            "SELECT position, event_id, recorded_at, hash FROM ledger_chain "
            f"WHERE event_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        chain = {int(row["position"]): row for row in db.fetchall()}
        if not chain:
            continue
        db.execute(
            f'SELECT originator_version AS position, state FROM "{events_table}" '
            f"WHERE originator_id = ? AND originator_version IN ({', '.join('?' * len(chain))})",
            [_stream_param(db.dialect), *chain],
        )
        for stored in db.fetchall():
            row = chain[int(stored["position"])]
            receipt = Receipt(
                row["event_id"], int(row["position"]), row["recorded_at"], row["hash"], duplicate=True
            )
            found[row["event_id"]] = (receipt, _decoded(stored))
    return found


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off for a fold of many events. A batch allocates hundreds
    of thousands of rows that live until it is flushed, and each allocation burst sets off
    a collection that walks them all and finds no cycle (a tenth of a large import's time).
    Reference counting still frees every row; the collector is back on afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _head(db: projections.Db) -> int:
    db.execute("SELECT MAX(position) AS head FROM ledger_chain")
    row = db.fetchone()
    return int(row["head"]) if row and row["head"] is not None else 0


def _as_duplicate(receipt: Receipt) -> Receipt:
    return Receipt(receipt.event_id, receipt.position, receipt.recorded_at, receipt.hash, duplicate=True)
