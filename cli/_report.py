"""The auditor report: one customer's relationship history as a self-contained HTML page.

This module lays the timeline out (which lane, span and mark goes where in the SVG, in plain
numbers) and writes the plain-language sentence of each event; the Jinja2 template
``templates/report.html.j2`` turns that into markup, autoescaping everything, so text from
event data (a note, a name) is always text, with its control characters shown escaped as on
a terminal (``_shown``). The page has inline CSS and SVG only: no script,
no font, no image is fetched, and its Content-Security-Policy forbids any fetch.

Readable at a glance, whatever the history's size: partner colours come from a hash of the
partner id (the same partner has the same colour in every report), labels sit above their
bars and are shortened to the room they have, overlapping spans of one partner go to
separate rows, and past a limit the oldest subscriptions and partners are summed up in a
"+K more" note instead of drawn (the events table lists every event).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2

from projections import DelegationLine, RelationshipLine, SubscriptionLine, Timeline, format_us

from ._output import visible

# Twelve well separated colours; a partner's is fixed by a hash of its id. Grey is kept for
# subscriptions with no CSP partner of record.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
    "#bcbd22",
    "#7f3c8d",
)
NO_PARTNER = "#a9aeb4"

CHANNELS = {
    "csp": "CSP",
    "microsoft": "Microsoft direct",
    "advisor": "Advisor",
    "open": "Open licensing",
    "ea": "Enterprise Agreement",
    "third-party": "third party",
    "syndication": "Syndication",
    "21vianet": "21Vianet",
}

# The SVG's coordinate system (it scales down to the page width, never overflows it).
WIDTH = 1160
GUTTER = 236  # lane labels
X0 = GUTTER + 14  # the customer's first event
X1 = WIDTH - 30  # as of
ROW = 30
BAR_Y = 15  # a bar's top within its row
BAR_H = 12
THIN_H = 6  # reseller relationships
LABEL_Y = 11  # a label's baseline within its row
LABEL_SIZE = 10.5
NOTE_ROW = 20
AXIS_H = 40
SECTION_H = 26

MAX_SUBSCRIPTION_LANES = 24
MAX_PARTNER_LANES = 12
MAX_ROWS_PER_PARTNER = 4
MIN_SPAN_US = 86_400_000_000  # the axis covers at least one day
CHAR_EM = 0.62  # a generous average glyph width, in ems, for sans-serif text


def partner_colour(partner_id: str) -> str:
    """The partner's colour: the same in every report."""
    digest = hashlib.sha256(partner_id.encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_EM


def fit(text: str, room: float, size: float = LABEL_SIZE) -> str:
    """``text``, shortened with an ellipsis to fit ``room`` pixels ('' when hardly anything fits)."""
    if text_width(text, size) <= room + 0.01:
        return text
    chars = int(room / (size * CHAR_EM)) - 1
    return text[:chars].rstrip() + "…" if chars >= 4 else ""


def day(us: int | None) -> str:
    return "" if us is None else format_us(us)[:10]


LABEL_GAP = 8  # between a label and the next label or bar in its row
RIGHT = WIDTH - 4  # labels end by here


def label_extent(x_start: float, text: str) -> tuple[float, float]:
    """Where a label would go, preferring its span's start and moving left to end by ``RIGHT``."""
    width = text_width(text, LABEL_SIZE)
    left = max(min(x_start, RIGHT - width), X0 - 4)
    return left, left + width


def place_labels(spans: Sequence[tuple[float, float, str]], overhang: bool) -> list[tuple[float, str]]:
    """Labels for the spans of one row, in time order, that never overlap: each starts at its
    span (or as far left as it must, to fit before the page's edge), ends before the next span
    starts, and is shortened to the room it has; without ``overhang`` it stays over its own span.
    Returns (x, shown text), shown text '' where no label fits."""
    out: list[tuple[float, str]] = []
    left = X0 - 4.0
    for i, (x_start, x_end, text) in enumerate(spans):
        right = spans[i + 1][0] - 6 if i + 1 < len(spans) else RIGHT
        if overhang:
            x = max(label_extent(x_start, text)[0], left)
        else:
            x, right = max(x_start, left), min(right, x_end)
        shown = fit(text, right - x)
        out.append((x, shown))
        if shown:
            left = x + text_width(shown, LABEL_SIZE) + LABEL_GAP
    return out


# --- the layout model the template draws --------------------------------------------------


@dataclass
class Text:
    x: float
    y: float
    text: str
    cls: str = "label"
    anchor: str = "start"
    title: str | None = None


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    colour: str
    cls: str  # span kind: por, channel, relationship, invitation, dap, gdap
    title: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Mark:
    kind: str  # purchase, migration, switch, cancellation, revoked, removed, expired, term-end, continues
    x: float
    y: float  # the bar's centre line
    title: str
    at: str


@dataclass
class Lane:
    kind: str  # subscription, partner, note
    key: str
    y: float
    height: float
    labels: list[Text] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    colour: str | None = None


@dataclass
class Tick:
    x: float
    label: str
    major: bool


@dataclass
class Chart:
    width: int
    height: float
    top: float  # where the lanes start (below the axis)
    bottom: float  # where they end
    ticks: list[Tick]
    lanes: list[Lane]
    sections: list[Text]
    as_of_label: str
    x0: float
    x1: float
    bottom_axis: bool


@dataclass
class Scale:
    start: int
    end: int

    def x(self, us: int) -> float:
        clamped = min(max(us, self.start), self.end)
        return round(X0 + (clamped - self.start) / (self.end - self.start) * (X1 - X0), 2)


# --- the axis ---------------------------------------------------------------------------


def _ticks(scale: Scale) -> list[Tick]:
    """Calendar ticks (years, months, days or hours), as many as fit with room for labels."""
    start = datetime.fromtimestamp(scale.start / 1e6, UTC)
    end = datetime.fromtimestamp(scale.end / 1e6, UTC)
    span_px = X1 - X0
    steps: list[tuple[str, int, str]] = [
        ("hour", 1, "%m-%d %H:%M"),
        ("hour", 3, "%m-%d %H:%M"),
        ("hour", 6, "%m-%d %H:%M"),
        ("hour", 12, "%m-%d %H:%M"),
        ("day", 1, "%Y-%m-%d"),
        ("day", 2, "%Y-%m-%d"),
        ("day", 7, "%Y-%m-%d"),
        ("month", 1, "%Y-%m"),
        ("month", 3, "%Y-%m"),
        ("month", 6, "%Y-%m"),
        ("year", 1, "%Y"),
        ("year", 2, "%Y"),
        ("year", 5, "%Y"),
        ("year", 10, "%Y"),
        ("year", 25, "%Y"),
        ("year", 100, "%Y"),
        ("year", 1000, "%Y"),
    ]
    seconds = {"hour": 3600, "day": 86_400, "month": 2_629_800, "year": 31_557_600}
    span_s = (end - start).total_seconds()
    for unit, n, fmt in steps:
        label_w = text_width(start.strftime(fmt), 11) + 18
        if span_s / (seconds[unit] * n) > span_px / label_w + 1:
            continue  # far too many: not worth listing
        moments = list(_calendar(start, end, unit, n))
        if len(moments) <= 1 or span_px / len(moments) >= label_w:
            break
    else:
        unit, moments = "year", list(_calendar(start, end, "year", 1000))
    ticks = []
    for moment in moments:
        us = int(moment.timestamp() * 1_000_000)
        major = {
            "year": True,
            "month": moment.month == 1,
            "day": moment.day == 1,
            "hour": moment.hour == 0,
        }[unit]
        ticks.append(Tick(scale.x(us), moment.strftime(fmt), major))
    return ticks


def _calendar(start: datetime, end: datetime, unit: str, n: int) -> Iterable[datetime]:
    """Every ``n``-th calendar boundary of ``unit`` in ``[start, end]``."""
    if unit in ("year", "month"):
        months = 12 * n if unit == "year" else n
        index = start.year * 12 + start.month - 1
        if (start.day, start.hour, start.minute, start.second, start.microsecond) != (1, 0, 0, 0, 0):
            index += 1
        index += (-index) % months
        while (moment := datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)) <= end:
            yield moment
            index += months
        return
    hours = 24 * n if unit == "day" else n
    moment = start.replace(minute=0, second=0, microsecond=0)
    if moment < start:
        moment += timedelta(hours=1)
    while moment.hour % (24 if unit == "day" else n):
        moment += timedelta(hours=1)
    while moment <= end:
        yield moment
        moment += timedelta(hours=hours)


