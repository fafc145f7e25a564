"""Verification: the guards, the chain, the Merkle tree, the rulebook and every projection, checked again.

``check`` runs the whole verification in one pass over one snapshot of the store and
returns what it found (``Verification``); a failed check is a result, not an exception.
``Verification.verified()`` is the answer ``verify`` has always given (``Verified``), or
the first failure raised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import projections

from ._chain import GENESIS, chain_leaf, parse_digest
from ._errors import BadInput, IntegrityFailure, RuleViolation
from ._events import Event
from ._late import judge_and_fold
from ._parse import parse_event
from ._rebuild import Progress, folded_into_twins
from ._sql import CHAIN, Db
from ._stored import Store, checked, missing
from ._tree import TreeCheck, check_contains
from ._world import prefetch

if TYPE_CHECKING:
    from ._checkpoint import Checkpoint

# What every verification checks; with a digest, also that the log extends it.
CHECKED = ("the append-only guards", "the chain", "the Merkle tree", "the rulebook", "every projection")
CONTAINS = "that the log contains the signed checkpoint's tree"


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


@dataclass(frozen=True)
class Verification:
    """What one verification checked (``checked``) and found: the head it verified (``count``
    events, up to ``head_hash``) and, with a ``digest``, the position of the event that has
    it (``extends``); or its first failure (``failure``: then nothing is vouched for)."""

    digest: str | None = None  # the earlier head hash it was given, in lower case
    checkpoint: Checkpoint | None = None  # the signed checkpoint it was given, its signature checked
    count: int = 0
    head_hash: str = GENESIS
    extends: int | None = None
    failure: IntegrityFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def head(self) -> int:
        return self.count

    @property
    def checked(self) -> tuple[str, ...]:
        extra = () if self.digest is None else ("that the log extends the digest",)
        return (*CHECKED, *extra, *(() if self.checkpoint is None else (CONTAINS,)))

    def verified(self) -> Verified:
        """What was verified; the failure raised where the verification failed."""
        if self.failure is not None:
            raise self.failure
        return Verified(self.count, self.head_hash, self.extends)


def check(
    store: Store, progress: Progress | None, digest: str | None, checkpoint: Checkpoint | None = None
) -> Verification:
    """Check the whole log in one pass over one snapshot of the store (see ``Ledger.check``).
    ``BadInput`` for a malformed digest; a failed check is the result's ``failure``. With
    ``checkpoint`` (signature already checked), also prove from the tree, in the same
    snapshot, that the log still holds the tree it signed.

    Where the guards are not the ledger's own, the log may have been changed meanwhile:
    the whole pass runs all the same, and what it finds, with its position, is named first."""
    wanted = None if digest is None else parse_digest(digest)
    disarmed = guards_failure(store)
    try:
        count, head_hash, extends = _verify_log(store, progress, wanted, checkpoint)
    except IntegrityFailure as broken:
        if disarmed is not None:
            broken.message = f"{broken.message}; and {disarmed.message}"
            broken.args = (broken.message,)
        return Verification(wanted, checkpoint, failure=broken)
    if disarmed is not None:
        return Verification(wanted, checkpoint, failure=disarmed)
    return Verification(wanted, checkpoint, count, head_hash, extends)


def guards_failure(store: Store) -> IntegrityFailure | None:
    """What is wrong with the database's append-only guards (None: they are the ledger's own)."""
    try:
        with store.read() as db:
            store.check_guards(db)
    except IntegrityFailure as failure:
        return failure
    return None


def _verify_log(
    store: Store, progress: Progress | None, wanted: str | None, checkpoint: Checkpoint | None = None
) -> tuple[int, str, int | None]:
    """The one pass over one snapshot: the count verified, its head hash, and the position
    of ``wanted`` (None without one). Raises ``IntegrityFailure`` at the first bad position."""
    with store.transaction(commit=False) as db:
        db.snapshot()
        replay = Replay(*_extent(db, store.events_table), events_table=store.events_table)
        replay.db = db
        with folded_into_twins(db, store.events_table, replay.stop, progress, replay.fold):
            replay.finish()
            replay.tree.finish(db)
            _event_ids_unique(db, replay.count)
            extends = None if wanted is None else digest_position(db, wanted)
            if checkpoint is not None:
                check_contains(db, checkpoint.size, checkpoint.root, replay.count)
            difference = projections.first_difference(db)
    if difference is not None:
        table, position = difference
        raise IntegrityFailure(
            f"the projection {table} does not match a rebuild from the events, first at position {position}",
            position=position,
        )
    return replay.count, replay.hash, extends


def verify_chain(
    store: Store, stored: Callable[[int], Iterable[dict[str, Any]]], progress: Progress | None
) -> int:
    """Recompute every hash from the stored events; the count verified (``Ledger.verify_chain``).
    ``stored(stop)``: the stored events up to ``stop``, exactly as stored (``Ledger.stored``)."""
    # What is verified is the log as one statement sees it: appends that commit while it
    # is read lie past ``stop``, whereas a chain row or a stored event past the other
    # table's end lies before it.
    with store.read() as db:
        replay = Replay(*_extent(db, store.events_table))
    for event in stored(replay.stop):
        position = replay.chained(event)
        if progress is not None:
            progress(position, replay.stop)
    replay.finish()
    return replay.count


class Replay:
    """A verification's pass over the stored events from position 1 to ``stop``, in
    position order. Each event's chain row is checked (``chained``: the hash covers the
    event and the hash before it); in a full verification (``fold``) the event must also
    be one the ledger could have recorded (it parses, in its normal form) and is judged by
    the rulebook against the twins folded so far, as its append judged it against the
    projections, then folded. The first bad position stops it (``IntegrityFailure``)."""

    def __init__(self, stop: int, chain_rows: int, chain_head: int, events_table: str = "") -> None:
        self.stop = stop
        self.events_table = events_table  # where a late event's later events are read (``fold``)
        self.chain_rows = chain_rows
        self.chain_head = chain_head
        self.count = 0  # positions verified, 1 to count
        self.hash = GENESIS  # the hash at position count
        self.view: projections.StateView | None = None
        self.tree = TreeCheck()  # the Merkle tree recomputed, compared where ``db`` is given
        self.db: Db | None = None

    def chained(self, stored: dict[str, Any]) -> int:
        """Check the next event (as ``_stored.checked`` gives it, the position after the last
        one checked; its chain fields are popped here, leaving ``stored`` the event's JSON
        form); return its position."""
        position = int(stored.pop("position"))
        recorded_at, prev_hash, digest = (
            stored.pop("recorded_at"),
            stored.pop("prev_hash"),
            stored.pop("hash"),
        )
        leaf = chain_leaf(stored, position, recorded_at, self.hash)
        if prev_hash != self.hash or hashlib.sha256(leaf).hexdigest() != digest:
            raise IntegrityFailure(f"the chain breaks at position {position}", position=position)
        if self.db is not None:
            self.tree.leaf(leaf)
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
                batch.append(self._parsed(row))
            except IntegrityFailure as exc:
                failure = exc
                break
        prefetch(self.view, [event for _, event, _ in batch])
        for position, event, payload in batch:
            self._judge_and_fold(session, position, event, payload)
        if failure is not None:
            raise failure
        if self.db is not None:
            self.tree.compare(self.db)
        return self.count

    def _parsed(self, row: Mapping[str, Any]) -> tuple[int, Event, dict[str, Any]]:
        """The next stored row checked: its position, its event, and its JSON form."""
        if row["position"] != self.count + 1:
            raise missing(self.count + 1)
        payload = checked(row, exact=True)
        position = self.chained(payload)
        return position, recordable(payload, position), payload

    def _judge_and_fold(
        self, session: projections.Session, position: int, event: Event, payload: dict[str, Any]
    ) -> None:
        assert self.view is not None
        try:
            judge_and_fold(session, self.view, self.events_table, payload, position, event)
        except RuleViolation as violation:
            refused = IntegrityFailure(
                f"the rulebook refuses the event at position {position} ({violation.rule}): "
                f"{violation.message}",
                position=position,
            )
            refused.rule = violation.rule
            raise refused from None

    def finish(self) -> None:
        """After the last event: no chain row may lie past it."""
        if self.chain_rows != self.count or self.chain_head != self.count:
            raise IntegrityFailure(
                f"the chain has rows past position {self.count} with no stored event", position=self.count + 1
            )


def recordable(payload: dict[str, Any], position: int) -> Event:
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


def _extent(db: Db, events_table: str) -> tuple[int, int, int]:
    """What one statement sees of the log: the last position either table holds (what a
    verification reads up to), the number of chain rows, and the chain's last position."""
    db.execute(
        f"SELECT (SELECT COUNT(*) FROM {CHAIN}) AS n, "
        f"(SELECT MAX(position) FROM {CHAIN}) AS head, "
        f"(SELECT MAX(originator_version) FROM {db.ident(events_table)} "
        "WHERE originator_id = ?) AS events",
        [db.stream_id],
    )
    counts = db.fetchone() or {}
    head, events = int(counts.get("head") or 0), int(counts.get("events") or 0)
    return max(head, events), int(counts.get("n") or 0), head


