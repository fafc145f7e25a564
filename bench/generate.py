"""A realistic, rule-abiding history with a fixed seed: partners in every program, tens of
thousands of customers with Zipf-skewed activity across every event type.

Every generated event passes the rulebook: the generator keeps a small model of each
customer (its relationships, subscriptions, delegations) and picks only valid next steps.
Effective times only grow, one to ninety minutes apart, from 2016 on.
"""

from __future__ import annotations

import argparse
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

START_US = 1_451_606_400_000_000  # 2016-01-01T00:00:00Z
DAY_US = 86_400_000_000


def _time(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    from datetime import UTC, datetime

    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
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

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class Customer:
    cid: str
    partners: set[str] = field(default_factory=set)  # partners with an accepted relationship
    open_requests: dict[str, str] = field(default_factory=dict)  # request id -> partner
    subs: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)  # id -> service, channel, por
    delegations: dict[str, int] = field(default_factory=dict)  # id -> expires_us (0: dap)
    live: Pool = field(default_factory=Pool)  # subscription ids
    switchable: Pool = field(default_factory=Pool)  # csp usage subscription ids
    granted: Pool = field(default_factory=Pool)  # delegation ids

    def bought(self, sid: str, service: str, channel: str, por: str | None) -> None:
        self.subs[sid] = (service, channel, por)
        self.live.add(sid)
        if service == "usage" and channel == "csp":
            self.switchable.add(sid)

    def cancelled(self, sid: str) -> None:
        service, channel, _ = self.subs.pop(sid)
        self.live.remove(sid)
        if service == "usage" and channel == "csp":
            self.switchable.remove(sid)


class History:
    def __init__(self, events: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.target = events
        self.clock = START_US
        self.n = 0
        customers = max(10, events // 40)
        self.direct = [f"csp-{i}" for i in range(max(4, customers // 500))]
        self.providers = [f"prov-{i}" for i in range(max(2, customers // 2000))]
        self.resellers = [f"resl-{i}" for i in range(max(2, customers // 1000))]
        self.customers = [Customer(f"cust-{i}") for i in range(customers)]
        weights = [1.0 / (rank + 1) ** 1.1 for rank in range(customers)]
        self.rng.shuffle(weights)
        # Summed once: random.choices with plain weights sums all of them at every call.
        self.cum_weights = list(itertools.accumulate(weights))
        self.ns = uuid.UUID(int=seed)

    def _event(self, type_: str, role: str, tenant: str, **data: Any) -> dict[str, Any]:
        self.n += 1
        self.clock += self.rng.randint(60, 5400) * 1_000_000
        return {
            "event_id": str(uuid.uuid5(self.ns, str(self.n))),
            "type": type_,
            "effective_at": _time(self.clock),
            "actor": {"id": f"ops@{tenant}.example", "role": role, "tenant_id": tenant},
            "data": data,
        }

    def events(self) -> Iterator[dict[str, Any]]:
        for pid in self.direct + self.providers:
            program = "csp-direct" if pid.startswith("csp") else "csp-indirect-provider"
            yield self._event(
                "partner.registered",
                "global-admin",
                pid,
                partner_id=pid,
                name=pid,
                cloud="commercial",
                program=program,
            )
        for pid in self.resellers:
            yield self._event(
                "partner.registered",
                "global-admin",
                pid,
                partner_id=pid,
                name=pid,
                cloud="commercial",
                program="csp-indirect-reseller",
                provider_ids=self.rng.sample(self.providers, 1),
            )
        registered: set[str] = set()
        while self.n < self.target:
            customer = self.rng.choices(self.customers, cum_weights=self.cum_weights)[0]
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
                continue
            yield self._step(customer)

    def _step(self, c: Customer) -> dict[str, Any]:
        rng = self.rng
        move = rng.random()
        live = c.live
        if c.open_requests and move < 0.15:
            rid, pid = c.open_requests.popitem()
            c.partners.add(pid)
            return self._event("relationship.accepted", "customer-global-admin", c.cid, request_id=rid)
        # A partner invites a customer it has no relationship or open invitation with (as in
        # Partner Center, one reseller relationship per partner and customer).
        inviting = set(c.open_requests.values()) | c.partners
        strangers = [p for p in self.direct + self.providers if p not in inviting]
        if strangers and (not c.partners or move < 0.2):
            pid = rng.choice(strangers)
            rid = f"req-{self.n + 1}"
            c.open_requests[rid] = pid
            return self._event(
                "relationship.requested",
                "sales-agent",
                pid,
                request_id=rid,
                partner_id=pid,
                customer_id=c.cid,
            )
        if not c.partners:  # every partner has an open invitation: one is accepted
            rid, pid = c.open_requests.popitem()
            c.partners.add(pid)
            return self._event("relationship.accepted", "customer-global-admin", c.cid, request_id=rid)
        partner = rng.choice(sorted(c.partners))
        if 0.2 <= move < 0.22 and len(c.partners) > 1:  # a reseller relationship ends
            c.partners.discard(partner)
            return self._event(
                "relationship.removed", "sales-agent", partner, partner_id=partner, customer_id=c.cid
            )
        if move < 0.45 or not live:
            sid = f"sub-{self.n + 1}"
            if rng.random() < 0.2:  # another channel
                c.bought(sid, "usage", "ea", None)
                return self._event(
                    "subscription.purchased",
                    "global-admin",
                    c.cid,
                    subscription_id=sid,
                    customer_id=c.cid,
                    offer="Azure (EA)",
                    service="usage",
                    channel="ea",
                )
            service = rng.choice(("license", "usage"))
            c.bought(sid, service, "csp", partner)
            extra = {"term_end": _time(self.clock + 365 * DAY_US)} if service == "license" else {}
            return self._event(
                "subscription.purchased",
                "sales-agent",
                partner,
                subscription_id=sid,
                customer_id=c.cid,
                offer="Office 365 E3" if service == "license" else "Azure plan",
                service=service,
                channel="csp",
                seller_id=partner,
                **extra,
            )
        if move < 0.6:
            did = f"del-{self.n + 1}"
            expires = self.clock + rng.randint(30, 700) * DAY_US
            c.delegations[did] = expires
            c.granted.add(did)
            return self._event(
                "delegation.granted",
                "customer-global-admin",
                c.cid,
                delegation_id=did,
                customer_id=c.cid,
                partner_id=partner,
                kind="gdap",
                roles=["Helpdesk Administrator"],
                expires_at=_time(expires),
            )
        if move < 0.7 and c.granted:
            did = rng.choice(c.granted.items)
            c.granted.remove(did)
            if c.delegations.pop(did) > self.clock + 10_000 * 1_000_000:  # still active then
                return self._event("delegation.revoked", "customer-global-admin", c.cid, delegation_id=did)
        others = [p for p in sorted(c.partners) if p.startswith("csp")]
        if move < 0.8 and c.switchable and others:
            sid = rng.choice(c.switchable.items)
            _, _, por = c.subs[sid]
            targets = [p for p in others if p != por]
            if targets:
                to = rng.choice(targets)
                c.subs[sid] = ("usage", "csp", to)
                return self._event(
                    "subscription.switched",
                    "sales-agent",
                    to,
                    subscription_id=sid,
                    from_partner_id=por,
                    to_partner_id=to,
                )
        sid = rng.choice(live.items)
        c.cancelled(sid)
        return self._event("subscription.cancelled", "sales-agent", partner, subscription_id=sid)


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
