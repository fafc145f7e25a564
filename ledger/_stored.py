"""Reading a store: its transactions, and its stored events with their chain rows.

``Store`` is what every part of the write side reads and writes through: a backend's
connections (``_backend``) with the driver's errors translated (``_driver``), and the
stored events as ``export`` writes them, checked as they are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from projections import canonical_to_us

from ._backend import Backend
from ._chain import GENESIS
from ._driver import Translated, translated
from ._errors import IntegrityFailure
from ._sql import CHAIN, Db
from ._stream import TOPIC, decode, state_bytes

# Events per batch of an append, a rebuild, a verification (read where used: tests set it).
CHUNK = 2000
CHAIN_FIELDS = frozenset(("position", "recorded_at", "prev_hash", "hash"))  # export adds them


class Store:
    """One store's connections (``backend``), its events table and its URL (for messages)."""

    def __init__(self, backend: Backend, url: str, errors: tuple[type[BaseException], ...]) -> None:
        self.backend = backend
        self.url = url
        self.errors = errors  # what becomes the store error: the driver's and the library's
        self.events_table = ""  # the library's, once its recorder is made

    def translated(self) -> AbstractContextManager[None]:
        """Around any use of the store: the driver's errors as the ``store`` error."""
        return translated(self.url, self.errors)

    def transaction(self, *, commit: bool) -> AbstractContextManager[Db]:
        return Translated(self.backend.transaction(commit=commit), self.url, self.errors)

    def read(self) -> AbstractContextManager[Db]:
        """A read-only transaction (SQLite: on the ledger's own read-only connection)."""
        return Translated(self.backend.read(), self.url, self.errors)

    def single_statements(self) -> AbstractContextManager[Db]:
        """Read statements each on its own (each its own snapshot), no transaction around them."""
        return Translated(self.backend.single_statements(), self.url, self.errors)

    def check_guards(self, db: Db, *, writing: bool = False) -> None:
        """Raise ``IntegrityFailure`` naming each guard that is not the ledger's own."""
        self.backend.check_guards(db, self.events_table, writing=writing)

    def head(self) -> int:
        with self.read() as db:
            return head(db)

    def head_hash(self) -> str:
        with self.read() as db:
            db.execute(f"SELECT hash FROM {CHAIN} ORDER BY position DESC LIMIT 1")
            row = db.fetchone()
        return str(row["hash"]) if row else GENESIS

    def stored(
        self, start: int = 1, stop: int | None = None, batch: int = 2000, *, exact: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Stored events in position order, as ``export`` writes them, in bounded memory
        (see ``Ledger.stored``)."""
        position = start - 1
        while True:
            with self.read() as db:
                rows = stored_rows(db, self.events_table, position, stop, batch)
            if not rows:
                return
            for row in rows:
                if exact and row["position"] != position + 1:
                    raise missing(position + 1)
                position = row["position"]
                yield checked(row, exact=exact)

    def events_at(self, positions: Sequence[int]) -> Iterator[dict[str, Any]]:
        """The stored events at these positions (ascending), as ``export`` writes them."""
        run: list[int] = []
        for position in [*positions, -1]:
            if run and position != run[-1] + 1:
                yield from self.stored(run[0], run[-1])
                run = []
            run.append(position)


_IN_CHUNK = 500  # positions per IN (...) list


def missing(position: int) -> IntegrityFailure:
    return IntegrityFailure(f"position {position} is missing from the log", position=position)


def head(db: Db) -> int:
    """The position of the newest stored event (0 when empty)."""
    db.execute(f"SELECT MAX(position) AS head FROM {CHAIN}")
    row = db.fetchone()
    return int(row["head"]) if row and row["head"] is not None else 0


def stored_rows(
    db: Db, events_table: str, after: int, stop: int | None, limit: int, *, chain: bool = True
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
        join = f" LEFT JOIN {CHAIN} AS c ON c.position = e.originator_version"
    until = "" if stop is None else " AND e.originator_version <= ?"
    db.execute(
        f"SELECT {columns} FROM {db.ident(events_table)} AS e{join} "
        f"WHERE e.originator_id = ? AND e.originator_version > ?{until} "
        "ORDER BY e.originator_version LIMIT ?",
        [db.stream_id, after, *([] if stop is None else [stop]), limit],
    )
    return db.fetchall()


def decoded_at(db: Db, events_table: str, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The stored events at ``positions`` (decoded), by position; a few ``IN (...)`` queries."""
    wanted = sorted(set(positions))
    found: dict[int, dict[str, Any]] = {}
    for i in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[i : i + _IN_CHUNK]
        db.execute(
            f"SELECT originator_version AS position, state FROM {db.ident(events_table)} "
            f"WHERE originator_id = ? AND originator_version IN ({', '.join('?' * len(chunk))})",
            [db.stream_id, *chunk],
        )
        for row in db.fetchall():
            found[int(row["position"])] = decoded(row)
    return found


def decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """The event in one stored row; tampering (bytes that decode to no event) named."""
    try:
        return decode(bytes(row["state"]))
    except Exception as exc:  # any decoding failure of stored bytes is tampering
        raise IntegrityFailure(
            f"the stored event at position {row['position']} cannot be decoded ({exc})",
            position=row["position"],
        ) from None


def checked(row: Mapping[str, Any], *, exact: bool) -> dict[str, Any]:
    """The stored event of one row with its chain fields, as ``export`` writes it.

    ``exact``: the stored bytes must be the ledger's own encoding of the event, and the
    chain row's ``recorded_us`` its ``recorded_at`` (neither is covered by the hash)."""
    position = int(row["position"])
    event = decoded(row)
    if row["chain_event_id"] is None or row["chain_event_id"] != event.get("event_id"):
        raise IntegrityFailure(f"position {position} has no matching chain row", position=position)
    if exact and not _own(row, event):
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


def _own(row: Mapping[str, Any], event: dict[str, Any]) -> bool:
    """Whether a stored row is exactly what the ledger writes for ``event``."""
    try:
        own = state_bytes(event) == bytes(row["state"]) and row["topic"] == TOPIC
        own = own and canonical_to_us(str(row["recorded_at"])) == row["recorded_us"]
        return own and CHAIN_FIELDS.isdisjoint(event)  # the chain's fields are not the event's
    except Exception:  # a stored value the ledger could not have written
        return False
