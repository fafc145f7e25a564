"""Many writers, one PostgreSQL ledger, for a bounded time: the invariants still hold.

Four (or ``LEDGER_WRITERS``) processes record interleaved, partly conflicting events for
shared customers for a few seconds each: switches of the same subscriptions from what each
believes is the partner of record, acceptances of the same invitations, grants and
revocations of the same delegation ids, purchases and cancellations of the same
subscription ids, effective times from a shared clock (so some arrive older than a
customer's newest). Each writer notes every receipt the ledger gave it, as it gets it.

Afterwards: positions are gap-free, the chain and the projections verify, every event a
writer was told was stored is there (same position, same hash) and no rejected one is, and
the reference model (``tests/model.py``) accepts the stored log in position order, derives
the same answers from it, and finds no csp sale to a CSP partner.

(``tests/test_concurrency.py`` races one conflict at a time; this runs them all at once.)
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ledger import Ledger, NotFound, RuleViolation, parse_event, read

from builders import accept, customer, partner, purchase, request
from model import Model, text, us

WRITERS = int(os.environ.get("LEDGER_WRITERS", "4"))
SECONDS = float(os.environ.get("LEDGER_WRITER_SECONDS", "6"))
INVITERS = ["p1", "p2", "p3", "p4"]
CUSTOMERS = ["c1", "c2", "c3"]
START = us("2021-01-01T00:00:00Z")


def setup(url: str) -> int:
    """Four direct partners (p4 also a customer), a reseller under p3, three shared customers
    related to p1 and p2, each with an Azure subscription from p1."""
    at = "2020-06-01T00:00:00Z"
    events = [partner(p, at=at) for p in INVITERS]
    events.append(partner("p5", program="csp-indirect-reseller", providers=["p3"], at=at))
    events += [customer(c, at=at) for c in [*CUSTOMERS, "p4"]]
    for c in CUSTOMERS:
        for p in ("p1", "p2"):
            events += [request(f"setup-{p}-{c}", p, c, at=at), accept(f"setup-{p}-{c}", c, at=at)]
        events.append(purchase(f"azure-{c}", c, at=at, seller="p1"))
    with Ledger(url) as ledger:
        ledger.record_many(list(enumerate(events, start=1)))
    return len(events)


class Writer:
    """What one writer remembers of its own recent work, to aim at things that exist (and
    at the same things as the other writers: their ids follow the same pattern)."""

    def __init__(self, me: int, started: float) -> None:
        self.me, self.started = me, started
        self.rng = random.Random(me)
        self.count = Counter[str]()

    def near(self, kind: str) -> str:
        """An id of this kind made recently by any writer (maybe this one, maybe another)."""
        k = max(0, self.count[kind] - self.rng.randint(0, 3))
        return f"{kind}-{self.rng.randrange(WRITERS)}-{k}"

    def fresh(self, kind: str) -> str:
        self.count[kind] += 1
        return f"{kind}-{self.me}-{self.count[kind]}"

    def event(self, ledger: Ledger) -> dict[str, Any]:
        """One random, partly conflicting event, effective now on the shared clock."""
        rng = self.rng
        now = START + int((time.time() - self.started) * 1_000_000) * 1_000  # 1 ms real = 1 s effective
        when = text(now - rng.choice((0, 0, 0, 0, 0, 0, 2_000_000)))  # a few a moment older
        c = rng.choice([*CUSTOMERS, "p4"])

        def ev(type_: str, role: str, tenant: str, **data: Any) -> dict[str, Any]:
            return {
                "type": type_,
                "effective_at": when,
                "actor": {"id": f"writer-{self.me}@example", "role": role, "tenant_id": tenant},
                "data": data,
            }

        kind = rng.choice(("switch", "switch", "request", "accept", "grant", "revoke", "buy", "cancel"))
        subs = [*(f"azure-{x}" for x in CUSTOMERS), self.near("s"), self.near("s")]
        if kind == "switch":
            sid = rng.choice(subs)
            try:  # what this writer believes the partner of record is: maybe stale by the time
                frm = read.por(ledger, sid)["partner_of_record"] or "p1"
            except NotFound:
                frm = "p1"
            to = rng.choice(INVITERS)
            moves = {"subscription_id": sid, "from_partner_id": frm, "to_partner_id": to}
            if to == "p3" and rng.random() < 0.5:
                moves["to_reseller_id"] = "p5"
            return ev("subscription.switched", "sales-agent", to, **moves)
        if kind == "request":
            p = rng.choice(INVITERS)
            rid = self.fresh("r") if rng.random() < 0.9 else self.near("r")
            invitation = {"request_id": rid, "partner_id": p, "customer_id": c}
            if p == "p3" and rng.random() < 0.5:
                invitation["reseller_id"] = "p5"
            return ev("relationship.requested", "sales-agent", p, **invitation)
        if kind == "accept":
            return ev("relationship.accepted", "customer-global-admin", c, request_id=self.near("r"))
        if kind == "grant":
            grant = {
                "delegation_id": self.fresh("d") if rng.random() < 0.9 else self.near("d"),
                "customer_id": c,
                "partner_id": rng.choice([*INVITERS, "p5"]),
                "kind": "gdap",
                "roles": ["Global Reader"],
                "expires_at": text(now + rng.choice((1, 30)) * 86_400_000_000),
            }
            return ev("delegation.granted", "customer-global-admin", c, **grant)
        if kind == "revoke":
            return ev("delegation.revoked", "customer-global-admin", c, delegation_id=self.near("d"))
        if kind == "buy":
            seller = rng.choice(INVITERS)
            sid = self.fresh("s") if rng.random() < 0.9 else self.near("s")
            sale = {"subscription_id": sid, "customer_id": c, "offer": "Azure plan", "service": "usage"}
            return ev(
                "subscription.purchased", "sales-agent", seller, **sale, channel="csp", seller_id=seller
            )
        return ev("subscription.cancelled", "sales-agent", "p1", subscription_id=rng.choice(subs))


def writer(url: str, number: int, ready: str, gate: str, seconds: float, out: str) -> None:
    """One writing process: waits at the gate, then records for ``seconds``; every receipt
    or rejection goes to ``out`` as a JSON line, flushed as soon as the ledger answered."""
    with Ledger(url) as ledger, open(out, "w") as notes:
        Path(ready).touch()
        deadline = time.monotonic() + 60
        while not os.path.exists(gate):
            assert time.monotonic() < deadline, "the gate never opened"
            time.sleep(0.001)
        me = Writer(number, float(Path(gate).read_text()))
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            event = me.event(ledger)
            note: dict[str, Any] = {"event": event}
            try:
                receipt = ledger.record(parse_event(event))
                note.update(outcome="stored", receipt=receipt.to_json())
            except RuleViolation as violation:
                note.update(outcome="rejected", rule=violation.rule)
            notes.write(json.dumps(note) + "\n")
            notes.flush()


WRITER_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
import test_invariants_concurrency as t
t.writer(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6]), sys.argv[7])
"""


