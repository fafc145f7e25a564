"""graph-gdap: Microsoft Graph ``delegatedAdminRelationship`` snapshots as GDAP events.

Source: Microsoft Graph v1.0 ``GET /tenantRelationships/delegatedAdminRelationships``; the
resource page "delegatedAdminRelationship resource type" (learn.microsoft.com/graph/api/
resources/delegatedadminrelationship: ``id``, ``displayName``, ``duration`` ``P1D``..``P2Y``,
``customer`` {``tenantId``, ``displayName``}, ``accessDetails.unifiedRoles``
[{``roleDefinitionId``}], ``status`` ``created | approvalPending | approved | activating |
active | expiring | expired | terminationRequested | terminating | terminated``,
``autoExtendDuration`` ``PT0S | P0D | P180D``, ``createdDateTime``, ``activatedDateTime``,
``endDateTime`` = activation + duration, ``lastModifiedDateTime``) and
"resellerDelegatedAdminRelationship resource type" (adds ``indirectProviderTenantId``). The
PowerShell ``Get-MgTenantRelationshipDelegatedAdminRelationship`` writes the same in PascalCase,
durations as .NET TimeSpans (``{"Days": 730, ...}``), read here too.

A snapshot shows the present: the ledger's transitions are rebuilt from it (domain.md, GDAP
lifecycle): ``delegation.requested`` at ``createdDateTime``; ``delegation.granted`` at
``activatedDateTime`` with ``expires_at`` = activation + duration; one ``delegation.extended``
per 180 days that ``endDateTime`` lies past activation + duration (inferred, effective at each
old end); ``delegation.revoked`` of a terminated one at ``lastModifiedDateTime`` (inferred:
the snapshot keeps no termination time). Expiry needs no event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from .._events import Duration, parse_duration
from ._common import (
    GDAP_CUSTOMER_ROLE,
    MICROSOFT,
    Outcome,
    Unreadable,
    actor,
    customer_registered,
    days,
    each_record,
    norm_id,
    parse_when,
    partner_actor,
    proposal,
    rfc3339,
    text,
    when,
)
from ._model import Context, Proposal, Record, Skip

REQUESTED = frozenset({"created", "approvalPending", "approved", "activating"})
GRANTED = frozenset({"active", "expiring", "expired", "terminationRequested", "terminating"})
TERMINATED = "terminated"
EXTENSION = days(180)


def duration_text(value: Any, field: str) -> str | None:
    """An ISO 8601 duration from Graph's JSON (``P730D``) or a PowerShell TimeSpan
    (``{"days": 730, ...}``); None for a zero one (``PT0S``, ``P0D``: no auto-extension)."""
    if isinstance(value, Mapping):
        n = value.get("days", value.get("totalDays"))
        if isinstance(n, int | float) and not isinstance(n, bool):
            return f"P{int(n)}D" if int(n) > 0 else None
        raise Unreadable(f"{field} is not a duration")
    if not isinstance(value, str):
        return None
    parsed = parse_duration(value.strip().upper())
    if parsed is None:
        raise Unreadable(f"{field} {value[:40]!r} is not an ISO 8601 duration")
    if parsed == Duration(0, 0, 0):
        return None
    return value.strip().upper()


def roles_of(rel: Mapping[str, Any]) -> list[str]:
    """The Entra role definition ids the relationship grants, as Graph lists them."""
    unified = rel.get("accessDetails", {})
    unified = unified.get("unifiedRoles") if isinstance(unified, Mapping) else None
    roles = [text(r, "roleDefinitionId") for r in unified or () if isinstance(r, Mapping)]
    found = [r for r in roles if r]
    if not found:
        raise Unreadable("accessDetails.unifiedRoles lists no roleDefinitionId")
    return list(dict.fromkeys(found))


def customer_admin(tenant: str) -> dict[str, str]:
    """The customer's side of a GDAP: its Delegated admin relationship admin (defaulted)."""
    return actor(f"customer admin of {tenant}", GDAP_CUSTOMER_ROLE, tenant)


CUSTOMER_ROLE_NOTE = f"actor role {GDAP_CUSTOMER_ROLE} of the customer tenant (defaulted)"
PARTNER_ROLE_NOTE = "actor role admin-agent (defaulted)"


