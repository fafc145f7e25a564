"""The names the report's labels and sentences use, from the customer's timeline."""

from __future__ import annotations

from projections import Timeline

from ._colours import NO_PARTNER, partner_colours


class TimelineNames:
    """Partner and subscription names for labels and sentences: the narration's
    ``Directory`` for one customer's timeline; and each partner's colour in its report."""

    def __init__(self, t: Timeline) -> None:
        self.t = t
        self.colours = partner_colours(t.partner_ids())
        self.subscriptions = {s.subscription_id: s for s in t.subscriptions}
        self.requests = {r.request_id: r for r in t.relationships}
        self.delegations = {d.delegation_id: d for d in t.delegations}

    @property
    def customer(self) -> str:
        return self.t.name

    def colour(self, partner_id: str | None) -> str:
        """The partner's colour in this report (grey for none: no CSP partner of record)."""
        if partner_id is None:
            return NO_PARTNER
        return self.colours.get(partner_id) or partner_colours([partner_id])[partner_id]

    def partner(self, partner_id: str | None) -> str:
        if partner_id is None:
            return "nobody"
        info = self.t.partners.get(partner_id)
        return info.name if info is not None else partner_id

    def por(self, por: str | None, billing: str | None) -> str:
        """A partner of record, and the partner billed where it is another."""
        if por is None:
            return "no CSP partner of record"
        if billing is not None and billing != por:
            return f"{self.partner(por)} via {self.partner(billing)}"
        return self.partner(por)

    def subscription(self, subscription_id: str) -> tuple[str, str | None] | None:
        s = self.subscriptions.get(subscription_id)
        if s is None:
            return None
        return s.offer, s.periods[-1].partner_of_record if s.periods else None

    def inviter(self, request_id: str) -> str | None:
        r = self.requests.get(request_id)
        return r.partner_id if r is not None else None

    def delegation(self, delegation_id: str) -> tuple[str, str] | None:
        d = self.delegations.get(delegation_id)
        return (d.partner_id, d.kind) if d is not None else None
