"""A realistic, rule-abiding history with a fixed seed: partners in every program, tens of
thousands of customers with Zipf-skewed activity across every event type.

Every generated event passes the rulebook: the generator keeps a small model of each
customer (its relationships, subscriptions, delegations) and of each partner's program, and
picks only valid next steps. Effective times only grow, from 2016 on, spread over ten
years whatever the history's length. What it holds besides direct-bill CSP sales:

- the indirect model: indirect providers invite on behalf of their indirect resellers, sell
  with a reseller of record (``reseller_id``) and take switches with one (``to_reseller_id``);
  resellers get delegations through their providers' relationships, and never invite;
- other channels (Microsoft, EA, Open, advisors, syndication partners, third parties), and
  Azure bought elsewhere moved to CSP by migration (a new csp subscription naming the old one
  in ``migrated_from``; the old one is cancelled soon after), never by a switch;
- DAP grants until DAP's retirement (2023-10-09), fewer from 2022 as GDAP takes over, and
  GDAP only from then on: each GDAP requested by its partner and approved later (some
  requests lapse after 90 days), half of them auto-extended by Microsoft at their expiry;
- a few hundred program changes per million events: resellers moving between providers,
  direct-bill partners becoming indirect providers, advisors joining CSP.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

START_US = 1_451_606_400_000_000  # 2016-01-01T00:00:00Z
DAY_US = 86_400_000_000
GDAP_REQUEST_LAPSES_US = 90 * DAY_US  # a GDAP request not approved within 90 days lapses
SPAN_US = 3653 * DAY_US  # a history covers ten years (2016 to 2026), whatever its length
# Rule dap-retired: no DAP grant effective on or after 2023-10-09T00:00:00Z (a test holds
# this to the rulebook's date). GDAP takes over from 2022 on.
DAP_RETIRED_US = 1_696_809_600_000_000
GDAP_ERA_US = 1_640_995_200_000_000  # 2022-01-01T00:00:00Z
# Usage subscriptions from these channels move to CSP by migration (syndication never moves).
MIGRATING_CHANNELS = frozenset({"microsoft", "ea", "open", "advisor", "third-party"})
# Program changes: about one per this many events (at least three in any history).
EVENTS_PER_PROGRAM_CHANGE = 3000


@functools.lru_cache(maxsize=16)
def _date(day: int) -> str:
    """The calendar date of a day counted from 1970-01-01 (a few days are in use at once)."""
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def _time(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    day, second = divmod(seconds, 86_400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    text = f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{micro:06d}Z" if micro else f"{text}Z"


class Pool:
    """Ids to pick from at random, each added and removed in constant time (a heavy
    customer holds tens of thousands)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.where: dict[str, int] = {}

    def add(self, item: str) -> None:
        self.where[item] = len(self.items)
        self.items.append(item)

    def remove(self, item: str) -> None:
        i, last = self.where.pop(item), self.items.pop()
        if last != item:
            self.items[i], self.where[last] = last, i

    def discard(self, item: str) -> None:
        if item in self.where:
            self.remove(item)

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class Customer:
    cid: str
    # accepted relationships: owning partner -> the indirect reseller it names, if any
    partners: dict[str, str | None] = field(default_factory=dict)
    open_requests: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> partner, reseller
    # id -> service, channel, partner of record, billing partner
    subs: dict[str, tuple[str, str, str | None, str | None]] = field(default_factory=dict)
    delegations: dict[str, int | None] = field(default_factory=dict)  # id -> expires_us (None: dap)
    live: Pool = field(default_factory=Pool)  # subscription ids
    switchable: Pool = field(default_factory=Pool)  # csp usage subscription ids
    migratable: Pool = field(default_factory=Pool)  # usage from another channel, not yet migrated
    retiring: Pool = field(default_factory=Pool)  # migrated to csp: cancelled next
    granted: Pool = field(default_factory=Pool)  # delegation ids
    # GDAP requests not yet approved: id -> partner, duration in days, auto-extended, requested at
    gdap_requests: dict[str, tuple[str, int, bool, int]] = field(default_factory=dict)
    auto_extended: dict[str, int] = field(default_factory=dict)  # active GDAP id -> its expiry (us)
    last_us: int = 0  # the effective time of the customer's newest event

    def bought(self, sid: str, service: str, channel: str, por: str | None, billing: str | None) -> None:
        self.subs[sid] = (service, channel, por, billing)
        self.live.add(sid)
        if service == "usage" and channel == "csp":
            self.switchable.add(sid)
        elif service == "usage" and channel in MIGRATING_CHANNELS:
            self.migratable.add(sid)

    def migrated(self, sid: str) -> None:
        self.migratable.remove(sid)
        self.retiring.add(sid)

    def cancelled(self, sid: str) -> None:
        del self.subs[sid]
        self.live.remove(sid)
        for pool in (self.switchable, self.migratable, self.retiring):
            pool.discard(sid)


