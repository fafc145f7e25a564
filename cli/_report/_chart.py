"""The timeline: an axis, then a section of subscription lanes and one of partner lanes, the
newest activity first to be drawn; past a limit, the rest summed up in a "+K more" note."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from projections import DelegationLine, GdapRequestLine, RelationshipLine, Timeline, format_us

from ._axis import axis_ticks
from ._geometry import AXIS_H, NOTE_ROW, SECTION_H, WIDTH, X0, X1, Scale, thin_marks
from ._model import Chart, Lane, Part, Text
from ._names import TimelineNames
from ._partner_lane import MAX_ROWS_PER_PARTNER, partner_lane
from ._subscription_lane import subscription_lane

MAX_SUBSCRIPTION_LANES = 24
MAX_PARTNER_LANES = 12
MIN_SPAN_US = 86_400_000_000  # the axis covers at least one day


def _note(y: float, text: str, key: str) -> Lane:
    return Lane("note", key, y, NOTE_ROW, texts=[Text(X0, y + 14, text, "note")])


def _recent(ids: Iterable[str], last: Mapping[str, int], limit: int) -> tuple[list[str], int]:
    """The ``limit`` ids with the newest activity, in their given order, and how many are left out."""
    ordered = list(ids)
    if len(ordered) <= limit:
        return ordered, 0
    keep = set(sorted(ordered, key=lambda i: last[i], reverse=True)[:limit])
    return [i for i in ordered if i in keep], len(ordered) - limit


def chart(t: Timeline) -> Chart:
    start = t.first_event_at
    end = max(t.as_of, start + MIN_SPAN_US)
    scale = Scale(start - (end - start) // 100, end)
    names = TimelineNames(t)
    sections: list[Text] = []
    lanes: list[Lane] = []
    y = float(AXIS_H)
    sections.append(Text(8, y + 17, "Subscriptions: partner of record over time", "section"))
    below = _subscriptions(lanes, t, y + SECTION_H, scale, names) + 4
    subscriptions = Part("subscriptions", y, below, _many(lanes, y, below))
    # the partners' own axis, below the subscriptions' (and their bottom axis)
    y = subscriptions.view_top(AXIS_H) + subscriptions.view_height(AXIS_H) + AXIS_H
    sections.append(Text(8, y + 17, "Partners: reseller relationships and delegated admin rights", "section"))
    below = _partners(lanes, t, y + SECTION_H, scale, names) + 4
    partners = Part("partners", y, below, _many(lanes, y, below))
    for lane in lanes:
        lane.marks = thin_marks(lane.marks)
    return Chart(
        width=WIDTH,
        height=partners.y1 + (AXIS_H if partners.bottom_axis else 8),
        top=AXIS_H,
        bottom=partners.y1,
        ticks=axis_ticks(scale),
        lanes=lanes,
        sections=sections,
        as_of_label=f"as of {format_us(t.as_of)}",
        x0=X0,
        x1=X1,
        parts=[subscriptions, partners],
    )


def _many(lanes: list[Lane], y0: float, y1: float) -> bool:
    """Whether a part has lanes enough to want its axis repeated below them."""
    return sum(1 for lane in lanes if y0 <= lane.y < y1) > 10


def _subscriptions(lanes: list[Lane], t: Timeline, y: float, scale: Scale, names: TimelineNames) -> float:
    """Add the subscriptions' lanes from ``y`` down; return where they end."""
    subs = {s.subscription_id: s for s in t.subscriptions}
    last_sub = {
        s.subscription_id: max([s.purchased_at, s.cancelled_at or 0, *(p.start for p in s.periods)])
        for s in t.subscriptions
    }
    shown, more = _recent(subs, last_sub, MAX_SUBSCRIPTION_LANES)
    if not shown:
        lanes.append(_note(y, "No subscription on record.", "no-subscriptions"))
        y += NOTE_ROW
    for sid in shown:
        lanes.append(subscription_lane(subs[sid], y, scale, names))
        y += lanes[-1].height
    if more:
        lanes.append(
            _note(
                y,
                f"+{more} more subscriptions, with older activity, not drawn: see the events below.",
                "more",
            )
        )
        y += NOTE_ROW
    return y


def _partners(lanes: list[Lane], t: Timeline, y: float, scale: Scale, names: TimelineNames) -> float:
    """Add the partners' lanes from ``y`` down; return where they end."""
    rels: dict[str, list[RelationshipLine]] = {}
    dels: dict[str, list[DelegationLine]] = {}
    last_partner: dict[str, int] = {}
    for r in t.relationships:
        rels.setdefault(r.partner_id, []).append(r)
        last_partner[r.partner_id] = max(last_partner.get(r.partner_id, 0), r.ended_at or r.requested_at)
    for d in t.delegations:
        dels.setdefault(d.partner_id, []).append(d)
        last_partner[d.partner_id] = max(last_partner.get(d.partner_id, 0), d.ended_at or d.granted_at)
    reqs: dict[str, list[GdapRequestLine]] = {}
    for g in t.gdap_requests:
        if g.end != "approved":  # an approved request is its GDAP's bar
            reqs.setdefault(g.partner_id, []).append(g)
            last_partner[g.partner_id] = max(last_partner.get(g.partner_id, 0), g.ended_at or g.requested_at)
    partners = sorted(
        last_partner, key=lambda p: (_first(rels.get(p, []), dels.get(p, []), reqs.get(p, [])), p)
    )
    shown, more = _recent(partners, last_partner, MAX_PARTNER_LANES)
    if not shown:
        lanes.append(_note(y, "No reseller relationship or delegation on record.", "no-partners"))
        y += NOTE_ROW
    for pid in shown:
        lane, hidden = partner_lane(
            pid, rels.get(pid, []), dels.get(pid, []), y, scale, names, requests=reqs.get(pid, [])
        )
        lanes.append(lane)
        y += lane.height
        if hidden:
            lanes.append(
                _note(
                    y,
                    f"+{hidden} more relationships or delegations of {names.partner(pid)} overlap "
                    f"those drawn ({MAX_ROWS_PER_PARTNER} rows at most): see the events below.",
                    f"more-{pid}",
                )
            )
            y += NOTE_ROW
    if more:
        lanes.append(
            _note(y, f"+{more} more partners, with older activity, not drawn: see the events below.", "more")
        )
        y += NOTE_ROW
    return y


def _first(
    relationships: list[RelationshipLine], delegations: list[DelegationLine], requests: list[GdapRequestLine]
) -> int:
    return min(
        [r.requested_at for r in relationships]
        + [d.granted_at for d in delegations]
        + [g.requested_at for g in requests]
    )
