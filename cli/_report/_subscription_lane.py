"""A subscription's lane: its partner of record (or channel) over time as bars, labelled with
who it was, and marks for the purchase or migration, each switch, the term end, the
cancellation, and a subscription still active."""

from __future__ import annotations

from ledger import narration
from projections import SubscriptionLine, format_us

from ._geometry import BAR_H, BAR_Y, GUTTER, LABEL_Y, ROW, X1, Scale, day, place_labels, titles
from ._model import Bar, Lane, Mark, Text
from ._names import TimelineNames

Span = tuple[float, float, str]  # where a bar starts and ends, and its label


def subscription_lane(s: SubscriptionLine, y: float, scale: Scale, names: TimelineNames) -> Lane:
    lane = Lane("subscription", s.subscription_id, y, ROW)
    lane.labels, lane.height = _titles(s, y)
    centre = y + BAR_Y + BAR_H / 2
    spans = [_period(lane, s, i, scale, names) for i in range(len(s.periods))]
    for (x, label), (_, _, full) in zip(place_labels(spans, overhang=True), spans, strict=True):
        if label:
            lane.texts.append(Text(x, y + LABEL_Y, label, title=full))
    if s.periods and s.periods[-1].end is None and s.cancelled_at is None:
        lane.marks.append(Mark("continues", X1, centre, f"still active on {day(scale.end)}", ""))
    lane.marks.insert(0, _purchase(s, scale, centre))
    lane.marks += _ends(s, scale, centre)
    return lane


def _titles(s: SubscriptionLine, y: float) -> tuple[list[Text], float]:
    """The lane's title (the subscription id) and detail (offer, service, channel), wrapped
    to the gutter, and the height they need."""
    service = "licence" if s.service == "license" else "usage"
    detail = f"{s.offer} · {service} · {narration.channel_name(s.channel)}"
    if s.migrated_from:
        detail += f" · from {s.migrated_from}"
    return titles(8, y, s.subscription_id, detail, GUTTER - 12)


def _period(lane: Lane, s: SubscriptionLine, i: int, scale: Scale, names: TimelineNames) -> Span:
    """Draw the ``i``-th period (its bar, and the switch that began it) and return its span."""
    p = s.periods[i]
    x_start = scale.x(p.start)
    x_end = scale.x(p.end if p.end is not None else scale.end)
    csp = s.channel == "csp"
    who = names.por(p.partner_of_record, p.billing_partner)
    shown = who if csp else f"{narration.channel_name(s.channel)} · {who}"
    until = day(p.end) if p.end is not None else f"still on {day(scale.end)}"
    lane.bars.append(
        Bar(
            x_start,
            lane.y + BAR_Y,
            max(x_end - x_start, 2.0),
            BAR_H,
            names.colour(p.partner_of_record),
            "por" if csp else "channel",
            f"{s.subscription_id}: {shown}, {day(p.start)} to {until}",
            {
                "partner": p.partner_of_record or "",
                "channel": s.channel,
                "start": format_us(p.start),
                "end": format_us(p.end) if p.end is not None else "",
            },
        )
    )
    if i > 0:
        prev = s.periods[i - 1]
        lane.marks.append(
            Mark(
                "switch",
                x_start,
                lane.y + BAR_Y + BAR_H / 2,
                f"switched from {names.por(prev.partner_of_record, prev.billing_partner)} "
                f"to {who} on {day(p.start)}",
                format_us(p.start),
            )
        )
    return x_start, x_end, shown


def _purchase(s: SubscriptionLine, scale: Scale, centre: float) -> Mark:
    kind, what = (
        ("migration", f"bought on {day(s.purchased_at)}, migrating {s.migrated_from} into CSP")
        if s.migrated_from
        else ("purchase", f"bought through {narration.channel_name(s.channel)} on {day(s.purchased_at)}")
    )
    return Mark(kind, scale.x(s.purchased_at), centre, what, format_us(s.purchased_at))


def _ends(s: SubscriptionLine, scale: Scale, centre: float) -> list[Mark]:
    """The term end (unless the cancellation would cover it) and the cancellation."""
    marks = []
    if s.term_end is not None and s.term_end <= scale.end:
        x = scale.x(s.term_end)
        if s.cancelled_at is None or abs(scale.x(s.cancelled_at) - x) > 6:
            marks.append(Mark("term-end", x, centre, f"term end {day(s.term_end)}", format_us(s.term_end)))
    if s.cancelled_at is not None:
        at = s.cancelled_at
        marks.append(Mark("cancellation", scale.x(at), centre, f"cancelled on {day(at)}", format_us(at)))
    return marks
