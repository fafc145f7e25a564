"""A small, rule-abiding partner world over time, its own answers, and the JSON Microsoft would
return for it: the generated half of ``ledger ingest``'s round trip (issue 15 item 4).

The world is a plain Python model of one CSP partner's history as Partner Center and Microsoft
Graph know it: the ingesting partner (a direct-bill partner or an indirect provider with its
indirect resellers, each with an MPN id), one to four customers it added, their licence and
Azure subscriptions sold through CSP (by the partner itself or one of its resellers), some
cancelled, some transferred to or from another CSP partner, DAP granted before 2023-10-09 and
later removed by Microsoft, and GDAP relationships requested, approved, auto-extended by 180
days, terminated or expired. It answers, as of any time, who is partner of record of each
subscription, which delegations of each customer are active, and which subscriptions a
customer has: what ``ledger por``, ``delegations`` and ``customer`` must answer once the
rendered sources are ingested.

The world abides by the rulebook (spec/domain.md, ledger/_rules.py) by construction, so a
refusal while ingesting it is a bug in the ingest, never in the world; where it does not, that
is a bug here:

- a customer is added by the partner (``add_customer``: registered, with an accepted reseller
  relationship) before anything else of it happens;
- a DAP is granted after that relationship and before 2023-10-09 (``dap-retired``), and only
  Microsoft removes it (``dap_admin_relationship_terminated_by_microsoft``);
- a GDAP is approved within 90 days of its request, lasts its duration (days, P1D to P730D)
  from activation, is auto-extended (P180D) at each expiry only if its request asked and it
  has no Global Administrator, and is terminated, if at all, while still active;
- a transfer is completed after the purchase, from the subscription's partner of record, into
  a partner with a relationship with the customer (the partner itself when it is the target;
  the other partner, whose relationship only its own records show, when it is the source),
  all after 2020-03-20 (licences are transferable from then on);
- a cancellation is made by the partner that bills the subscription, after its last transfer.

Every transition is in the audit log (the partner saved its audit records every 90 days, which
is why it wants the ledger), and the snapshots (customers, subscriptions, transfers,
indirect resellers, Graph's relationships) show the world as it is at ``World.now``.

Sources the shapes follow (see ``/work/shared/spec/sources.md``): Partner Center's REST
"Auditing resources" (``AuditRecord``), "Customer resources", "Subscription resources",
"TransferEntity resources", "Relationships resources" pages; the PartnerCenter PowerShell
module's models (``PSAuditRecord``: ``AuditRecordId``, ``OperationType`` …; ``PSCustomer``:
``CustomerId``, ``Name``, ``Domain``, ``RelationshipToPartner`` …; ``PSPartnerRelationship``:
``PartnerId``, ``MpnId`` …; ``PSSubscription``: ``SubscriptionId`` …, plus the ``CustomerId`` a
script adds); Microsoft Graph v1.0 ``delegatedAdminRelationship`` and Microsoft.Graph
PowerShell's ``Get-MgTenantRelationshipDelegatedAdminRelationship`` (durations as TimeSpans).
Where a page is unsure, this module chose: a subscription transferred in keeps its id and its
``creationDate`` (the first purchase); a transfer's ``partnerOnRecord`` and its line items'
``partnerIdOnRecord`` name the target's reseller of record ("" for none); a direct sale's
``partnerId`` is "" (Partner Center fills it in the indirect model only); a terminated GDAP's
``endDateTime`` is its end as extended by then and ``lastModifiedDateTime`` its termination.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

DAY = timedelta(days=1)
AUTO_EXTEND = timedelta(days=180)
REQUEST_LAPSES = timedelta(days=90)
START = datetime(2021, 6, 1, tzinfo=UTC)
DAP_RETIRED = datetime(2023, 10, 9, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)  # when the snapshots were taken
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
# Entra role definition ids (well-known role templates) a GDAP asks for.
ROLE_IDS = (
    GLOBAL_ADMINISTRATOR,
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",  # Helpdesk Administrator
    "fe930be7-5e62-47db-91af-98c3a49a38b1",  # User Administrator
    "29232cdf-9323-42fd-ade2-1d097af3e4de",  # Exchange Administrator
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",  # Directory Readers
)
DURATIONS = {"P7D": 7, "P30D": 30, "P90D": 90, "P180D": 180, "P365D": 365, "P730D": 730}
# Offers by the ledger's service: Azure plan is usage-based, the Microsoft 365 ones seat-based.
OFFERS = {
    "usage": (("DZH318Z0BPS6:0001", "Azure plan"),),
    "license": (
        ("CFQ7TTC0LH18:0001", "Microsoft 365 Business Basic"),
        ("CFQ7TTC0LFLZ:0002", "Microsoft 365 E3"),
        ("CFQ7TTC0LH16:0001", "Microsoft 365 Business Standard"),
    ),
}


def iso(moment: datetime) -> str:
    """A time as Partner Center and Graph write it (UTC, whole seconds, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the world ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    mpn_id: str = ""


@dataclass(frozen=True)
class Customer:
    tenant_id: str
    name: str
    domain: str
    added_at: datetime  # add_customer: registered, with the partner's reseller relationship


@dataclass(frozen=True)
class Transfer:
    """A completed partner-to-partner transfer of one subscription."""

    transfer_id: str
    created_at: datetime
    completed_at: datetime
    source: str  # tenant ids of the billing partners
    target: str
    to_reseller: str | None  # the target's indirect reseller of record, if any


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    customer_id: str
    service: str  # "license" or "usage"
    offer_id: str
    offer_name: str
    order_id: str
    quantity: int
    purchased_at: datetime
    seller: str  # the billing partner at purchase: the ingesting partner or the other one
    reseller: str | None  # the ingesting provider's indirect reseller of record
    transfer: Transfer | None = None
    cancelled_at: datetime | None = None

    @property
    def term_end(self) -> datetime | None:
        return self.purchased_at + timedelta(days=365) if self.service == "license" else None


@dataclass(frozen=True)
class Dap:
    customer_id: str
    granted_at: datetime
    removed_at: datetime | None  # by Microsoft


@dataclass(frozen=True)
class Gdap:
    relationship_id: str
    customer_id: str
    display_name: str
    roles: tuple[str, ...]
    duration: str
    auto_extend: bool
    created_at: datetime
    activated_at: datetime | None  # None: still awaiting approval at ``NOW``
    terminated_at: datetime | None

    @property
    def first_end(self) -> datetime | None:
        if self.activated_at is None:
            return None
        return self.activated_at + DURATIONS[self.duration] * DAY

    def extensions(self) -> list[datetime]:
        """When Microsoft extended it (each at the expiry it moved), up to ``NOW`` or its end."""
        end, out = self.first_end, list[datetime]()
        if end is None or not self.auto_extend:
            return out
        limit = self.terminated_at or NOW
        while end <= limit:
            out.append(end)
            end += AUTO_EXTEND
        return out

    def end_at(self, moment: datetime) -> datetime | None:
        """Its expiry as it stood at ``moment`` (the extensions effective by then applied)."""
        first = self.first_end
        if first is None:
            return None
        return first + AUTO_EXTEND * sum(1 for at in self.extensions() if at <= moment)

    @property
    def final_end(self) -> datetime | None:
        return self.end_at(NOW)

    def status(self) -> str:
        """Graph's ``status`` at ``NOW``."""
        if self.activated_at is None:
            return "approvalPending"
        if self.terminated_at is not None:
            return "terminated"
        end = self.final_end
        assert end is not None
        return "active" if end > NOW else "expired"


@dataclass
class World:
    partner: Tenant  # the ingesting partner (``--partner``)
    program: str  # csp-direct or csp-indirect-provider
    other: Tenant  # another direct-bill CSP partner, the far side of transfers
    resellers: list[Tenant]
    customers: list[Customer]
    subscriptions: list[Subscription]
    daps: list[Dap]
    gdaps: list[Gdap]
    user: str = "admin@partner.example"
    noise: int = 0  # audit records that imply nothing (failed, not modelled)
    seed: int = 0

    # --- its own answers (what the ledger must answer once it has ingested the world) ---

    def por(self, sub: Subscription, at: datetime) -> dict[str, Any] | None:
        """``ledger por``'s answer as of ``at`` (only the fields the world decides); None
        where the subscription was not bought yet (``not-found``)."""
        if at < sub.purchased_at:
            return None
        por, billing, since = sub.reseller or sub.seller, sub.seller, sub.purchased_at
        if sub.transfer is not None and at >= sub.transfer.completed_at:
            t = sub.transfer
            por, billing, since = t.to_reseller or t.target, t.target, t.completed_at
        cancelled = sub.cancelled_at is not None and at >= sub.cancelled_at
        return {
            "subscription_id": sub.subscription_id.lower(),
            "customer_id": sub.customer_id,
            "service": sub.service,
            "channel": "csp",
            "status": "cancelled" if cancelled else "active",
            "partner_of_record": por,
            "billing_partner": billing,
            "since": since,
        }

    def delegations(self, customer_id: str, at: datetime) -> set[tuple[Any, ...]]:
        """The customer's active delegations as of ``at``: (partner, kind, granted_at,
        expires_at, roles); a DAP's roles are the ledger's to name, so None here."""
        out: set[tuple[Any, ...]] = set()
        for dap in self.daps:
            live = dap.granted_at <= at and (dap.removed_at is None or at < dap.removed_at)
            if dap.customer_id == customer_id and live:
                out.add((self.partner.tenant_id, "dap", dap.granted_at, None, None))
        for g in self.gdaps:
            if g.customer_id != customer_id or g.activated_at is None or at < g.activated_at:
                continue
            end = g.end_at(at)
            assert end is not None
            if at < end and (g.terminated_at is None or at < g.terminated_at):
                out.add((self.partner.tenant_id, "gdap", g.activated_at, end, frozenset(g.roles)))
        return out

    def customer_subscriptions(self, customer_id: str, at: datetime) -> set[tuple[Any, ...]]:
        """(subscription, partner of record, status) of each subscription the customer had."""
        out: set[tuple[Any, ...]] = set()
        for sub in self.subscriptions:
            answer = self.por(sub, at) if sub.customer_id == customer_id else None
            if answer is not None:
                out.add((sub.subscription_id.lower(), answer["partner_of_record"], answer["status"]))
        return out

    def transitions(self) -> list[datetime]:
        """Every time something changes in the world, in order."""
        times: set[datetime] = {c.added_at for c in self.customers}
        for s in self.subscriptions:
            times.add(s.purchased_at)
            if s.transfer is not None:
                times.add(s.transfer.completed_at)
            if s.cancelled_at is not None:
                times.add(s.cancelled_at)
        for d in self.daps:
            times.add(d.granted_at)
            if d.removed_at is not None:
                times.add(d.removed_at)
        for g in self.gdaps:
            times.add(g.created_at)
            if g.activated_at is not None:
                times.update([g.activated_at, *g.extensions()])
                end = g.final_end
                assert end is not None
                times.add(g.terminated_at or end)
        return sorted(t for t in times if t <= NOW)

    def transition_counts(self) -> dict[str, int]:
        """How many events of each type the world's transitions are, each recorded once
        whichever sources describe it (registrations and relationships aside: the ingest
        infers those)."""
        gdaps = [g for g in self.gdaps if g.activated_at is not None]
        return {
            "subscription.purchased": len(self.subscriptions),
            "subscription.switched": sum(1 for s in self.subscriptions if s.transfer),
            "subscription.cancelled": sum(1 for s in self.subscriptions if s.cancelled_at),
            "delegation.requested": len(self.gdaps),
            "delegation.granted": len(gdaps) + len(self.daps),
            "delegation.extended": sum(len(g.extensions()) for g in gdaps),
            "delegation.revoked": sum(1 for g in gdaps if g.terminated_at)
            + sum(1 for d in self.daps if d.removed_at),
        }

    def customer_of(self, tenant_id: str) -> Customer:
        return next(c for c in self.customers if c.tenant_id == tenant_id)

    def mpn_of(self, tenant_id: str | None) -> str:
        """The MPN id Partner Center puts in ``partnerId``: a reseller's; "" for a sale of the
        billing partner itself (the direct model)."""
        for r in self.resellers:
            if r.tenant_id == tenant_id:
                return r.mpn_id
        return ""


# --- the strategy -------------------------------------------------------------------------


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole second strictly between ``lo`` and ``hi`` (they are at least 3 s apart)."""
    span = int((hi - lo).total_seconds())
    assert span >= 3, (lo, hi)
    return lo + timedelta(seconds=rng.randint(1, span - 1))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_world(rng: random.Random, program: str, n_customers: int) -> World:
    """A world from ``rng``: the strategy draws the shape, ``rng`` the details."""
    partner = Tenant(_guid(rng), "Fabrikam CSP", str(rng.randint(1_000_000, 1_999_999)))
    other = Tenant(_guid(rng), "Northwind Cloud", str(rng.randint(2_000_000, 2_999_999)))
    resellers = [
        Tenant(_guid(rng), f"Reseller {i + 1}", str(3_000_000 + i * 1000 + rng.randint(0, 999)))
        for i in range(rng.randint(1, 3) if program == "csp-indirect-provider" else 0)
    ]
    world = World(partner, program, other, resellers, [], [], [], [], seed=rng.getrandbits(32))
    world.noise = rng.randint(0, 2)
    for n in range(n_customers):
        added = _between(rng, START, START + 400 * DAY)
        customer = Customer(_guid(rng), f"Customer {n + 1}", f"customer{n + 1}.onmicrosoft.com", added)
        world.customers.append(customer)
        for _ in range(rng.randint(0, 3)):
            world.subscriptions.append(_subscription(rng, world, customer))
        if added < DAP_RETIRED - 2 * DAY and rng.random() < 0.5:
            granted = _between(rng, added, DAP_RETIRED - DAY)
            removed = _between(rng, max(granted, DAP_RETIRED - 30 * DAY), NOW) if rng.random() < 0.7 else None
            world.daps.append(Dap(customer.tenant_id, granted, removed))
        for _ in range(rng.randint(0, 2)):
            world.gdaps.append(_gdap(rng, customer))
    return world


def _subscription(rng: random.Random, world: World, customer: Customer) -> Subscription:
    service = rng.choice(("license", "usage"))
    offer_id, offer_name = rng.choice(OFFERS[service])
    transfer_in = rng.random() < 0.2
    own = world.partner.tenant_id
    reseller = None
    if world.resellers and rng.random() < 0.8:
        reseller = rng.choice(world.resellers).tenant_id
    purchased = _between(rng, customer.added_at, NOW - 60 * DAY)
    sub = Subscription(
        _guid(rng).upper() if rng.random() < 0.1 else _guid(rng),
        customer.tenant_id,
        service,
        offer_id,
        offer_name,
        _guid(rng).replace("-", "")[:24],
        rng.randint(1, 50),
        purchased,
        seller=world.other.tenant_id if transfer_in else own,
        reseller=None if transfer_in else reseller,
    )
    cancel_after = purchased
    if transfer_in or rng.random() < 0.2:
        completed = _between(rng, purchased, NOW - 2 * DAY)
        created = _between(rng, max(purchased, completed - 10 * DAY), completed)
        target = own if transfer_in else world.other.tenant_id
        to_reseller = reseller if transfer_in else None
        transfer = Transfer(_guid(rng), created, completed, sub.seller, target, to_reseller)
        sub = _replace(sub, transfer=transfer)
        cancel_after = completed
    bills_now = sub.transfer.target if sub.transfer else sub.seller
    if bills_now == own and rng.random() < 0.3:
        sub = _replace(sub, cancelled_at=_between(rng, cancel_after, NOW))
    return sub


def _replace(sub: Subscription, **changes: Any) -> Subscription:
    from dataclasses import replace

    return replace(sub, **changes)


def _gdap(rng: random.Random, customer: Customer) -> Gdap:
    roles = tuple(sorted(rng.sample(ROLE_IDS, rng.randint(1, 3))))
    auto_extend = GLOBAL_ADMINISTRATOR not in roles and rng.random() < 0.6
    duration = rng.choice(tuple(DURATIONS))
    created = _between(rng, customer.added_at, NOW - DAY)
    rid = f"{_guid(rng)}-{_guid(rng)}"
    name = f"gdap-{rid[:8]}"
    if created > NOW - REQUEST_LAPSES + DAY and rng.random() < 0.3:  # still awaiting approval
        return Gdap(rid, customer.tenant_id, name, roles, duration, auto_extend, created, None, None)
    if created > NOW - 2 * DAY:
        created = NOW - 30 * DAY
    activated = _between(rng, created, min(created + REQUEST_LAPSES - DAY, NOW - DAY))
    gdap = Gdap(rid, customer.tenant_id, name, roles, duration, auto_extend, created, activated, None)
    if rng.random() < 0.35:
        end = gdap.end_at(NOW)
        assert end is not None
        # Terminated while active: before its expiry as extended up to then.
        terminated = _between(rng, activated, min(end, NOW))
        gdap = Gdap(
            rid, customer.tenant_id, name, roles, duration, auto_extend, created, activated, terminated
        )
        if any(at == terminated for at in gdap.extensions()):
            gdap = Gdap(rid, customer.tenant_id, name, roles, duration, auto_extend, created, activated, None)
    return gdap


@st.composite
def worlds(draw: Callable[[st.SearchStrategy[Any]], Any]) -> World:
    """A rule-abiding partner world (see the module's docstring)."""
    program = draw(st.sampled_from(("csp-direct", "csp-indirect-provider")))
    n_customers = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    return build_world(random.Random(seed), program, n_customers)


# --- rendered as the APIs return it -------------------------------------------------------

Json = dict[str, Any]


@dataclass
class Rendered:
    """One saved file: its source (``ledger ingest SOURCE``), name and bytes."""

    source: str
    name: str
    content: bytes
    pages: int = 1


@dataclass
class Style:
    """How a file is saved: its form (one page, a JSON list of pages, JSON Lines of
    records) and its casing (the REST API's camelCase, or the PowerShell module's PascalCase
    objects saved as JSON Lines)."""

    form: str = "page"  # "page", "pages", "lines"
    pascal: bool = False
    page_size: int = 3
    shuffle: bool = False  # pages (and JSON Lines records) in a random order
    rng: random.Random = field(default_factory=random.Random)


def _audit_record(world: World, rng: random.Random, **fields: Any) -> Json:
    record: Json = {
        "id": _guid(rng),
        "partnerId": world.partner.tenant_id,
        "userPrincipalName": world.user,
        "applicationId": "",
        "resourceType": "",
        "resourceOldValue": None,
        "resourceNewValue": None,
        "customizedData": [],
        "operationType": "",
        "originalCorrelationId": _guid(rng),
        "operationDate": "",
        "operationStatus": "succeeded",
        "attributes": {"objectType": "AuditRecord"},
    }
    record.update(fields)
    return record


def _customer_json(c: Customer) -> Json:
    return {
        "id": c.tenant_id,
        "commerceId": c.tenant_id,
        "companyProfile": {
            "tenantId": c.tenant_id,
            "domain": c.domain,
            "companyName": c.name,
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        "relationshipToPartner": "reseller",
        "allowDelegatedAccess": True,
        "links": {"self": {"uri": f"/customers/{c.tenant_id}", "method": "GET", "headers": []}},
        "attributes": {"objectType": "Customer"},
    }


def subscription_json(world: World, s: Subscription, status: str) -> Json:
    """One subscription as ``GET /v1/customers/{id}/subscriptions`` returns it."""
    por = s.reseller
    if s.transfer is not None:
        por = s.transfer.to_reseller
    term_end = s.term_end
    return {
        "id": s.subscription_id,
        "entitlementId": s.subscription_id.lower().replace("-", "")[:20],
        "offerId": s.offer_id,
        "offerName": s.offer_name,
        "friendlyName": s.offer_name,
        "quantity": s.quantity,
        "unitType": "Licenses" if s.service == "license" else "Usage-based",
        "hasPurchasableAddons": False,
        "creationDate": iso(s.purchased_at),
        "effectiveStartDate": iso(s.purchased_at),
        "commitmentEndDate": iso(term_end) if term_end else "9999-12-31T00:00:00Z",
        "status": status,
        "autoRenewEnabled": s.service == "license",
        "isTrial": False,
        "billingType": s.service,
        "billingCycle": "monthly",
        "termDuration": "P1Y" if s.service == "license" else "",
        "contractType": "subscription",
        "orderId": s.order_id,
        "partnerId": world.mpn_of(por),
        "links": {
            "self": {
                "uri": f"/customers/{s.customer_id}/subscriptions/{s.subscription_id}",
                "method": "GET",
                "headers": [],
            }
        },
        "attributes": {"etag": _etag(s.subscription_id), "objectType": "Subscription"},
    }


def _etag(text: str) -> str:
    return f'W/"{uuid.uuid5(uuid.NAMESPACE_URL, text).hex[:16]}"'


def transfer_json(world: World, s: Subscription) -> Json:
    """One completed transfer as ``GET /v1/customers/{id}/transfers`` returns it."""
    t = s.transfer
    assert t is not None
    names = {world.partner.tenant_id: world.partner.name, world.other.tenant_id: world.other.name}
    por_mpn = world.mpn_of(t.to_reseller)
    return {
        "id": t.transfer_id,
        "status": "Completed",
        "transferType": "5",
        "customerEmailId": f"admin@{world.customer_of(s.customer_id).domain}",
        "createdTime": iso(t.created_at),
        "lastModifiedTime": iso(t.completed_at),
        "completedTime": iso(t.completed_at),
        "expirationTime": iso(t.created_at + 30 * DAY),
        "customerName": world.customer_of(s.customer_id).name,
        "customerTenantId": s.customer_id,
        "partnerTenantId": t.target,
        "sourcePartnerName": names[t.source],
        "sourcePartnerTenantId": t.source,
        "targetPartnerName": names[t.target],
        "targetPartnerTenantId": t.target,
        "partnerOnRecord": por_mpn,
        "lineItems": [
            {
                "id": "0",
                "subscriptionId": s.subscription_id,
                "quantity": s.quantity,
                "billingCycle": "monthly",
                "friendlyName": s.offer_name,
                "partnerIdOnRecord": por_mpn,
                "offerId": s.offer_id,
                "status": "Completed",
                "transferGroupId": "",
            }
        ],
        "attributes": {"objectType": "TransferEntity"},
    }


def relationship_json(world: World, g: Gdap, at: datetime) -> Json:
    """A Graph ``delegatedAdminRelationship`` as it stood at ``at`` (``NOW``: the snapshot)."""
    customer = world.customer_of(g.customer_id)
    status = g.status() if at >= NOW else _status_at(g, at)
    end = g.end_at(at) if g.activated_at is not None and at >= g.activated_at else None
    modified = g.created_at
    for moment in (g.activated_at, *g.extensions(), g.terminated_at):
        if moment is not None and moment <= at:
            modified = max(modified, moment)
    if status == "expired" and end is not None:
        modified = max(modified, end)
    return {
        "@odata.etag": _etag(f"{g.relationship_id}{iso(modified)}"),
        "id": g.relationship_id,
        "displayName": g.display_name,
        "duration": g.duration,
        "customer": {"tenantId": g.customer_id, "displayName": customer.name},
        "accessDetails": {"unifiedRoles": [{"roleDefinitionId": r} for r in g.roles]},
        "status": status,
        "autoExtendDuration": "P180D" if g.auto_extend else "PT0S",
        "createdDateTime": iso(g.created_at),
        "lastModifiedDateTime": iso(modified),
        "activatedDateTime": iso(g.activated_at) if g.activated_at and at >= g.activated_at else None,
        "endDateTime": iso(end) if end else None,
    }


def _status_at(g: Gdap, at: datetime) -> str:
    if g.activated_at is None or at < g.activated_at:
        return "approvalPending"
    if g.terminated_at is not None and at >= g.terminated_at:
        return "terminated"
    end = g.end_at(at)
    assert end is not None
    return "active" if at < end else "expired"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def audit_records(world: World, rng: random.Random) -> list[Json]:
    """Every transition of the partner's world as Partner Center's audit log holds it."""
    records: list[Json] = []
    own = world.partner.tenant_id

    def add(at: datetime, customer: Customer | None, **fields: Any) -> None:
        extra: Json = {"operationDate": iso(at)}
        if customer is not None:
            extra.update(customerId=customer.tenant_id, customerName=customer.name)
        records.append(_audit_record(world, rng, **extra, **fields))

    for c in world.customers:
        add(
            c.added_at,
            c,
            resourceType="customer",
            operationType="add_customer",
            resourceNewValue=_json_text(_customer_json(c)),
        )
    for s in world.subscriptions:
        c = world.customer_of(s.customer_id)
        if s.seller == own:
            mpn = world.mpn_of(s.reseller)
            order = {
                "id": s.order_id,
                "referenceCustomerId": s.customer_id,
                "billingCycle": "monthly",
                "lineItems": [
                    {
                        "lineItemNumber": 0,
                        "offerId": s.offer_id,
                        "subscriptionId": s.subscription_id,
                        "termDuration": "P1Y" if s.service == "license" else "",
                        "quantity": s.quantity,
                        "partnerIdOnRecord": mpn,
                    }
                ],
                "creationDate": iso(s.purchased_at),
                "status": "completed",
                "attributes": {"objectType": "Order"},
            }
            add(
                s.purchased_at,
                c,
                resourceType="order",
                operationType="create_order",
                resourceNewValue=_json_text(order),
                customizedData=[
                    {"key": "OfferId-0", "value": s.offer_id},
                    {"key": "SubscriptionId-0", "value": s.subscription_id},
                    {"key": "Quantity-0", "value": str(s.quantity)},
                    {"key": "PartnerOnRecord-0", "value": mpn},
                ],
            )
        if s.transfer is not None and rng.random() < 0.5:
            add(
                s.transfer.completed_at,
                c,
                resourceType="transfer",
                operationType="update_transfer",
                resourceNewValue=_json_text(transfer_json(world, s)),
            )
        if s.cancelled_at is not None:
            add(
                s.cancelled_at,
                c,
                resourceType="subscription",
                operationType="update_subscription",
                resourceOldValue=_json_text(subscription_json(world, s, "active")),
                resourceNewValue=_json_text(subscription_json(world, s, "deleted")),
            )
    for d in world.daps:
        c = world.customer_of(d.customer_id)
        add(
            d.granted_at,
            c,
            resourceType="partner_customer_dap",
            operationType="dap_admin_relationship_approved",
        )
        if d.removed_at is not None:
            add(
                d.removed_at,
                c,
                resourceType="partner_customer_dap",
                operationType="dap_admin_relationship_terminated_by_microsoft",
                userPrincipalName="",
            )
    for g in world.gdaps:
        c = world.customer_of(g.customer_id)
        if g.activated_at is None:
            continue
        for op, at in (("approved", g.activated_at), ("activated", g.activated_at)):
            add(
                at,
                c,
                resourceType="granular_admin_relationship",
                operationType=f"granular_admin_relationship_{op}",
                resourceNewValue=_json_text(relationship_json(world, g, at)),
            )
        ended = g.terminated_at
        if ended is None and g.status() == "expired":
            ended = g.final_end
        if ended is not None:
            op = "terminated" if g.terminated_at is not None else "expired"
            add(
                ended,
                c,
                resourceType="granular_admin_relationship",
                operationType=f"granular_admin_relationship_{op}",
                resourceNewValue=_json_text(relationship_json(world, g, ended)),
            )
    for n in range(world.noise):  # records that imply nothing: skipped with their reason
        c = rng.choice(world.customers)
        at = _between(rng, c.added_at, NOW)
        if n % 2 == 0:
            add(at, c, resourceType="order", operationType="create_order", operationStatus="failed")
        else:
            add(at, c, resourceType="customer_user", operationType="update_customer_user")
    return records


# PowerShell's objects (PartnerCenter module): the same records, other names where the module
# renames them (``Id`` -> ``AuditRecordId`` …), PascalCase otherwise, no ``attributes``.
_PS_AUDIT_NAMES = {"id": "AuditRecordId"}


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


_PS_ENUMS = ("operationType", "resourceType", "operationStatus")


def _pascal_enum(value: str) -> str:
    """An enum value as ``ConvertTo-Json -EnumsAsStrings`` writes the module's .NET enum:
    ``create_order`` is ``CreateOrder``."""
    return "".join(word[:1].upper() + word[1:] for word in value.split("_"))


def _ms_date(text: str) -> str:
    """A time as Windows PowerShell 5.1's ``ConvertTo-Json`` writes a DateTime."""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)})/"