# --- lanes ------------------------------------------------------------------------------


class Names:
    """Partner and subscription names for labels and sentences."""

    def __init__(self, t: Timeline) -> None:
        self.t = t
        self.subscriptions = {s.subscription_id: s for s in t.subscriptions}
        self.requests = {r.request_id: r for r in t.relationships}
        self.delegations = {d.delegation_id: d for d in t.delegations}

    def partner(self, partner_id: str | None) -> str:
        if partner_id is None:
            return "nobody"
        info = self.t.partners.get(partner_id)
        return info.name if info is not None else partner_id

    def por(self, por: str | None, billing: str | None) -> str:
        if por is None:
            return "no CSP partner of record"
        if billing is not None and billing != por:
            return f"{self.partner(por)} via {self.partner(billing)}"
        return self.partner(por)


def _subscription_lane(s: SubscriptionLine, y: float, scale: Scale, names: Names) -> Lane:
    lane = Lane("subscription", s.subscription_id, y, ROW)
    service = "licence" if s.service == "license" else "usage"
    detail = f"{s.offer} · {service} · {CHANNELS.get(s.channel, s.channel)}"
    if s.migrated_from:
        detail += f" · from {s.migrated_from}"
    room = GUTTER - 12
    lane.labels = [
        Text(8, y + 13, fit(s.subscription_id, room, 12), "lane-title", title=s.subscription_id),
        Text(8, y + 26, fit(detail, room, 10), "lane-detail", title=detail),
    ]
    centre = y + BAR_Y + BAR_H / 2
    spans: list[tuple[float, float, str]] = []
    for i, p in enumerate(s.periods):
        x_start = scale.x(p.start)
        x_end = scale.x(p.end if p.end is not None else scale.end)
        csp = s.channel == "csp"
        who = names.por(p.partner_of_record, p.billing_partner)
        shown = who if csp else f"{CHANNELS.get(s.channel, s.channel)} · {who}"
        spans.append((x_start, x_end, shown))
        until = day(p.end) if p.end is not None else f"still on {day(scale.end)}"
        lane.bars.append(
            Bar(
                x_start,
                y + BAR_Y,
                max(x_end - x_start, 2.0),
                BAR_H,
                partner_colour(p.partner_of_record) if p.partner_of_record else NO_PARTNER,
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
                    centre,
                    f"switched from {names.por(prev.partner_of_record, prev.billing_partner)} "
                    f"to {who} on {day(p.start)}",
                    format_us(p.start),
                )
            )
    for (x, label), (_, _, full) in zip(place_labels(spans, overhang=True), spans, strict=True):
        if label:
            lane.texts.append(Text(x, y + LABEL_Y, label, title=full))
    if s.periods and s.periods[-1].end is None and s.cancelled_at is None:
        lane.marks.append(Mark("continues", X1, centre, f"still active on {day(scale.end)}", ""))
    kind, what = (
        ("migration", f"bought on {day(s.purchased_at)}, migrating {s.migrated_from} into CSP")
        if s.migrated_from
        else ("purchase", f"bought through {CHANNELS.get(s.channel, s.channel)} on {day(s.purchased_at)}")
    )
    lane.marks.insert(0, Mark(kind, scale.x(s.purchased_at), centre, what, format_us(s.purchased_at)))
    if s.term_end is not None and s.term_end <= scale.end:
        x = scale.x(s.term_end)
        if s.cancelled_at is None or abs(scale.x(s.cancelled_at) - x) > 6:
            lane.marks.append(
                Mark("term-end", x, centre, f"term end {day(s.term_end)}", format_us(s.term_end))
            )
    if s.cancelled_at is not None:
        lane.marks.append(
            Mark(
                "cancellation",
                scale.x(s.cancelled_at),
                centre,
                f"cancelled on {day(s.cancelled_at)}",
                format_us(s.cancelled_at),
            )
        )
    return lane


