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

Readable at a glance, whatever the history's size: up to twelve partners in one report each
have their own colour (a partner's comes from a hash of its id, so it keeps it from report to
report unless another partner of the report has it), a lane's title and detail wrap in the
gutter instead of being cut, labels sit above their bars and are shortened to the room they
have, overlapping spans of one partner go to separate rows, and past a limit the oldest
subscriptions and partners are summed up in a "+K more" note instead of drawn (the events
table lists every event). Printed (A4 or Letter), the page turns landscape, keeps headings
with what follows them, and has the chain head in every page's footer.
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
