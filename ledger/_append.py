"""The append pipeline: events recorded in one transaction, under the store's write lock.

An append takes the store's write lock first, reads the head under it, and then, batch by
batch, inserts the stream's next versions through eventsourcing's recorder and, in the same
transaction, judges each event by the rulebook (against the projections as they stand,
including the earlier events of the same input), folds it into the projections and chains
it, and appends its leaf to the Merkle tree (``_tree``: the nodes it completes are inserted
with the chain rows). Any failure rolls back everything. Writers are serialised by the lock, so each event is
judged once against everything committed before it; the stream's version constraint would
still refuse a second writer of the same position.
"""

from __future__ import annotations

import hashlib
import warnings
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple

import projections
from projections import canonical_to_us, format_time, from_us, to_us

from . import _stored
from ._chain import GENESIS, canonical, chain_leaf
from ._errors import BadInput, IntegrityFailure, LedgerWarning, RuleViolation
from ._events import Event
from ._late import judge_and_fold
from ._merkle import Node, hash_leaf
from ._rebuild import Progress, no_cycle_collection
from ._sql import CHAIN, CHAIN_COLUMNS, NODE_COLUMNS, NODES, Db
from ._stored import Store, decoded_at
from ._stream import encode
from ._time import now
from ._tree import node_rows, open_tree
from ._world import prefetch

_LOOKUP_CHUNK = 500
SMALL = 50  # an append of at most this many events is sent pipelined (PostgreSQL)

# One input event: its input line (0: none), the event, and for a restore its
# ``recorded_at`` and hash from the file.
Source = tuple[int, Event, tuple[str, str] | None]


def append(
    store: Store,
    recorder: Any,
    waiting: Callable[[], Any],
    source: Iterable[Source],
    emit: Callable[[Receipt], None],
    progress: Progress | None = None,
    total: int = 0,
    on_lock: Callable[[int], None] | None = None,
) -> None:
    """Append ``source`` in one transaction that takes the store's write lock first:
    appends are serialised, each reads the head and the stored event ids under the lock
    and is judged once, against everything committed before it; the input is read once,
    streaming. Receipts are emitted batch by batch (void if the append then fails)."""
    it = iter(source)
    first = list(islice(it, _stored.CHUNK))
    with store.translated():
        Append(store, recorder, waiting, progress, total, on_lock).run(first, it, emit)


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


class NewEvent(NamedTuple):
    """One event an append stores: its input line, the event, its JSON form, and for a
    restore its ``recorded_at`` and hash from the file."""

    line: int
    event: Event
    payload: dict[str, Any]
    restored: tuple[str, str] | None