def ps_audit_record(record: Json, rng: random.Random) -> Json:
    """An audit record as ``Get-PartnerAuditRecord | ConvertTo-Json`` saves it: enums as their
    .NET names (PowerShell 7's ``-EnumsAsStrings``), the time either ISO 8601 (PowerShell 7)
    or ``/Date(ms)/`` (Windows PowerShell 5.1)."""
    out: Json = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if key == "customizedData":
            value = [{"Key": kv["key"], "Value": kv["value"]} for kv in value]
        elif key in _PS_ENUMS and isinstance(value, str):
            value = _pascal_enum(value)
        elif key == "operationDate" and rng.random() < 0.5:
            value = _ms_date(value)
        out[_PS_AUDIT_NAMES.get(key) or _pascal(key)] = value
    return out


def ps_customer(c: Json) -> Json:
    profile = c["companyProfile"]
    return {
        "AllowDelegatedAccess": c["allowDelegatedAccess"],
        "AssociatedPartnerId": None,
        "BillingProfile": None,
        "CommerceId": c["commerceId"],
        "CustomerId": c["id"],
        "Domain": profile["domain"],
        "Name": profile["companyName"],
        "RelationshipToPartner": _pascal_enum(c["relationshipToPartner"]),
    }


def ps_reseller(r: Json) -> Json:
    return {
        "Location": r["location"],
        "MpnId": r["mpnId"],
        "Name": r["name"],
        "PartnerId": r["id"],
        "RelationshipType": r["relationshipType"],
        "State": r["state"],
    }


