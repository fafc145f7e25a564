"""What the ledger's SQL shares on every backend: the tables it keeps beside the library's,
and ``Db``, a cursor with one SQL spelling (``?`` placeholders, rows as mappings).

What differs between backends is a ``Db`` subclass's, in its backend's module (``_sqlite``,
``_postgres``): how a name is quoted, the stream id as a parameter, the write lock, the
temporary twins of a rebuild or a verification, a snapshot of its own. Nothing here, nor
anywhere outside those two modules, asks which backend it is on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ._errors import IntegrityFailure

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent

# Fixed: it names the one stream in every ledger database (see ``_stream``).
STREAM_ID = uuid.UUID("5b1a2f3e-6c8d-4e0f-9a1b-2c3d4e5f6a7b")

CHAIN = "ledger_chain"  # the chain's table: one row per stored event
CHAIN_COLUMNS = ("position", "event_id", "recorded_at", "recorded_us", "prev_hash", "hash")
CHAIN_DDL = [
    f"CREATE TABLE IF NOT EXISTS {CHAIN} ("
    "position BIGINT PRIMARY KEY, "
    "event_id TEXT NOT NULL UNIQUE, "
    "recorded_at TEXT NOT NULL, "
    "recorded_us BIGINT NOT NULL, "
    "prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS {CHAIN}_recorded ON {CHAIN} (recorded_us)",
]

# The Merkle tree over the log (issue 17, ``_tree``): every perfect subtree's root, keyed by
# ``(level, idx)`` as ``_merkle`` names them (level 0: the leaf hashes), hash in lower-case hex.
NODES = "ledger_nodes"
NODE_COLUMNS = ("level", "idx", "hash")
NODES_DDL = [
    f"CREATE TABLE IF NOT EXISTS {NODES} ("
    "level INTEGER NOT NULL, "
    "idx BIGINT NOT NULL, "
    "hash TEXT NOT NULL, "
    "PRIMARY KEY (level, idx))",
]

APPEND_ONLY_MESSAGE = "the ledger is append-only"


def guard_failure(problems: Sequence[str]) -> IntegrityFailure:
    """The failure that names each guard that is not the ledger's own, and what is wrong."""
    return IntegrityFailure("the log's append-only guards are not the ledger's own: " + "; ".join(problems))


class Db:
    """A cursor inside one transaction (or, for ``single_statements``, none), on either backend."""

    dialect: ClassVar[str]  # the backend's name ("sqlite", "postgresql"), for messages and tests
    stream_id: ClassVar[object]  # the stream's id as the events table's parameter
    real_schema: str  # the schema of the store's own tables, as SQL names it beside the twins

    def __enter__(self) -> Db:
        """A cursor is its own context for statements each on its own (``single_statements``)."""
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        raise NotImplementedError

    def fetchone(self) -> Mapping[str, Any] | None:
        raise NotImplementedError

    def fetchall(self) -> list[Mapping[str, Any]]:
        raise NotImplementedError

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> None:
        raise NotImplementedError

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Insert many rows into ``table``, in the backend's fastest way."""
        raise NotImplementedError

    def row(self, statement: str, params: Sequence[object]) -> Sequence[Any] | None:
        """The first row of one statement, its values by column index (None: no row)."""
        self.execute(statement, params)
        found = self.fetchone()
        return None if found is None else tuple(found.values())

    def ident(self, name: str) -> str:
        """``name`` as a quoted SQL identifier."""
        raise NotImplementedError

    def take_write_lock(self, events_table: str) -> None:
        """Take the store's write lock until the transaction ends (writers are serialised)."""
        raise NotImplementedError

    def snapshot(self) -> None:
        """Make every statement of this (new) transaction read one snapshot."""

    def bulk(self) -> None:
        """Set the transaction up for a fold of many events (a rebuild, a verification)."""

    def create_temp_table(self, ddl: str) -> None:
        """Create a temporary twin of a table from its ``CREATE TABLE IF NOT EXISTS`` DDL: it
        shadows the real table until it is dropped (``drop_temp_tables``) or the transaction ends."""
        raise NotImplementedError

    def create_temp_index(self, ddl: str, name: str) -> None:
        """Create the twin of index ``name`` (its ``CREATE INDEX IF NOT EXISTS`` DDL) on a twin."""
        raise NotImplementedError

    def drop_temp_tables(self, names: Iterable[str]) -> None:
        """Drop the temporary twins ``names`` (where the transaction's end does not)."""


@dataclass(frozen=True)
class LedgerTransaction:
    """One open write transaction of the ledger's: its cursor, the library's insert of
    stored events, and how to take the write lock before reading anything."""

    db: Db
    insert: Callable[[Sequence[StoredEvent]], None]
    lock: Callable[[], None]


class CannotServe(Exception):
    """A ``ReadStore`` cannot answer here: a ``Ledger`` answers instead."""


class ReadStore:
    """One store opened to answer questions alone, by URL (``_backend.read_store``): one
    connection of its own, with none of what a ``Ledger`` sets up to write (eventsourcing's
    application, recorder and connection pool, the tables' DDL) nor the imports that costs,
    which are most of a short process's time. ``read`` and ``single_statements`` as a ``Ledger``'s.

    It serves only a store that is there already (a SQLite file in WAL mode, as every
    ledger's is), and any error of the driver on the way (``errors``: a table missing, a
    server that cannot be reached) is for the caller to ask a ``Ledger`` instead, which
    creates the store's tables, or reports the error, exactly as it always has. Use it as
    a context manager: entering connects."""

    errors: tuple[type[BaseException], ...] = (CannotServe,)  # and its driver's

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> ReadStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Db]:
        """One read transaction, as ``Ledger.read``."""
        raise NotImplementedError

    def single_statements(self) -> AbstractContextManager[Db]:
        """Statements each on its own, with no transaction around them, as ``Ledger.single_statements``."""
        raise NotImplementedError
