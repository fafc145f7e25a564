"""The page: ``render`` lays the report out and the Jinja2 template ``cli/templates/
report.html.j2`` turns it into markup, autoescaping everything, so text from event data (a
note, a name) is always text, with its control characters shown escaped as on a terminal
(``_shown``); ``Verification`` and ``Head`` say what verify checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from ledger import narration
from projections import Timeline, format_us

from .._output import visible
from ._chart import chart
from ._colours import NO_PARTNER
from ._event_list import event_rows
from ._findings import CHECKS, Finding
from ._names import TimelineNames


@dataclass(frozen=True)
class Head:
    position: int
    hash: str


@dataclass(frozen=True)
class Signed:
    """A signed checkpoint verify was given (its signature checked): the log's origin, the
    tree size and its root (base64, as the note has it)."""

    origin: str
    size: int
    root: str


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
    checkpoint: Signed | None = None


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
    found: Sequence[Finding] = (),
    cited: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report as one HTML document; ``found``: its findings (``_findings.findings``),
    ``cited``: the events they cite besides the customer's (a partner's program change)."""
    names = TimelineNames(t)
    channels = sorted({s.channel for s in t.subscriptions if s.channel != "csp"})
    page: str = _ENV.get_template("report.html.j2").render(
        t=t,
        chart=chart(t),
        legend=_legend(t, names),
        channels=[narration.channel_name(c) for c in channels],
        rows=_citing(event_rows(events, names, verification.position), found),
        checks=[(c, [f for f in found if f.kind == c.kind]) for c in CHECKS],
        found=found,
        cited=_citing(event_rows(cited, names, verification.position), found),
        running=_css_string(
            f"{t.customer_id} · chain head: position {head.position}, hash {head.hash}"
            + ("" if verification.ok else " (not verified)")
        ),
        verification=verification,
        head=head,
        known_head=known_head,
        known_at=format_us(known_at) if known_at is not None else None,
        period=(format_us(t.first_event_at), format_us(t.as_of)),
        generated_at=format_us(generated_at),
        no_partner=NO_PARTNER,
    )
    return page


def _citing(rows: list[dict[str, Any]], found: Sequence[Finding]) -> list[dict[str, Any]]:
    """Each row with the kinds of finding that cite its event (``cites``: (kind, title)), so
    the events list leads back to the findings it proves."""
    titles = {c.kind: c.title for c in CHECKS}
    by_position: dict[int, list[str]] = {}
    for f in found:
        for p in f.proofs:
            kinds = by_position.setdefault(p.position, [])
            if f.kind not in kinds:
                kinds.append(f.kind)
    for row in rows:
        row["cites"] = [(kind, titles[kind]) for kind in by_position.get(row["position"], [])]
    return rows


def _css_string(text: str) -> str:
    """``text`` as the body of a CSS string (the page's running footer): every character but
    a letter, digit, space and a few plain signs as a CSS escape, so nothing in it can end the
    string or the style sheet, and autoescaping leaves it as it is."""
    plain = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:-_()")
    return "".join(c if c in plain else f"\\{ord(c):x} " for c in text)


def _legend(t: Timeline, names: TimelineNames) -> list[dict[str, str]]:
    """Each partner the timeline names, by name: its colour and program."""
    return [
        {
            "id": pid,
            "name": names.partner(pid),
            "program": t.partners[pid].program if pid in t.partners else "unknown",
            "colour": names.colour(pid),
        }
        for pid in sorted(t.partner_ids(), key=lambda i: names.partner(i).lower())
    ]