def ps_subscription(sub: Json, customer_id: str) -> Json:
    """A subscription as ``Get-PartnerCustomerSubscription -CustomerId $c`` saves it
    (``PSSubscription``: ``SubscriptionId``, enums as .NET names, no ``links``), with the
    ``CustomerId`` property the README's script adds (the object names no customer)."""
    keep = (
        "offerId",
        "offerName",
        "friendlyName",
        "quantity",
        "unitType",
        "hasPurchasableAddons",
        "creationDate",
        "effectiveStartDate",
        "commitmentEndDate",
        "autoRenewEnabled",
        "isTrial",
        "partnerId",
        "contractType",
    )
    out: Json = {"SubscriptionId": sub["id"], **{_pascal(k): sub[k] for k in keep}}
    out.update(
        Status=_pascal_enum(sub["status"]),
        BillingType=_pascal_enum(sub["billingType"]),
        BillingCycle=_pascal_enum(sub["billingCycle"]),
        SuspensionReasons=[],
        CustomerId=customer_id,
    )
    return out


def _timespan(days: int) -> Json:
    """A .NET TimeSpan as ``ConvertTo-Json`` writes it (Microsoft.Graph's ``Duration``)."""
    seconds = days * 86_400
    return {
        "Ticks": seconds * 10_000_000,
        "Days": days,
        "Hours": 0,
        "Milliseconds": 0,
        "Minutes": 0,
        "Seconds": 0,
        "TotalDays": float(days),
        "TotalHours": float(days * 24),
        "TotalMilliseconds": float(seconds * 1000),
        "TotalMinutes": float(days * 1440),
        "TotalSeconds": float(seconds),
    }


