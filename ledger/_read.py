"""The auditor's questions on a ``Ledger``: each resolves ``--known-at`` to a position and
asks the projections (index lookups, never a replay). Times are microseconds since the
epoch; ``None`` means now.

A question of several statements asks them in one read transaction (``Ledger.read``).
``por`` asks its one statement with no transaction around it (``single_statements``: on SQLite on
the ledger's read connection, see ``_sqlite``; on PostgreSQL on an autocommit connection):
a statement is its own snapshot, and a ``--known-at`` position resolved by the statement
before stays valid, since what was believed after a recorded position never changes.

``por``, ``delegations`` and ``customer`` also take the URL of a store instead of a
``Ledger`` (the ``ledger`` command's way): they ask it through a ``ReadStore`` (see
``_backend.read_store``), which loads neither the store's write side nor eventsourcing, and
through a ``Ledger`` only where that cannot serve (a store not created yet, a driver's error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import projections
from projections import EVENT_REFS, EVERY_POSITION, por_answer, por_statement, to_us

from ._backend import read_store
from ._errors import NotFound
from ._sql import CHAIN, ReadStore
from ._time import now

if TYPE_CHECKING:
    from ._store import Ledger

T = TypeVar("T")


# "known now": every position


def _now_or(moment: int | None) -> int:
    return to_us(now()) if moment is None else moment


KNOWN_SQL = f"SELECT MAX(position) AS p FROM {CHAIN} WHERE recorded_us <= ?"


def known_position(db: projections.Db, known_at: int | None) -> int:
    """The newest position recorded by ``known_at`` (us); every position when None."""
    if known_at is None:
        return EVERY_POSITION
    db.execute(KNOWN_SQL, [known_at])
    row = db.fetchone()
    return int(row["p"]) if row and row["p"] is not None else 0


def _ask_store(store: Ledger | str | None, question: Callable[[Ledger | ReadStore], T]) -> T:
    """``question`` asked of ``store``: a ``Ledger``, or a store's URL (None: ``LEDGER_DB``
    or the default), asked through a ``ReadStore`` where one serves it, else through a
    ``Ledger``, which creates a store not there yet or reports the store's error as ever."""
    if store is not None and not isinstance(store, str):
        return question(store)
    quick = read_store(store)
    if quick is not None:
        try:
            with quick:
                return question(quick)
        except quick.errors:
            pass  # the store is not as a ReadStore expects: a Ledger answers instead
    from ._store import Ledger

    with Ledger(store) as ledger:
        return question(ledger)


def _answer_or_not_found(
    ledger: Ledger | ReadStore,
    what: str,
    as_of: int | None,
    known_at: int | None,
    ask: Callable[[projections.Db, int, int], T | None],
) -> T:
    """Ask the projections in one read transaction; ``NotFound`` naming ``what`` if None."""
    at = _now_or(as_of)
    with ledger.read() as db:
        answer = ask(db, at, known_position(db, known_at))
    if answer is None:
        raise NotFound(f"{what} is not on record as of {_show(at)}{_known(known_at)}")
    return answer


def por(
    ledger: Ledger | str | None,
    subscription_id: str,
    as_of: int | None = None,
    known_at: int | None = None,
) -> dict[str, Any]:
    """Partner of record of one subscription (``ledger``: a ``Ledger`` or a URL, see ``_ask_store``)."""
    return _ask_store(ledger, lambda store: _por(store, subscription_id, as_of, known_at))


def _por(
    ledger: Ledger | ReadStore, subscription_id: str, as_of: int | None, known_at: int | None
) -> dict[str, Any]:
    """Its two statements each on its own, their rows taken as they come (the store's
    quickest question: no mapping of each row by column name)."""
    at = to_us(now()) if as_of is None else as_of
    with ledger.single_statements() as db:
        if known_at is None:
            known = EVERY_POSITION
        else:
            found = db.row(KNOWN_SQL, (known_at,))
            known = 0 if found is None or found[0] is None else int(found[0])
        row = db.row(*por_statement(subscription_id, at, known))
    if row is None:
        raise NotFound(f"subscription {subscription_id} is not on record as of {_show(at)}{_known(known_at)}")
    return por_answer(row, at)


