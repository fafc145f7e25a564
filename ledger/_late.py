"""Late recordings: an event effective before events already recorded for its customer.

``judge_and_fold`` is how every path folds one event at its position: an append and a
verification (which judge it by the rulebook) and a rebuild (which does not) all call it,
so the rows they write are the same.

An event of customer C at effective time t, recorded at position P, is *late* when an
event of C recorded before it is effective after t (``Session.newest``; ties are ordered
by position, so an event as old as C's newest is not late). Then, all believed from P:

1. the event is judged by the rulebook against the world as it stands (what is valid at t
   does not depend on C's later events);
2. C's things are rewound from t (``Session.rewind``): what C's later events made or cut
   is undone;
3. the event is folded, then C's later events (effective after t, recorded before P) are
   judged again, each against the world with the events before it in place, and folded
   again, in effective-time order (ties by position), all at position P: ``--known-at``
   before P still answers the history as it was known then;
4. a later event the rulebook now refuses refuses the late one, as ``time-order``, naming
   the later event (position, event id) and the rule it would break; the caller's
   transaction rolls back everything.

Partner events belong to no customer and are never late. The chain is not touched: it
orders events by recording. The cost is that of C's later events, not of the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import projections

from . import _rules
from ._errors import RuleViolation
from ._events import Event
from ._facts import customer_of
from ._parse import parse_event
from ._sql import Db
from ._stored import decoded_at


def judge_and_fold(
    session: projections.Session,
    view: projections.StateView,
    events_table: str,
    payload: Mapping[str, Any],
    position: int,
    event: Event | None = None,
) -> None:
    """Fold the stored event ``payload`` at ``position``; a late one as the module says.
    With ``event`` (the same, parsed: an append's or a verification's), judge it by the
    rulebook first, and a late one's later events again. Raises ``RuleViolation`` when the
    rulebook refuses it or, as ``time-order``, one of its customer's later events."""
    if event is not None:
        _rules.check(event, view)
    cid = customer_of(payload["type"], payload["data"], view)
    at = projections.canonical_to_us(payload["effective_at"])
    newest = session.newest(f"customer:{cid}") if cid is not None else None
    if cid is None or newest is None or newest <= at:
        touched = projections.apply(session, payload, position)
        if event is not None:
            _rules.check_effects(event, touched)
        return
    later = session.later_positions(f"customer:{cid}", at, position)
    session.rewind(cid, at, position)
    touched = projections.apply(session, payload, position)
    if event is not None:
        _rules.check_effects(event, touched)
    for later_position, stored in _stored_events(session.db, events_table, later):
        again = parse_event(stored) if event is not None else None
        try:
            if again is not None:
                _judge_again(session, view, again, position)
            touched = projections.apply(session, stored, position, refold=True)
            if again is not None:
                _rules.check_effects(again, touched)
        except RuleViolation as broken:  # its message begins with the rule and its edition
            raise RuleViolation(
                "time-order",
                f"effective_at {payload['effective_at']} is before later events of customer {cid}, "
                f"and the event at position {later_position} ({stored['event_id']}, {stored['type']}) "
                f"would then break {broken.message}",
                edition=_rules.LATE_RECORDINGS,
            ) from None


def _judge_again(
    session: projections.Session, view: projections.StateView, event: Event, position: int
) -> None:
    """Judge one of the customer's later events again, for the late event at ``position``:
    its own ids are in use only where a live version has them (``StateView._owner``)."""
    session.replaying = position
    try:
        _rules.check(event, view)
    finally:
        session.replaying = None


def _stored_events(db: Any, events_table: str, positions: list[int]) -> list[tuple[int, dict[str, Any]]]:
    """The stored events at ``positions``, in that order (the events the append is
    storing included: they are in the events table already)."""
    ledger_db: Db = db  # the session's cursor is the ledger's
    found = decoded_at(ledger_db, events_table, positions)
    return [(p, found[p]) for p in positions]