def ps_relationship(r: Json) -> Json:
    """A relationship as Microsoft.Graph PowerShell's
    ``Get-MgTenantRelationshipDelegatedAdminRelationship`` saves it: PascalCase, durations as
    TimeSpans, no ``@odata.etag``."""
    roles = [{"RoleDefinitionId": u["roleDefinitionId"]} for u in r["accessDetails"]["unifiedRoles"]]
    return {
        "Id": r["id"],
        "DisplayName": r["displayName"],
        "Duration": _timespan(DURATIONS[r["duration"]]),
        "Customer": {"TenantId": r["customer"]["tenantId"], "DisplayName": r["customer"]["displayName"]},
        "AccessDetails": {"UnifiedRoles": roles},
        "Status": r["status"],
        "AutoExtendDuration": _timespan(180 if r["autoExtendDuration"] == "P180D" else 0),
        "CreatedDateTime": r["createdDateTime"],
        "LastModifiedDateTime": r["lastModifiedDateTime"],
        "ActivatedDateTime": r["activatedDateTime"],
        "EndDateTime": r["endDateTime"],
    }


def _pc_pages(items: list[Json], size: int, self_uri: str, rng: random.Random) -> list[Json]:
    """Partner Center collection pages: ``links.next`` with ``MS-ContinuationToken`` on all
    but the last (``totalCount`` is the page's count, as the API gives it)."""
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    pages = []
    for i, chunk in enumerate(chunks):
        links: Json = {"self": {"uri": self_uri, "method": "GET", "headers": []}}
        if i + 1 < len(chunks):
            token = _guid(rng)
            links["next"] = {
                "uri": self_uri,
                "method": "GET",
                "headers": [{"key": "MS-ContinuationToken", "value": token}],
            }
        pages.append(
            {
                "totalCount": len(chunk),
                "items": chunk,
                "links": links,
                "attributes": {"objectType": "Collection"},
            }
        )
    return pages