def delegations(
    ledger: Ledger | str | None, customer_id: str, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """The customer's active delegations (``ledger``: a ``Ledger`` or a URL, see ``_ask_store``)."""

    def ask(db: projections.Db, at: int, known: int) -> dict[str, Any] | None:
        if projections.customer_state(db, customer_id, at, known) is None:
            return None
        found = projections.delegations(db, customer_id, at, known)
        return {"customer_id": customer_id, "as_of": _show(at), "delegations": found}

    what = f"customer {customer_id}"
    return _ask_store(ledger, lambda store: _answer_or_not_found(store, what, as_of, known_at, ask))


def customer(
    ledger: Ledger | str | None, customer_id: str, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """One customer: subscriptions with their partner of record, relationships, delegations
    (``ledger``: a ``Ledger`` or a URL, see ``_ask_store``)."""

    def ask(db: projections.Db, at: int, known: int) -> dict[str, Any] | None:
        return projections.customer(db, customer_id, at, known)

    what = f"customer {customer_id}"
    return _ask_store(ledger, lambda store: _answer_or_not_found(store, what, as_of, known_at, ask))


def timeline(
    ledger: Ledger, customer_id: str, as_of: int | None = None, known_at: int | None = None
) -> projections.Timeline:
    """The customer's relationship history as intervals (the auditor report's timeline): the
    partner of record of each subscription, reseller relationships and delegations over time."""
    return _answer_or_not_found(
        ledger,
        f"customer {customer_id}",
        as_of,
        known_at,
        lambda db, at, known: projections.timeline(db, customer_id, at, known),
    )


def history(
    ledger: Ledger,
    *,
    customer: str | None = None,
    subscription: str | None = None,
    partner: str | None = None,
    since: int | None = None,
    until: int | None = None,
    as_of: int | None = None,
    known_at: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Stored events in position order, filtered; ``as_of`` keeps those effective by then."""
    refs = [
        f"{kind}:{value}"
        for kind, value in (("customer", customer), ("subscription", subscription), ("partner", partner))
        if value is not None
    ]
    if as_of is not None:
        until = as_of if until is None else min(until, as_of)
    with ledger.read() as db:
        known = known_position(db, known_at)
        for ref in refs:
            db.execute(f"SELECT 1 AS hit FROM {EVENT_REFS} WHERE ref = ? LIMIT 1", [ref])
            if db.fetchone() is None:
                kind, _, value = ref.partition(":")
                raise NotFound(f"no event names {kind} {value}")
        positions: Sequence[int] = projections.history_positions(
            db, refs=refs, since=since, until=until, known=known
        )
    return ledger.events_at(positions)


def _show(us: int) -> str:
    return projections.format_us(us)


def _known(known_at: int | None) -> str:
    return "" if known_at is None else f", as known at {_show(known_at)}"


def similar_ids(ledger: Ledger | str | None, thing: str, wanted: str, count: int = 3) -> list[str]:
    """The ids of ``thing`` (customer, subscription, partner) that events name and that are
    spelled most like ``wanted``: for an unknown id's "did you mean" (none when events name
    ``wanted`` itself: it is known, only not at the time asked; ``ledger``: a ``Ledger`` or a
    URL, see ``_ask_store``)."""
    from difflib import get_close_matches

    prefix = f"{thing}:"

    def ask(store: Ledger | ReadStore) -> list[str]:
        with store.read() as db:
            db.execute(
                f"SELECT DISTINCT ref FROM {EVENT_REFS} WHERE ref >= ? AND ref < ?",
                [prefix, prefix[:-1] + chr(ord(":") + 1)],
            )
            return [str(row["ref"])[len(prefix) :] for row in db.fetchall()]

    known = _ask_store(ledger, ask)
    return [] if wanted in known else get_close_matches(wanted, known, n=count)


# --- listing and looking up (``ledger customers``, ``partners``, ``subscriptions``, ``show``) ---


def customers(
    ledger: Ledger | str | None, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """Every customer registered by ``as_of``, by id, with its counts of live subscriptions
    and active delegations (``ledger``: a ``Ledger`` or a URL, see ``_ask_store``)."""

    def ask(store: Ledger | ReadStore) -> dict[str, Any]:
        at = _now_or(as_of)
        with store.read() as db:
            found = projections.customers(db, at, known_position(db, known_at))
        return {"customers": found, "as_of": _show(at)}

    return _ask_store(ledger, ask)


def partners(
    ledger: Ledger | str | None, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """Every partner registered by ``as_of``, by id, with its program as of then."""

    def ask(store: Ledger | ReadStore) -> dict[str, Any]:
        at = _now_or(as_of)
        with store.read() as db:
            found = projections.partners(db, at, known_position(db, known_at))
        return {"partners": found, "as_of": _show(at)}

    return _ask_store(ledger, ask)


def subscriptions(
    ledger: Ledger | str | None,
    customer_id: str | None = None,
    as_of: int | None = None,
    known_at: int | None = None,
) -> dict[str, Any]:
    """Every subscription bought by ``as_of`` (of ``customer_id``, or of every customer), by
    id, each as ``por`` answers; ``NotFound`` for a customer not on record then."""

    def ask(db: projections.Db, at: int, known: int) -> dict[str, Any] | None:
        if customer_id is not None and projections.customer_state(db, customer_id, at, known) is None:
            return None
        found = projections.subscriptions(db, at, known, customer_id)
        return {"subscriptions": found, "customer_id": customer_id, "as_of": _show(at)}

    what = f"customer {customer_id}"
    return _ask_store(ledger, lambda store: _answer_or_not_found(store, what, as_of, known_at, ask))


def event(ledger: Ledger, ref: str, as_of: int | None = None, known_at: int | None = None) -> dict[str, Any]:
    """One stored event, as ``export`` writes it, named by its position (``ref`` all ASCII
    digits: an event id is a UUID, never all digits) or its event id (any case). As
    ``history`` would list it: ``NotFound`` where it was not effective by ``as_of`` or not
    recorded by ``known_at``; an unknown event id's error names the stored ids spelled like it."""
    from ._sql import CHAIN
    from ._stored import head

    asked = ref.strip()
    named = f"the event at position {asked}" if asked.isdigit() and asked.isascii() else f"event {asked}"
    with ledger.read() as db:
        if asked.isdigit() and asked.isascii():
            position, last = int(asked), head(db)
            if not 1 <= position <= last:
                held = f"the ledger holds positions 1 to {last}" if last else "the ledger is empty"
                raise NotFound(f"no event at position {asked}: {held}")
        else:
            asked = asked.lower()  # event ids are stored in lower case
            db.execute(f"SELECT position FROM {CHAIN} WHERE event_id = ?", [asked])
            row = db.fetchone()
            if row is None:
                near = _nearby_event_ids(db, asked)
                hint = f"; did you mean {' or '.join(near)}?" if near else ""
                raise NotFound(f"no event {asked} is stored{hint}")
            position = int(row["position"])
        known = known_position(db, known_at)
    (found,) = ledger.events_at([position])
    if position > known or (as_of is not None and projections.canonical_to_us(found["effective_at"]) > as_of):
        when = "" if as_of is None else f" as of {_show(as_of)}"
        raise NotFound(
            f"{named} is not on record{when}{_known(known_at)}: it is effective at "
            f"{found['effective_at']}, recorded at {found['recorded_at']}"
        )
    return found


_LIKE = 0.6  # as ``difflib.get_close_matches`` judges spellings alike (``similar_ids``)


def _nearby_event_ids(db: projections.Db, wanted: str, count: int = 3) -> list[str]:
    """Stored event ids spelled like ``wanted``: those beside it in the id index (so sharing
    the longest beginning with it: a mistyped or cut-short id), the closest first. Two index
    lookups, whatever the size of the log."""
    from difflib import SequenceMatcher

    from ._sql import CHAIN

    ids: list[str] = []
    for compare, order in ((">=", "ASC"), ("<", "DESC")):
        db.execute(
            f"SELECT event_id FROM {CHAIN} WHERE event_id {compare} ? ORDER BY event_id {order} LIMIT ?",
            [wanted, count],
        )
        ids += [str(r["event_id"]) for r in db.fetchall()]

    def likeness(candidate: str) -> float:
        return SequenceMatcher(None, wanted, candidate).ratio()

    near = [i for i in ids if i.startswith(wanted) or likeness(i) >= _LIKE]
    return sorted(near, key=likeness, reverse=True)[:count]


def told(ledger: Ledger, stored: Mapping[str, Any]) -> str:
    """A stored event's sentence (``narration``), naming partners, the customer and what the
    event names by id as the projections had them when it was recorded."""
    from ._narration import sentence

    with ledger.read() as db:
        names = projections.EventNames(db, stored, projections.canonical_to_us(stored["effective_at"]))
        return sentence(stored, names)