@dataclass
class _Item:
    """One span of a partner's lane before it is given a row."""

    start: int
    end: int | None
    label: str
    relationship: RelationshipLine | None = None
    delegation: DelegationLine | None = None


def _relationship_label(r: RelationshipLine, names: Names) -> str:
    what = "reseller relationship" if r.accepted_at is not None else "invitation (open)"
    if r.reseller_id:
        what += f" for reseller {names.partner(r.reseller_id)}"
    return f"{what} · {r.request_id}"


def _delegation_label(d: DelegationLine, scale: Scale) -> str:
    label = f"{d.kind.upper()}: {', '.join(d.roles)}"
    if d.kind == "gdap" and d.expires_at is not None:
        label += f" · {'expired' if d.end == 'expired' else 'expires'} {day(d.expires_at)}"
    elif d.end == "revoked":
        label += f" · revoked {day(d.ended_at)}"
    return label


def _pack(items: Sequence[_Item], scale: Scale, labelled: bool) -> list[list[_Item]]:
    """Greedy interval packing: each item goes to the first row free where it (and its label,
    when ``labelled``) begins."""
    rows: list[list[_Item]] = []
    free: list[float] = []
    for item in items:
        left = scale.x(item.start)
        right = max(scale.x(item.end if item.end is not None else scale.end), left + 2.0)
        if labelled:
            label_left, label_right = label_extent(left, item.label)
            left, right = min(left, label_left), max(right, label_right)
        for i, taken in enumerate(free):
            if taken <= left:
                rows[i].append(item)
                free[i] = right + LABEL_GAP
                break
        else:
            rows.append([item])
            free.append(right + LABEL_GAP)
    return rows


