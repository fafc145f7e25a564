"""The auditor's questions on a ``Ledger``: each resolves ``--known-at`` to a position and
asks the projections (index lookups, never a replay). Times are microseconds since the
epoch; ``None`` means now."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import projections

from ._errors import NotFound
from ._time import now, to_us

if TYPE_CHECKING:
    from ._store import Ledger


def _now_or(moment: int | None) -> int:
    return to_us(now()) if moment is None else moment


def por(
    ledger: Ledger, subscription_id: str, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """Partner of record of one subscription."""
    known, at = ledger.known_position(known_at), _now_or(as_of)
    with ledger.read() as db:
        answer = projections.partner_of_record(db, subscription_id, at, known)
    if answer is None:
        raise NotFound(f"subscription {subscription_id} is not on record as of {_show(at)}{_known(known_at)}")
    return answer


def delegations(
    ledger: Ledger, customer_id: str, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """The customer's active delegations."""
    known, at = ledger.known_position(known_at), _now_or(as_of)
    with ledger.read() as db:
        if projections.customer(db, customer_id, at, known) is None:
            raise NotFound(f"customer {customer_id} is not on record as of {_show(at)}{_known(known_at)}")
        found = projections.delegations(db, customer_id, at, known)
    return {"customer_id": customer_id, "as_of": _show(at), "delegations": found}


def customer(
    ledger: Ledger, customer_id: str, as_of: int | None = None, known_at: int | None = None
) -> dict[str, Any]:
    """One customer: subscriptions with their partner of record, relationships, delegations."""
    known, at = ledger.known_position(known_at), _now_or(as_of)
    with ledger.read() as db:
        answer = projections.customer(db, customer_id, at, known)
    if answer is None:
        raise NotFound(f"customer {customer_id} is not on record as of {_show(at)}{_known(known_at)}")
    return answer


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
    known = ledger.known_position(known_at)
    if as_of is not None:
        until = as_of if until is None else min(until, as_of)
    with ledger.read() as db:
        for ref in refs:
            db.execute("SELECT 1 AS hit FROM prj_event_refs WHERE ref = ? LIMIT 1", [ref])
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
