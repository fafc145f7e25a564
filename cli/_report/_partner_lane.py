"""A partner's lane: its reseller relationships (an open invitation as a thin outline, then
the relationship as a thin bar), delegated admin rights (DAP, GDAP as bars) and GDAP
requests not approved (pending or lapsed, a thin outline like an invitation), packed into
rows so that overlapping spans (and their labels) never touch, at most
``MAX_ROWS_PER_PARTNER`` rows; marks for what ended (removed, revoked, expired) or goes on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger import narration
from projections import DelegationLine, GdapRequestLine, RelationshipLine, format_us

from ._geometry import (
    BAR_H,
    BAR_Y,
    GUTTER,
    LABEL_GAP,
    LABEL_Y,
    ROW,
    THIN_H,
    X1,
    Scale,
    day,
    label_extent,
    place_labels,
    titles,
)
from ._model import Bar, Lane, Mark, Text
from ._names import TimelineNames

MAX_ROWS_PER_PARTNER = 4


@dataclass
class _Item:
    """One span of a partner's lane before it is given a row."""

    start: int
    end: int | None
    label: str
    relationship: RelationshipLine | None = None
    delegation: DelegationLine | None = None
    request: GdapRequestLine | None = None


def _relationship_label(r: RelationshipLine, names: TimelineNames) -> str:
    what = "reseller relationship" if r.accepted_at is not None else "invitation (open)"
    if r.reseller_id:
        what += f" for reseller {names.partner(r.reseller_id)}"
    return f"{what} · {r.request_id}"


def _request_label(g: GdapRequestLine) -> str:
    state = f"lapsed {day(g.ended_at)}" if g.end == "lapsed" else f"pending, lapses {day(g.lapses_at)}"
    return f"GDAP request ({state}): {narration.roles_text(g.roles)} · {g.delegation_id}"


def _delegation_label(d: DelegationLine) -> str:
    label = f"{d.kind.upper()}: {narration.roles_text(d.roles)}"
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


def partner_lane(
    partner_id: str,
    relationships: list[RelationshipLine],
    delegations: list[DelegationLine],
    y: float,
    scale: Scale,
    names: TimelineNames,
    *,
    requests: Sequence[GdapRequestLine] = (),
) -> tuple[Lane, int]:
    """The partner's lane, and how many of its spans did not fit its rows."""
    colour = names.colour(partner_id)
    lane = Lane("partner", partner_id, y, 0, colour=colour)
    rel_items = [
        _Item(r.requested_at, r.ended_at, _relationship_label(r, names), relationship=r)
        for r in relationships
    ]
    del_items = [_Item(d.granted_at, d.ended_at, _delegation_label(d), delegation=d) for d in delegations]
    del_items += [_Item(g.requested_at, g.ended_at, _request_label(g), request=g) for g in requests]
    rows: list[tuple[list[_Item], bool]] = []
    hidden = 0
    for items in (rel_items, del_items):
        packed, labelled = _rows(items, scale)
        room = max(MAX_ROWS_PER_PARTNER - len(rows), 1)
        hidden += sum(len(r) for r in packed[room:])
        rows += [(r, labelled) for r in packed[:room]]
    lane.labels, title_height = _titles(partner_id, y, names)
    for index, (row, labelled) in enumerate(rows):
        row_y = y + index * ROW
        spans = [(scale.x(i.start), scale.x(i.end if i.end is not None else scale.end), i.label) for i in row]
        for item, (x, label) in zip(row, place_labels(spans, overhang=labelled), strict=True):
            if label:
                lane.texts.append(Text(x, row_y + LABEL_Y, label, title=item.label))
            _draw_item(lane, item, row_y, scale, names)
    lane.height = max(len(rows) * ROW, title_height)
    return lane, hidden


def _titles(partner_id: str, y: float, names: TimelineNames) -> tuple[list[Text], float]:
    """The lane's title (the partner's name) and detail (its id and program), wrapped to the
    gutter, and the height they need."""
    info = names.t.partners.get(partner_id)
    detail = f"{partner_id} · {info.program if info else 'unknown'}"
    return titles(24, y, names.partner(partner_id), detail, GUTTER - 28)


def _draw_item(lane: Lane, item: _Item, row_y: float, scale: Scale, names: TimelineNames) -> None:
    if item.relationship is not None:
        _draw_relationship(lane, item, item.relationship, row_y, scale, names)
    elif item.request is not None:
        _draw_request(lane, item, item.request, row_y, scale, names)
    else:
        assert item.delegation is not None
        _draw_delegation(lane, item, item.delegation, row_y, scale, names)


def _draw_relationship(
    lane: Lane, item: _Item, r: RelationshipLine, row_y: float, scale: Scale, names: TimelineNames
) -> None:
    """The invitation until it was accepted (or ended), then the relationship."""
    x_start = scale.x(item.start)
    x_end = scale.x(item.end if item.end is not None else scale.end)
    centre = row_y + BAR_Y + BAR_H / 2
    partner, colour = lane.key, lane.colour or ""
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
            Mark("removed", x_end, centre, f"relationship removed {day(r.ended_at)}", format_us(r.ended_at))
        )
    elif accepted is not None:
        lane.marks.append(Mark("continues", X1, centre, f"still in force on {day(scale.end)}", ""))


def _draw_request(
    lane: Lane, item: _Item, g: GdapRequestLine, row_y: float, scale: Scale, names: TimelineNames
) -> None:
    """A GDAP request not approved: an outline, like an open invitation, until it lapsed."""
    x_start = scale.x(item.start)
    x_end = scale.x(item.end if item.end is not None else scale.end)
    centre = row_y + BAR_Y + BAR_H / 2
    partner = lane.key
    what = f"lapsed {day(g.ended_at)}" if g.end == "lapsed" else f"pending until {day(g.lapses_at)}"
    lane.bars.append(
        Bar(
            x_start,
            centre - THIN_H / 2,
            max(x_end - x_start, 2.0),
            THIN_H,
            lane.colour or "",
            "invitation",
            f"{names.partner(partner)} asked for GDAP on {day(g.requested_at)} "
            f"({narration.roles_text(g.roles)}, {g.delegation_id}): {what}",
            {"partner": partner, "request": g.delegation_id, "start": format_us(g.requested_at)},
        )
    )


def _draw_delegation(
    lane: Lane, item: _Item, d: DelegationLine, row_y: float, scale: Scale, names: TimelineNames
) -> None:
    """The delegation's bar, and how it ended (expired, revoked) or that it goes on."""
    x_start = scale.x(item.start)
    x_end = scale.x(item.end if item.end is not None else scale.end)
    centre = row_y + BAR_Y + BAR_H / 2
    partner = lane.key
    lane.bars.append(
        Bar(
            x_start,
            row_y + BAR_Y,
            max(x_end - x_start, 2.0),
            BAR_H,
            lane.colour or "",
            d.kind,
            f"{d.kind.upper()} {d.delegation_id} to {names.partner(partner)} "
            f"({narration.roles_text(d.roles)}): "
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