GRAPH_LIST = "https://graph.microsoft.com/v1.0/tenantRelationships/delegatedAdminRelationships"


def _graph_pages(items: list[Json], size: int, rng: random.Random) -> list[Json]:
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    pages = []
    for i, chunk in enumerate(chunks):
        page: Json = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships",
            "value": chunk,
        }
        if i + 1 < len(chunks):
            page["@odata.nextLink"] = f"{GRAPH_LIST}?$skiptoken={_guid(rng).replace('-', '')}"
        pages.append(page)
    return pages


def _save(source: str, name: str, pages: list[Json], records: list[Json], style: Style) -> Rendered:
    """Bytes of one file in the style's form; JSON Lines hold the records, the others pages."""
    rng = style.rng
    if (style.form == "lines" or style.pascal) and records:  # an empty file is no source: a page
        lines = list(records)
        if style.shuffle:
            rng.shuffle(lines)
        text = b"".join(orjson.dumps(r) + b"\n" for r in lines)
        return Rendered(source, name + ".jsonl", text, pages=1)
    pages = list(pages)
    if style.shuffle:
        rng.shuffle(pages)
    if style.form == "page" and len(pages) == 1:
        return Rendered(source, name + ".json", orjson.dumps(pages[0], option=orjson.OPT_INDENT_2))
    return Rendered(source, name + ".json", orjson.dumps(pages, option=orjson.OPT_INDENT_2), pages=len(pages))


