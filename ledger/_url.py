"""A store's URL, read in one place: by the ``Ledger`` (``_store.store_env``) and by a
question asked of a store by URL alone (``_reader.read_store``), which must not load the
store's write side."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ._errors import BadInput, StoreError

DEFAULT_URL = "sqlite:///ledger.db"

_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # what eventsourcing's PostgreSQL recorder can use

SQLITE_LOCK_TIMEOUT = 30  # seconds a write waits for SQLite's one writer lock
PG_CONNECT_TIMEOUT = 5  # seconds to wait for a PostgreSQL connection


@dataclass(frozen=True)
class StoreUrl:
    """Where a store is: a SQLite file (``sqlite_path``), or a PostgreSQL database
    (``pg``: libpq's connection parameters) and the ``schema`` its tables are in."""

    url: str
    sqlite_path: str = ""
    pg: tuple[tuple[str, str], ...] = ()
    schema: str = ""

    @property
    def dialect(self) -> str:
        return "sqlite" if self.sqlite_path else "postgresql"


def chosen(url: str | None) -> str:
    """The store's URL: ``url``, else ``LEDGER_DB``, else the default."""
    return url or os.environ.get("LEDGER_DB") or DEFAULT_URL


def store_url(url: str | None) -> StoreUrl:
    """``url`` read (None: see ``chosen``); bad input, or a store that cannot be (a SQLite
    file in a folder that does not exist), is an error naming it."""
    url = chosen(url)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise BadInput("db", f"{url!r} names no file (use sqlite:///path/to/ledger.db)")
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise StoreError(f"cannot open the store {url}: folder {Path(path).parent} does not exist")
        return StoreUrl(url, sqlite_path=path)
    if parts.scheme in ("postgresql", "postgres"):
        schema = parse_qs(parts.query).get("schema", ["public"])[0]
        if not _SCHEMA.fullmatch(schema):
            raise BadInput(
                "db", f"schema {schema!r} must be a lower-case name: letters, digits and _ (at most 63)"
            )
        pg = (
            ("dbname", unquote(parts.path.lstrip("/")) or "postgres"),
            ("host", parts.hostname or "localhost"),
            ("port", str(parts.port or 5432)),
            ("user", unquote(parts.username or "postgres")),
            ("password", unquote(parts.password or "")),
        )
        return StoreUrl(url, pg=pg, schema=schema)
    raise BadInput("db", f"{url!r} is not a sqlite:///… or postgresql://… URL")


def wal_file(path: str) -> bool:
    """Whether ``path`` is a plain path (not a ``file:`` URI, not ``:memory:``) to a SQLite
    file in WAL mode, read from its header (read and write versions 2:
    https://sqlite.org/fileformat.html). Once in WAL mode a file stays so."""
    if path.startswith("file:") or path == ":memory:":
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(20)
    except OSError:
        return False
    return header[:16] == b"SQLite format 3\x00" and header[18:20] == b"\x02\x02"