def _event_ids_unique(db: Db, count: int) -> None:
    """No event_id stored twice among the ``count`` events verified (their chain rows name
    them): an append stores an event once, a restore refuses a file that repeats one, and
    the table's UNIQUE constraint can be dropped. One statement through that constraint's
    index; a second one names the first repeat."""
    db.execute(f"SELECT COUNT(DISTINCT event_id) AS n FROM {CHAIN}")
    row = db.fetchone()
    if row is None or int(row["n"]) == count:
        return
    db.execute(
        "SELECT MIN(position) AS position FROM (SELECT position, ROW_NUMBER() OVER "
        f"(PARTITION BY event_id ORDER BY position) AS n FROM {CHAIN}) AS t WHERE n > 1"
    )
    repeat = db.fetchone()
    position = int(repeat["position"]) if repeat and repeat["position"] is not None else None
    raise IntegrityFailure(
        f"the event at position {position} repeats the event_id of an earlier event", position=position
    )


def digest_position(db: Db, digest: str) -> int:
    """The position of the stored event whose hash is ``digest`` (0 for the empty log's);
    ``IntegrityFailure`` when there is none: the log was truncated or rewritten since."""
    if digest == GENESIS:
        return 0
    db.execute(f"SELECT position FROM {CHAIN} WHERE hash = ?", [digest])
    row = db.fetchone()
    if row is None:
        raise IntegrityFailure(
            f"the log no longer contains the head {digest} it had: it was truncated or "
            "rewritten since that digest was taken"
        )
    return int(row["position"])