def render(world: World, rng: random.Random, *, split_audit: int = 2, pascal: float = 0.3) -> list[Rendered]:
    """The world as the files an operator saves: audit records (in ``split_audit`` windows),
    Graph's relationships, customers, each customer's subscriptions and transfers, and (for an
    indirect provider) its resellers; each file in a random form, and in PowerShell's casing
    with the probability ``pascal`` where a PowerShell module returns that source."""

    def style(pascal_ok: bool) -> Style:
        return Style(
            form=rng.choice(("page", "pages", "lines")),
            pascal=pascal_ok and rng.random() < pascal,
            page_size=rng.randint(1, 4),
            shuffle=rng.random() < 0.5,
            rng=rng,
        )

    files: list[Rendered] = []
    records = sorted(audit_records(world, rng), key=lambda r: str(r["operationDate"]))
    windows = max(1, min(split_audit, len(records)))
    cut = sorted(rng.sample(range(1, len(records)), windows - 1)) if len(records) > 1 else []
    bounds = [0, *cut, len(records)]
    for w in range(len(bounds) - 1):
        chunk = records[bounds[w] : bounds[w + 1]]
        st_ = style(pascal_ok=True)
        pages = _pc_pages(chunk, st_.page_size, "/auditrecords?startDate=&endDate=", rng)
        out = [ps_audit_record(r, rng) for r in chunk] if st_.pascal else chunk
        files.append(_save("pc-audit", f"audit-{w + 1}", pages, out, st_))
    st_ = style(pascal_ok=True)
    gdap = [relationship_json(world, g, NOW) for g in world.gdaps]
    out = [ps_relationship(r) for r in gdap] if st_.pascal else gdap
    files.append(_save("graph-gdap", "gdap", _graph_pages(gdap, st_.page_size, rng), out, st_))
    st_ = style(pascal_ok=True)
    customers = [_customer_json(c) for c in world.customers]
    out = [ps_customer(c) for c in customers] if st_.pascal else customers
    files.append(
        _save("pc-customers", "customers", _pc_pages(customers, st_.page_size, "/customers", rng), out, st_)
    )
    for n, c in enumerate(world.customers):
        subs = [
            subscription_json(world, s, "deleted" if s.cancelled_at else "active")
            for s in world.subscriptions
            if s.customer_id == c.tenant_id and _billed_by_partner_at_now(world, s)
        ]
        st_ = style(pascal_ok=True)
        uri = f"/customers/{c.tenant_id}/subscriptions"
        out = [ps_subscription(sub, c.tenant_id) for sub in subs] if st_.pascal else subs
        pages = _pc_pages(subs, st_.page_size, uri, rng)
        files.append(_save("pc-subscriptions", f"subscriptions-{n + 1}", pages, out, st_))
        transfers = [
            transfer_json(world, s)
            for s in world.subscriptions
            if s.customer_id == c.tenant_id and s.transfer
        ]
        if transfers:
            st_ = style(pascal_ok=False)
            uri = f"/customers/{c.tenant_id}/transfers"
            files.append(
                _save(
                    "pc-transfers",
                    f"transfers-{n + 1}",
                    _pc_pages(transfers, st_.page_size, uri, rng),
                    transfers,
                    st_,
                )
            )
    if world.resellers:
        st_ = style(pascal_ok=True)
        items = [
            {
                "id": r.tenant_id,
                "name": r.name,
                "relationshipType": "IsIndirectCloudSolutionProviderOf",
                "state": "Active",
                "mpnId": r.mpn_id,
                "location": "US",
                "attributes": {"objectType": "PartnerRelationship"},
            }
            for r in world.resellers
        ]
        uri = "/relationships?relationship_type=IsIndirectCloudSolutionProviderOf"
        out = [ps_reseller(r) for r in items] if st_.pascal else items
        files.append(_save("pc-resellers", "resellers", _pc_pages(items, st_.page_size, uri, rng), out, st_))
    return files


