"""The report's findings: what an auditor must look at first, each with the events that prove it.

Computed here and nowhere else (the template only lists them), by pure functions of what the
report loads: the customer's timeline as of ``--as-of`` (as known at ``--known-at``), its
events, and the partner events that changed a partner's program (partner events belong to no
customer, so the report loads the few a finding cites: ``cited_events``). Each check is of
the state as of the report's date; one that finds nothing is listed too, as "none", so the
page shows what was checked, not only what was found:

- ``gdap-expiring``: an active GDAP expiring within 30, 60 or 90 days (its window: the
  smallest of the three it falls in); the partner loses its rights then unless Microsoft
  extends it or the customer approves a new one;
- ``gdap-global-administrator``: an active GDAP holding Global Administrator (by name or role
  template id), the role least privilege forbids and auto-extension never renews;
- ``delegation-without-relationship``: an active DAP whose partner has no live reseller
  relationship with the customer (no more: it was removed), although DAP came with that
  relationship (``delegation-needs-invitation``; GDAP needs none since its lifecycle edition);
- ``dap-after-retirement``: a DAP still active on or after DAP's retirement (2023-10-09);
- ``licence-past-term``: a licence subscription past its ``term_end``, still active;
- ``program-changed``: a partner whose program changed while it was partner of record (or
  billing partner) of one of the customer's live subscriptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from ledger import DAP_RETIRED_ON, is_global_admin, narration, read
from projections import DAY_US, DelegationLine, Timeline, canonical_to_us, to_us

from ._geometry import day
from ._names import TimelineNames

if TYPE_CHECKING:
    from ledger import Ledger

WINDOWS = (30, 60, 90)  # days before a GDAP's expiry
DAP_RETIRED_US = to_us(datetime.combine(DAP_RETIRED_ON, time(), UTC))

Event = Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    """One kind of finding: its id, its heading, and what it looks for (said on the page)."""

    kind: str
    title: str
    what: str


CHECKS = (
    Check(
        "gdap-expiring",
        "GDAP expiring within 90 days",
        "An active GDAP whose expiry falls within 30, 60 or 90 days of the report's date: the "
        "partner loses its rights then, unless it is extended or a new GDAP is approved.",
    ),
    Check(
        "gdap-global-administrator",
        "GDAP holding Global Administrator",
        "An active GDAP whose roles include Global Administrator (global-administrator or role "
        "id 62e90394-69f5-4237-9190-012177145e10): the broadest role, never auto-extended.",
    ),
    Check(
        "delegation-without-relationship",
        "Delegation without a live relationship",
        "An active DAP whose partner (or, for an indirect reseller, none of its indirect providers) "
        "has a reseller relationship with the customer any more: DAP came with that relationship "
        "(rule delegation-needs-invitation). A GDAP needs none.",
    ),
    Check(
        "dap-after-retirement",
        "DAP still active after its retirement",
        f"A DAP still active on or after {DAP_RETIRED_ON.isoformat()}, when Microsoft retired DAP "
        "in favour of GDAP (rule dap-retired).",
    ),
    Check(
        "licence-past-term",
        "Licence past its term",
        "A licence subscription still active after its term end: neither cancelled nor bought anew.",
    ),
    Check(
        "program-changed",
        "Partner program changed under a live subscription",
        "A partner whose program changed while it was partner of record or billing partner of one "
        "of the customer's live subscriptions.",
    ),
)
KINDS = tuple(c.kind for c in CHECKS)


@dataclass(frozen=True)
class Proof:
    """An event a finding rests on, and what it shows."""

    position: int
    event_id: str
    type: str
    effective_at: str
    shows: str


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # the delegation, subscription or partner it is about
    text: str
    proofs: tuple[Proof, ...]
    window: int | None = None  # days, for an expiring GDAP: 30, 60 or 90

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "subject": self.subject, "text": self.text}
        if self.window is not None:
            out["window_days"] = self.window
        out["events"] = [{"position": p.position, "event_id": p.event_id} for p in self.proofs]
        return out


def findings(t: Timeline, events: Sequence[Event], cited: Sequence[Event] = ()) -> list[Finding]:
    """Every finding of the customer as of ``t.as_of``, by kind (in ``CHECKS``' order), then
    by subject."""
    names = TimelineNames(t)
    index = _Index(events)
    active = [d for d in t.delegations if d.end is None]
    found = [
        *_gdap_expiring(t, active, index, names),
        *_global_administrator(active, index, names),
        *_without_relationship(t, active, index, names),
        *_dap_after_retirement(t, active, index, names),
        *_licences_past_term(t, index, names),
        *_program_changes(t, index, _Index(cited), names),
    ]
    return sorted(found, key=lambda f: (KINDS.index(f.kind), f.window or 0, f.subject))


def cited_events(ledger: Ledger, t: Timeline, known_at: int | None) -> list[dict[str, Any]]:
    """The events besides the customer's that the findings may cite (the one question here
    that reads the store): each program change of a partner under one of the customer's live
    subscriptions (partner events belong to no customer: the customer's history has none)."""
    return [
        e
        for pid, at, _ in _changes_under_subscriptions(t)
        for e in read.history(ledger, partner=pid, since=at, until=at, known_at=known_at)
        if e["type"] == "partner.program-changed"
    ]


# --- the checks ---------------------------------------------------------------------------


def _gdap_expiring(
    t: Timeline, active: Iterable[DelegationLine], index: _Index, names: TimelineNames
) -> Iterable[Finding]:
    for d in active:
        if d.kind != "gdap" or d.expires_at is None:
            continue
        left = d.expires_at - t.as_of
        window = next((w for w in WINDOWS if left <= w * DAY_US), None)
        if window is None or left <= 0:
            continue
        days = -(-left // DAY_US)  # whole days, rounded up: "in 1 day" until the very end
        yield Finding(
            "gdap-expiring",
            d.delegation_id,
            f"GDAP {d.delegation_id} of {names.partner(d.partner_id)} ({narration.roles_text(d.roles)}) "
            f"expires on {day(d.expires_at)}, in {days} day{'s' if days != 1 else ''}: within "
            f"{window} days.",
            _delegation_proofs(d, index),
            window,
        )


def _global_administrator(
    active: Iterable[DelegationLine], index: _Index, names: TimelineNames
) -> Iterable[Finding]:
    for d in active:
        if d.kind == "gdap" and is_global_admin(d.roles):
            until = f", until {day(d.expires_at)}" if d.expires_at is not None else ""
            others = tuple(r for r in d.roles if not is_global_admin([r]))
            also = f" (and {narration.roles_text(others)})" if others else ""
            yield Finding(
                "gdap-global-administrator",
                d.delegation_id,
                f"GDAP {d.delegation_id} gives {names.partner(d.partner_id)} Global Administrator"
                f"{also}, granted {day(d.granted_at)}{until}.",
                _delegation_proofs(d, index, requested=True),
            )


def _without_relationship(
    t: Timeline, active: Iterable[DelegationLine], index: _Index, names: TimelineNames
) -> Iterable[Finding]:
    for d in active:
        if d.kind != "dap":
            continue
        info = t.partners.get(d.partner_id)
        providers = set(info.provider_ids) if info is not None else set()
        backing = [
            r
            for r in t.relationships
            if r.accepted_at is not None
            and (r.partner_id == d.partner_id or r.reseller_id == d.partner_id or r.partner_id in providers)
        ]
        if any(r.ended_at is None for r in backing):
            continue
        removals = [
            proof
            for r in backing
            for proof in index.proofs(
                "relationship.removed",
                {"partner_id": r.partner_id},
                r.ended_at,
                f"removed the reseller relationship with {names.partner(r.partner_id)}",
            )
        ]
        last = max((r.ended_at or 0 for r in backing), default=None)
        since = (
            f"its last reseller relationship with {t.name} was removed on {day(last)}"
            if last
            else f"it never had an accepted reseller relationship with {t.name}"
        )
        yield Finding(
            "delegation-without-relationship",
            d.delegation_id,
            f"DAP {d.delegation_id} of {names.partner(d.partner_id)} is still active on "
            f"{day(t.as_of)}, but {since}.",
            _delegation_proofs(d, index) + tuple(removals),
        )


def _dap_after_retirement(
    t: Timeline, active: Iterable[DelegationLine], index: _Index, names: TimelineNames
) -> Iterable[Finding]:
    if t.as_of < DAP_RETIRED_US:
        return
    for d in active:
        if d.kind == "dap":
            yield Finding(
                "dap-after-retirement",
                d.delegation_id,
                f"DAP {d.delegation_id} of {names.partner(d.partner_id)}, granted {day(d.granted_at)}, "
                f"is still active on {day(t.as_of)}, after DAP's retirement on "
                f"{DAP_RETIRED_ON.isoformat()}: no revocation is on record.",
                _delegation_proofs(d, index),
            )


def _licences_past_term(t: Timeline, index: _Index, names: TimelineNames) -> Iterable[Finding]:
    for s in t.subscriptions:
        if s.service != "license" or s.term_end is None or s.term_end >= t.as_of or s.cancelled_at:
            continue
        last = s.periods[-1] if s.periods else None
        who = names.por(last.partner_of_record, last.billing_partner) if last else "nobody"
        yield Finding(
            "licence-past-term",
            s.subscription_id,
            f"Licence {s.subscription_id} ({s.offer}, {who}) reached its term end on {day(s.term_end)} "
            f"and is still active on {day(t.as_of)}: neither cancelled nor bought anew.",
            index.proofs(
                "subscription.purchased",
                {"subscription_id": s.subscription_id},
                None,
                f"bought it with its term end {day(s.term_end)}",
            ),
        )


def _changes_under_subscriptions(t: Timeline) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """Each (partner, change time, [(subscription, its period's start)]) where the partner's
    program changed while it was partner of record or billing partner of a live subscription."""
    out = []
    for pid, info in sorted(t.partners.items()):
        for change in info.changes:
            under = [
                (s.subscription_id, p.start)
                for s in t.subscriptions
                for p in s.periods
                if pid in (p.partner_of_record, p.billing_partner)
                and p.start <= change.at
                and (p.end is None or change.at < p.end)
            ]
            if under:
                out.append((pid, change.at, under))
    return out


def _program_changes(
    t: Timeline, index: _Index, partner_index: _Index, names: TimelineNames
) -> Iterable[Finding]:
    changes = {(pid, c.at): c for pid, info in t.partners.items() for c in info.changes}
    for pid, at, under in _changes_under_subscriptions(t):
        change = changes[(pid, at)]
        proofs = partner_index.proofs(
            "partner.program-changed",
            {"partner_id": pid},
            at,
            f"changed {names.partner(pid)}'s program to {change.after}",
        )
        for sid, start in under:
            proofs += index.proofs(
                ("subscription.purchased", "subscription.switched"),
                {"subscription_id": sid},
                start,
                f"made {names.partner(pid)} partner of record of {sid}",
            )
        subs = ", ".join(sorted({sid for sid, _ in under}))
        yield Finding(
            "program-changed",
            pid,
            f"{names.partner(pid)} changed program from {change.before} to {change.after} on "
            f"{day(at)} while partner of record of {subs}.",
            proofs,
        )


# --- the events a finding rests on -------------------------------------------------------------


def _at(e: Event) -> int:
    return canonical_to_us(e["effective_at"])


class _Index:
    """Events by type, to find the few a finding cites."""

    def __init__(self, events: Iterable[Event]) -> None:
        self.by_type: dict[str, list[Event]] = {}
        for e in events:
            self.by_type.setdefault(e["type"], []).append(e)

    def proofs(
        self, types: str | tuple[str, ...], where: Mapping[str, str], at: int | None, shows: str
    ) -> tuple[Proof, ...]:
        """The events of ``types`` whose data has ``where``'s values (and effective ``at``)."""
        wanted = (types,) if isinstance(types, str) else types
        return tuple(
            _proof(e, shows)
            for kind in wanted
            for e in self.by_type.get(kind, [])
            if all(e["data"].get(k) == v for k, v in where.items()) and (at is None or _at(e) == at)
        )


def _proof(e: Event, shows: str) -> Proof:
    return Proof(e["position"], e["event_id"], e["type"], e["effective_at"], shows)


def _delegation_proofs(d: DelegationLine, index: _Index, *, requested: bool = False) -> tuple[Proof, ...]:
    """The grant (and the request, with ``requested``) and extensions of a delegation."""

    mine = {"delegation_id": d.delegation_id}
    out = index.proofs("delegation.requested", mine, None, "asked for these roles") if requested else ()
    out += index.proofs("delegation.granted", mine, None, f"granted it on {day(d.granted_at)}")
    for e in index.by_type.get("delegation.extended", []):
        if e["data"]["delegation_id"] == d.delegation_id:
            out += (_proof(e, f"extended it to {e['data']['expires_at'][:10]}"),)
    return tuple(sorted(out, key=lambda p: p.position))


__all__ = ["CHECKS", "Check", "Finding", "Proof", "cited_events", "findings"]
