"""The questions auditors ask, answered from the temporal tables by index lookups.

Every query takes ``as_of`` (effective time, microseconds) and ``known`` (the newest position
the answer may rest on: what the ledger had recorded by the ``--known-at`` time) and returns
the contract's JSON shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ._tables import CUSTOMERS, DELEGATIONS, GDAP_REQUESTS, RELATIONSHIPS, SUBSCRIPTIONS, Db, Table
from ._time import format_us

BITEMPORAL = (
    "created_pos <= ? AND (superseded_pos IS NULL OR superseded_pos > ?) "
    "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
)


def versions(
    db: Db, table: Table, where: Mapping[str, object], as_of: int, known: int, order: str
) -> list[dict[str, Any]]:
    """The versions matching ``where``, valid at ``as_of``, as believed after position ``known``."""
    cond = "".join(f"{k} = ? AND " for k in where)
    db.execute(
        f"SELECT * FROM {table.sql_name} WHERE {cond}{BITEMPORAL} ORDER BY {order}",
        [*where.values(), known, known, as_of, as_of],
    )
    rows = [dict(r) for r in db.fetchall()]
    # The same order on every store: SQL orders text by the database's collation (a PostgreSQL
    # database in en_US or ICU puts "s_1" before "S0"), SQLite by code point. Ties on the time
    # columns are broken by the ids, so sort here, by code point, as SQLite does.
    keys = [column.strip() for column in order.split(",")]
    rows.sort(key=lambda row: tuple(row[k] for k in keys))
    return rows


def _time(us: int | None) -> str | None:
    return None if us is None else format_us(us)


# ``ledger por``'s one statement: the columns its answer shows, in ``por_answer``'s order,
# then its cancellation time (``_CANCELLED_SQL``).
POR_COLUMNS = (
    "subscription_id",
    "customer_id",
    "channel",
    "service",
    "status",
    "partner_of_record",
    "billing_partner",
    "since",
    "offer",
    "seller_id",
    "term_end",
    "migrated_from",
)
# A cancelled subscription's cancellation time: where its first cancelled version begins, of
# the versions believed then (a cancellation is final: every later version is cancelled too).
# Read from the versions the fold writes, not kept in a column of its own, so a store
# written before it was asked answers it too, and a rebuild and ``verify`` agree by
# construction.
_CANCELLED_SQL = (
    f"SELECT MIN(c.valid_from) FROM {SUBSCRIPTIONS.sql_name} AS c "
    "WHERE c.subscription_id = s.subscription_id AND c.status = 'cancelled' AND c.valid_from <= ? "
    "AND c.created_pos <= ? AND (c.superseded_pos IS NULL OR c.superseded_pos > ?)"
)
# As known now: the live versions only, an index range of the table's ``_current`` index.
_CANCELLED_NOW_SQL = (
    f"SELECT MIN(c.valid_from) FROM {SUBSCRIPTIONS.sql_name} AS c "
    "WHERE c.subscription_id = s.subscription_id AND c.superseded_pos IS NULL AND c.valid_from <= ? "
    "AND c.status = 'cancelled'"
)


def _selected(cancelled_sql: str) -> str:
    """``POR_COLUMNS`` of the version ``s``, then ``cancelled_at``: asked only of a cancelled
    one, so an active subscription's answer costs nothing more."""
    columns = ", ".join(f"s.{c}" for c in POR_COLUMNS)
    return f"{columns}, CASE WHEN s.status = 'cancelled' THEN ({cancelled_sql}) END AS cancelled_at"


POR_SQL = (
    f"SELECT {_selected(_CANCELLED_SQL)} FROM {SUBSCRIPTIONS.sql_name} AS s "
    f"WHERE s.subscription_id = ? AND {BITEMPORAL} "
    "ORDER BY s.valid_from LIMIT 1"
)
# The same as known now (``known`` past every position): the versions no event superseded,
# which the table's ``_current`` index holds in effective order: no sort, the first one.
EVERY_POSITION = 2**62
POR_NOW_SQL = (
    f"SELECT {_selected(_CANCELLED_NOW_SQL)} FROM {SUBSCRIPTIONS.sql_name} AS s "
    "WHERE s.subscription_id = ? AND s.superseded_pos IS NULL AND s.valid_from <= ? "
    "AND (s.valid_to IS NULL OR s.valid_to > ?) ORDER BY s.valid_from LIMIT 1"
)


