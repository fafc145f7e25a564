"""The questions auditors ask, answered from the temporal tables by index lookups.

Every query takes ``as_of`` (effective time, microseconds) and ``known`` (the newest position
the answer may rest on: what the ledger had recorded by the ``--known-at`` time) and returns
the contract's JSON shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ._tables import CUSTOMERS, DELEGATIONS, RELATIONSHIPS, SUBSCRIPTIONS, Db, Table
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


def _por(row: Mapping[str, Any], as_of: int) -> dict[str, Any]:
    return {
        "subscription_id": row["subscription_id"],
        "customer_id": row["customer_id"],
        "channel": row["channel"],
        "service": row["service"],
        "status": row["status"],
        "partner_of_record": row["partner_of_record"],
        "billing_partner": row["billing_partner"],
        "since": _time(row["since"]),
        "as_of": format_us(as_of),
        "offer": row["offer"],
        "seller_id": row["seller_id"],
        "term_end": _time(row["term_end"]),
        "migrated_from": row["migrated_from"],
    }


def _delegation(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "delegation_id": row["delegation_id"],
        "partner_id": row["partner_id"],
        "kind": row["kind"],
        "roles": orjson.loads(row["roles"]),
        "granted_at": _time(row["granted_at"]),
        "expires_at": _time(row["expires_at"]),
    }


def partner_of_record(db: Db, subscription_id: str, as_of: int, known: int) -> dict[str, Any] | None:
    """``ledger por``: None where the subscription did not exist then (or is unknown)."""
    rows = versions(db, SUBSCRIPTIONS, {"subscription_id": subscription_id}, as_of, known, "valid_from")
    return _por(rows[0], as_of) if rows else None


def customer_state(db: Db, customer_id: str, as_of: int, known: int) -> dict[str, Any] | None:
    rows = versions(db, CUSTOMERS, {"customer_id": customer_id}, as_of, known, "valid_from")
    return rows[0] if rows else None


def delegations(db: Db, customer_id: str, as_of: int, known: int) -> list[dict[str, Any]]:
    """The customer's active delegations, sorted by ``granted_at`` then ``delegation_id``."""
    rows = versions(db, DELEGATIONS, {"customer_id": customer_id}, as_of, known, "granted_at, delegation_id")
    return [_delegation(r) for r in rows]


def customer(db: Db, customer_id: str, as_of: int, known: int) -> dict[str, Any] | None:
    """``ledger customer``: None where the customer was not registered then."""
    found = customer_state(db, customer_id, as_of, known)
    if found is None:
        return None
    subscriptions = versions(
        db, SUBSCRIPTIONS, {"customer_id": customer_id}, as_of, known, "since, subscription_id"
    )
    relationships = versions(
        db, RELATIONSHIPS, {"customer_id": customer_id}, as_of, known, "accepted_at, request_id"
    )
    return {
        "customer_id": found["customer_id"],
        "name": found["name"],
        "cloud": found["cloud"],
        "as_of": format_us(as_of),
        "subscriptions": [_por(r, as_of) for r in subscriptions],
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