class History:
    def __init__(self, events: int, seed: int, start_us: int = START_US, span_us: int = SPAN_US) -> None:
        self.rng = random.Random(seed)
        # Effective times one second to twice the mean step apart: the history covers
        # ``span_us`` (a million events: about five minutes apart on average).
        self.step_max_s = max(2, 2 * span_us // max(1, events) // 1_000_000)
        self.target = events
        self.clock = start_us
        self.last_event_us = start_us  # the effective time of the newest event made
        self.n = 0
        customers = max(10, events // 40)
        self.direct = [f"csp-{i}" for i in range(max(4, customers // 500))]
        self.providers = [f"prov-{i}" for i in range(max(2, customers // 2000))]
        self.resellers = [f"resl-{i}" for i in range(max(2, customers // 1000))]
        self.advisors = [f"adv-{i}" for i in range(max(3, customers // 400))]
        self.syndicators = [f"synd-{i}" for i in range(max(1, customers // 5000))]
        self.third_parties = [f"tp-{i}" for i in range(max(1, customers // 5000))]
        # Who may invite (direct-bill partners and indirect providers), in a fixed order.
        self.inviters = self.direct + self.providers
        self.providers_of: dict[str, list[str]] = {}  # indirect reseller -> its providers now
        self.resellers_of: dict[str, list[str]] = {p: [] for p in self.providers}  # and back
        self.customers = [Customer(f"cust-{i}") for i in range(customers)]
        weights = [1.0 / (rank + 1) ** 1.1 for rank in range(customers)]
        self.rng.shuffle(weights)
        # Summed once: random.choices with plain weights sums all of them at every call.
        self.cum_weights = list(itertools.accumulate(weights))
        self.ns = uuid.UUID(int=seed)

    def _event(self, type_: str, role: str, tenant: str, **data: Any) -> dict[str, Any]:
        self.n += 1
        self.clock += self.rng.randint(1, self.step_max_s) * 1_000_000
        return self._event_at(self.clock, type_, role, tenant, **data)

    def _event_at(self, at: int, type_: str, role: str, tenant: str, **data: Any) -> dict[str, Any]:
        self.last_event_us = at
        return {
            "event_id": str(uuid.uuid5(self.ns, str(self.n))),
            "type": type_,
            "effective_at": _time(at),
            "actor": {"id": f"ops@{tenant}.example", "role": role, "tenant_id": tenant},
            "data": data,
        }

    def _partner(self, pid: str, program: str, **extra: Any) -> dict[str, Any]:
        return self._event(
            "partner.registered",
            "global-admin",
            pid,
            partner_id=pid,
            name=pid,
            cloud="commercial",
            program=program,
            **extra,
        )

    def _set_providers(self, reseller: str, providers: list[str]) -> None:
        old = self.providers_of.get(reseller, [])
        for p in old:
            if p not in providers:
                self.resellers_of[p].remove(reseller)
        for p in providers:
            if p not in old:
                self.resellers_of[p].append(reseller)
        self.providers_of[reseller] = providers

    def events(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for pid in self.direct:
            yield self._partner(pid, "csp-direct")
        for pid in self.providers:
            yield self._partner(pid, "csp-indirect-provider")
        for i, pid in enumerate(self.resellers):
            providers = [self.providers[i % len(self.providers)]]
            if rng.random() < 0.25:  # some resellers work under two providers
                second = rng.choice(self.providers)
                providers += [second] if second not in providers else []
            self._set_providers(pid, providers)
            yield self._partner(pid, "csp-indirect-reseller", provider_ids=list(providers))
        for pids, program in (
            (self.advisors, "advisor"),
            (self.syndicators, "syndication"),
            (self.third_parties, "none"),
        ):
            for pid in pids:
                yield self._partner(pid, program)
        registered: set[str] = set()
        gap = max(2, self.target // max(3, self.target // EVENTS_PER_PROGRAM_CHANGE))
        next_change = self.n + rng.randint(1, gap)
        while self.n < self.target:
            if self.n >= next_change:
                next_change += rng.randint(gap // 2, gap + gap // 2)
                yield self._program_change()
                continue
            customer = rng.choices(self.customers, cum_weights=self.cum_weights)[0]
            if customer.cid not in registered:
                registered.add(customer.cid)
                yield self._event(
                    "customer.registered",
                    "global-admin",
                    customer.cid,
                    customer_id=customer.cid,
                    name=customer.cid,
                    cloud="commercial",
                )
                customer.last_us = self.clock
                continue
            event = self._step(customer)
            customer.last_us = self.last_event_us
            yield event

    def _program_change(self) -> dict[str, Any]:
        """A partner changes program, so that every relationship and sale already made stays
        valid: an advisor joins CSP as a direct-bill partner, a direct-bill partner becomes
        an indirect provider, or (most often) an indirect reseller takes on, leaves or swaps
        an indirect provider."""
        rng = self.rng
        kind = rng.random()
        if kind < 0.1 and self.advisors:
            pid = self.advisors.pop(rng.randrange(len(self.advisors)))
            self.direct.append(pid)
            self.inviters.append(pid)
            return self._event(
                "partner.program-changed", "global-admin", pid, partner_id=pid, program="csp-direct"
            )
        if kind < 0.25 and len(self.direct) > len(self.providers):
            pid = self.direct.pop(rng.randrange(len(self.direct)))
            self.providers.append(pid)
            self.resellers_of[pid] = []
            return self._event(
                "partner.program-changed",
                "global-admin",
                pid,
                partner_id=pid,
                program="csp-indirect-provider",
            )
        rid = rng.choice(self.resellers)
        providers = list(self.providers_of[rid])
        others = [p for p in self.providers if p not in providers]
        move = rng.random()
        if len(providers) > 1 and (not others or move < 0.3):
            providers.remove(rng.choice(providers))
        elif len(providers) < 3 and move < 0.6:
            providers.append(rng.choice(others))
        else:
            providers[rng.randrange(len(providers))] = rng.choice(others)
        self._set_providers(rid, providers)
        return self._event(
            "partner.program-changed",
            "global-admin",
            rid,
            partner_id=rid,
            program="csp-indirect-reseller",
            provider_ids=list(providers),
        )

    def _step(self, c: Customer) -> dict[str, Any]:
        rng = self.rng
        extension = self._extension(c)
        if extension is not None:
            return extension
        move = rng.random()
        if c.open_requests and move < 0.15:
            return self._accept(c)
        # A partner invites a customer it has no relationship or open invitation with (as in
        # Partner Center, one reseller relationship per partner and customer).
        inviting = set(c.partners)
        inviting.update(p for p, _ in c.open_requests.values())
        strangers = [p for p in self.inviters if p not in inviting]
        if strangers and (not c.partners or move < 0.2):
            return self._request(c, rng.choice(strangers))
        if not c.partners:  # every partner has an open invitation: one is accepted
            return self._accept(c)
        partner = rng.choice(sorted(c.partners))
        if 0.2 <= move < 0.22 and len(c.partners) > 1:  # a reseller relationship ends
            del c.partners[partner]
            return self._event(
                "relationship.removed", "sales-agent", partner, partner_id=partner, customer_id=c.cid
            )
        if move < 0.45 or not c.live:
            return self._purchase(c, partner)
        if move < 0.6:
            return self._grant(c, partner)
        if move < 0.7 and c.granted:
            did = rng.choice(c.granted.items)
            c.granted.remove(did)
            expires = c.delegations.pop(did)
            if expires is None or expires > self.clock + self.step_max_s * 1_000_000:  # still active then
                return self._event("delegation.revoked", "customer-global-admin", c.cid, delegation_id=did)
        if move < 0.8 and c.switchable:
            switched = self._switch(c, partner)
            if switched is not None:
                return switched
        return self._cancel(c)

    def _accept(self, c: Customer) -> dict[str, Any]:
        rid, (pid, reseller) = c.open_requests.popitem()
        c.partners[pid] = reseller
        return self._event("relationship.accepted", "customer-global-admin", c.cid, request_id=rid)

    def _request(self, c: Customer, pid: str) -> dict[str, Any]:
        """An invitation; an indirect provider mostly invites on behalf of one of its
        resellers (who cannot invite themselves)."""
        rid = f"req-{self.n + 1}"
        resellers = self.resellers_of.get(pid)
        reseller = self.rng.choice(resellers) if resellers and self.rng.random() < 0.7 else None
        c.open_requests[rid] = (pid, reseller)
        extra = {"reseller_id": reseller} if reseller else {}
        return self._event(
            "relationship.requested",
            "sales-agent",
            pid,
            request_id=rid,
            partner_id=pid,
            customer_id=c.cid,
            **extra,
        )

    def _seller(self, c: Customer, owner: str) -> tuple[str, str | None]:
        """Who sells through the relationship ``owner`` holds: the billing partner and, for
        an indirect provider, mostly a reseller of record working under it now (the one the
        invitation named, if it still does)."""
        resellers = self.resellers_of.get(owner)
        if not resellers or self.rng.random() < 0.15:
            return owner, None
        named = c.partners[owner]
        return owner, named if named in resellers else self.rng.choice(resellers)

    def _purchase(self, c: Customer, partner: str) -> dict[str, Any]:
        rng = self.rng
        sid = f"sub-{self.n + 1}"
        which = rng.random()
        if which < 0.2:
            return self._other_channel(c, sid)
        billing, reseller = self._seller(c, partner)
        extra: dict[str, Any] = {"reseller_id": reseller} if reseller else {}
        if which < 0.3 and c.migratable:  # Azure from another channel moves to CSP
            old = rng.choice(c.migratable.items)
            c.migrated(old)
            service = "usage"
            extra["migrated_from"] = old
        else:
            service = rng.choice(("license", "usage"))
        if service == "license":
            extra["term_end"] = _time(self.clock + 365 * DAY_US)
        c.bought(sid, service, "csp", reseller or billing, billing)
        return self._event(
            "subscription.purchased",
            "sales-agent",
            billing,
            subscription_id=sid,
            customer_id=c.cid,
            offer="Office 365 E3" if service == "license" else "Azure plan",
            service=service,
            channel="csp",
            seller_id=billing,
            **extra,
        )

    def _other_channel(self, c: Customer, sid: str) -> dict[str, Any]:
        """A purchase outside CSP: no partner of record; a seller where the channel has one."""
        rng = self.rng
        which = rng.random()
        seller: str | None = None
        if which < 0.35 or (0.7 <= which < 0.85 and not self.advisors):
            channel, service, offer = "microsoft", "usage", "Azure pay-as-you-go"
        elif which < 0.6:
            channel, service, offer = "ea", "usage", "Azure (EA)"
        elif which < 0.7:
            channel, service, offer = "open", "license", "Office 365 E3 (Open)"
        elif which < 0.85:
            channel, seller = "advisor", rng.choice(self.advisors)
            service = rng.choice(("license", "usage"))
            offer = "Office 365 E3" if service == "license" else "Azure (advisor)"
        elif which < 0.95:
            channel, seller = "syndication", rng.choice(self.syndicators)
            service = rng.choice(("license", "usage"))
            offer = "Office 365 E3 (syndication)" if service == "license" else "Azure (syndication)"
        else:
            channel, service, offer = "third-party", "license", "Office 365 E3 (hosted)"
            seller = rng.choice(self.third_parties)
        extra: dict[str, Any] = {"seller_id": seller} if seller else {}
        if service == "license":
            extra["term_end"] = _time(self.clock + 365 * DAY_US)
        c.bought(sid, service, channel, None, None)
        return self._event(
            "subscription.purchased",
            "sales-agent" if seller else "global-admin",
            seller or c.cid,
            subscription_id=sid,
            customer_id=c.cid,
            offer=offer,
            service=service,
            channel=channel,
            **extra,
        )

    def _grant(self, c: Customer, partner: str) -> dict[str, Any]:
        """Delegated admin privileges for the relationship's partner or, through an indirect
        provider's relationship, one of its resellers: DAP (rarer once GDAP takes over)
        until DAP's retirement; else GDAP, in two steps: the partner's request (30 to 700
        days, half of them auto-extended), which the customer approves later (most often
        within 90 days; the others lapse)."""
        rng = self.rng
        latest = self.clock + self.step_max_s * 1_000_000  # the latest this event can be effective
        for did in [
            d for d, (_, _, _, at) in c.gdap_requests.items() if at + GDAP_REQUEST_LAPSES_US <= latest
        ]:
            del c.gdap_requests[did]  # lapsed (or may have by then): never approved
        if c.gdap_requests and rng.random() < 0.8:
            return self._approve(c, next(iter(c.gdap_requests)))
        did = f"del-{self.n + 1}"
        resellers = self.resellers_of.get(partner)
        grantee = rng.choice(resellers) if resellers and rng.random() < 0.4 else partner
        dap_share = 0.0 if latest >= DAP_RETIRED_US else 0.4 if latest >= GDAP_ERA_US else 0.9
        if rng.random() >= dap_share:
            days, auto = rng.randint(30, 700), rng.random() < 0.5
            request = self._event(
                "delegation.requested",
                "admin-agent",
                grantee,
                delegation_id=did,
                customer_id=c.cid,
                partner_id=grantee,
                roles=["Helpdesk Administrator"],
                duration=f"P{days}D",
                **({"auto_extend": "P180D"} if auto else {}),
            )
            c.gdap_requests[did] = (grantee, days, auto, self.clock)
            return request
        c.delegations[did] = None
        c.granted.add(did)
        grant = {"delegation_id": did, "customer_id": c.cid, "partner_id": grantee}
        return self._event(
            "delegation.granted", "customer-global-admin", c.cid, **grant, kind="dap", roles=["Admin agent"]
        )

    def _approve(self, c: Customer, did: str) -> dict[str, Any]:
        """The customer approves a GDAP request: it expires its duration after."""
        grantee, days, auto, _ = c.gdap_requests.pop(did)
        grant = self._event(
            "delegation.granted",
            "customer-global-admin",
            c.cid,
            delegation_id=did,
            customer_id=c.cid,
            partner_id=grantee,
            kind="gdap",
            roles=["Helpdesk Administrator"],
        )
        expires = self.clock + days * DAY_US
        grant["data"]["expires_at"] = _time(expires)
        c.delegations[did] = expires
        c.granted.add(did)
        if auto:
            c.auto_extended[did] = expires
        return grant

    def _extension(self, c: Customer) -> dict[str, Any] | None:
        """Microsoft's auto-extension of an active GDAP at its expiry, by 180 days, where the
        expiry comes before the customer's next event; an expiry already behind the
        customer's newest event went by (auto-extension turned off): the GDAP expired."""
        latest = self.clock + self.step_max_s * 1_000_000
        for did, expires in list(c.auto_extended.items()):
            if c.delegations.get(did) != expires or expires < c.last_us:
                del c.auto_extended[did]  # revoked, or expired
            elif expires <= latest:
                self.n += 1
                self.clock = max(self.clock, expires)
                c.delegations[did] = c.auto_extended[did] = expires + 180 * DAY_US
                new = _time(expires + 180 * DAY_US)
                return self._event_at(
                    expires,
                    "delegation.extended",
                    "microsoft",
                    "microsoft",
                    delegation_id=did,
                    expires_at=new,
                )
        return None

    def _switch(self, c: Customer, partner: str) -> dict[str, Any] | None:
        """An Azure csp subscription moves from its partner of record to ``partner`` (a
        relationship holder), or to a reseller working under it now; None where that would
        be no change."""
        rng = self.rng
        sid = rng.choice(c.switchable.items)
        _, _, por, _ = c.subs[sid]
        resellers = [r for r in self.resellers_of.get(partner, ()) if r != por]
        if resellers and (partner == por or rng.random() < 0.8):
            reseller: str | None = rng.choice(resellers)
        elif partner != por:
            reseller = None
        else:
            return None
        c.subs[sid] = ("usage", "csp", reseller or partner, partner)
        extra = {"to_reseller_id": reseller} if reseller else {}
        return self._event(
            "subscription.switched",
            "sales-agent",
            partner,
            subscription_id=sid,
            from_partner_id=por,
            to_partner_id=partner,
            **extra,
        )

    def _cancel(self, c: Customer) -> dict[str, Any]:
        """A subscription ends, mostly one already replaced by a migration."""
        rng = self.rng
        pool = c.retiring if c.retiring and rng.random() < 0.8 else c.live
        sid = rng.choice(pool.items)
        _, _, _, billing = c.subs[sid]
        c.cancelled(sid)
        if billing is None:  # not sold through CSP: the customer's own admin cancels
            return self._event("subscription.cancelled", "global-admin", c.cid, subscription_id=sid)
        return self._event("subscription.cancelled", "sales-agent", billing, subscription_id=sid)


def write(path: Path, events: int, seed: int) -> int:
    count = 0
    with path.open("wb") as out:
        for event in History(events, seed).events():
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("file", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2016)
    args = parser.parse_args()
    print(write(args.file, args.events, args.seed), "events written to", args.file)


if __name__ == "__main__":
    main()
