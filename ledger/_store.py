"""``Ledger``: the write side's one entry point, a facade over the store's parts.

- ``_backend`` and its modules: the store's connections (SQLite or PostgreSQL);
- ``_env``: the eventsourcing application and its environment;
- ``_stored``: reading (transactions, stored events, the head);
- ``_append``: the append pipeline (record, import, restore), under the write lock;
- ``_restore``: an export read back, its chain checked;
- ``_verify``: verification (guards, chain, rulebook, projections), a result object;
- ``_rebuild``: the projections folded again from the stored events;
- ``_tree``: the Merkle tree over the log, its roots and proofs (``_checkpoint`` signs its
  head, ``_verifier`` checks the proofs offline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.persistence import PersistenceError

from ._append import ImportSummary, Receipt, Source, append
from ._backend import backend_for
from ._chain import parse_digest
from ._driver import Translated
from ._env import LedgerApplication
from ._errors import BadInput, IntegrityFailure, NotFound, StoreError
from ._events import Event
from ._rebuild import Progress, rebuild
from ._restore import restorable
from ._sql import Db
from ._stored import Store
from ._url import chosen, redact, store_url
from ._verify import Verification, Verified, check, digest_position, verify_chain
from ._wait import DEFAULT_WAIT, checked_wait, waiting

T = TypeVar("T")

if TYPE_CHECKING:
    from ._checkpoint import Checkpoint, SignerKey
    from ._verifier import ConsistencyProof, InclusionProof

__all__ = ["ImportSummary", "Ledger", "Receipt", "Verification", "Verified"]


class Ledger:
    """The relationship ledger on one store (SQLite file or PostgreSQL database)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        wait: int = DEFAULT_WAIT,
        on_wait: Callable[[int], None] | None = None,
        on_lock: Callable[[int], None] | None = None,
    ) -> None:
        """``wait``: seconds a write waits for another writer's lock; ``on_wait``: told (with
        ``wait``) when a write has not got it within a moment (see ``_wait``); ``on_lock``:
        told, with the head it read, each time an append has taken the write lock."""
        self.url = chosen(url)
        self.wait, self._on_wait, self._on_lock = checked_wait(wait), on_wait, on_lock
        backend = backend_for(store_url(self.url), self.wait)
        self._store = Store(backend, self.url, (PersistenceError, *backend.errors))
        self.read_only = backend.read_only
        with self._store.translated():
            self.app = LedgerApplication(env=backend.env)
        recorder: Any = self.app.recorder  # SQLiteLedgerRecorder or PostgresLedgerRecorder
        self._recorder = recorder
        backend.attach(recorder)
        self.dialect: str = backend.name
        self.events_table: str = recorder.events_table_name
        self._store.events_table = self.events_table

    # --- reading ------------------------------------------------------------------------

    def read(self) -> AbstractContextManager[Db]:
        """A read-only transaction on the store, for queries (SQLite: on the ledger's own
        read-only connection, see ``_sqlite``)."""
        return self._store.read()

    def single_statements(self) -> AbstractContextManager[Db]:
        """Read statements each on its own (each its own snapshot), with no transaction
        around them: one round trip each on PostgreSQL. For questions of one statement
        over the append-only, bitemporal projections; anything else uses ``read``."""
        store = self._store
        # No more than that: this is ``por``'s path.
        return Translated(store.backend.single_statements(), store.url, store.errors)

    def head(self) -> int:
        """The position of the newest stored event (0 when empty)."""
        return self._store.head()

    def head_hash(self) -> str:
        """The newest event's hash: a digest of the whole log (64 zeros when empty)."""
        return self._store.head_hash()

    def stored(
        self, start: int = 1, stop: int | None = None, batch: int = 2000, *, exact: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Stored events in position order, as ``export`` writes them, in bounded memory.

        ``exact`` (``verify_chain``): also demand that each event's stored bytes are exactly
        the ledger's own encoding of it and that its chain row's ``recorded_us`` is its
        ``recorded_at``, since neither is covered by the hash."""
        return self._store.stored(start, stop, batch, exact=exact)

    def events_at(self, positions: Sequence[int]) -> Iterator[dict[str, Any]]:
        """The stored events at these positions (ascending), as ``export`` writes them."""
        return self._store.events_at(positions)

    # --- verifying ----------------------------------------------------------------------

    def verify_chain(self, progress: Progress | None = None) -> int:
        """Recompute every hash from the stored events; return the count verified.

        Raises ``IntegrityFailure`` naming the first position that does not verify."""
        return verify_chain(self._store, lambda stop: self.stored(stop=stop, exact=True), progress)

    def verify_guards(self) -> None:
        """Check that the database's append-only guards (the triggers refusing changes to
        the log) are the ledger's own: present, enabled, not altered (on SQLite a missing
        one is re-created by the next opening or append, so only an altered one fails).

        Raises ``IntegrityFailure`` naming each guard that is not."""
        with self.read() as db:
            self._store.check_guards(db)

    def check(
        self,
        progress: Progress | None = None,
        *,
        digest: str | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> Verification:
        """Check the whole log in one pass over one snapshot of the store: the guards,
        the chain recomputed from the stored events, every event judged again by the
        rulebook against the state before it (as its append did) and folded into
        temporary twins of the projections, compared with what is stored; with ``digest``
        (a head hash seen earlier), also whether the log still extends the one that had
        it, so a truncated or rewritten log is caught even where it verifies; with
        ``checkpoint`` (a signed tree head, its signature checked: ``_checkpoint.open_checkpoint``),
        also whether the log still holds the tree it signed (a consistency proof from the
        stored tree, whose every node the pass recomputed from the events).

        Returns what was checked and found (``Verification``): a failed check is its
        ``failure``, not raised. ``BadInput`` for a malformed digest."""
        if not self.read_only:
            with suppress(IntegrityFailure):  # the verification finds it and says where
                self.ensure_tree()
        return check(self._store, progress, digest, checkpoint)

    def verify(
        self,
        progress: Progress | None = None,
        *,
        digest: str | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> Verified:
        """``check``, its failure raised: returns what was verified (``Verified``: the count,
        and the head position and hash this same pass checked; appends that commit
        meanwhile lie past it, and ``extends``).

        Raises ``IntegrityFailure`` naming the first bad position (and, where the rulebook
        refuses an event, the rule); where the guards are not the ledger's own, what the
        pass finds is named first."""
        return self.check(progress, digest=digest, checkpoint=checkpoint).verified()

    # --- evidence (issue 17) ------------------------------------------------------------

    def ensure_tree(self) -> None:
        """Build the Merkle tree over the stored events where it is short of the chain (a
        ledger made before it): once, under the write lock. Usually one read."""
        from ._tree import ensure_tree

        ensure_tree(self._store, self._recorder, self._waiting, self.read_only)

    def tree_head(self) -> tuple[int, bytes]:
        """The tree over the whole log: its size (the events it holds) and its root."""
        from ._tree import tree_root

        return self._on_tree(lambda db, size: (size, tree_root(db, size)))

    def _on_tree(self, question: Callable[[Db, int], T]) -> T:
        """``question(db, size)`` asked in one read of the stored tree of ``size`` events
        (built first, once, where it is short of the chain: ``ensure_tree``)."""
        from ._stored import head
        from ._tree import tree_size

        with self.read() as db:
            size = tree_size(db)  # the nodes of a size never change: later reads agree
            if size >= head(db):
                return question(db, size)
        self.ensure_tree()
        with self.read() as db:
            return question(db, tree_size(db))

    def checkpoint(self, signer: SignerKey, origin: str | None = None) -> tuple[Checkpoint, str]:
        """The checkpoint of the whole log, and its signed note (``_checkpoint``), signed by
        ``signer``; its origin ``origin``, by default the key's name."""
        from ._checkpoint import Checkpoint, sign_checkpoint

        size, root = self.tree_head()
        head = Checkpoint(signer.name if origin is None else origin, size, root)
        return head, sign_checkpoint(head, signer)

    def position_of(self, ref: str) -> int:
        """The position of an event named by its event_id or its position (digits)."""
        from ._sql import CHAIN

        with self.read() as db:
            if ref.isdigit() and ref.isascii():
                position = int(ref)
                if 1 <= position <= self._store.head():
                    return position
                raise NotFound(f"no event at position {ref}")
            db.execute(f"SELECT position FROM {CHAIN} WHERE event_id = ?", [ref])
            row = db.fetchone()
        if row is None:
            raise NotFound(f"no event {ref} is stored")
        return int(row["position"])

    def prove_inclusion(self, position: int, size: int | None = None) -> InclusionProof:
        """The inclusion proof of the event at ``position`` in the tree of ``size`` events
        (default: the whole log's), as ``_verifier`` checks it: O(log n) reads."""
        from ._tree import prove_inclusion

        return self._on_tree(lambda db, have: prove_inclusion(db, have, position, size))

    def prove_consistency(self, old: int, new: int | None = None) -> ConsistencyProof:
        """The consistency proof from the tree of ``old`` events to that of ``new``
        (default: the whole log's): O(log n) reads."""
        from ._tree import prove_consistency

        return self._on_tree(lambda db, have: prove_consistency(db, have, old, new))

    def contains(self, checkpoint: Checkpoint) -> int:
        """Prove from the stored tree that the log still holds the tree ``checkpoint``
        signed (its signature checked already); the current tree size. A ``ProofError``
        if not. Unlike ``verify --checkpoint`` it trusts the stored nodes: O(log n) reads."""
        from ._tree import check_contains

        def contains(db: Db, size: int) -> int:
            check_contains(db, checkpoint.size, checkpoint.root, size)
            return size

        return self._on_tree(contains)

    def extends(self, digest: str) -> int:
        """The position of the stored event whose hash is ``digest``, a head seen earlier (0
        for 64 zeros, the empty log's head). After ``verify_chain`` this proves the log still
        extends the log that had that head: every hash covers the one before it.

        Raises ``BadInput`` for a malformed digest, ``IntegrityFailure`` when no stored event
        has that hash: the log was truncated or rewritten since."""
        digest = parse_digest(digest)
        with self.read() as db:
            return digest_position(db, digest)

    # --- writing ------------------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild every projection from position 1 and replace the old state atomically.

        Appends wait until it is done. Returns the number of events folded."""
        self._writable()
        return rebuild(self._store, self._waiting, progress)

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
        checkpoint: Checkpoint | None = None,
    ) -> ImportSummary:
        """Load an export back into an empty ledger, keeping positions, ``recorded_at`` and
        hashes. A file whose chain does not verify is refused whole (nothing is stored),
        and every event is judged by the rulebook as it is restored. With ``digest`` (a head
        hash held elsewhere, as ``verify --digest`` takes it), a file whose chain does not
        hold that hash (cut short, or rewritten) is refused whole too; with ``checkpoint`` (a
        signed tree head, its signature checked), so is a file whose first events do not
        make the tree it signed (a ``ProofError``). Emptiness is checked
        again under the write lock: a restore that loses a race with another is told so."""
        if digest is not None:
            digest = parse_digest(digest)
        if self.head() != 0:
            raise BadInput("file", f"restore needs an empty ledger; {redact(self.url)} holds events")
        summary = ImportSummary()
        self._append(restorable(lines, digest, checkpoint), summary.add, progress, total)
        return summary

    @contextmanager
    def held(self, *, commit: bool = True) -> Iterator[None]:
        """Every append inside the block (``record``, ``record_many``, ``import_events``) in
        one transaction of the store, each append a savepoint of it: an append that fails
        (a rule refuses an event) is undone alone and the block goes on; at the end the
        whole is committed, or, with ``commit`` False, rolled back: a dry run that did
        exactly what the real run does and stored nothing. The write lock, once an append
        inside has kept it, is held to the end (other writers wait, as for a long import).
        Reads through ``read`` inside the block do not see what it did."""
        self._writable()
        with self._store.translated(), self._recorder.held_transaction(commit=commit):
            yield

    def _append(
        self, source: Iterable[Source], emit: Callable[[Receipt], None], progress: Progress | None, total: int
    ) -> None:
        """One append (see ``_append``), on a store this process may write."""
        self._writable()
        append(self._store, self._recorder, self._waiting, source, emit, progress, total, self._on_lock)

    def _waiting(self) -> AbstractContextManager[None]:
        """Around taking the write lock (see ``_wait.waiting``)."""
        return waiting(self._on_wait, self.wait, self.url)

    def _writable(self) -> None:
        """Refuse to write a store opened read-only, before trying."""
        if self.read_only:
            raise StoreError(
                f"the store {redact(self.url)} is read-only: this process may read it but not "
                "write it (a read-only file, folder or mount)"
            )

    def close(self) -> None:
        self._store.backend.close()
        self.app.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