def _billed_by_partner_at_now(world: World, s: Subscription) -> bool:
    """The partner's subscription list holds what it bills now (a transfer out leaves it)."""
    billing = s.transfer.target if s.transfer else s.seller
    return billing == world.partner.tenant_id


def split_pages(file: Rendered) -> Iterator[Rendered]:
    """A file of several pages (a JSON list) as one file per page, so that the pages of one
    export can be ingested in any order, each on its own."""
    loaded = orjson.loads(file.content) if file.name.endswith(".json") else None
    if isinstance(loaded, list) and len(loaded) > 1:
        for i, page in enumerate(loaded):
            yield Rendered(file.source, f"{file.name[:-5]}-p{i + 1}.json", orjson.dumps(page))
    else:
        yield file


# --- the world as the ledger's own events (the generator's check) --------------------------


def world_events(world: World) -> list[Json]:
    """The world as the ledger's event JSON, in effective order, written from the domain
    alone (no mapping): recording them must pass the rulebook, and the ledger's answers must
    then be the world's. It is the proof that the generator makes valid worlds, independent
    of ``ledger ingest``."""
    events: list[tuple[datetime, int, Json]] = []
    p, o = world.partner.tenant_id, world.other.tenant_id

    def add(at: datetime, type_: str, role: str, tenant: str, **data: Any) -> None:
        actor = {"id": f"{role}@{tenant}", "role": role, "tenant_id": tenant}
        events.append(
            (at, len(events), {"type": type_, "effective_at": iso(at), "actor": actor, "data": data})
        )

    before = START - 30 * DAY
    add(
        before,
        "partner.registered",
        "global-admin",
        p,
        partner_id=p,
        name=world.partner.name,
        cloud="commercial",
        program=world.program,
    )
    add(
        before,
        "partner.registered",
        "global-admin",
        o,
        partner_id=o,
        name=world.other.name,
        cloud="commercial",
        program="csp-direct",
    )
    for r in world.resellers:
        add(
            before,
            "partner.registered",
            "global-admin",
            r.tenant_id,
            partner_id=r.tenant_id,
            name=r.name,
            cloud="commercial",
            program="csp-indirect-reseller",
            provider_ids=[p],
        )
    for c in world.customers:
        cid = c.tenant_id
        add(
            c.added_at,
            "customer.registered",
            "global-admin",
            p,
            customer_id=cid,
            name=c.name,
            cloud="commercial",
        )
        add(
            c.added_at,
            "relationship.requested",
            "admin-agent",
            p,
            request_id=f"rel-{cid}",
            partner_id=p,
            customer_id=cid,
        )
        add(c.added_at, "relationship.accepted", "customer-global-admin", cid, request_id=f"rel-{cid}")
    for s in world.subscriptions:
        cid, sid = s.customer_id, s.subscription_id.lower()  # as the ledger keeps ingested GUIDs
        data: Json = {"subscription_id": sid, "customer_id": cid, "offer": s.offer_name, "service": s.service}
        data.update(channel="csp", seller_id=s.seller)
        if s.reseller:
            data["reseller_id"] = s.reseller
        if s.term_end:
            data["term_end"] = iso(s.term_end)
        add(s.purchased_at, "subscription.purchased", "sales-agent", s.seller, **data)
        t = s.transfer
        if t is not None:
            if t.target == o:  # the other partner's relationship, which only its own records show
                add(
                    t.created_at,
                    "relationship.requested",
                    "admin-agent",
                    o,
                    request_id=f"rel-{o}-{sid}",
                    partner_id=o,
                    customer_id=cid,
                )
                add(
                    t.created_at,
                    "relationship.accepted",
                    "customer-global-admin",
                    cid,
                    request_id=f"rel-{o}-{sid}",
                )
            switch: Json = {
                "subscription_id": sid,
                "from_partner_id": s.reseller or s.seller,
                "to_partner_id": t.target,
            }
            if t.to_reseller:
                switch["to_reseller_id"] = t.to_reseller
            add(t.completed_at, "subscription.switched", "sales-agent", t.target, **switch)
        if s.cancelled_at is not None:
            add(s.cancelled_at, "subscription.cancelled", "sales-agent", p, subscription_id=sid)
    for n, d in enumerate(world.daps):
        did = f"dap-{n}-{d.customer_id}"
        add(
            d.granted_at,
            "delegation.granted",
            "customer-global-admin",
            d.customer_id,
            delegation_id=did,
            customer_id=d.customer_id,
            partner_id=p,
            kind="dap",
            roles=["admin-agent"],
        )
        if d.removed_at is not None:
            add(d.removed_at, "delegation.revoked", "microsoft", "microsoft", delegation_id=did)
    for g in world.gdaps:
        did, cid = g.relationship_id, g.customer_id
        request: Json = {"delegation_id": did, "customer_id": cid, "partner_id": p, "roles": list(g.roles)}
        request.update(duration=g.duration, name=g.display_name)
        if g.auto_extend:
            request["auto_extend"] = "P180D"
        add(g.created_at, "delegation.requested", "admin-agent", p, **request)
        if g.activated_at is None:
            continue
        first = g.first_end
        assert first is not None
        add(
            g.activated_at,
            "delegation.granted",
            "customer-delegated-admin-relationship-admin",
            cid,
            delegation_id=did,
            customer_id=cid,
            partner_id=p,
            kind="gdap",
            roles=list(g.roles),
            expires_at=iso(first),
        )
        for at in g.extensions():
            add(
                at,
                "delegation.extended",
                "microsoft",
                "microsoft",
                delegation_id=did,
                expires_at=iso(at + AUTO_EXTEND),
            )
        if g.terminated_at is not None:
            add(
                g.terminated_at,
                "delegation.revoked",
                "customer-delegated-admin-relationship-admin",
                cid,
                delegation_id=did,
            )
    return [e for _, _, e in sorted(events, key=lambda item: (item[0], item[1]))]