class Append:
    """One append of a stream of events in one transaction, under the write lock, batch by
    batch: for each batch, the stored ones are found (duplicates), the new ones inserted
    through the recorder, then each judged by the rulebook against the projections as they stand
    (a session that has folded every event before it) and folded, and the batch's chain
    rows and projection rows written in bulk."""

    def __init__(
        self,
        store: Store,
        recorder: Any,
        waiting: Callable[[], Any],
        progress: Progress | None,
        total: int,
        on_lock: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.recorder = recorder  # the library's, with the ledger's transaction
        self.waiting = waiting  # around taking the write lock (``_wait.waiting``)
        self.on_lock = on_lock  # told the head read under the lock
        self.progress = progress
        self.total = total
        self.done = 0
        self.lines = array("q")  # input line of each new event, by position - head - 1
        self.stamped_behind: int | None = None  # the clock's time, if behind the head's

    def run(
        self,
        first: list[Source],
        rest: Iterator[Source],
        emit: Callable[[Receipt], None],
    ) -> None:
        with no_cycle_collection(), self.recorder.ledger_transaction(small=len(first) <= SMALL) as tx:
            db: Db = tx.db
            with self.waiting():  # PostgreSQL, pipelined: the lock is waited for at the head
                tx.lock()
                self.store.check_guards(db, writing=True)
                self._read_chain_head(db)
                self.tree = open_tree(db, self.store.events_table, self.head)
            if self.on_lock is not None:
                self.on_lock(self.head)
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
                known = stored_receipts(db, self.store.events_table, [e.event_id for _, e, _ in chunk])
                new = self._new(chunk, known)
                if new:
                    tx.insert([encode(self.position + 1 + i, n.payload) for i, n in enumerate(new)])
                    written = self._judge_fold_chain(db, session, view, new)
                else:
                    written = []
                self._receipts(chunk, known, written, emit)
                chunk = list(islice(rest, _stored.CHUNK))
        if self.stamped_behind is not None:
            clock_behind(self.stamped_behind, self.recorded_us)

    def _new(
        self,
        chunk: list[Source],
        known: dict[str, tuple[Receipt, dict[str, Any]]],
    ) -> list[NewEvent]:
        """The chunk's events not stored yet, each once, with their JSON form; a stored or
        repeated event_id with other content is bad input."""
        new: list[NewEvent] = []
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
            new.append(NewEvent(line, event, payload, restored))
        return new

    def _read_chain_head(self, db: Db) -> None:
        """The head: the chain's newest row, read under the write lock."""
        db.execute(f"SELECT position, hash, recorded_us FROM {CHAIN} ORDER BY position DESC LIMIT 1")
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
        db: Db,
        session: projections.Session,
        view: projections.StateView,
        new: list[NewEvent],
    ) -> list[Receipt]:
        """Rulebook, projections and chain for each new event of one batch."""
        prefetch(view, [n.event for n in new])
        if new[0].restored is None:
            self.stamped_behind = self.clock_behind
        chain: list[tuple[int, str, str, int, str, str]] = []
        nodes: list[Node] = []
        out: list[Receipt] = []
        recorded_at, recorded_us = self.recorded_at, self.recorded_us
        for line, event, payload, restored in new:
            self.position += 1
            position = self.position
            try:
                judge_and_fold(session, view, self.store.events_table, payload, position, event)
            except RuleViolation as violation:
                raise (violation.at_line(line) if line else violation) from None
            if restored is not None:
                recorded_at, expected = restored
                recorded_us = canonical_to_us(recorded_at)
            leaf = chain_leaf(payload, position, recorded_at, self.prev_hash)
            digest = hashlib.sha256(leaf).hexdigest()
            if restored is not None and digest != expected:
                raise IntegrityFailure(f"position {position} does not restore to its hash", position=position)
            chain.append((position, event.event_id, recorded_at, recorded_us, self.prev_hash, digest))
            nodes += self.tree.append(hash_leaf(leaf))
            out.append(Receipt(event.event_id, position, recorded_at, digest, duplicate=False))
            self.lines.append(line)
            self.prev_hash = digest
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
        db.insert_rows(CHAIN, CHAIN_COLUMNS, chain)
        db.insert_rows(NODES, NODE_COLUMNS, node_rows(nodes))
        session.flush(evict=True)
        return out

    def _receipts(
        self,
        chunk: list[Source],
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
                emit(as_duplicate(mine))
            else:
                emitted.add(event.event_id)
                emit(mine)


# A clock behind the newest recorded time by at most this much is not said: writers on
# several machines, each a few milliseconds apart, would say it all the time.
_CLOCK_NOISE_US = 1_000_000


def clock_behind(clock_us: int, newest_us: int) -> None:
    """Say that new events are stamped with the newest recorded time, not the clock's."""
    newest = format_time(from_us(newest_us))
    warnings.warn(
        f"the system clock ({format_time(from_us(clock_us))}) is behind the ledger's newest "
        f"recorded time ({newest}); recorded at {newest} to keep the log in order",
        LedgerWarning,
        stacklevel=3,
    )


def stored_receipts(
    db: Db, events_table: str, event_ids: list[str]
) -> dict[str, tuple[Receipt, dict[str, Any]]]:
    """The stored events among ``event_ids``, with their receipts and stored content."""
    found: dict[str, tuple[Receipt, dict[str, Any]]] = {}
    unique = sorted(set(event_ids))
    for i in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[i : i + _LOOKUP_CHUNK]
        db.execute(
            f"SELECT position, event_id, recorded_at, hash FROM {CHAIN} "
            f"WHERE event_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        chain = {int(row["position"]): row for row in db.fetchall()}
        if not chain:
            continue
        for position, event in decoded_at(db, events_table, chain).items():
            row = chain[position]
            receipt = Receipt(row["event_id"], position, row["recorded_at"], row["hash"], duplicate=True)
            found[row["event_id"]] = (receipt, event)
    return found


def as_duplicate(receipt: Receipt) -> Receipt:
    return Receipt(receipt.event_id, receipt.position, receipt.recorded_at, receipt.hash, duplicate=True)