def _rows(items: list[_Item], scale: Scale) -> tuple[list[list[_Item]], bool]:
    """Rows for a partner's relationships or delegations, and whether labels may overhang."""
    if not items:
        return [], True
    labelled = _pack(items, scale, labelled=True)
    if len(labelled) <= MAX_ROWS_PER_PARTNER:
        return labelled, True
    return _pack(items, scale, labelled=False), False


def _partner_lane(
    partner_id: str,
    relationships: list[RelationshipLine],
    delegations: list[DelegationLine],
    y: float,
    scale: Scale,
    names: Names,
) -> tuple[Lane, int]:
    colour = partner_colour(partner_id)
    info = names.t.partners.get(partner_id)
    lane = Lane("partner", partner_id, y, 0, colour=colour)
    rel_items = [
        _Item(r.requested_at, r.ended_at, _relationship_label(r, names), relationship=r)
        for r in relationships
    ]
    del_items = [
        _Item(d.granted_at, d.ended_at, _delegation_label(d, scale), delegation=d) for d in delegations
    ]
    rows: list[tuple[list[_Item], bool]] = []
    hidden = 0
    for items in (rel_items, del_items):
        packed, labelled = _rows(items, scale)
        room = max(MAX_ROWS_PER_PARTNER - len(rows), 1)
        hidden += sum(len(r) for r in packed[room:])
        rows += [(r, labelled) for r in packed[:room]]
    name = names.partner(partner_id)
    room = GUTTER - 28
    detail = f"{partner_id} · {info.program if info else 'unknown'}"
    lane.labels = [
        Text(24, y + 13, fit(name, room, 12), "lane-title", title=name),
        Text(24, y + 26, fit(detail, room, 10), "lane-detail", title=detail),
    ]
    for index, (row, labelled) in enumerate(rows):
        row_y = y + index * ROW
        spans = [(scale.x(i.start), scale.x(i.end if i.end is not None else scale.end), i.label) for i in row]
        for item, (x, label) in zip(row, place_labels(spans, overhang=labelled), strict=True):
            if label:
                lane.texts.append(Text(x, row_y + LABEL_Y, label, title=item.label))
            _draw_item(lane, item, row_y, scale, colour, names)
    lane.height = max(len(rows), 1) * ROW
    return lane, hidden


