"""``Ledger``: the write side's one entry point, a facade over the store's parts.

- ``_backend`` and its modules: the store's connections (SQLite or PostgreSQL);
- ``_env``: the eventsourcing application and its environment;
- ``_stored``: reading (transactions, stored events, the head);
- ``_append``: the append pipeline (record, import, restore), under the write lock;
- ``_restore``: an export read back, its chain checked;
- ``_verify``: verification (guards, chain, rulebook, projections), a result object;
- ``_rebuild``: the projections folded again from the stored events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.persistence import PersistenceError

from ._append import ImportSummary, Receipt, Source, append
from ._backend import backend_for
from ._chain import parse_digest
from ._driver import Translated
from ._env import LedgerApplication
from ._errors import BadInput, StoreError
from ._events import Event
from ._rebuild import Progress, rebuild
from ._restore import restorable
from ._sql import Db
from ._stored import Store
from ._url import chosen, redact, store_url
from ._verify import Verification, Verified, check, digest_position, verify_chain
from ._wait import DEFAULT_WAIT, checked_wait, waiting

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

    def check(self, progress: Progress | None = None, *, digest: str | None = None) -> Verification:
        """Check the whole log in one pass over one snapshot of the store: the guards,
        the chain recomputed from the stored events, every event judged again by the
        rulebook against the state before it (as its append did) and folded into
        temporary twins of the projections, compared with what is stored; with ``digest``
        (a head hash seen earlier), also whether the log still extends the one that had
        it, so a truncated or rewritten log is caught even where it verifies.

        Returns what was checked and found (``Verification``): a failed check is its
        ``failure``, not raised. ``BadInput`` for a malformed digest."""
        return check(self._store, progress, digest)

    def verify(self, progress: Progress | None = None, *, digest: str | None = None) -> Verified:
        """``check``, its failure raised: returns what was verified (``Verified``: the count,
        and the head position and hash this same pass checked; appends that commit
        meanwhile lie past it, and ``extends``).

        Raises ``IntegrityFailure`` naming the first bad position (and, where the rulebook
        refuses an event, the rule); where the guards are not the ledger's own, what the
        pass finds is named first."""
        return self.check(progress, digest=digest).verified()

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
        self._append(restorable(lines, digest), summary.add, progress, total)
        return summary

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
