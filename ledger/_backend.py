"""Which backend holds a store.

A store's URL names its backend: ``_sqlite`` or ``_postgres``, each the one module holding
its connections, its ``Db``, its DDL and its guards (the eventsourcing recorders beside them,
``_sqlite_recorder`` and ``_postgres_recorder``, are loaded by a ``Ledger`` only). The backend
module is imported only for a store on it: SQLite users never import psycopg.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import LedgerError
from ._url import StoreUrl, store_url

if TYPE_CHECKING:
    from ._sql import Db, ReadStore


class Backend(Protocol):
    """One ``Ledger``'s connections to its store (``SqliteBackend``, ``PostgresBackend``)."""

    name: str
    env: dict[str, str]  # eventsourcing's environment for the store
    read_only: bool  # a store this process may read but not write
    errors: tuple[type[BaseException], ...]  # what its driver raises

    def attach(self, recorder: Any) -> None:
        """The library's recorder, once the application has made it."""

    def transaction(self, *, commit: bool) -> AbstractContextManager[Db]: ...

    def read(self) -> AbstractContextManager[Db]: ...

    def single_statements(self) -> AbstractContextManager[Db]: ...

    def check_guards(self, db: Db, events_table: str, *, writing: bool = False) -> None: ...

    def close(self) -> None: ...


def backend_for(where: StoreUrl, wait: int) -> Backend:
    """The backend of the store at ``where``, for a ``Ledger`` whose writes wait ``wait`` s."""
    if where.sqlite_path:
        from ._sqlite import SqliteBackend

        return SqliteBackend(where, wait)
    from ._postgres import PostgresBackend

    return PostgresBackend(where, wait)


def environment(where: StoreUrl, wait: int) -> dict[str, str]:
    """eventsourcing's environment for the store at ``where`` (see ``_env.store_env``)."""
    if where.sqlite_path:
        from ._sqlite import environment as sqlite

        return sqlite(where, wait)
    from ._postgres import environment as postgres

    return postgres(where, wait)


def read_store(url: str | None) -> ReadStore | None:
    """A ``ReadStore`` for ``url`` (None: ``LEDGER_DB`` or the default), as a ``Ledger``
    would open it (``_url.store_url``), or None where a ``Ledger`` must: a URL that is bad
    input, an in-memory database, a SQLite file that is not there or not a ledger's (not in
    WAL mode)."""
    try:
        where = store_url(url)
    except (LedgerError, ValueError):  # a Ledger says what is wrong with it
        return None
    if not where.sqlite_path:
        from ._postgres import PostgresReadStore

        return PostgresReadStore(where)
    import os

    from ._sqlite import SqliteReadStore, wal_file

    if not wal_file(where.sqlite_path):  # not there yet, in memory, a URI: a Ledger's
        return None
    return SqliteReadStore(where.url, os.path.abspath(where.sqlite_path))
