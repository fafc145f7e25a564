"""The built-in demo: the seeds' scenarios as one realistic history, with rejected attempts.

Multi-channel (EA, Microsoft direct, 21Vianet and CSP side by side), multi-partner (DAP and
GDAP delegations to several partners), the indirect model (a provider inviting on behalf of
its reseller), an Azure migration from EA into CSP, an Azure switch between CSP partners, a
licence cancelled at term end and bought anew through another partner, and attempts the
rulebook refuses. Event ids are fixed, so loading the demo twice stores it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from ._errors import RuleViolation
from ._events import Event, parse_event
from ._store import Ledger, Receipt

_NAMESPACE = uuid.UUID("0c8f3f9e-3b8e-4d55-a0a5-3f4a2d0b7e11")

CUSTOMERS = ("contoso", "fourthcoffee")


@dataclass(frozen=True)
class Step:
    """One event of the story; ``expect`` is the rule id that refuses it, if any."""

    event: Event
    story: str
    expect: str | None = None


@dataclass(frozen=True)
class Outcome:
    step: Step
    receipt: Receipt | None
    rejected_by: str | None
    message: str | None


def _e(n: int, type_: str, at: str, role: str, tenant: str, note: str | None = None, **data: Any) -> Event:
    raw: dict[str, Any] = {
        "event_id": str(uuid.uuid5(_NAMESPACE, f"demo/{n}")),
        "type": type_,
        "effective_at": at,
        "actor": {"id": f"ops@{tenant}.example", "role": role, "tenant_id": tenant},
        "data": data,
    }
    if note:
        raw["note"] = note
    return parse_event(raw)


GA, SALES, CGA = "global-admin", "sales-agent", "customer-global-admin"


def _steps() -> Iterator[Step]:
    n = iter(range(1, 1000))

    def s(
        story: str, type_: str, at: str, role: str, tenant: str, expect: str | None = None, **data: Any
    ) -> Step:
        return Step(_e(next(n), type_, at, role, tenant, **data), story, expect)

    def partner(pid: str, name: str, program: str, cloud: str = "commercial", **extra: Any) -> Step:
        return s(
            f"{name} joins as {program} ({cloud})",
            "partner.registered",
            "2018-06-01T00:00:00Z",
            GA,
            pid,
            partner_id=pid,
            name=name,
            cloud=cloud,
            program=program,
            **extra,
        )

    yield partner("fabrikam", "Fabrikam", "csp-direct")
    yield partner("northwind", "Northwind Traders", "csp-direct")
    yield partner("adatum", "Adatum Distribution", "csp-indirect-provider")
    yield partner("litware", "Litware", "csp-indirect-reseller", provider_ids=["adatum"])
    yield partner("bluesky", "Blue Sky 21V", "csp-direct", cloud="china")
    yield s(
        "Contoso signs up (commercial cloud)",
        "customer.registered",
        "2019-01-10T00:00:00Z",
        GA,
        "contoso",
        customer_id="contoso",
        name="Contoso Ltd",
        cloud="commercial",
    )
    yield s(
        "Contoso runs Azure under its Enterprise Agreement",
        "subscription.purchased",
        "2019-01-15T00:00:00Z",
        GA,
        "contoso",
        subscription_id="azure-ea-1",
        customer_id="contoso",
        offer="Azure (EA)",
        service="usage",
        channel="ea",
    )
    yield s(
        "…and bought Power BI directly from Microsoft",
        "subscription.purchased",
        "2019-01-20T00:00:00Z",
        GA,
        "contoso",
        subscription_id="pbi-1",
        customer_id="contoso",
        offer="Power BI Pro",
        service="license",
        channel="microsoft",
        term_end="2020-01-20T00:00:00Z",
    )
    yield s(
        "Litware, an indirect reseller, tries to invite Contoso itself",
        "relationship.requested",
        "2019-01-25T00:00:00Z",
        SALES,
        "litware",
        expect="indirect-reseller-cannot-invite",
        request_id="req-lit-0",
        partner_id="litware",
        customer_id="contoso",
    )
    yield s(
        "Fabrikam invites Contoso into a reseller relationship",
        "relationship.requested",
        "2019-02-01T09:00:00Z",
        SALES,
        "fabrikam",
        request_id="req-fab-1",
        partner_id="fabrikam",
        customer_id="contoso",
    )
    yield s(
        "Contoso's Global admin accepts",
        "relationship.accepted",
        "2019-02-01T15:30:00Z",
        CGA,
        "contoso",
        request_id="req-fab-1",
    )
    yield s(
        "Fabrikam sells Contoso Office 365 E3 for one year",
        "subscription.purchased",
        "2019-03-01T09:00:00Z",
        SALES,
        "fabrikam",
        subscription_id="o365-1",
        customer_id="contoso",
        offer="Office 365 E3",
        service="license",
        channel="csp",
        seller_id="fabrikam",
        term_end="2020-03-01T00:00:00Z",
    )
    yield s(
        "Contoso grants Fabrikam delegated admin rights (DAP)",
        "delegation.granted",
        "2019-03-02T00:00:00Z",
        CGA,
        "contoso",
        delegation_id="dap-fab-1",
        customer_id="contoso",
        partner_id="fabrikam",
        kind="dap",
        roles=["admin-agent", "helpdesk-agent"],
    )
    yield s(
        "Fabrikam tries to switch the EA Azure subscription into CSP",
        "subscription.switched",
        "2019-03-15T00:00:00Z",
        SALES,
        "fabrikam",
        expect="azure-from-other-channel-migrates",
        subscription_id="azure-ea-1",
        from_partner_id="fabrikam",
        to_partner_id="fabrikam",
    )
    yield s(
        "Fabrikam migrates it instead: a new CSP Azure subscription…",
        "subscription.purchased",
        "2019-04-01T00:00:00Z",
        SALES,
        "fabrikam",
        subscription_id="azure-csp-1",
        customer_id="contoso",
        offer="Azure plan",
        service="usage",
        channel="csp",
        seller_id="fabrikam",
        migrated_from="azure-ea-1",
    )
    yield s(
        "…and the EA subscription is cancelled",
        "subscription.cancelled",
        "2019-04-15T00:00:00Z",
        GA,
        "contoso",
        subscription_id="azure-ea-1",
    )
    yield s(
        "Adatum invites Contoso on behalf of its reseller Litware",
        "relationship.requested",
        "2019-06-01T00:00:00Z",
        SALES,
        "adatum",
        request_id="req-adt-1",
        partner_id="adatum",
        customer_id="contoso",
        reseller_id="litware",
    )
    yield s(
        "Contoso accepts Adatum's invitation",
        "relationship.accepted",
        "2019-06-03T00:00:00Z",
        CGA,
        "contoso",
        request_id="req-adt-1",
    )
    yield s(
        "Contoso grants Litware GDAP for three years",
        "delegation.granted",
        "2019-06-04T00:00:00Z",
        CGA,
        "contoso",
        expect="gdap-duration",
        delegation_id="gdap-lit-0",
        customer_id="contoso",
        partner_id="litware",
        kind="gdap",
        roles=["Helpdesk Administrator"],
        expires_at="2022-06-04T00:00:00Z",
    )
    yield s(
        "Contoso grants Litware GDAP for two years",
        "delegation.granted",
        "2019-06-04T00:00:00Z",
        CGA,
        "contoso",
        delegation_id="gdap-lit-1",
        customer_id="contoso",
        partner_id="litware",
        kind="gdap",
        roles=["Helpdesk Administrator"],
        expires_at="2021-06-03T00:00:00Z",
    )
    yield s(
        "Northwind invites Contoso (multi-partner: Azure specialists)",
        "relationship.requested",
        "2020-01-10T00:00:00Z",
        SALES,
        "northwind",
        request_id="req-nw-1",
        partner_id="northwind",
        customer_id="contoso",
    )
    yield s(
        "Contoso accepts Northwind's invitation",
        "relationship.accepted",
        "2020-01-11T00:00:00Z",
        CGA,
        "contoso",
        request_id="req-nw-1",
    )
    yield s(
        "Northwind tries to take over the Office 365 licence",
        "subscription.switched",
        "2020-01-20T00:00:00Z",
        SALES,
        "northwind",
        expect="license-switch-needs-term-end",
        subscription_id="o365-1",
        from_partner_id="fabrikam",
        to_partner_id="northwind",
    )
    yield s(
        "Contoso switches its CSP Azure subscription to Northwind",
        "subscription.switched",
        "2020-02-01T00:00:00Z",
        SALES,
        "northwind",
        subscription_id="azure-csp-1",
        from_partner_id="fabrikam",
        to_partner_id="northwind",
    )
    yield s(
        "At term end the Office 365 licence is cancelled…",
        "subscription.cancelled",
        "2020-03-01T00:00:00Z",
        SALES,
        "fabrikam",
        subscription_id="o365-1",
    )
    yield s(
        "…and bought anew through Adatum, with Litware as reseller of record",
        "subscription.purchased",
        "2020-03-01T00:00:00Z",
        SALES,
        "adatum",
        subscription_id="o365-2",
        customer_id="contoso",
        offer="Office 365 E3",
        service="license",
        channel="csp",
        seller_id="adatum",
        reseller_id="litware",
        term_end="2021-03-01T00:00:00Z",
    )
    yield s(
        "Northwind tries to sell to Fabrikam, itself a CSP partner",
        "customer.registered",
        "2020-05-01T00:00:00Z",
        GA,
        "fabrikam",
        customer_id="fabrikam",
        name="Fabrikam",
        cloud="commercial",
    )
    yield s(
        "…the sale is refused",
        "subscription.purchased",
        "2020-05-02T00:00:00Z",
        SALES,
        "northwind",
        expect="csp-cannot-resell-to-csp",
        subscription_id="o365-fab",
        customer_id="fabrikam",
        offer="Office 365 E3",
        service="license",
        channel="csp",
        seller_id="northwind",
        term_end="2021-05-02T00:00:00Z",
    )
    yield s(
        "Fourth Coffee signs up in the China cloud (operated by 21Vianet)",
        "customer.registered",
        "2020-06-01T00:00:00Z",
        GA,
        "fourthcoffee",
        customer_id="fourthcoffee",
        name="Fourth Coffee",
        cloud="china",
    )
    yield s(
        "Fourth Coffee buys Office 365 from 21Vianet",
        "subscription.purchased",
        "2020-06-02T00:00:00Z",
        GA,
        "fourthcoffee",
        subscription_id="o365-cn-1",
        customer_id="fourthcoffee",
        offer="Office 365 (21Vianet)",
        service="license",
        channel="21vianet",
        term_end="2021-06-02T00:00:00Z",
    )
    yield s(
        "Fabrikam (commercial cloud) tries to invite Fourth Coffee",
        "relationship.requested",
        "2020-06-10T00:00:00Z",
        SALES,
        "fabrikam",
        expect="same-cloud",
        request_id="req-fab-cn",
        partner_id="fabrikam",
        customer_id="fourthcoffee",
    )
    yield s(
        "Blue Sky (China cloud) invites Fourth Coffee",
        "relationship.requested",
        "2020-06-11T00:00:00Z",
        SALES,
        "bluesky",
        request_id="req-bs-1",
        partner_id="bluesky",
        customer_id="fourthcoffee",
    )
    yield s(
        "Fourth Coffee accepts",
        "relationship.accepted",
        "2020-06-12T00:00:00Z",
        CGA,
        "fourthcoffee",
        request_id="req-bs-1",
    )
    yield s(
        "Contoso revokes Fabrikam's DAP",
        "delegation.revoked",
        "2023-06-01T00:00:00Z",
        CGA,
        "contoso",
        delegation_id="dap-fab-1",
    )
    yield s(
        "Contoso tries to grant Northwind DAP after its retirement",
        "delegation.granted",
        "2024-01-15T00:00:00Z",
        CGA,
        "contoso",
        expect="dap-retired",
        delegation_id="dap-nw-1",
        customer_id="contoso",
        partner_id="northwind",
        kind="dap",
        roles=["admin-agent"],
    )
    yield s(
        "Contoso grants Northwind GDAP instead",
        "delegation.granted",
        "2024-01-15T00:00:00Z",
        CGA,
        "contoso",
        delegation_id="gdap-nw-1",
        customer_id="contoso",
        partner_id="northwind",
        kind="gdap",
        roles=["Global Reader", "Helpdesk Administrator"],
        expires_at="2026-01-14T00:00:00Z",
    )
    yield s(
        "GDAP ends at its expiry, so Contoso grants Northwind a new one",
        "delegation.granted",
        "2026-01-10T00:00:00Z",
        CGA,
        "contoso",
        delegation_id="gdap-nw-2",
        customer_id="contoso",
        partner_id="northwind",
        kind="gdap",
        roles=["Global Reader", "Helpdesk Administrator"],
        expires_at="2028-01-09T00:00:00Z",
    )


@cache
def steps() -> tuple[Step, ...]:
    """The demo's steps (built on first use, not at import: every command imports this)."""
    return tuple(_steps())


def stored_foreign_events(ledger: Ledger) -> int:
    """How many stored events are not the demo's (the demo wants a fresh ledger)."""
    ids = {step.event.event_id for step in steps()}
    return sum(1 for event in ledger.stored() if event["event_id"] not in ids)


def already_loaded(ledger: Ledger) -> bool:
    """Whether every event of the demo is stored already (loading it again would only
    re-judge the refused attempts against a later state)."""
    stored = {event["event_id"] for event in ledger.stored()}
    return stored >= {step.event.event_id for step in steps() if step.expect is None}


def load(ledger: Ledger) -> list[Outcome]:
    """Record the demo history step by step; rejected attempts are part of the story."""
    outcomes = []
    for step in steps():
        try:
            receipt = ledger.record(step.event)
        except RuleViolation as violation:
            outcomes.append(Outcome(step, None, violation.rule, violation.message))
        else:
            outcomes.append(Outcome(step, receipt, None, None))
    return outcomes