# --- the README's sample files (samples/partner-center/) -----------------------------------


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sample_world() -> World:
    """The README's story ("From Partner Center"): Fabrikam, an indirect provider with one
    reseller (Adatum), and its customer Contoso; an Azure plan sold through Adatum and
    cancelled, a Microsoft 365 E3 licence Fabrikam sold itself, a DAP
    Microsoft removed, a GDAP still active and one that expired."""
    fabrikam = Tenant("1f2e3d4c-5b6a-4978-8a1b-2c3d4e5f6a7b", "Fabrikam CSP", "1234567")
    northwind = Tenant("9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "Northwind Cloud", "2345678")
    adatum = Tenant("5c4b3a29-1807-4f6e-8d5c-4b3a29180706", "Adatum Reseller", "4649012")
    contoso = Customer(
        "c0a7e1d2-3b4c-4d5e-8f60-718293a4b5c6",
        "Contoso",
        "contoso.onmicrosoft.com",
        utc("2022-03-01T09:00:00Z"),
    )
    cid = contoso.tenant_id
    azure = Subscription(
        "a1b2c3d4-0001-4e5f-8a9b-0c1d2e3f4a5b",
        cid,
        "usage",
        *OFFERS["usage"][0],
        "b7f1c2d3e4a5968778695a4b",
        1,
        utc("2022-04-01T10:00:00Z"),
        seller=fabrikam.tenant_id,
        reseller=adatum.tenant_id,
        cancelled_at=utc("2025-02-01T16:30:00Z"),
    )
    e3 = Subscription(
        "a1b2c3d4-0002-4e5f-8a9b-0c1d2e3f4a5b",
        cid,
        "license",
        *OFFERS["license"][1],
        "c8e2d3f4a5b6c7d8e9f0a1b2",
        25,
        utc("2022-04-01T10:05:00Z"),
        seller=fabrikam.tenant_id,
        reseller=None,
    )
    roles = ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "fe930be7-5e62-47db-91af-98c3a49a38b1")
    helpdesk = Gdap(
        "7d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a-c0a7e1d2-3b4c-4d5e-8f60-718293a4b5c6",
        cid,
        "Contoso helpdesk",
        roles,
        "P730D",
        True,
        utc("2023-09-01T08:00:00Z"),
        utc("2023-09-05T14:00:00Z"),
        None,
    )
    project = Gdap(
        "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f-c0a7e1d2-3b4c-4d5e-8f60-718293a4b5c6",
        cid,
        "Contoso migration project",
        ("29232cdf-9323-42fd-ade2-1d097af3e4de",),
        "P180D",
        False,
        utc("2024-01-08T09:00:00Z"),
        utc("2024-01-10T11:00:00Z"),
        None,
    )
    dap = Dap(cid, utc("2022-03-02T09:30:00Z"), utc("2024-01-15T00:00:00Z"))
    return World(
        fabrikam,
        "csp-indirect-provider",
        northwind,
        [adatum],
        [contoso],
        [azure, e3],
        [dap],
        [helpdesk, project],
        user="admin@fabrikam.example",
    )


def write_samples(folder: str) -> None:
    """``samples/partner-center/``: the sample world saved as an operator would (REST pages,
    and one audit window from PowerShell as JSON Lines); ``python tests/partner_world.py
    samples/partner-center`` writes them again, the same bytes each time."""
    from pathlib import Path

    rng = random.Random(15)
    world = sample_world()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    records = sorted(audit_records(world, rng), key=lambda r: str(r["operationDate"]))
    early = [r for r in records if str(r["operationDate"]) < "2024"]
    late = [r for r in records if str(r["operationDate"]) >= "2024"]
    page = Style(form="pages", page_size=2, rng=rng)
    files = [
        _save("pc-audit", "audit-2022-2023", _pc_pages(early, 3, "/auditrecords", rng), early, page),
        _save(
            "pc-audit",
            "audit-2024-2025",
            [],
            [ps_audit_record(r, rng) for r in late],
            Style(pascal=True, rng=rng),
        ),
        _save(
            "graph-gdap",
            "gdap",
            _graph_pages([relationship_json(world, g, NOW) for g in world.gdaps], 1, rng),
            [],
            page,
        ),
        _save(
            "pc-customers",
            "customers",
            _pc_pages([_customer_json(c) for c in world.customers], 10, "/customers", rng),
            [],
            Style(rng=rng),
        ),
    ]
    cid = world.customers[0].tenant_id
    subs = [
        subscription_json(world, s, "deleted" if s.cancelled_at else "active")
        for s in world.subscriptions
        if _billed_by_partner_at_now(world, s)
    ]
    files.append(
        _save(
            "pc-subscriptions",
            "subscriptions-contoso",
            _pc_pages(subs, 10, f"/customers/{cid}/subscriptions", rng),
            [],
            Style(rng=rng),
        )
    )
    transfers = [transfer_json(world, s) for s in world.subscriptions if s.transfer]
    files.append(
        _save(
            "pc-transfers",
            "transfers-contoso",
            _pc_pages(transfers, 10, f"/customers/{cid}/transfers", rng),
            [],
            Style(rng=rng),
        )
    )
    resellers = [
        {
            "id": r.tenant_id,
            "name": r.name,
            "relationshipType": "IsIndirectCloudSolutionProviderOf",
            "state": "Active",
            "mpnId": r.mpn_id,
            "location": "US",
            "attributes": {"objectType": "PartnerRelationship"},
        }
        for r in world.resellers
    ]
    uri = "/relationships?relationship_type=IsIndirectCloudSolutionProviderOf"
    files.append(_save("pc-resellers", "resellers", _pc_pages(resellers, 10, uri, rng), [], Style(rng=rng)))
    for file in files:
        (out / file.name).write_bytes(file.content)


if __name__ == "__main__":
    import sys

    write_samples(sys.argv[1])