def _draw_item(
    lane: Lane,
    item: _Item,
    row_y: float,
    scale: Scale,
    colour: str,
    names: Names,
) -> None:
    x_start = scale.x(item.start)
    x_end = scale.x(item.end if item.end is not None else scale.end)
    centre = row_y + BAR_Y + BAR_H / 2
    partner = lane.key
    if item.relationship is not None:
        r = item.relationship
        accepted = r.accepted_at
        invite_end = accepted if accepted is not None else (r.ended_at or scale.end)
        x_acc = scale.x(invite_end)
        thin_y = centre - THIN_H / 2
        if x_acc - x_start >= 1:
            lane.bars.append(
                Bar(
                    x_start,
                    thin_y,
                    x_acc - x_start,
                    THIN_H,
                    colour,
                    "invitation",
                    f"{names.partner(partner)} invited on {day(r.requested_at)} ({r.request_id})",
                    {"partner": partner, "request": r.request_id, "start": format_us(r.requested_at)},
                )
            )
        if accepted is not None:
            lane.bars.append(
                Bar(
                    x_acc,
                    thin_y,
                    max(x_end - x_acc, 2.0),
                    THIN_H,
                    colour,
                    "relationship",
                    f"reseller relationship with {names.partner(partner)}"
                    + (f" for reseller {names.partner(r.reseller_id)}" if r.reseller_id else "")
                    + f": accepted {day(accepted)}"
                    + (f", removed {day(r.ended_at)}" if r.ended_at is not None else ""),
                    {
                        "partner": partner,
                        "request": r.request_id,
                        "reseller": r.reseller_id or "",
                        "start": format_us(accepted),
                        "end": format_us(r.ended_at) if r.ended_at is not None else "",
                    },
                )
            )
        if r.ended_at is not None:
            lane.marks.append(
                Mark(
                    "removed", x_end, centre, f"relationship removed {day(r.ended_at)}", format_us(r.ended_at)
                )
            )
        elif accepted is not None:
            lane.marks.append(Mark("continues", X1, centre, f"still in force on {day(scale.end)}", ""))
        return
    d = item.delegation
    assert d is not None
    lane.bars.append(
        Bar(
            x_start,
            row_y + BAR_Y,
            max(x_end - x_start, 2.0),
            BAR_H,
            colour,
            d.kind,
            f"{d.kind.upper()} {d.delegation_id} to {names.partner(partner)} ({', '.join(d.roles)}): "
            f"granted {day(d.granted_at)}"
            + (f", expires {day(d.expires_at)}" if d.expires_at is not None else "")
            + (f", {d.end} {day(d.ended_at)}" if d.end else ""),
            {
                "partner": partner,
                "delegation": d.delegation_id,
                "kind": d.kind,
                "start": format_us(d.granted_at),
                "end": format_us(d.ended_at) if d.ended_at is not None else "",
                "expires": format_us(d.expires_at) if d.expires_at is not None else "",
            },
        )
    )
    if d.end == "expired" and d.ended_at is not None:
        lane.marks.append(
            Mark("expired", x_end, centre, f"GDAP expired {day(d.ended_at)}", format_us(d.ended_at))
        )
    elif d.end == "revoked" and d.ended_at is not None:
        lane.marks.append(Mark("revoked", x_end, centre, f"revoked {day(d.ended_at)}", format_us(d.ended_at)))
    else:
        until = f"; expires {day(d.expires_at)}" if d.expires_at is not None else ""
        lane.marks.append(Mark("continues", X1, centre, f"still active on {day(scale.end)}{until}", ""))


# Where two marks of one row would touch, the more telling one is drawn (the span's tooltip
# and the events table still have both).
MARK_PRIORITY = {
    "cancellation": 0,
    "revoked": 0,
    "removed": 0,
    "expired": 0,
    "switch": 1,
    "migration": 2,
    "purchase": 3,
    "term-end": 4,
    "continues": 5,
}
MARK_GAP = 12.0