def test_writers_racing_for_seconds_break_no_invariant(pg_url: str, tmp_path: Path) -> None:
    head = setup(pg_url)
    gate = tmp_path / "gate"
    ready = [tmp_path / f"ready-{w}" for w in range(WRITERS)]
    notes = [tmp_path / f"notes-{w}.jsonl" for w in range(WRITERS)]
    here = str(Path(__file__).parent)
    procs = []
    for w in range(WRITERS):
        argv = [here, pg_url, str(w), str(ready[w]), str(gate), str(SECONDS), str(notes[w])]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER_SCRIPT, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready):
            assert all(p.poll() is None for p in procs), [
                p.communicate() for p in procs if p.poll() is not None
            ]
            assert time.monotonic() < deadline, "the writers did not get ready"
            time.sleep(0.01)
        opening = tmp_path / "gate.tmp"
        opening.write_text(str(time.time()))
        opening.replace(gate)  # atomically: a writer never reads a gate without its time
        results = [p.communicate(timeout=SECONDS + 120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()
        assert b"Traceback" not in err

    told = [json.loads(line) for path in notes for line in path.read_text().splitlines()]
    stored_notes = [n for n in told if n["outcome"] == "stored"]
    outcomes = Counter(n.get("rule", "stored") for n in told)
    # The race was real: many events, some stored, and conflicts refused by several rules.
    print(f"{len(told)} events tried by {WRITERS} writers in {SECONDS}s: {dict(outcomes)}")
    assert len(stored_notes) >= 20, outcomes
    assert {"known-references", "azure-switch-between-csp-partners"} <= set(outcomes), outcomes

    with Ledger(pg_url) as ledger:
        events = list(ledger.stored())
        total = head + sum(1 for n in stored_notes if not n["receipt"]["duplicate"])
        # Gap-free, and exactly what the writers were told was stored.
        assert [e["position"] for e in events] == list(range(1, total + 1))
        by_position = {e["position"]: e for e in events}
        for n in stored_notes:
            r = n["receipt"]
            assert by_position[r["position"]]["event_id"] == r["event_id"]
            assert by_position[r["position"]]["hash"] == r["hash"]
            assert by_position[r["position"]]["data"] == n["event"]["data"]
        # The writers really interleaved.
        writers_at = [int(e["actor"]["id"].split("@")[0].split("-")[1]) for e in events[head:]]
        switches = sum(a != b for a, b in itertools.pairwise(writers_at))
        assert switches > WRITERS, "the writers did not overlap"
        # The chain and every projection verify.
        assert ledger.verify() == total

        # The reference model accepts the stored log in position order and agrees on every answer.
        model = Model()
        for e in events:
            body = {k: v for k, v in e.items() if k not in ("position", "recorded_at", "hash", "prev_hash")}
            assert model.judge(body) is None, (e["position"], model.judge(body), body)
            model.record(body)
            if body["type"] == "subscription.purchased" and body["data"]["channel"] == "csp":
                assert not model.world(us(body["effective_at"]), e["position"] - 1).is_csp(
                    body["data"]["customer_id"]
                )
        moments = sorted({us(e["effective_at"]) for e in events})
        for at in [*moments[:: max(1, len(moments) // 25)], moments[-1]]:
            for c in [*CUSTOMERS, "p4"]:
                assert read.customer(ledger, c, at) == model.customer(c, at), (c, text(at))
        for sid in {e["data"]["subscription_id"] for e in events if e["type"] == "subscription.purchased"}:
            assert read.por(ledger, sid, moments[-1]) == model.por(sid, moments[-1])
