"""The auditor report: one customer's relationship history as a self-contained HTML page.

``render`` writes the page from the customer's timeline, its events and what verify said
(``Verification``, ``Head``). The page has inline CSS and SVG only: no script, no font, no
image is fetched, and its Content-Security-Policy forbids any fetch. The parts, each to be
read alone:

- ``_findings``: the findings at the top, each with the events that prove it (computed
  there only);
- ``_page``: ``render``, ``Verification`` and ``Head``; the Jinja2 template
  ``cli/templates/report.html.j2`` turns the layout into markup, autoescaping everything;
- ``_event_list``: the events table, one plain-language sentence an event
  (``ledger._narration``);
- ``_chart``: the timeline, its sections of lanes, and what is summed up instead of drawn;
- ``_subscription_lane`` and ``_partner_lane``: one lane each, its bars, labels and marks;
- ``_axis``: the calendar ticks; ``_geometry``: the SVG's coordinates, fitting labels, marks
  that would touch; ``_model``: the layout the template draws; ``_colours``: partner colours;
- ``_names``: the names the labels and sentences use, from the timeline.

Readable at a glance, whatever the history's size: partner colours come from a hash of the
partner id (the same partner has the same colour in every report), labels sit above their
bars and are shortened to the room they have, overlapping spans of one partner go to
separate rows, and past a limit the oldest subscriptions and partners are summed up in a
"+K more" note instead of drawn (the events table lists every event).
"""

from ._findings import CHECKS, Finding, cited_events, findings
from ._page import Head, Signed, Verification, render

__all__ = [
    "CHECKS",
    "Finding",
    "Head",
    "Signed",
    "Verification",
    "cited_events",
    "findings",
    "render",
]
