"""The invariants, proven by a hypothesis state machine against the reference model.

``LedgerMachine`` records random but well-typed events (partners in every program and cloud,
customers, purchases on every channel, invitations, acceptances, removals, DAP and GDAP
grants and revocations, switches, migrations, cancellations; valid ones and deliberately
invalid ones: wrong roles, unknown or used ids, back-dated times, every rule's corner) at
mostly increasing effective times into the real ledger and into ``tests/model.py``, a small
model written from the domain page alone. After every step it checks:

- the rulebook: the ledger accepts exactly what the model accepts, and names the same rule;
- a rejected event left the store byte for byte unchanged (events, chain, projections);
- multi-partner changes nothing: a delegation event changed no projection but delegations;
- CSP never resells to CSP: no stored csp purchase names a customer that was a CSP partner
  then (as the ledger knew it when the purchase was recorded), recomputed from the export;
- positions are gap-free and the stored log is the model's log;
- the chain verifies and the projections equal a rebuild (``Ledger.verify``);
- every answer (``por``, ``customer``, ``delegations``, ``history``) equals the model's, now and
  as of every recorded effective time (and the instant before it), and as known at every
  recorded position.

The same machine runs on SQLite, on PostgreSQL, and on both side by side (the differential
run: their exports less ``recorded_at`` and hashes, and every answer, must be identical). The
differential run's PostgreSQL database orders text linguistically (ICU en-US, as a server
initialised in en_US does), and the machine's ids mix case and punctuation, so an answer
whose order depended on the database's collation would differ.

Budgets come from a settings profile: ``ledger-ci`` (the default suite) or ``ledger-deep``
(``LEDGER_MODEL_PROFILE=ledger-deep``, for a longer hunt).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import uuid
from typing import Any, ClassVar

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import RULEBOOK, Ledger, NotFound, RuleViolation, _rules, parse_event, read
from projections import TABLES
from projections._fold import FOLDS
from projections._session import change
from projections._tables import SUBSCRIPTIONS

import model
from builders import accept, customer, grant, partner, purchase, request
from model import DAY, SECOND, Model, text, us

PG_DSN = os.environ.get("LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
# The differential run's PostgreSQL side: a database whose default collation is linguistic
# (ICU en-US, as a server initialised in en_US orders text), created when missing.
PG_ICU_DSN = PG_DSN.rsplit("/", 1)[0] + "/ledger_test_icu"

settings.register_profile(
    "ledger-ci",
    max_examples=48,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile(
    "ledger-deep", settings.get_profile("ledger-ci"), max_examples=300, stateful_step_count=60
)
PROFILE = settings.get_profile(os.environ.get("LEDGER_MODEL_PROFILE", "ledger-ci"))

# --- the pools the machine draws from ---------------------------------------------------------

PARTNERS = ("p1", "p2", "p3", "p4", "p5", "x1", "x2")
CUSTOMERS = ("c1", "c2", "c3", "x1", "x2")  # x1, x2: tenants that may be partners too
CLOUDS = ("commercial",) * 5 + ("us-gov", "germany", "china")
PROGRAMS = ("csp-direct", "csp-indirect-provider", "csp-indirect-reseller", "advisor", "syndication", "none")
# The programs drawn: every one, the CSP ones more often (they can invite, sell, be switched to).
DRAWN_PROGRAMS = (*PROGRAMS, "csp-direct", "csp-indirect-provider")
CHANNELS = ("csp", "csp", "microsoft", "advisor", "open", "ea", "third-party", "syndication", "21vianet")
WITH_SELLER = {"csp", "advisor", "syndication", "third-party"}
ROLES = (  # every role of the spec: each valid, eligible or not
    "global-admin",
    "user-management-admin",
    "admin-agent",
    "sales-agent",
    "helpdesk-agent",
    "billing-admin",
    "account-admin",
    "mpn-admin",
    "referrals-admin",
    "incentive-admin",
    "customer-global-admin",
    "customer-delegated-admin-relationship-admin",
    "microsoft",
)
ADMIN = ("global-admin", "user-management-admin")
AGENT = ("global-admin", "admin-agent", "sales-agent")
CUSTOMER_ADMIN = ("customer-global-admin",)
GDAP_APPROVERS = ("customer-global-admin", "customer-delegated-admin-relationship-admin")
# Who ends a delegation: the customer, the partner, Microsoft (a DAP only).
REVOKERS = (*GDAP_APPROVERS, "global-admin", "admin-agent", "microsoft")
GDAP_REQUESTERS = ("global-admin", "admin-agent")
MICROSOFT = ("microsoft",)
GA_ID = "62e90394-69f5-4237-9190-012177145e10"
GDAP_ROLES = (
    ["Global Reader"],
    ["admin-agent", "helpdesk-agent"],
    [GA_ID],
    ["global-administrator", "Global Reader"],
)
# A GDAP request's duration: days, months, years, across month ends and 29 February.
DURATIONS = ("P1D", "P30D", "P90D", "P6M", "P1Y", "P2Y", "P730D", "P1Y1M1D")

# The editions' dates (2020-03-20, 2021-01-27, 2021-10-29; DAP retires on 2023-10-09) are
# within reach of a run.
START = us("2020-01-01T00:00:00Z")
# How far each event's effective time moves on from the newest so far (shrinks to one day).
STEPS = (DAY, 0, SECOND, 3600 * SECOND, 7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY, 800 * DAY)
# A GDAP grant's expiry off its request's (activation + duration): wrong ones, then exact.
OFF = (0, 0, 0, 0, DAY, -DAY, SECOND, -SECOND)
NAMESPACE = uuid.UUID("b8c6b1e2-6a55-4a8e-9d0b-0c1f5ad1e7a3")


def fresh(prefix: str, used: Any) -> str:
    """The first id not used yet of ``s_1``, ``S2``, ``s_3``, ``s_4``, ``S5``…: mixed case and
    punctuation, which a linguistic collation orders otherwise than code points do."""
    names = (f"{prefix}_{n}" if n % 3 != 2 else f"{prefix.upper()}{n}" for n in range(1, len(used) + 2))
    return next(name for name in names if name not in used)


class Choices:
    """One step's choices. Careful steps take the valid choice wherever one exists (a
    registered partner, an open request, the partner of record, an eligible role); one step
    in eight is sloppy: any id of the pools, any role, maybe a back-dated time."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.sloppy = data.draw(st.integers(0, 7)) == 0

    def one_of(self, options: Any) -> Any:
        return self.data.draw(st.sampled_from(list(options)))

    def pick(self, preferred: Any, pool: Any) -> Any:
        preferred = list(preferred)
        if preferred and not (self.sloppy and self.data.draw(st.booleans())):
            return self.one_of(preferred)
        return self.one_of(pool)

    def role(self, eligible: tuple[str, ...]) -> str:
        return str(self.pick(eligible, ROLES))

    def chance(self, one_in: int) -> bool:
        return bool(self.data.draw(st.integers(0, one_in - 1)) == 0)


