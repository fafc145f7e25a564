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

from collections.abc import Callable, Iterator, Sequence
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