def por_statement(subscription_id: str, as_of: int, known: int) -> tuple[str, tuple[object, ...]]:
    """``ledger por``'s one statement (``POR_COLUMNS`` and ``cancelled_at``, no row: not on
    record) and its parameters."""
    if known >= EVERY_POSITION:
        return POR_NOW_SQL, (as_of, subscription_id, as_of, as_of)
    return POR_SQL, (as_of, known, known, subscription_id, known, known, as_of, as_of)


def por_answer(v: Sequence[Any], as_of: int) -> dict[str, Any]:
    """The contract's ``por`` answer from a row of ``POR_COLUMNS`` and ``cancelled_at``;
    ``term_ended``: a licence's term ended by ``as_of`` (null where it has no term)."""
    term_end = v[10]
    return {
        "subscription_id": v[0],
        "customer_id": v[1],
        "channel": v[2],
        "service": v[3],
        "status": v[4],
        "partner_of_record": v[5],
        "billing_partner": v[6],
        "since": None if v[7] is None else format_us(v[7]),
        "as_of": format_us(as_of),
        "offer": v[8],
        "seller_id": v[9],
        "term_end": None if term_end is None else format_us(term_end),
        "term_ended": None if term_end is None else term_end <= as_of,
        "migrated_from": v[11],
        "cancelled_at": None if v[12] is None else format_us(v[12]),
    }


def _por(row: Mapping[str, Any], as_of: int, cancelled_at: int | None) -> dict[str, Any]:
    return por_answer([*(row[c] for c in POR_COLUMNS), cancelled_at], as_of)


def cancellations(db: Db, where: Mapping[str, object], as_of: int, known: int) -> dict[str, int]:
    """When each cancelled subscription matching ``where`` (none: every one) was cancelled by
    ``as_of``, as ``_CANCELLED_SQL`` finds it, in one statement."""
    cond = "".join(f"{k} = ? AND " for k in where)
    db.execute(
        f"SELECT subscription_id, MIN(valid_from) AS cancelled_at FROM {SUBSCRIPTIONS.sql_name} "
        f"WHERE {cond}status = 'cancelled' AND valid_from <= ? "
        "AND created_pos <= ? AND (superseded_pos IS NULL OR superseded_pos > ?) GROUP BY subscription_id",
        [*where.values(), as_of, known, known],
    )
    return {r["subscription_id"]: int(r["cancelled_at"]) for r in db.fetchall()}


def _delegation(row: Mapping[str, Any], auto_extend: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        "delegation_id": row["delegation_id"],
        "partner_id": row["partner_id"],
        "kind": row["kind"],
        "roles": orjson.loads(row["roles"]),
        "granted_at": _time(row["granted_at"]),
        "expires_at": _time(row["expires_at"]),
        "auto_extend": auto_extend.get(row["delegation_id"]),
    }


def _auto_extensions(db: Db, delegation_ids: Sequence[str], known: int) -> dict[str, str | None]:
    """The ``auto_extend`` of each GDAP's request (as recorded by position ``known``)."""
    if not delegation_ids:
        return {}
    marks = ", ".join("?" * len(delegation_ids))
    db.execute(
        f"SELECT delegation_id, auto_extend FROM {GDAP_REQUESTS.sql_name} "
        f"WHERE delegation_id IN ({marks}) AND created_pos <= ?",
        [*delegation_ids, known],
    )
    return {r["delegation_id"]: r["auto_extend"] for r in db.fetchall()}


