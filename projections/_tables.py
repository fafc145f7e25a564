"""The projection tables and the temporal shape they all share.

Every projection row is a version of one thing, valid over an effective-time interval
``[valid_from, valid_to)`` (``valid_to`` NULL: open) and believed from the event at
``created_pos`` until the event at ``superseded_pos`` (NULL: still believed). Rows are never
changed except to set ``superseded_pos`` once; a change at time ``t`` supersedes the
version valid at ``t`` and writes its two halves. So the state as of effective time T,
as known after position P, is an index lookup:

    created_pos <= P AND (superseded_pos IS NULL OR superseded_pos > P)
    AND valid_from <= T AND (valid_to IS NULL OR valid_to > T)

The operations on them (``current``, ``insert``, ``change``) are ``_session.Session``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Db(Protocol):
    """A cursor inside one transaction; SQL uses ``?`` placeholders on every backend.
    What differs between backends is the cursor's (the ledger's ``_sql.Db`` subclasses)."""

    real_schema: str  # the schema of the real tables, as SQL names it beside their twins

    @property
    def dialect(self) -> str: ...  # "sqlite" or "postgresql"

    def execute(self, sql: str, params: Sequence[object] = ()) -> None: ...

    def fetchone(self) -> Mapping[str, Any] | None: ...

    def fetchall(self) -> list[Mapping[str, Any]]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None: ...

    def create_temp_table(self, ddl: str) -> None: ...

    def create_temp_index(self, ddl: str, name: str) -> None: ...

    def drop_temp_tables(self, names: Iterable[str]) -> None: ...


_TEMPORAL = "valid_from BIGINT NOT NULL, valid_to BIGINT, created_pos BIGINT NOT NULL, superseded_pos BIGINT"
TEMPORAL_COLUMNS = ("valid_from", "valid_to", "created_pos", "superseded_pos")


@dataclass(frozen=True)
class Table:
    """One temporal projection table: its short name, key column and data columns.

    ``ends_with``: the column holding a version's natural end (its ``valid_to`` when no event
    cut it short: a GDAP request's lapse, a delegation's ``expires_at``); None: a version's
    natural end is open. The fold writes such a row with that ``valid_to``; a late recording
    (``Session.rewind``) gives a version cut by a later event its natural end back."""

    name: str
    key: str
    columns: tuple[str, ...]
    indexed: tuple[str, ...] = ()
    ends_with: str | None = None

    @property
    def sql_name(self) -> str:
        return f"prj_{self.name}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        return (self.key, "created_pos", "valid_from")

    @property
    def all_columns(self) -> tuple[str, ...]:
        """Every column, in the order of the table's definition."""
        return (*self.columns, *TEMPORAL_COLUMNS)

    def ddl(self) -> list[str]:
        cols = ", ".join(f"{c} {'BIGINT' if c in _BIGINT else 'TEXT'}" for c in self.columns)
        t = self.sql_name
        out = [
            f"CREATE TABLE IF NOT EXISTS {t} ({cols}, {_TEMPORAL}, "
            f"PRIMARY KEY ({', '.join(self.primary_key)}))",
            f"CREATE INDEX IF NOT EXISTS {t}_current ON {t} ({self.key}, superseded_pos, valid_from)",
        ]
        for col in self.indexed:
            out.append(f"CREATE INDEX IF NOT EXISTS {t}_{col} ON {t} ({col}, valid_from)")
        return out


_BIGINT = {"term_end", "since", "accepted_at", "granted_at", "expires_at", "requested_at", "lapses_at"}

PARTNERS = Table("partners", "partner_id", ("partner_id", "name", "cloud", "program", "provider_ids"))
CUSTOMERS = Table("customers", "customer_id", ("customer_id", "name", "cloud"))
SUBSCRIPTIONS = Table(
    "subscriptions",
    "subscription_id",
    (
        "subscription_id",
        "customer_id",
        "offer",
        "service",
        "channel",
        "seller_id",
        "reseller_id",
        "term_end",
        "migrated_from",
        "status",
        "partner_of_record",
        "billing_partner",
        "since",
    ),
    indexed=("customer_id", "partner_of_record"),
)
REQUESTS = Table(
    "requests",
    "request_id",
    ("request_id", "partner_id", "customer_id", "reseller_id", "status"),
    indexed=("customer_id",),
)
RELATIONSHIPS = Table(
    "relationships",
    "request_id",
    ("request_id", "partner_id", "customer_id", "reseller_id", "accepted_at"),
    indexed=("customer_id",),
)
DELEGATIONS = Table(
    "delegations",
    "delegation_id",
    ("delegation_id", "customer_id", "partner_id", "kind", "roles", "granted_at", "expires_at"),
    indexed=("customer_id",),
    ends_with="expires_at",
)
# GDAP requests (``delegation.requested``) while pending: a row from the request until its
# grant (approval) or, at the latest, its lapse 90 days after it was made.
GDAP_REQUESTS = Table(
    "gdap_requests",
    "delegation_id",
    (
        "delegation_id",
        "customer_id",
        "partner_id",
        "roles",
        "duration",
        "auto_extend",
        "name",
        "requested_at",
        "lapses_at",
    ),
    indexed=("customer_id",),
    ends_with="lapses_at",
)
# The fields of an event's data that name a partner.
PARTNER_FIELDS = (
    "partner_id",
    "seller_id",
    "reseller_id",
    "from_partner_id",
    "to_partner_id",
    "to_reseller_id",
)

TABLES: tuple[Table, ...] = (
    PARTNERS,
    CUSTOMERS,
    SUBSCRIPTIONS,
    REQUESTS,
    RELATIONSHIPS,
    DELEGATIONS,
    GDAP_REQUESTS,
)

# Which events concern which customer, subscription or partner (history filters, and each
# customer's newest effective time). Nearly half of all projection rows, so one B-tree: its
# key serves every query of it (a ref's events by effective time for ``Session.newest`` and
# ``later_positions``, by position for the timeline, a ref's prefix for the lists), and on
# SQLite the table is that key alone (WITHOUT ROWID). A position has one effective time, so
# the key is unique exactly where (ref, position) is. A store made before (a rowid table
# keyed by (ref, position), and an index on (ref, effective_us)) answers the same queries
# with the same rows, and a rebuild gives it this form.
EVENT_REFS = "prj_event_refs"
EVENT_REFS_COLUMNS = ("ref", "position", "effective_us")
EVENT_REFS_KEY = ("ref", "effective_us", "position")


def event_refs_ddl(dialect: str) -> list[str]:
    """The event refs table's DDL on ``dialect`` ("sqlite": without a rowid)."""
    rowid = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [
        f"CREATE TABLE IF NOT EXISTS {EVENT_REFS} ("
        "ref TEXT NOT NULL, position BIGINT NOT NULL, effective_us BIGINT NOT NULL, "
        f"PRIMARY KEY ({', '.join(EVENT_REFS_KEY)})){rowid}"
    ]


def schema_statements(dialect: str) -> list[str]:
    """Every statement that creates the projection tables on ``dialect`` (idempotent)."""
    out: list[str] = []
    for table in TABLES:
        out += table.ddl()
    return out + event_refs_ddl(dialect)