class Gdap:
    """One GDAP relationship as a source shows it (a Graph record, or the relationship JSON
    an audit record carries), and the events it implies, identical from either source."""

    def __init__(self, record: Record, context: Context, rel: Mapping[str, Any]) -> None:
        self.record, self.context, self.rel = record, context, rel
        rid = text(rel, "id")
        if rid is None:
            raise Unreadable("the relationship has no id")
        self.id = rid
        tenant = text(rel, "customer", "tenantId")
        self.customer = norm_id(tenant) if tenant else None
        self.customer_name = text(rel, "customer", "displayName")

    def customer_or_skip(self) -> str:
        if self.customer is None:
            raise Unreadable("customer.tenantId is absent (a request not yet approved names no customer)")
        return self.customer

    def register(self, why: str) -> Proposal:
        return customer_registered(
            self.record, self.context, self.customer_or_skip(), self.customer_name, why
        )

    def requested(self) -> Proposal:
        inferred: list[str] = [PARTNER_ROLE_NOTE]
        duration = duration_text(self.rel.get("duration"), "duration")
        if duration is None:
            raise Unreadable("duration is missing or zero")
        data: dict[str, Any] = {
            "delegation_id": self.id,
            "customer_id": self.customer_or_skip(),
            "partner_id": self.context.partner_id,
            "roles": roles_of(self.rel),
            "duration": duration,
        }
        if duration_text(self.rel.get("autoExtendDuration"), "autoExtendDuration") is not None:
            data["auto_extend"] = "P180D"
        name = text(self.rel, "displayName")
        if name:
            data["name"] = name[:1024]
        effective = when(self.rel, "createdDateTime", inferred)
        return proposal(
            self.record,
            "delegation.requested",
            (self.id,),
            effective,
            partner_actor(self.record, self.context),
            data,
            inferred,
        )

    def expiry(self, activated: datetime) -> datetime:
        parsed = parse_duration(duration_text(self.rel.get("duration"), "duration") or "")
        if parsed is None:
            raise Unreadable("duration is missing or zero")
        return parsed.after(activated)

    def granted(self, activated_at: str | None = None, extra: tuple[str, ...] = ()) -> Proposal:
        inferred: list[str] = [CUSTOMER_ROLE_NOTE, *extra]
        effective = activated_at or when(self.rel, "activatedDateTime", inferred)
        activated, _ = parse_when(effective, "activatedDateTime")
        customer = self.customer_or_skip()
        return proposal(
            self.record,
            "delegation.granted",
            (self.id,),
            effective,
            customer_admin(customer),
            {
                "delegation_id": self.id,
                "customer_id": customer,
                "partner_id": self.context.partner_id,
                "kind": "gdap",
                "roles": roles_of(self.rel),
                "expires_at": rfc3339(self.expiry(activated)),
            },
            inferred,
        )

    def extensions(self, before: datetime | None = None) -> Iterator[Outcome]:
        """One ``delegation.extended`` per 180 days that ``endDateTime`` lies past activation
        + duration (inferred; Microsoft's, effective at each old end); none at or after
        ``before`` (a termination)."""
        if self.rel.get("endDateTime") is None or self.rel.get("activatedDateTime") is None:
            return
        activated, _ = parse_when(self.rel.get("activatedDateTime"), "activatedDateTime")
        ended, _ = parse_when(self.rel.get("endDateTime"), "endDateTime")
        old_end = self.expiry(activated)
        count = round((ended - old_end) / EXTENSION)
        for _ in range(max(count, 0)):
            if before is not None and old_end >= before:
                return
            new_end = old_end + EXTENSION
            yield proposal(
                self.record,
                "delegation.extended",
                (self.id, rfc3339(new_end)),
                rfc3339(old_end),
                actor("Microsoft", MICROSOFT, MICROSOFT),
                {"delegation_id": self.id, "expires_at": rfc3339(new_end)},
                [
                    f"extension inferred from endDateTime {rfc3339(ended)} later than activation + duration",
                    "effective_at = the previous expires_at (inferred)",
                    "actor role microsoft (Microsoft extends)",
                ],
            )
            old_end = new_end

    def revoked(self, effective_at: str | None = None, extra: tuple[str, ...] = ()) -> Proposal:
        inferred: list[str] = [CUSTOMER_ROLE_NOTE, *extra]
        if effective_at is None:
            effective_at = when(self.rel, "lastModifiedDateTime", inferred)
            inferred.append("effective_at from lastModifiedDateTime (inferred: the termination time)")
        customer = self.customer_or_skip()
        return proposal(
            self.record,
            "delegation.revoked",
            (self.id,),
            effective_at,
            customer_admin(customer),
            {"delegation_id": self.id},
            inferred,
        )


def _map(record: Record, context: Context) -> Iterator[Outcome]:
    rel = record.data
    status = text(rel, "status") or ""
    if status not in REQUESTED | GRANTED | {TERMINATED}:
        yield Skip(
            record.source, record.source_id, f"status {status!r} is not a GDAP status the ledger knows"
        )
        return
    gdap = Gdap(record, context, rel)
    if gdap.customer is None and status in ("created", "approvalPending"):
        yield Skip(
            record.source,
            record.source_id,
            f"status {status}: customer.tenantId is absent (a request not yet approved names no customer)",
        )
        return
    yield gdap.register(f"customer named by relationship {gdap.id}")
    yield gdap.requested()
    if status in REQUESTED:
        return
    if status == TERMINATED and rel.get("activatedDateTime") is None:
        yield Skip(record.source, record.source_id, "terminated before activation: no grant to revoke")
        return
    yield gdap.granted()
    if status == TERMINATED:
        revoke = gdap.revoked()
        ended, _ = parse_when(revoke.event["effective_at"], "lastModifiedDateTime")
        yield from gdap.extensions(before=ended)
        yield revoke
    else:
        yield from gdap.extensions()


map_graph_gdap = each_record(_map)