def thin_marks(marks: list[Mark]) -> list[Mark]:
    """The marks that do not touch a more telling one in the same row, in drawing order."""
    kept: list[Mark] = []
    for mark in sorted(marks, key=lambda m: (MARK_PRIORITY[m.kind], m.x)):
        if all(k.y != mark.y or abs(k.x - mark.x) >= MARK_GAP for k in kept):
            kept.append(mark)
    return sorted(kept, key=lambda m: (m.y, m.x))


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
    names = Names(t)
    sections: list[Text] = []
    lanes: list[Lane] = []
    y = float(AXIS_H)

    sections.append(Text(8, y + 17, "Subscriptions: partner of record over time", "section"))
    y += SECTION_H
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
        lanes.append(_subscription_lane(subs[sid], y, scale, names))
        y += ROW
    if more:
        lanes.append(
            _note(
                y,
                f"+{more} more subscriptions, with older activity, not drawn: see the events below.",
                "more",
            )
        )
        y += NOTE_ROW

    y += 8
    sections.append(Text(8, y + 17, "Partners: reseller relationships and delegated admin rights", "section"))
    y += SECTION_H
    rels: dict[str, list[RelationshipLine]] = {}
    dels: dict[str, list[DelegationLine]] = {}
    last_partner: dict[str, int] = {}
    for r in t.relationships:
        rels.setdefault(r.partner_id, []).append(r)
        last_partner[r.partner_id] = max(last_partner.get(r.partner_id, 0), r.ended_at or r.requested_at)
    for d in t.delegations:
        dels.setdefault(d.partner_id, []).append(d)
        last_partner[d.partner_id] = max(last_partner.get(d.partner_id, 0), d.ended_at or d.granted_at)
    partners = sorted(last_partner, key=lambda p: (_first(rels.get(p, []), dels.get(p, [])), p))
    shown, more = _recent(partners, last_partner, MAX_PARTNER_LANES)
    if not shown:
        lanes.append(_note(y, "No reseller relationship or delegation on record.", "no-partners"))
        y += NOTE_ROW
    for pid in shown:
        lane, hidden = _partner_lane(pid, rels.get(pid, []), dels.get(pid, []), y, scale, names)
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
    for lane in lanes:
        lane.marks = thin_marks(lane.marks)
    bottom = y + 4
    many = len(lanes) > 10
    return Chart(
        width=WIDTH,
        height=bottom + (AXIS_H if many else 8),
        top=AXIS_H,
        bottom=bottom,
        ticks=_ticks(scale),
        lanes=lanes,
        sections=sections,
        as_of_label=f"as of {format_us(t.as_of)}",
        x0=X0,
        x1=X1,
        bottom_axis=many,
    )


def _first(relationships: list[RelationshipLine], delegations: list[DelegationLine]) -> int:
    return min([r.requested_at for r in relationships] + [d.granted_at for d in delegations])


# --- the events table ---------------------------------------------------------------------


