"""The projections as one unit of work: the temporal operations in memory, written in bulk.

A ``Session`` lives inside one transaction (an append, a rebuild, a verification). It
loads the versions of each thing it is asked about once (all of them, ever: a few rows per
thing), answers ``current`` from memory, and keeps what the fold writes (new versions, and
``superseded_pos`` set on old ones) until ``flush`` writes it with one ``executemany`` per
table. ``prefetch`` loads what a batch of events will ask about in a few ``IN (...)``
queries, so a batch of thousands of events costs a handful of statements, and a single
event only the few it needs. Correctness never depends on ``prefetch``: whatever was not
loaded is loaded on first use.

Memory stays bounded: once the cache holds more than a set number of versions, ``flush``
may ``evict`` all but what the last batch asked about (a busy customer's things are asked
about again and again); the database holds all of it, and is asked again for the rest.
A session that began on empty tables (a first import, a rebuild, a verification) knows
that a thing it never wrote does not exist; what it forgot is noted in a Bloom filter
(``Forgotten``, a megabyte), so after an eviction it still asks the database only about
what it wrote and forgot (or, rarely, what the filter mistakes for that), not about every
new thing (issue 18: past the first eviction, every batch asked about all it named).

A customer's relationships are looked up by customer. A busy customer may have ended
thousands over the years, so a batch loads only those still in force at its earliest
effective time or later (most of a customer's events arrive in effective-time order); a
question about an earlier time (a late recording's) loads the rest.

A late recording (``ledger/_late.py``) rewinds its customer's things from its effective
time (``rewind``) and folds the customer's later events again, all at its own position:
a version both written and ended by one position was never believed by anyone and is
dropped (``change``), so every path that folds the same events in the same order (an
append, a rebuild, a verification) writes the same rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from ._tables import (
    CUSTOMERS,
    EVENT_REFS,
    EVENT_REFS_COLUMNS,
    RELATIONSHIPS,
    TABLES,
    Db,
    Table,
)

Row = dict[str, Any]
_CHUNK = 500  # ids per IN (...) list
EVICT_AFTER = 50_000  # cached versions (a few hundred bytes each) kept past a flush
FORGOTTEN_BITS = 1 << 23  # the Bloom filter of what an eviction forgot: 1 MiB


class Forgotten:
    """A Bloom filter of what a session forgot: ``in`` is False only for what was never
    added (then it was never written, in a session that began on empty tables); True may be
    a mistake (then the database is asked, as it would be without the filter)."""

    def __init__(self, bits: int) -> None:
        self.mask = max(1 << (bits - 1).bit_length(), 8) - 1  # a power of two, less one
        self.bits = bytearray((self.mask + 1) // 8)

    def add(self, item: tuple[Any, ...]) -> None:
        # Two places from one hash: its low and its high 32 bits.
        h, mask = hash(item), self.mask
        for place in (h & mask, (h >> 32) & mask):
            self.bits[place >> 3] |= 1 << (place & 7)

    def __contains__(self, item: tuple[Any, ...]) -> bool:
        h, mask, bits = hash(item), self.mask, self.bits
        first, second = h & mask, (h >> 32) & mask
        return bool(bits[first >> 3] & (1 << (first & 7)) and bits[second >> 3] & (1 << (second & 7)))


class Session:
    """The projection tables seen and written through memory, inside one transaction."""

    def __init__(self, db: Db, *, empty: bool = False) -> None:
        """``empty``: the projection tables hold nothing yet (a rebuild's twins, a first
        import), so nothing needs looking up until the cache is first evicted."""
        self.db = db
        # Every thing, index value and ref absent from the cache was never written, unless
        # ``_forgotten`` (maybe) holds it: a session that began on empty tables.
        self._complete = empty
        self._forgotten: Forgotten | None = None  # made at the first eviction
        self._rows: dict[str, dict[str, list[Row]]] = {t.name: {} for t in TABLES}
        # The same versions less the superseded ones: what ``current`` searches.
        self._live: dict[str, dict[str, list[Row]]] = {t.name: {} for t in TABLES}
        # (table, column) -> value -> the keys of the things with that value: every thing
        # that had it with a live version valid after the value's ``_by_after`` (None: every
        # thing that ever had it). A question about an earlier time loads the value again.
        self._by: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self._by_after: dict[tuple[str, str], dict[Any, int | None]] = {}
        self._newest: dict[str, int | None] = {}  # ref -> newest effective_us (loaded refs)
        # table -> (column, fields) -> value of column -> value of any field -> keys: the
        # things with ``column = value`` that name a value in one of ``fields``.
        self._named: dict[str, dict[tuple[str, tuple[str, ...]], dict[Any, dict[Any, set[str]]]]] = {}
        self._new: dict[str, list[Row]] = {t.name: [] for t in TABLES}
        self._new_ids: set[int] = set()
        self._ended: dict[str, list[tuple[int, str, int, int]]] = {t.name: [] for t in TABLES}
        # Stored versions both written and ended by one position: deleted at the next flush.
        self._dropped: dict[str, list[tuple[str, int, int]]] = {t.name: [] for t in TABLES}
        # The position of the late recording whose customer's later events are judged
        # again (``ledger/_late.py``): an id is then in use only with a live version.
        self.replaying: int | None = None
        self._refs: list[tuple[str, int, int]] = []
        self._pending_newest: dict[str, int] = {}
        self._cached = 0
        # What the last batch asked about: kept when the cache is evicted (a busy
        # customer's things are asked about again and again).
        self._used: dict[str, set[str]] = {t.name: set() for t in TABLES}
        self._used_customers: set[str] = set()
        self.written: set[str] = set()  # short names of the tables written (see ``_fold.apply``)
        if empty:
            for table in TABLES:
                for column in table.indexed:
                    self._by[(table.name, column)] = {}
                    self._by_after[(table.name, column)] = {}

    # --- loading ----------------------------------------------------------------------------

    def versions(self, table: Table, key: str) -> list[Row]:
        """Every version of one thing ever written, oldest belief first."""
        found = self._rows[table.name].get(key)
        if found is None:
            self._load(table, [key])
            found = self._rows[table.name][key]
        return found

    def _load(self, table: Table, keys: Iterable[str]) -> None:
        cache = self._rows[table.name]
        wanted = sorted({k for k in keys if k not in cache})
        if self._complete:
            never = [k for k in wanted if not self._forgot(table.name, k)]
            live = self._live[table.name]
            for key in never:
                cache[key], live[key] = [], []
            self._cached += len(never)
            if len(never) == len(wanted):
                return
            wanted = [k for k in wanted if k not in cache]
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            self.db.execute(
                f"SELECT * FROM {table.sql_name} WHERE {table.key} IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            self._take(table, self.db.fetchall(), chunk)

    def _take(self, table: Table, rows: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> None:
        """Cache loaded rows; ``keys`` that have none are cached as never written."""
        cache, live = self._rows[table.name], self._live[table.name]
        loaded: dict[str, list[Row]] = {}
        for row in rows:
            loaded.setdefault(row[table.key], []).append(dict(row))
        for key in keys:
            if key not in cache:
                versions = sorted(loaded.get(key, []), key=lambda r: (r["created_pos"], r["valid_from"]))
                cache[key] = versions
                live[key] = [r for r in versions if r["superseded_pos"] is None]
                self._cached += len(versions) + 1

    def _keys_by(self, table: Table, column: str, value: Any, at: int) -> set[str]:
        """The keys of the things of ``table`` with ``column = value`` (at least all those
        with a version valid at effective time ``at`` or later)."""
        index = self._by.setdefault((table.name, column), {})
        after = self._by_after.setdefault((table.name, column), {}).get(value)
        if value not in index or (after is not None and after > at):
            self._load_by(table, column, [value], at)
        return index[value]

    def _load_by(self, table: Table, column: str, values: Iterable[Any], after: int | None) -> None:
        """Index the things with ``column`` equal to one of ``values`` that have a live
        version valid after effective time ``after`` (every one ever: None), and cache
        every version of each."""
        index = self._by.setdefault((table.name, column), {})
        index_after = self._by_after.setdefault((table.name, column), {})

        def known(value: Any) -> bool:
            if value not in index:
                return False
            have = index_after.get(value)
            return have is None or (after is not None and have <= after)

        wanted = sorted({v for v in values if not known(v)})
        if self._complete:
            for value in [v for v in wanted if not self._forgot(table.name, column, v)]:
                index[value], index_after[value] = set(), None
            wanted = [v for v in wanted if not known(v)]
        if not wanted:
            return
        self.flush()  # the database must hold every version before it is searched
        since = "" if after is None else " AND superseded_pos IS NULL AND (valid_to IS NULL OR valid_to > ?)"
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            self.db.execute(
                f"SELECT * FROM {table.sql_name} WHERE {table.key} IN "
                f"(SELECT {table.key} FROM {table.sql_name} WHERE {column} IN ({marks}){since})",
                [*chunk, after] if after is not None else chunk,
            )
            rows = self.db.fetchall()
            keys = {row[table.key] for row in rows}
            self._take(table, rows, keys)
            for value in chunk:
                index[value], index_after[value] = set(), after
                for by_value in self._named.get(table.name, {}).values():
                    by_value.pop(value, None)  # named through the old entry: built again
            for key in keys:
                for row in self._rows[table.name][key]:
                    if row[column] in index:
                        index[row[column]].add(key)

    def _matching_keys(self, table: Table, where: Mapping[str, Any], at: int) -> list[str]:
        if table.key in where:
            return [where[table.key]]
        for column in table.indexed:
            if column in where:
                return sorted(self._keys_by(table, column, where[column], at))
        # Any other condition: search the database (flushed first), then judge in memory.
        self.flush()
        cond = " AND ".join(f"{k} = ?" for k in where)
        self.db.execute(
            f"SELECT DISTINCT {table.key} FROM {table.sql_name} WHERE {cond}", list(where.values())
        )
        keys = sorted(row[table.key] for row in self.db.fetchall())
        self._load(table, keys)
        return keys

    def newest(self, ref: str) -> int | None:
        """The newest effective time among the events concerning ``ref``."""
        if ref not in self._newest:
            self._load_newest([ref])
        return self._newest[ref]

    def _load_newest(self, refs: Iterable[str]) -> None:
        wanted = sorted({r for r in refs if r not in self._newest})
        if self._complete:
            for ref in wanted:
                if not self._forgot(ref):
                    self._newest[ref] = None
            wanted = [r for r in wanted if r not in self._newest]
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            self.db.execute(
                "SELECT ref, MAX(effective_us) AS newest FROM prj_event_refs "
                f"WHERE ref IN ({', '.join('?' * len(chunk))}) GROUP BY ref",
                chunk,
            )
            found = {row["ref"]: int(row["newest"]) for row in self.db.fetchall()}
            for ref in chunk:
                values = [v for v in (found.get(ref), self._pending_newest.get(ref)) if v is not None]
                self._newest[ref] = max(values) if values else None

    def prefetch(
        self,
        keys: Mapping[Table, Collection[str]],
        *,
        relationships_of: Collection[str] = (),
        since: int | None = None,
        newest_of: Collection[str] = (),
    ) -> None:
        """Load, in a few ``IN (...)`` queries, what a batch will look up: every version of
        the things of each table in ``keys``, the relationships of the customers in
        ``relationships_of`` still in force at effective time ``since`` or later, and the
        newest effective times of the refs in ``newest_of``. What a batch asked about is
        kept when the cache is next evicted."""
        for table, wanted in keys.items():
            self._load(table, wanted)
            self._used[table.name].update(wanted)
        if since is not None:
            self._load_by(RELATIONSHIPS, "customer_id", relationships_of, since)
        self._load_newest(newest_of)
        self._used_customers |= {*keys.get(CUSTOMERS, ()), *relationships_of}

    # --- the temporal operations ------------------------------------------------------------

    def current(
        self,
        table: Table,
        where: Mapping[str, Any],
        at: int,
    ) -> list[Row]:
        """The versions matching ``where`` valid at effective time ``at``, as known now.

        The rows are the session's own: read them, never change them."""
        out: list[Row] = []
        conditions = tuple(where.items())
        live = self._live[table.name]
        for key in self._matching_keys(table, where, at):
            rows = live.get(key)
            if rows is None:
                self.versions(table, key)
                rows = live[key]
            for row in rows:
                if row["valid_from"] <= at and (row["valid_to"] is None or row["valid_to"] > at):
                    for column, value in conditions:
                        if row[column] != value:
                            break
                    else:
                        out.append(row)
        return out

    def current_naming(
        self, table: Table, column: str, value: Any, fields: tuple[str, ...], names: Iterable[Any], at: int
    ) -> list[Row]:
        """``current(table, {column: value}, at)`` narrowed to the versions whose ``fields``
        hold one of ``names``, found through an index (a customer's relationships with
        given partners, without reading all of the customer's relationships)."""
        keys_with_value = self._keys_by(table, column, value, at)
        by_value = self._named.setdefault(table.name, {}).setdefault((column, fields), {})
        named = by_value.get(value)
        if named is None:
            named = {}
            for key in keys_with_value:
                for row in self.versions(table, key):
                    for field in fields:
                        named.setdefault(row[field], set()).add(key)
            by_value[value] = named
        wanted = set(names)
        keys: set[str] = set()
        for name in wanted:
            keys |= named.get(name, set())
        live = self._live[table.name]
        out: list[Row] = []
        for key in sorted(keys):
            for row in live[key]:
                if (
                    row["valid_from"] <= at
                    and (row["valid_to"] is None or row["valid_to"] > at)
                    and row[column] == value
                    and any(row[field] in wanted for field in fields)
                ):
                    out.append(row)
        return out

    def insert(
        self, table: Table, values: Mapping[str, Any], valid_from: int, valid_to: int | None, pos: int
    ) -> None:
        """Write one version, believed from ``pos``."""
        row: Row = {c: values.get(c) for c in table.columns}
        row["valid_from"], row["valid_to"], row["created_pos"], row["superseded_pos"] = (
            valid_from,
            valid_to,
            pos,
            None,
        )
        key = row[table.key]
        self.versions(table, key).append(row)
        self._live[table.name][key].append(row)
        for column in table.indexed:
            index = self._by.get((table.name, column))
            if index is not None:
                if row[column] in index:
                    index[row[column]].add(key)
                elif self._complete and not self._forgot(table.name, column, row[column]):
                    index[row[column]] = {key}
                    self._by_after[(table.name, column)][row[column]] = None
        for (column, fields), by_value in self._named.get(table.name, {}).items():
            named = by_value.get(row[column])
            if named is not None:
                for field in fields:
                    named.setdefault(row[field], set()).add(key)
        self._new[table.name].append(row)
        self._new_ids.add(id(row))
        self._cached += 1
        self.written.add(table.name)

    def change(
        self,
        table: Table,
        where: Mapping[str, Any],
        at: int,
        pos: int,
        updates: Mapping[str, Any] | None,
    ) -> list[Row]:
        """From effective time ``at`` on, the matching versions end (``updates`` None) or
        take ``updates``; the event at ``pos`` supersedes what was believed before.

        Returns the versions that were valid at ``at``."""
        rows = self.current(table, where, at)
        for row in rows:
            self._end(table, row, pos)
            data = {c: row[c] for c in table.columns}
            if at > row["valid_from"]:
                self.insert(table, data, row["valid_from"], at, pos)
            if updates is not None:
                self.insert(table, {**data, **updates}, at, row["valid_to"], pos)
        return rows

    def _end(self, table: Table, row: Row, pos: int) -> None:
        """The event at ``pos`` supersedes one live version. A version written by that same
        position (a late recording's refold) was never believed: it is dropped."""
        key = row[table.key]
        live = self._live[table.name][key]
        del live[next(i for i, r in enumerate(live) if r is row)]
        self.written.add(table.name)
        if row["created_pos"] == pos:
            versions = self._rows[table.name][key]
            del versions[next(i for i, r in enumerate(versions) if r is row)]
            self._cached -= 1
            if id(row) in self._new_ids:
                new = self._new[table.name]
                del new[next(i for i, r in enumerate(new) if r is row)]
                self._new_ids.discard(id(row))
            else:
                self._dropped[table.name].append((key, row["created_pos"], row["valid_from"]))
            return
        row["superseded_pos"] = pos
        if id(row) not in self._new_ids:  # a stored row: updated at the next flush
            self._ended[table.name].append((pos, key, row["created_pos"], row["valid_from"]))

    def rewind(self, customer_id: str, at: int, pos: int) -> None:
        """Undo, as believed from ``pos`` on, what the customer's events effective after
        ``at`` did to its things (every table with a ``customer_id``): a live version that
        begins after ``at`` ends; a live version valid at ``at`` that was cut short of its
        natural end (``Table.ends_with``) is written again, whole. Versions no later event
        made or cut are left alone, so the cost follows the later events."""
        for table in TABLES:
            if "customer_id" not in table.columns:
                continue
            live = self._live[table.name]
            for key in self._matching_keys(table, {"customer_id": customer_id}, at):
                self.versions(table, key)
                for row in list(live[key]):
                    if row["customer_id"] != customer_id:
                        continue
                    end = row[table.ends_with] if table.ends_with is not None else None
                    if row["valid_from"] > at:
                        self._end(table, row, pos)
                    elif row["valid_to"] is not None and row["valid_to"] > at and row["valid_to"] != end:
                        self._end(table, row, pos)
                        self.insert(table, {c: row[c] for c in table.columns}, row["valid_from"], end, pos)

    def later_positions(self, ref: str, at: int, before: int) -> list[int]:
        """The positions before ``before`` of the events concerning ``ref`` effective after
        ``at``, in effective-time order (ties by position)."""
        self.flush()  # the database must hold every event's refs before it is searched
        self.db.execute(
            f"SELECT position FROM {EVENT_REFS} WHERE ref = ? AND effective_us > ? AND position < ? "
            "ORDER BY effective_us, position",
            [ref, at, before],
        )
        return [int(row["position"]) for row in self.db.fetchall()]

    def add_ref(self, ref: str, position: int, effective_us: int) -> None:
        """Note that the event at ``position`` concerns ``ref``."""
        self._refs.append((ref, position, effective_us))
        newest = self._pending_newest.get(ref)
        if newest is None or effective_us > newest:
            self._pending_newest[ref] = effective_us
        if ref in self._newest or (self._complete and not self._forgot(ref)):
            known = self._newest.get(ref)
            if known is None or effective_us > known:
                self._newest[ref] = effective_us

    # --- writing ------------------------------------------------------------------------------

    def flush(self, *, evict: bool = False) -> None:
        """Write what the fold did since the last flush. With ``evict``, also forget the
        cache once it is large (the database holds all of it now)."""
        for table in TABLES:
            dropped = self._dropped[table.name]
            if dropped:  # first: a version written again by the same position has its key
                self.db.executemany(
                    f"DELETE FROM {table.sql_name} WHERE {table.key} = ? AND created_pos = ? "
                    "AND valid_from = ?",
                    dropped,
                )
                self._dropped[table.name] = []
            new = self._new[table.name]
            if new:
                names = table.all_columns
                self.db.insert_rows(table.sql_name, names, [[row[c] for c in names] for row in new])
                self._new[table.name] = []
            ended = self._ended[table.name]
            if ended:
                self.db.executemany(
                    f"UPDATE {table.sql_name} SET superseded_pos = ? WHERE {table.key} = ? "
                    "AND created_pos = ? AND valid_from = ? AND superseded_pos IS NULL",
                    ended,
                )
                self._ended[table.name] = []
        if self._refs:
            self.db.insert_rows(EVENT_REFS, EVENT_REFS_COLUMNS, self._refs)
            self._refs = []
        self._new_ids.clear()
        self._pending_newest.clear()
        if evict:
            if self._cached > EVICT_AFTER:
                self._evict()
            self._used = {t.name: set() for t in TABLES}
            self._used_customers = set()

    def _evict(self) -> None:
        """Forget every cached thing the last batch did not ask about (all of them if that
        alone is too many). The database holds everything now."""
        used = self._used
        for customer in self._used_customers:  # the relationships of the customers asked about
            used["relationships"] |= self._by.get(("relationships", "customer_id"), {}).get(customer, set())
        kept = sum(len(self._rows[t][k]) + 1 for t, keys in used.items() for k in keys if k in self._rows[t])
        if kept > EVICT_AFTER // 2:
            used = {t.name: set() for t in TABLES}
        if self._complete and self._forgotten is None:
            self._forgotten = Forgotten(FORGOTTEN_BITS)
        forgotten = self._forgotten if self._complete else None
        for table in TABLES:
            keep = used[table.name]
            if forgotten is not None:  # a thing never written (no version) stays known as such
                for key, versions in self._rows[table.name].items():
                    if versions and key not in keep:
                        forgotten.add((table.name, key))
            for cache in (self._rows[table.name], self._live[table.name]):
                for key in [k for k in cache if k not in keep]:
                    del cache[key]
        # An index entry is kept only whole: every thing it names is still cached.
        for (name, column), index in self._by.items():
            cached, after = self._rows[name], self._by_after[(name, column)]
            for value in [v for v, keys in index.items() if not all(k in cached for k in keys)]:
                if forgotten is not None and index[value]:
                    forgotten.add((name, column, value))
                del index[value], after[value]
        for name, indexes in self._named.items():
            cached = self._rows[name]
            for by_value in indexes.values():
                for value in [
                    v
                    for v, named in by_value.items()
                    if not all(k in cached for ks in named.values() for k in ks)
                ]:
                    del by_value[value]
        customers = {f"customer:{c}" for c in self._used_customers}
        for ref in [r for r in self._newest if r not in customers]:
            if forgotten is not None and self._newest[ref] is not None:
                forgotten.add((ref,))
            del self._newest[ref]
        self._cached = sum(len(rows) + 1 for cache in self._rows.values() for rows in cache.values())

    def _forgot(self, *item: Any) -> bool:
        """Whether an eviction may have forgotten this thing (table, key), index value
        (table, column, value) or ref (ref,): then the database is asked."""
        return self._forgotten is not None and item in self._forgotten


def as_session(source: Db | Session) -> Session:
    """A session over ``source`` (itself when it is one)."""
    return source if isinstance(source, Session) else Session(source)


# The temporal operations as functions, for folds written against them.


def current(session: Session, table: Table, where: Mapping[str, Any], at: int) -> list[Row]:
    return session.current(table, where, at)


def insert(
    session: Session, table: Table, values: Mapping[str, Any], valid_from: int, valid_to: int | None, pos: int
) -> None:
    session.insert(table, values, valid_from, valid_to, pos)


def change(
    session: Session,
    table: Table,
    where: Mapping[str, Any],
    at: int,
    pos: int,
    updates: Mapping[str, Any] | None,
) -> list[Row]:
    return session.change(table, where, at, pos, updates)


__all__ = ["EVICT_AFTER", "Session", "as_session", "change", "current", "insert"]