def _now_free(answer: Any) -> Any:
    """An answer asked of "now", less the echo of the time asked (it moves between calls)."""
    if isinstance(answer, dict):
        return {k: _now_free(v) for k, v in answer.items() if k != "as_of"}
    if isinstance(answer, list):
        return [_now_free(v) for v in answer]
    return answer


class Store:
    """One real ledger under test, on a fresh SQLite file or a fresh PostgreSQL schema."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.folder: str | None = None
        self.schema: str | None = None
        self.dsn = PG_DSN
        if kind == "sqlite":
            self.folder = tempfile.mkdtemp(prefix="ledger-model-")
            url = f"sqlite:///{self.folder}/ledger.db"
        else:
            self.dsn = PG_ICU_DSN if kind == "postgresql-icu" else PG_DSN
            self.schema = f"m_{uuid.uuid4().hex[:12]}"
            try:
                if kind == "postgresql-icu":
                    _icu_database()
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'CREATE SCHEMA "{self.schema}"')
            except psycopg.OperationalError as exc:
                pytest.fail(f"PostgreSQL at {self.dsn} does not answer ({exc}); start it (see README)")
            url = f"{self.dsn}?schema={self.schema}"
        self.ledger = Ledger(url)
        self.recorded_us: list[int] = []  # by position - 1: when each event was recorded

    def known_position(self, known_at: int) -> int:
        return sum(1 for r in self.recorded_us if r <= known_at)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every stored row: events, chain, every projection table."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        names = [
            f'"{self.ledger.events_table}"',
            "ledger_chain",
            *(t.sql_name for t in TABLES),
            "prj_event_refs",
        ]
        with self.ledger.read() as db:
            for name in names:
                db.execute(f"SELECT * FROM {name}")
                out[name] = sorted((tuple(sorted(dict(r).items())) for r in db.fetchall()), key=repr)
        return out

    def close(self) -> None:
        self.ledger.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.schema is not None:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


def _icu_database() -> None:
    with psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5) as conn:
        name = PG_ICU_DSN.rsplit("/", 1)[1]
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(
                f"CREATE DATABASE \"{name}\" LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                "LOCALE 'C.UTF-8' TEMPLATE template0"
            )


class LedgerMachine(RuleBasedStateMachine):
    STORES: ClassVar[tuple[str, ...]] = ("sqlite",)
    # Counters across all runs of the class (the planted-bug demonstration reads them).
    runs: ClassVar[int] = 0
    steps: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).runs += 1
        self.model = Model()
        self.clock = START
        self.counter = 0
        self.frozen: int | None = None  # every event at this effective time, while set
        self.checked = 0  # events whose answers as of every moment were checked
        self.full_grid_at = FULL_GRID_EVERY
        self.known_grid_at = FULL_GRID_EVERY
        self.stores: list[Store] = []
        for kind in self.STORES:
            self.stores.append(Store(kind))

    # --- recording an event into the model and every store -------------------------------

    def at(self, c: Choices) -> int:
        """The next effective time: on from the newest so far, or back-dated when sloppy."""
        if self.frozen is not None:
            return self.frozen
        step = c.one_of(STEPS if not c.sloppy else (*STEPS, -SECOND, -30 * DAY))
        when = self.clock + step
        self.clock = max(self.clock, when)
        return when

    def record(
        self, type_: str, when: int, role: str, tenant: str, data: dict[str, Any], note: str | None = None
    ) -> None:
        type(self).steps += 1
        self.counter += 1
        event: dict[str, Any] = {
            "event_id": str(uuid.uuid5(NAMESPACE, str(self.counter))),
            "type": type_,
            "effective_at": text(when),
            "actor": {"id": f"ops@{tenant}.example", "role": role, "tenant_id": tenant},
            "data": {k: v for k, v in data.items() if v is not None},
        }
        if note is not None:
            event["note"] = note
        parsed = parse_event(event)  # well-typed by construction: bad input is test_fuzz's business
        assert parsed.to_json() == event, "the machine builds events in their canonical form"
        expected = self.model.judge(event)
        for store in self.stores:
            before = store.snapshot()
            try:
                receipt = store.ledger.record(parsed)
                outcome: str | None = None
            except RuleViolation as violation:
                outcome = violation.rule
            verdict = "accepted" if outcome is None else f"rejected by {outcome}"
            wanted = "accept" if expected is None else f"reject by {expected}"
            assert outcome == expected, (
                f"{store.kind}: the ledger {verdict} what the model would {wanted}: {event}"
            )
            after = store.snapshot()
            if outcome is not None:
                assert after == before, f"{store.kind}: a rejected event changed the store"
                continue
            assert not receipt.duplicate and receipt.position == len(self.model.log) + 1
            store.recorded_us.append(us(receipt.recorded_at))
            if type_.startswith("delegation."):
                changed = {name for name in after if after[name] != before[name]}
                allowed = {
                    '"' + store.ledger.events_table + '"',
                    "ledger_chain",
                    "prj_delegations",
                    "prj_gdap_requests",
                    "prj_event_refs",
                }
                assert changed <= allowed, f"{type_} changed {sorted(changed - allowed)}"
        if expected is None:
            self.model.record(event)

    def world(self) -> model.World:
        return self.model.world(self.clock)

    # --- the rules: one per event type, aimed at the valid choice and at each rule's corners ---
    #
    # A careful step that needs something first (a grant needs an accepted invitation, a
    # switch a related partner, a migration an Azure subscription from another channel)
    # records that first, so that runs reach deep states; a sloppy one goes without.

    @initialize(data=st.data())
    def a_few_tenants(self, data: st.DataObject) -> None:
        """A direct partner, an indirect provider with its reseller and a customer to start
        from (their programs may differ), so that most runs get somewhere; one run in four
        in china, where the seeds' editions stay in force."""
        c = Choices(data)
        cloud = c.one_of(("commercial", "commercial", "commercial", "china"))
        base = (
            ("p1", "csp-direct", None),
            ("p2", "csp-indirect-provider", None),
            ("p3", "csp-indirect-reseller", ["p2"]),
        )
        for pid, usual, providers in base:
            program = c.one_of((*(usual,) * 6, *PROGRAMS))
            self.record(
                "partner.registered",
                self.clock,
                "global-admin",
                pid,
                {
                    "partner_id": pid,
                    "name": pid.upper(),
                    "cloud": cloud,
                    "program": program,
                    "provider_ids": providers if program == "csp-indirect-reseller" else None,
                },
            )
        self.record(
            "customer.registered",
            self.clock,
            "global-admin",
            "c1",
            {"customer_id": "c1", "name": "Contoso", "cloud": cloud},
        )
        if c.chance(2):  # x1: a partner (in some program) that is a customer too
            self.record(
                "partner.registered",
                self.clock,
                "global-admin",
                "x1",
                {
                    "partner_id": "x1",
                    "name": "X1",
                    "cloud": cloud,
                    "program": c.one_of(DRAWN_PROGRAMS),
                },
            )
            self.record(
                "customer.registered",
                self.clock,
                "global-admin",
                "x1",
                {"customer_id": "x1", "name": "X1", "cloud": cloud},
            )

    @precondition(lambda self: len(self.world().partners) < len(PARTNERS))
    @rule(data=st.data())
    def register_partner(self, data: st.DataObject) -> None:
        c = Choices(data)
        w = self.world()
        pid = c.pick([p for p in PARTNERS if p not in w.partners], PARTNERS)
        program = c.one_of(DRAWN_PROGRAMS)
        providers = None
        if program == "csp-indirect-reseller" and not c.chance(4):
            known = self.partners("csp-indirect-provider")
            providers = sorted({c.pick(known, PARTNERS), c.pick(known, PARTNERS)})
        self.record(
            "partner.registered",
            self.at(c),
            c.role(ADMIN),
            pid,
            {
                "partner_id": pid,
                "name": f"Partner {pid}",
                "cloud": c.one_of(CLOUDS),
                "program": program,
                "provider_ids": providers,
            },
        )

    @rule(data=st.data())
    def change_program(self, data: st.DataObject) -> None:
        c = Choices(data)
        pid = c.pick(self.partners(), PARTNERS)
        program = c.one_of(DRAWN_PROGRAMS)
        providers = None
        if program == "csp-indirect-reseller" and not c.chance(4):
            providers = [c.pick(self.partners("csp-indirect-provider"), PARTNERS)]
        self.record(
            "partner.program-changed",
            self.at(c),
            c.role(ADMIN),
            pid,
            {"partner_id": pid, "program": program, "provider_ids": providers},
        )

    @precondition(lambda self: len(self.world().customers) < len(CUSTOMERS))
    @rule(data=st.data())
    def register_customer(self, data: st.DataObject) -> None:
        c = Choices(data)
        w = self.world()
        cid = c.pick([x for x in CUSTOMERS if x not in w.customers], CUSTOMERS)
        self.record(
            "customer.registered",
            self.at(c),
            c.role(ADMIN),
            cid,
            {"customer_id": cid, "name": f"Customer {cid}", "cloud": c.one_of(CLOUDS)},
        )

    def _purchase(
        self, c: Choices, channel: str, service: str, migrated_from: str | None = None, cid: str | None = None
    ) -> None:
        used = self.model.ever("subscription.purchased", "subscription_id")
        sid = c.pick([fresh("s", used)], [*used, fresh("s", used)])
        if cid is None or c.sloppy:
            cid = c.pick(self.customers(), CUSTOMERS)
        seller = None
        if channel in WITH_SELLER or c.chance(4):
            csp = self.partners(*model.CSP) if channel == "csp" else []
            seller = c.pick(csp if not c.chance(6) else self.partners(), PARTNERS)
        reseller = None
        if channel == "csp" and c.chance(3):
            reseller = c.pick(self.partners("csp-indirect-reseller"), PARTNERS)
        when = self.at(c)
        self.record(
            "subscription.purchased",
            when,
            c.role(AGENT),
            seller or cid,
            {
                "subscription_id": sid,
                "customer_id": cid,
                "offer": "Azure plan" if service == "usage" else "Office 365 E3",
                "service": service,
                "channel": channel,
                "seller_id": seller,
                "reseller_id": reseller,
                "term_end": text(when + 365 * DAY) if service == "license" else None,
                "migrated_from": migrated_from,
            },
        )

    @rule(data=st.data())
    def purchase(self, data: st.DataObject) -> None:
        c = Choices(data)
        self._purchase(c, c.one_of(CHANNELS), c.one_of(("usage", "usage", "license")))

    @rule(data=st.data())
    def migrate(self, data: st.DataObject) -> None:
        """A new csp usage subscription replacing another: mostly an Azure one bought
        through another channel (bought first when there is none)."""
        c = Choices(data)
        movable = self.subscriptions(
            lambda s: s.service == "usage" and s.channel not in ("csp", "syndication")
        )
        if not movable and not c.sloppy:
            self._purchase(c, c.one_of(("ea", "microsoft", "open", "advisor", "third-party")), "usage")
            movable = self.subscriptions(
                lambda s: s.service == "usage" and s.channel not in ("csp", "syndication")
            )
        ever = self.model.ever("subscription.purchased", "subscription_id")
        old = c.pick(movable if not c.chance(6) else ever, [*ever, "s0"])
        owner = self.world().subs[old].customer if old in self.world().subs else None
        channel = c.one_of(("csp", "csp", "csp", "ea"))
        service = c.one_of(("usage", "usage", "usage", "license"))
        self._purchase(c, channel, service, old, owner if not c.chance(6) else None)

    def _relate(self, c: Choices, cid: str, pid: str, reseller: str | None = None) -> None:
        rid = fresh("r", self.model.ever("relationship.requested", "request_id"))
        self.record(
            "relationship.requested",
            self.at(c),
            c.role(AGENT),
            pid,
            {"request_id": rid, "partner_id": pid, "customer_id": cid, "reseller_id": reseller},
        )
        self.record("relationship.accepted", self.at(c), c.role(CUSTOMER_ADMIN), cid, {"request_id": rid})

    @rule(data=st.data())
    def relate(self, data: st.DataObject) -> None:
        """An invitation accepted at once: a direct partner's, or a provider's on behalf of one
        of its resellers."""
        c = Choices(data)
        w = self.world()
        pid = c.pick(self.partners(*model.INVITERS), PARTNERS)
        under = [r for r in self.partners("csp-indirect-reseller") if pid in w.partners[r].providers]
        reseller = c.one_of(under) if under and c.chance(2) else None
        self._relate(c, c.pick(self.customers(), CUSTOMERS), pid, reseller)

    @rule(data=st.data())
    def request(self, data: st.DataObject) -> None:
        c = Choices(data)
        used = self.model.ever("relationship.requested", "request_id")
        rid = c.pick([fresh("r", used)], [*used, fresh("r", used)])
        pid = c.pick(self.partners(*model.INVITERS) if not c.chance(5) else self.partners(), PARTNERS)
        reseller = None
        if c.chance(3):
            w = self.world()
            under = [r for r in self.partners("csp-indirect-reseller") if pid in w.partners[r].providers]
            reseller = c.pick(under if not c.chance(4) else self.partners(), PARTNERS)
        self.record(
            "relationship.requested",
            self.at(c),
            c.role(AGENT),
            pid,
            {
                "request_id": rid,
                "partner_id": pid,
                "customer_id": c.pick(self.customers(), CUSTOMERS),
                "reseller_id": reseller,
            },
        )

    @precondition(lambda self: self.model.ever("relationship.requested", "request_id"))
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        c = Choices(data)
        w = self.world()
        used = self.model.ever("relationship.requested", "request_id")
        rid = c.pick([r.id for r in w.requests.values() if r.status == "open"], [*used, "r0"])
        tenant = w.requests[rid].customer if rid in w.requests else "c1"
        self.record("relationship.accepted", self.at(c), c.role(CUSTOMER_ADMIN), tenant, {"request_id": rid})

    @precondition(lambda self: self.model.ever("relationship.accepted", "request_id"))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        c = Choices(data)
        w = self.world()
        live = sorted({(r.partner, r.customer) for r in w.relationships.values()})
        pid, cid = c.pick(live, [(p, x) for p in PARTNERS[:3] for x in CUSTOMERS[:2]])
        self.record(
            "relationship.removed",
            self.at(c),
            c.role(AGENT),
            pid,
            {"partner_id": pid, "customer_id": cid},
        )

    @rule(data=st.data())
    def grant(self, data: st.DataObject) -> None:
        self._grant(Choices(data))

    def _grant(self, c: Choices, cid: str | None = None) -> None:
        cid = cid or c.pick(self.customers(), CUSTOMERS)
        kind = c.one_of(("gdap", "gdap", "dap"))
        if kind == "gdap" and not (c.sloppy and c.chance(2)):
            self._approve(c, cid)
            return
        w = self.world()
        related = [p for p in w.partners if w.related(cid, p)]
        inviters = self.partners(*model.INVITERS)
        if not related and inviters and cid in w.customers and not c.sloppy:
            self._relate(c, cid, c.one_of(inviters))
            w = self.world()
            related = [p for p in w.partners if w.related(cid, p)]
        pid = c.pick(related if not c.chance(6) else self.partners(), PARTNERS)
        used = self.delegation_ids()
        did = c.pick([fresh("d", used)], [*used, fresh("d", used)])
        when = self.at(c)
        expires = None
        if kind == "gdap" or c.chance(6):
            expires = text(when + c.one_of((30 * DAY, 730 * DAY, DAY, 0, -DAY)))
        self.record(
            "delegation.granted",
            when,
            c.role(GDAP_APPROVERS if kind == "gdap" else CUSTOMER_ADMIN),
            cid,
            {
                "delegation_id": did,
                "customer_id": cid,
                "partner_id": pid,
                "kind": kind,
                "roles": c.one_of(GDAP_ROLES),
                "expires_at": expires,
            },
        )

    def delegation_ids(self) -> list[str]:
        """Every id a delegation or a GDAP request ever took."""
        return sorted(
            {
                *self.model.ever("delegation.granted", "delegation_id"),
                *self.model.ever("delegation.requested", "delegation_id"),
            }
        )

    def _ask(self, c: Choices, cid: str | None = None) -> None:
        """A partner asks a customer for GDAP (a fresh id when careful)."""
        cid = cid or c.pick(self.customers(), CUSTOMERS)
        pid = c.pick(self.partners(), PARTNERS)
        used = self.delegation_ids()
        did = c.pick([fresh("g", used)], [*used, fresh("g", used)])
        roles = c.one_of(GDAP_ROLES)
        ga = any(r.lower() in model.GLOBAL_ADMIN for r in roles)
        self.record(
            "delegation.requested",
            self.at(c),
            c.role(GDAP_REQUESTERS),
            pid,
            {
                "delegation_id": did,
                "customer_id": cid,
                "partner_id": pid,
                "roles": roles,
                "duration": c.one_of(DURATIONS),
                "auto_extend": "P180D" if (not ga or c.chance(4)) and c.chance(2) else None,
                "name": c.one_of((None, "Support", "Überwachung ✓")),
            },
        )

    @rule(data=st.data())
    def ask(self, data: st.DataObject) -> None:
        self._ask(Choices(data))

    def _approve(self, c: Choices, cid: str) -> None:
        """The customer approves one of its pending GDAP requests (asked for first when it
        has none), at activation + duration mostly; now and then for another partner or
        roles, or off by a little."""

        def pending() -> list[model.GdapRequest]:
            w = self.world()
            return [
                r
                for r in w.gdap_requests.values()
                if r.customer == cid and not r.approved and self.clock < r.lapses_at
            ]

        if not pending() and not c.sloppy:
            self._ask(c, cid)
        asked = self.model.ever("delegation.requested", "delegation_id")
        choices = [r.id for r in pending()]
        did = c.pick(choices, [*asked, "g0"])
        when = self.at(c)
        r = self.model.world(self.clock).gdap_requests.get(did)
        pid = r.partner if r is not None and not c.chance(8) else c.one_of(PARTNERS)
        roles = r.roles if r is not None and not c.chance(8) else c.one_of(GDAP_ROLES)
        duration = r.duration if r is not None else "P30D"
        self.record(
            "delegation.granted",
            when,
            c.role(CUSTOMER_ADMIN),
            cid,
            {
                "delegation_id": did,
                "customer_id": cid,
                "partner_id": pid,
                "kind": "gdap",
                "roles": roles,
                "expires_at": text(model.after(when, duration) + c.one_of(OFF)),
            },
        )

    @precondition(lambda self: self.model.ever("delegation.granted", "delegation_id"))
    @rule(data=st.data())
    def extend(self, data: st.DataObject) -> None:
        """Microsoft extends a GDAP at its expiry: one still active (or one whose expiry is
        not behind its customer's newest event) when careful, by 180 days mostly."""
        c = Choices(data)
        w = self.world()
        candidates = sorted(
            did
            for did, g in w.delegations.items()
            if g.expires_at is not None and g.expires_at >= (self.model.newest(g.customer) or 0)
        )
        granted = self.model.ever("delegation.granted", "delegation_id")
        did = c.pick(candidates, [*granted, "d0"])
        g = self.model.world(self.clock).delegations.get(did) or self.model.world(
            self.clock - 1
        ).delegations.get(did)
        careful = g is not None and g.expires_at is not None and not c.sloppy
        when = g.expires_at if careful and g is not None and g.expires_at is not None else self.at(c)
        self.clock = max(self.clock, when)
        self.record(
            "delegation.extended",
            when,
            c.role(MICROSOFT),
            "microsoft",
            {"delegation_id": did, "expires_at": text(when + c.one_of((180 * DAY, 180 * DAY, 179 * DAY)))},
        )

    @precondition(lambda self: self.model.ever("delegation.granted", "delegation_id"))
    @rule(data=st.data())
    def revoke(self, data: st.DataObject) -> None:
        c = Choices(data)
        if not self.world().delegations and not c.sloppy:
            self._grant(c)
        w = self.world()
        did = c.pick(sorted(w.delegations), [*self.model.ever("delegation.granted", "delegation_id"), "d0"])
        tenant = w.delegations[did].customer if did in w.delegations else "c1"
        role = c.role(REVOKERS)
        if role == "microsoft" and not c.chance(8):
            tenant = "microsoft"  # Microsoft acting itself (mostly for its own tenant)
        self.record("delegation.revoked", self.at(c), role, tenant, {"delegation_id": did})

    @precondition(lambda self: self.model.ever("subscription.purchased", "subscription_id"))
    @rule(data=st.data())
    def switch(self, data: st.DataObject) -> None:
        c = Choices(data)
        live = self.subscriptions(lambda s: s.status == "active")
        azure = self.subscriptions(
            lambda s: s.status == "active" and s.service == "usage" and s.channel == "csp"
        )
        if not azure and not c.sloppy:
            self._purchase(c, "csp", "usage")
            azure = self.subscriptions(
                lambda s: s.status == "active" and s.service == "usage" and s.channel == "csp"
            )
            live = self.subscriptions(lambda s: s.status == "active")
        ever = self.model.ever("subscription.purchased", "subscription_id")
        sid = c.pick(azure if not c.chance(3) else live, [*ever, "s0"])
        w = self.world()
        s = w.subs.get(sid)
        if s is None:
            frm, to, to_reseller = c.one_of(PARTNERS), c.one_of(PARTNERS), None
        else:
            targets = [p for p in self.partners(*model.INVITERS) if p != s.por and w.related(s.customer, p)]
            others = [p for p in self.partners(*model.INVITERS) if p != s.por]
            if not targets and others and not c.sloppy:
                self._relate(c, s.customer, c.one_of(others))
                w = self.world()
                targets = [p for p in others if w.related(s.customer, p)]
            frm = c.pick([s.por] if s.por and not c.chance(8) else self.partners(), PARTNERS)
            to = c.pick(targets if not c.chance(6) else self.partners(), PARTNERS)
            to_reseller = None
            if c.chance(3):
                resellers = [r for r in self.partners("csp-indirect-reseller") if w.related(s.customer, r)]
                to_reseller = c.pick(resellers, PARTNERS)
                if to_reseller in w.partners and w.partners[to_reseller].providers and not c.chance(4):
                    to = c.one_of(w.partners[to_reseller].providers)
        self.record(
            "subscription.switched",
            self.at(c),
            c.role(AGENT),
            to,
            {
                "subscription_id": sid,
                "from_partner_id": frm,
                "to_partner_id": to,
                "to_reseller_id": to_reseller,
            },
        )

    @precondition(lambda self: self.model.ever("subscription.purchased", "subscription_id"))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        c = Choices(data)
        ever = self.model.ever("subscription.purchased", "subscription_id")
        sid = c.pick(self.subscriptions(lambda s: s.status == "active"), [*ever, "s0"])
        self.record(
            "subscription.cancelled",
            self.at(c),
            c.role(AGENT),
            "p1",
            {"subscription_id": sid},
            note=c.one_of((None, "ticket 4711", "Kündigung zum Laufzeitende ✓")),
        )

    @rule(data=st.data())
    def corner(self, data: st.DataObject) -> None:
        """Aim at what random steps seldom reach, building what it needs first: a csp sale to
        a tenant that is a CSP partner, a switch of a licence or of a syndication subscription,
        a migration from syndication, a DAP grant about its retirement, two things of one
        customer at one instant (answers order them by time, then id)."""
        c = Choices(data)
        corner = c.one_of(
            (
                "csp-to-csp",
                "switch-licence",
                "switch-licence",  # twice: its editions (seeds, 2020-03-20) by time and cloud
                "switch-syndication",
                "migrate-syndication",
                "late-dap",
                "twins",
                "back-dated",
                "reseller-invites",
            )
        )
        if corner == "reseller-invites":
            self._resellers_own_invitation(c)
            return
        if corner == "back-dated":
            # An event of a customer just older than (or as old as) its newest on file.
            cid = c.pick(self.customers(), CUSTOMERS)
            self._purchase(c, "microsoft", "usage", cid=cid)  # something new of the customer first
            newest = self.model.newest(cid)
            self.frozen = (newest if newest is not None else self.clock) - c.one_of((SECOND, 0, DAY))
            try:
                if c.chance(2):
                    self._purchase(c, c.one_of(("microsoft", "ea")), "usage", cid=cid)
                else:
                    self._relate(c, cid, c.pick(self.partners(*model.INVITERS), PARTNERS))
            finally:
                self.frozen = None
            return
        if corner == "twins":
            what = c.one_of(("purchase", "relate", "grant", "ask"))
            cid = c.pick(self.customers(), CUSTOMERS)
            self.frozen = self.at(c)
            try:
                for _ in range(2):
                    if what == "purchase":
                        self._purchase(c, c.one_of(("microsoft", "ea", "csp")), "usage", cid=cid)
                    elif what == "relate":
                        self._relate(c, cid, c.pick(self.partners(*model.INVITERS), PARTNERS))
                    elif what == "ask":
                        self._ask(c, cid)
                    else:
                        self._grant(c, cid)
            finally:
                self.frozen = None
            return
        if corner == "csp-to-csp":
            w = self.world()
            both = [t for t in CUSTOMERS if t in w.customers and w.is_csp(t)]
            if not both and "x2" not in w.partners and "x2" not in w.customers:
                for type_, key in (
                    ("partner.registered", "partner_id"),
                    ("customer.registered", "customer_id"),
                ):
                    extra = {"program": c.one_of(sorted(model.CSP))} if key == "partner_id" else {}
                    self.record(
                        type_,
                        self.clock,
                        "global-admin",
                        "x2",
                        {key: "x2", "name": "X2", "cloud": "commercial", **extra},
                    )
                both = ["x2"]
            self._purchase(c, "csp", c.one_of(("usage", "license")), cid=c.one_of(both) if both else None)
        elif corner in ("switch-licence", "switch-syndication", "migrate-syndication"):
            service, channel = ("usage", "syndication")
            if corner == "switch-licence":  # mostly a csp licence (transferable from 2020-03-20)
                service, channel = "license", c.one_of(("csp", "csp", "csp", "open", "ea"))
            subs = self.subscriptions(
                lambda s: s.status == "active" and s.service == service and s.channel == channel
            )
            if not subs:
                self._purchase(c, channel, service)
                subs = self.subscriptions(
                    lambda s: s.status == "active" and s.service == service and s.channel == channel
                )
            if not subs:
                return
            sid = c.one_of(subs)
            s = self.world().subs[sid]
            if corner == "migrate-syndication":
                self._purchase(c, "csp", "usage", sid, s.customer)
                return
            others = [p for p in self.partners(*model.INVITERS) if p != s.por]
            to = c.pick(others, PARTNERS)
            if to in others and not self.world().related(s.customer, to):
                self._relate(c, s.customer, to)
            self.record(
                "subscription.switched",
                self.at(c),
                c.role(AGENT),
                to,
                {"subscription_id": sid, "from_partner_id": s.por or c.one_of(PARTNERS), "to_partner_id": to},
            )
        else:  # a DAP grant on or after 2023-10-09, or just before it
            self.clock = max(self.clock, model.DAP_RETIRED - c.one_of((DAY, SECOND, 0)))
            cid = c.pick(self.customers(), CUSTOMERS)
            w = self.world()
            related = [p for p in w.partners if w.related(cid, p)]
            inviters = self.partners(*model.INVITERS)
            if not related and inviters and cid in w.customers:
                self._relate(c, cid, c.one_of(inviters))
                w = self.world()
                related = [p for p in w.partners if w.related(cid, p)]
            used = self.delegation_ids()
            self.record(
                "delegation.granted",
                self.at(c),
                c.role(CUSTOMER_ADMIN),
                cid,
                {
                    "delegation_id": fresh("d", used),
                    "customer_id": cid,
                    "partner_id": c.pick(related, PARTNERS),
                    "kind": "dap",
                    "roles": ["admin-agent"],
                },
            )

    def _resellers_own_invitation(self, c: Choices) -> None:
        """An invitation recorded by an indirect reseller's own staff: mostly for one of its
        providers naming itself (allowed from 2021-01-27 outside china), else any."""
        w = self.world()
        reseller = c.pick(self.partners("csp-indirect-reseller"), PARTNERS)
        r = w.partners.get(reseller)
        providers = list(r.providers) if r else []
        pid = c.pick(providers if not c.chance(6) else self.partners(), PARTNERS)
        same_cloud = [x for x in self.customers() if r is not None and w.customers[x][1] == r.cloud]
        self.record(
            "relationship.requested",
            self.at(c),
            c.role(AGENT),
            reseller,
            {
                "request_id": fresh("r", self.model.ever("relationship.requested", "request_id")),
                "partner_id": pid,
                "customer_id": c.pick(same_cloud, CUSTOMERS),
                "reseller_id": reseller if not c.chance(6) else c.one_of((None, pid)),
            },
        )

    def partners(self, *programs: str) -> list[str]:
        """The partners registered now, in any of ``programs`` (all when none is given)."""
        w = self.world()
        return sorted(p for p, v in w.partners.items() if not programs or v.program in programs)

    def customers(self) -> list[str]:
        return sorted(self.world().customers)

    def subscriptions(self, which: Any) -> list[str]:
        return sorted(s.id for s in self.world().subs.values() if which(s))

    # --- the invariants, after every step --------------------------------------------------

    @invariant()
    def the_stored_log_is_the_models_gap_free_and_never_resells_to_csp(self) -> None:
        expected = [r.event for r in self.model.log]
        exports = []
        for store in self.stores:
            stored = list(store.ledger.stored())
            assert [e["position"] for e in stored] == list(range(1, len(expected) + 1)), store.kind
            assert [_body(e) for e in stored] == expected, store.kind
            # CSP never resells to CSP, recomputed from the export alone: each csp purchase
            # against the partners as the ledger knew them when it recorded the purchase.
            pairs = [(e["position"], _body(e)) for e in stored]
            for position, e in pairs:
                if e["type"] == "subscription.purchased" and e["data"]["channel"] == "csp":
                    then = model.fold(pairs[: position - 1], us(e["effective_at"]))
                    assert not then.is_csp(e["data"]["customer_id"]), f"{store.kind}: {e}"
            exports.append([_without_chain(e) for e in stored])
        assert all(x == exports[0] for x in exports), "the stores' exports differ"

    @invariant()
    def the_chain_verifies_and_a_rebuild_equals_the_projections(self) -> None:
        for store in self.stores:
            assert store.ledger.verify() == len(self.model.log), store.kind

    @invariant()
    def every_answer_now_is_the_models(self) -> None:
        """Every customer, delegation list and partner of record now; the history of every
        customer and partner, and of the subscriptions this step named."""
        now = us(text(time.time_ns() // 1000))
        customers = [*self.model.ever("customer.registered", "customer_id"), "c0"]
        subscriptions = [*self.model.ever("subscription.purchased", "subscription_id"), "s0"]
        refs = [
            *(f"customer:{c}" for c in customers),
            *(f"partner:{p}" for p in PARTNERS),
            *(f"subscription:{s}" for s in self.fresh_subscriptions()),
        ]
        answers = []
        for store in self.stores:
            got: dict[str, Any] = {}
            for cid in customers:
                got[f"customer {cid}"] = answer = _now_free(_ask(read.customer, store.ledger, cid))
                assert answer == _now_free(self.model.customer(cid, now)), (store.kind, cid)
                got[f"delegations {cid}"] = answer = _now_free(_ask(read.delegations, store.ledger, cid))
                want = self.model.delegations(cid, now)
                assert answer == (None if want is None else {"customer_id": cid, "delegations": want}), (
                    store.kind,
                    cid,
                )
            for sid in subscriptions:
                got[f"por {sid}"] = answer = _now_free(_ask(read.por, store.ledger, sid))
                assert answer == _now_free(self.model.por(sid, now)), (store.kind, sid)
            for ref in refs:
                got[f"history {ref}"] = answer = _history(store, [ref])
                assert answer == self.model.history([ref]), self.explain(store, [ref], answer)
            answers.append(got)
        assert all(a == answers[0] for a in answers), "the stores answer differently"

    def fresh_subscriptions(self) -> list[str]:
        """The subscriptions named by the events recorded since the last as-of check."""
        return sorted(
            {
                r.event["data"][k]
                for r in self.model.log[self.checked :]
                for k in ("subscription_id", "migrated_from")
                if k in r.event["data"]
            }
        )

    def explain(
        self, store: Store, refs: list[str], got: Any, since: int | None = None, until: int | None = None
    ) -> str:
        want = self.model.history(refs, since, until)
        odd = sorted(set(got or ()) ^ set(want or ()))
        events = [self.model.log[p - 1].event for p in odd if p <= len(self.model.log)]
        return f"{store.kind}: history {refs} ledger {got}, model {want}; differing events: {events}"

    @invariant()
    def the_last_events_answers_as_of_every_recorded_time_are_the_models(self) -> None:
        """The customers and subscriptions this step's events concern, as of every recorded
        effective time (and the instant before each); every so often, everything."""
        if len(self.model.log) == self.checked:
            return
        customers = sorted({c for c in (r.customer for r in self.model.log[self.checked :]) if c is not None})
        subscriptions = self.fresh_subscriptions()
        self.checked = len(self.model.log)
        if len(self.model.log) >= self.full_grid_at:
            self.full_grid_at = len(self.model.log) + FULL_GRID_EVERY
            customers = [*self.model.ever("customer.registered", "customer_id")]
            subscriptions = [*self.model.ever("subscription.purchased", "subscription_id")]
            self.check_histories(customers, subscriptions)
        self.check_as_of(customers, subscriptions, self.moments())

    def check_histories(self, customers: list[str], subscriptions: list[str]) -> None:
        """History by every subscription, by customer and partner together, and by customer
        within effective-time windows."""
        times = sorted({us(r.event["effective_at"]) for r in self.model.log})
        windows = [(None, times[len(times) // 2]), (times[len(times) // 3], times[-1] - 1), (times[-1], None)]
        queries: list[tuple[list[str], int | None, int | None]] = [
            *(([f"subscription:{s}"], None, None) for s in subscriptions),
            *(([f"customer:{c}", f"partner:{p}"], None, None) for c in customers for p in PARTNERS[:3]),
            *(([f"customer:{c}"], since, until) for c in customers for since, until in windows),
        ]
        for refs, since, until in queries:
            want = self.model.history(refs, since, until)
            for store in self.stores:
                assert _history(store, refs, since=since, until=until) == want, (
                    store.kind,
                    refs,
                    since,
                    until,
                )

    def moments(self) -> list[int]:
        times = {us(r.event["effective_at"]) for r in self.model.log}
        return sorted({*times, *(t - 1 for t in times)})

    def check_as_of(self, customers: list[str], subscriptions: list[str], moments: list[int]) -> None:
        answers = []
        for store in self.stores:
            got = []
            for at in moments:
                for cid in customers:
                    got.append(answer := _ask(read.customer, store.ledger, cid, at))
                    assert answer == self.model.customer(cid, at), (store.kind, cid, text(at))
                for sid in subscriptions:
                    got.append(answer := _ask(read.por, store.ledger, sid, at))
                    assert answer == self.model.por(sid, at), (store.kind, sid, text(at))
            answers.append(got)
        assert all(a == answers[0] for a in answers), "the stores answer differently"

    @invariant()
    def answers_as_known_at_every_recorded_time_are_the_models(self) -> None:
        """``--known-at``: the customers' views and histories as the ledger had them at each
        recording time, against the model cut at the same position."""
        if len(self.model.log) < self.known_grid_at:
            return
        self.known_grid_at = len(self.model.log) + FULL_GRID_EVERY
        far = us("2100-01-01T00:00:00Z")
        customers = [*self.model.ever("customer.registered", "customer_id")]
        for store in self.stores:
            for known_at in sorted(set(store.recorded_us)):
                known = store.known_position(known_at)
                at = us(self.model.log[known - 1].event["effective_at"])
                for cid in customers:
                    for moment in (at, far):
                        answer = _ask(read.customer, store.ledger, cid, moment, known_at)
                        assert answer == self.model.customer(cid, moment, known), (store.kind, cid, known)
                    answer = _history(store, [f"customer:{cid}"], known_at=known_at)
                    assert answer == self.model.history([f"customer:{cid}"], known=known), (store.kind, cid)

    def teardown(self) -> None:
        for store in self.stores:
            store.close()


FULL_GRID_EVERY = 12  # accepted events between two checks of everything as of every moment


def _body(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if k not in ("position", "recorded_at", "hash", "prev_hash")}


def _without_chain(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if k not in ("recorded_at", "hash", "prev_hash")}


def _ask(query: Any, *args: Any) -> Any:
    try:
        return query(*args)
    except NotFound:
        return None


def _history(
    store: Store,
    refs: list[str],
    known_at: int | None = None,
    since: int | None = None,
    until: int | None = None,
) -> list[int] | None:
    filters = {kind: value for kind, _, value in (ref.partition(":") for ref in refs)}
    try:
        events = read.history(store.ledger, known_at=known_at, since=since, until=until, **filters)
    except NotFound:
        return None
    return [e["position"] for e in events]


class SqliteMachine(LedgerMachine):
    STORES = ("sqlite",)


class PostgresMachine(LedgerMachine):
    STORES = ("postgresql",)


class DifferentialMachine(LedgerMachine):
    STORES = ("sqlite", "postgresql-icu")


TestModelOnSqlite = SqliteMachine.TestCase
TestModelOnSqlite.settings = settings(PROFILE)
TestModelOnPostgres = PostgresMachine.TestCase
TestModelOnPostgres.settings = settings(PROFILE, max_examples=max(1, PROFILE.max_examples // 8))
TestDifferentialSqliteAndPostgres = DifferentialMachine.TestCase
TestDifferentialSqliteAndPostgres.settings = settings(PROFILE, max_examples=max(1, PROFILE.max_examples // 8))


def test_ties_are_ordered_by_id_alike_on_sqlite_and_on_a_linguistic_postgresql() -> None:
    """What the differential run found: on a PostgreSQL database whose collation is
    linguistic (en_US, ICU), ties in time were ordered by id otherwise than on SQLite."""
    at = "2019-03-01T00:00:00Z"
    events = [
        partner("fabrikam", at=at),
        customer("contoso", at=at),
        *(request(r, "fabrikam", "contoso", at=at) for r in ("r_1", "R0")),
        *(accept(r, "contoso", at=at) for r in ("r_1", "R0")),
        *(purchase(s, "contoso", at=at) for s in ("s_1", "S0")),
        *(grant(d, "contoso", "fabrikam", at=at) for d in ("d_1", "D0")),
    ]
    answers = []
    for kind in ("sqlite", "postgresql-icu"):
        store = Store(kind)
        try:
            store.ledger.record_many(list(enumerate(events, start=1)))
            found = read.customer(store.ledger, "contoso", us(at))
            answers.append(found)
        finally:
            store.close()
    assert answers[0] == answers[1]
    assert [s["subscription_id"] for s in answers[0]["subscriptions"]] == ["S0", "s_1"]
    assert [r["request_id"] for r in answers[0]["relationships"]] == ["R0", "r_1"]
    assert [d["delegation_id"] for d in answers[0]["delegations"]] == ["D0", "d_1"]


# --- the machine finds a planted bug -------------------------------------------------------

# Every edition of every rule that checks events: (rule id, edition name).
# (A rule may have two editions of one name, e.g. the seeds' in china and elsewhere before a
# day: planting a bug in it plants it in both.)
PLANTABLE = list(dict.fromkeys((r.id, e.name) for r in RULEBOOK for e in r.editions if e.check is not None))


def _planted(rule_id: str, edition: str) -> tuple[_rules.Rule, ...]:
    """The rulebook with one edition of one rule accepting everything."""
    return tuple(
        dataclasses.replace(
            r,
            editions=tuple(
                dataclasses.replace(e, check=lambda f: None) if (r.id, e.name) == (rule_id, edition) else e
                for e in r.editions
            ),
        )
        for r in RULEBOOK
    )


def _hunt_planted_bug() -> tuple[str, str]:
    """Run the SQLite machine until it fails on the bug planted beforehand; its first line
    and how long the hunt took (runs, events, seconds)."""

    class Planted(SqliteMachine):
        runs = 0
        steps = 0

    started = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            Planted,
            settings=settings(
                PROFILE, max_examples=500, phases=[Phase.generate], database=None, print_blob=False
            ),
        )
    took = f"{Planted.runs} runs, {Planted.steps} events, {time.monotonic() - started:.1f}s"
    return str(caught.value).splitlines()[0], took


@pytest.mark.mutation
@pytest.mark.parametrize(("rule_id", "edition"), PLANTABLE)
def test_the_machine_catches_a_rule_that_accepts_everything(
    rule_id: str, edition: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plant a bug (one edition of one rule accepts everything) and count how many runs of
    the SQLite machine it takes to find it. Not in the default suite: ``pytest -m mutation``."""
    monkeypatch.setattr(_rules, "RULEBOOK", _planted(rule_id, edition))

    message, caught_after = _hunt_planted_bug()
    assert rule_id in message, message
    with capsys.disabled():
        print(f"\n{rule_id} ({edition}) planted: caught after {caught_after}: {message[:160]}")


@pytest.mark.mutation
@pytest.mark.parametrize("structural_rule", ["on", "off"])
def test_the_machine_catches_a_delegation_that_moves_a_subscription(
    structural_rule: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plant a fold bug: a grant also makes the delegated partner the partner of record of the
    customer's subscriptions. With ``multi-partner-changes-nothing`` on, the ledger refuses
    the grant (the model would accept it); with it off, the grant's effects give it away."""
    original = FOLDS["delegation.granted"]

    def grant_and_move(db: Any, d: Any, at: int, pos: int) -> set[str]:
        touched = original(db, d, at, pos)
        change(
            db,
            SUBSCRIPTIONS,
            {"customer_id": d["customer_id"]},
            at,
            pos,
            {"partner_of_record": d["partner_id"]},
        )
        return touched

    monkeypatch.setitem(FOLDS, "delegation.granted", grant_and_move)
    if structural_rule == "off":
        rulebook = tuple(
            dataclasses.replace(
                r, editions=tuple(dataclasses.replace(e, check_effects=None) for e in r.editions)
            )
            for r in RULEBOOK
        )
        monkeypatch.setattr(_rules, "RULEBOOK", rulebook)

    message, caught_after = _hunt_planted_bug()
    with capsys.disabled():
        print(
            f"\ndelegation fold moving subscriptions (structural rule {structural_rule}): caught after "
            f"{caught_after}: {message[:160]}"
        )