def gdap_requests(db: Db, customer_id: str, as_of: int, known: int) -> list[dict[str, Any]]:
    """The customer's pending GDAP requests (not approved, not lapsed), oldest first."""
    rows = versions(
        db, GDAP_REQUESTS, {"customer_id": customer_id}, as_of, known, "requested_at, delegation_id"
    )
    return [
        {
            "delegation_id": r["delegation_id"],
            "partner_id": r["partner_id"],
            "name": r["name"],
            "roles": orjson.loads(r["roles"]),
            "duration": r["duration"],
            "auto_extend": r["auto_extend"],
            "requested_at": _time(r["requested_at"]),
            "lapses_at": _time(r["lapses_at"]),
        }
        for r in rows
    ]


def partner_of_record(db: Db, subscription_id: str, as_of: int, known: int) -> dict[str, Any] | None:
    """``ledger por``: None where the subscription did not exist then (or is unknown)."""
    db.execute(*por_statement(subscription_id, as_of, known))
    row = db.fetchone()
    return None if row is None else por_answer([row[c] for c in (*POR_COLUMNS, "cancelled_at")], as_of)


def customer_state(db: Db, customer_id: str, as_of: int, known: int) -> dict[str, Any] | None:
    rows = versions(db, CUSTOMERS, {"customer_id": customer_id}, as_of, known, "valid_from")
    return rows[0] if rows else None


def delegations(db: Db, customer_id: str, as_of: int, known: int) -> list[dict[str, Any]]:
    """The customer's active delegations, sorted by ``granted_at`` then ``delegation_id``."""
    rows = versions(db, DELEGATIONS, {"customer_id": customer_id}, as_of, known, "granted_at, delegation_id")
    gdaps = [r["delegation_id"] for r in rows if r["kind"] == "gdap"]
    auto_extend = _auto_extensions(db, gdaps, known)
    return [_delegation(r, auto_extend) for r in rows]


def customer(db: Db, customer_id: str, as_of: int, known: int) -> dict[str, Any] | None:
    """``ledger customer``: None where the customer was not registered then."""
    found = customer_state(db, customer_id, as_of, known)
    if found is None:
        return None
    subscriptions = versions(
        db, SUBSCRIPTIONS, {"customer_id": customer_id}, as_of, known, "since, subscription_id"
    )
    cancelled_at = cancellations(db, {"customer_id": customer_id}, as_of, known)
    relationships = versions(
        db, RELATIONSHIPS, {"customer_id": customer_id}, as_of, known, "accepted_at, request_id"
    )
    return {
        "customer_id": found["customer_id"],
        "name": found["name"],
        "cloud": found["cloud"],
        "as_of": format_us(as_of),
        "subscriptions": [_por(r, as_of, cancelled_at.get(r["subscription_id"])) for r in subscriptions],
        "relationships": [
            {
                "partner_id": r["partner_id"],
                "request_id": r["request_id"],
                "reseller_id": r["reseller_id"],
                "accepted_at": _time(r["accepted_at"]),
            }
            for r in relationships
        ],
        "delegations": delegations(db, customer_id, as_of, known),
        "requests": gdap_requests(db, customer_id, as_of, known),
    }


def history_positions(
    db: Db,
    *,
    refs: Sequence[str],
    since: int | None,
    until: int | None,
    known: int,
) -> list[int]:
    """Positions of the events that concern every one of ``refs`` (``customer:ID``…), with an
    effective time in ``[since, until]``, recorded at or before position ``known``."""
    parts: list[str] = []
    params: list[object] = []
    filters: list[str | None] = list(refs) or [None]
    for ref in filters:
        cond = ["position <= ?"]
        params.append(known)
        if ref is not None:
            cond.append("ref = ?")
            params.append(ref)
        if since is not None:
            cond.append("effective_us >= ?")
            params.append(since)
        if until is not None:
            cond.append("effective_us <= ?")
            params.append(until)
        parts.append(f"SELECT DISTINCT position FROM prj_event_refs WHERE {' AND '.join(cond)}")
    db.execute(" INTERSECT ".join(parts) + " ORDER BY position", params)
    return [int(r["position"]) for r in db.fetchall()]
