"""Small builders of valid events (contract JSON), so each test states only what matters."""

from __future__ import annotations

from typing import Any

from ledger import Event, parse_event

PARTNER_ROLE = "global-admin"
SALES_ROLE = "sales-agent"
CUSTOMER_ROLE = "customer-global-admin"


def raw(type_: str, at: str, role: str, tenant: str, note: str | None = None, **data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": type_,
        "effective_at": at,
        "actor": {"id": f"ops@{tenant}.example", "role": role, "tenant_id": tenant},
        "data": {k: v for k, v in data.items() if v is not None},
    }
    if note is not None:
        out["note"] = note
    return out


def ev(type_: str, at: str, role: str, tenant: str, **data: Any) -> Event:
    return parse_event(raw(type_, at, role, tenant, **data))


def partner(
    pid: str,
    program: str = "csp-direct",
    cloud: str = "commercial",
    at: str = "2019-01-01T00:00:00Z",
    providers: list[str] | None = None,
) -> Event:
    return ev(
        "partner.registered",
        at,
        PARTNER_ROLE,
        pid,
        partner_id=pid,
        name=pid.title(),
        cloud=cloud,
        program=program,
        provider_ids=providers,
    )


def program_changed(pid: str, program: str, at: str, providers: list[str] | None = None) -> Event:
    return ev(
        "partner.program-changed",
        at,
        PARTNER_ROLE,
        pid,
        partner_id=pid,
        program=program,
        provider_ids=providers,
    )


def customer(cid: str, cloud: str = "commercial", at: str = "2019-01-01T00:00:00Z") -> Event:
    return ev("customer.registered", at, PARTNER_ROLE, cid, customer_id=cid, name=cid.title(), cloud=cloud)


def purchase(
    sid: str,
    cid: str,
    at: str = "2019-03-01T09:00:00Z",
    *,
    service: str = "usage",
    channel: str = "csp",
    seller: str | None = "fabrikam",
    reseller: str | None = None,
    term_end: str | None = None,
    migrated_from: str | None = None,
    role: str = SALES_ROLE,
) -> Event:
    if service == "license" and term_end is None:
        term_end = "2020-03-01T00:00:00Z"
    return ev(
        "subscription.purchased",
        at,
        role,
        seller or cid,
        subscription_id=sid,
        customer_id=cid,
        offer="Azure plan" if service == "usage" else "Office 365 E3",
        service=service,
        channel=channel,
        seller_id=seller,
        reseller_id=reseller,
        term_end=term_end,
        migrated_from=migrated_from,
    )


def request(
    rid: str, pid: str, cid: str, at: str = "2019-02-01T00:00:00Z", reseller: str | None = None
) -> Event:
    return ev(
        "relationship.requested",
        at,
        SALES_ROLE,
        pid,
        request_id=rid,
        partner_id=pid,
        customer_id=cid,
        reseller_id=reseller,
    )


def accept(rid: str, cid: str, at: str = "2019-02-02T00:00:00Z") -> Event:
    return ev("relationship.accepted", at, CUSTOMER_ROLE, cid, request_id=rid)


def remove(pid: str, cid: str, at: str) -> Event:
    return ev("relationship.removed", at, SALES_ROLE, pid, partner_id=pid, customer_id=cid)


def grant(
    did: str,
    cid: str,
    pid: str,
    at: str = "2019-05-01T00:00:00Z",
    kind: str = "dap",
    expires: str | None = None,
    roles: list[str] | None = None,
) -> Event:
    return ev(
        "delegation.granted",
        at,
        CUSTOMER_ROLE,
        cid,
        delegation_id=did,
        customer_id=cid,
        partner_id=pid,
        kind=kind,
        roles=roles or ["admin-agent"],
        expires_at=expires,
    )


def revoke(did: str, cid: str, at: str) -> Event:
    return ev("delegation.revoked", at, CUSTOMER_ROLE, cid, delegation_id=did)


def switch(
    sid: str, frm: str, to: str, at: str, to_reseller: str | None = None, tenant: str | None = None
) -> Event:
    return ev(
        "subscription.switched",
        at,
        SALES_ROLE,
        tenant or to,
        subscription_id=sid,
        from_partner_id=frm,
        to_partner_id=to,
        to_reseller_id=to_reseller,
    )


def cancel(sid: str, at: str, tenant: str = "fabrikam") -> Event:
    return ev("subscription.cancelled", at, SALES_ROLE, tenant, subscription_id=sid)


def gdap_request(
    did: str,
    cid: str,
    pid: str,
    at: str = "2019-04-01T00:00:00Z",
    *,
    roles: list[str] | None = None,
    duration: str = "P730D",
    auto_extend: str | None = None,
    name: str | None = None,
    role: str = PARTNER_ROLE,
) -> Event:
    """``pid`` asks ``cid`` for a GDAP (its grant names the same ``did``)."""
    return ev(
        "delegation.requested",
        at,
        role,
        pid,
        delegation_id=did,
        customer_id=cid,
        partner_id=pid,
        roles=roles or ["admin-agent"],
        duration=duration,
        auto_extend=auto_extend,
        name=name,
    )


def extend(did: str, at: str, expires: str) -> Event:
    """Microsoft auto-extends ``did`` at its expiry ``at`` until ``expires``."""
    return ev("delegation.extended", at, "microsoft", "microsoft", delegation_id=did, expires_at=expires)