def sentence(event: Mapping[str, Any], names: Names) -> str:
    """One event in plain language."""
    d: Mapping[str, Any] = event["data"]
    customer = names.t.name
    p = names.partner
    match event["type"]:
        case "customer.registered":
            return f"{d['name']} ({d['customer_id']}) was registered as a customer in the {d['cloud']} cloud."
        case "subscription.purchased":
            service = "licence-based" if d["service"] == "license" else "usage-based"
            term = f", term ends {d['term_end'][:10]}" if d.get("term_end") else ""
            what = f"{d['offer']} ({d['subscription_id']}, {service}{term})"
            if d["channel"] == "csp":
                text = f"{p(d['seller_id'])} sold {customer} {what} through CSP"
                if d.get("reseller_id"):
                    text += f", with {p(d['reseller_id'])} as reseller and partner of record"
                else:
                    text += f"; {p(d['seller_id'])} is partner of record"
            else:
                seller = f" from {p(d['seller_id'])}" if d.get("seller_id") else ""
                text = (
                    f"{customer} bought {what} through {CHANNELS.get(d['channel'], d['channel'])}{seller}; "
                    "it has no CSP partner of record"
                )
            if d.get("migrated_from"):
                text += f". It migrates {d['migrated_from']} into CSP"
            return text + "."
        case "subscription.switched":
            to = p(d["to_partner_id"])
            if d.get("to_reseller_id"):
                to = f"{p(d['to_reseller_id'])} (via {to})"
            return f"{d['subscription_id']} was switched from {p(d['from_partner_id'])} to {to}."
        case "subscription.cancelled":
            s = names.subscriptions.get(d["subscription_id"])
            offer = f"{s.offer} ({d['subscription_id']})" if s else d["subscription_id"]
            last = s.periods[-1].partner_of_record if s and s.periods else None
            tail = f"; its last partner of record, {p(last)}, stays on record" if last else ""
            return f"{offer} was cancelled{tail}."
        case "relationship.requested":
            behalf = f" on behalf of its reseller {p(d['reseller_id'])}" if d.get("reseller_id") else ""
            return (
                f"{p(d['partner_id'])} invited {customer} into a reseller relationship{behalf} "
                f"(invitation {d['request_id']})."
            )
        case "relationship.accepted":
            r = names.requests.get(d["request_id"])
            who = f"{p(r.partner_id)}'s invitation" if r else "the invitation"
            return f"{customer} accepted {who} ({d['request_id']}): the reseller relationship begins."
        case "relationship.removed":
            return f"The reseller relationship between {p(d['partner_id'])} and {customer} was removed."
        case "delegation.granted":
            until = f", until {d['expires_at'][:10]}" if d.get("expires_at") else ""
            return (
                f"{customer} granted {p(d['partner_id'])} {d['kind'].upper()} delegated admin rights "
                f"({', '.join(d['roles'])}){until} ({d['delegation_id']})."
            )
        case "delegation.revoked":
            g = names.delegations.get(d["delegation_id"])
            whose = f"{p(g.partner_id)}'s {g.kind.upper()}" if g else "the delegated admin rights"
            return f"{customer} revoked {whose} ({d['delegation_id']})."
        case _:
            return str(event["type"])


@dataclass(frozen=True)
class Head:
    position: int
    hash: str


@dataclass(frozen=True)
class Verification:
    """What ``Ledger.verify`` said: ``ok``, how many events it verified and the head it
    verified, or why it failed; the digest it was given (None: no earlier digest was
    checked) and, when it passed, the position of the event that has it."""

    ok: bool
    count: int
    message: str
    position: int | None = None
    head: Head | None = None
    digest: str | None = None
    extends: int | None = None


def _shown(value: object) -> object:
    """What the template prints of a value: a string as ``visible`` shows it (a control
    character, which HTML and SVG would pass on or drop, escaped), then autoescaped; anything
    else (a number, the template's own markup from a macro) as it is."""
    return visible(value) if type(value) is str else value


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cli", "templates"),
    autoescape=True,
    finalize=_shown,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    t: Timeline,
    events: Sequence[Mapping[str, Any]],
    verification: Verification,
    head: Head,
    known_head: Head | None,
    known_at: int | None,
    generated_at: int,
) -> str:
    """The report as one HTML document."""
    names = Names(t)
    layout = chart(t)
    used = t.partner_ids()
    legend = [
        {
            "id": pid,
            "name": names.partner(pid),
            "program": t.partners[pid].program if pid in t.partners else "unknown",
            "colour": partner_colour(pid),
        }
        for pid in sorted(used, key=lambda i: names.partner(i).lower())
    ]
    rows = [
        {
            "position": e["position"],
            "effective_at": e["effective_at"],
            "recorded_at": e["recorded_at"],
            "actor": e["actor"]["id"],
            "role": e["actor"]["role"],
            "tenant": e["actor"]["tenant_id"],
            "type": e["type"],
            "sentence": sentence(e, names),
            "note": e.get("note"),
            "hash": e["hash"],
            "bad": verification.position is not None and e["position"] >= verification.position,
        }
        for e in events
    ]
    channels = sorted({s.channel for s in t.subscriptions if s.channel != "csp"})
    page: str = _ENV.get_template("report.html.j2").render(
        t=t,
        chart=layout,
        legend=legend,
        channels=[CHANNELS.get(c, c) for c in channels],
        rows=rows,
        verification=verification,
        head=head,
        known_head=known_head,
        known_at=format_us(known_at) if known_at is not None else None,
        period=(format_us(t.first_event_at), format_us(t.as_of)),
        generated_at=format_us(generated_at),
        no_partner=NO_PARTNER,
    )
    return page
