"""``ledger demo``: the seeds' scenarios as one realistic history, with rejected attempts.

Multi-channel (EA, Microsoft direct, 21Vianet and CSP side by side), multi-partner (DAP and
GDAP delegations to several partners), the indirect model (a provider inviting on behalf of
its reseller), an Azure migration from EA into CSP, an Azure switch between CSP partners, a
licence cancelled at term end and bought anew through another partner, and attempts the
rulebook refuses. Then the later editions of the rulebook (2023-2025): a CSP licence
transferred between partners mid-term, an indirect reseller's own invitation (and the same
refused in the china cloud), a GDAP approved by the customer's delegated admin relationship
admin, and a DAP removed by Microsoft (which may not remove a GDAP); Tailspin's GDAP
lifecycle (requested, approved, auto-extended, expired; Global Administrator never extended; a
request lapsed); and two late recordings: a cancellation found in an old audit record, and one
refused because it would invalidate a later switch.

The story is data: ``demo.jsonl`` beside this module (package data, so an installed
``ledger`` has it), one step a line: ``{"story": what it tells, "refused_by": the rule id
that refuses the attempt (refused attempts only), "event": the event in the contract's
JSON}``. Event ids are fixed, so loading the demo twice stores it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
import typer

from ledger import BadInput, RuleViolation, parse_time, read, redact
from projections import to_us

from ._options import JsonOption, command_line, open_ledger
from ._output import emit_json, out, reporting, styled
from ._views import show_customer

if TYPE_CHECKING:
    from ledger import Event, Ledger, Receipt

STORY = "demo.jsonl"
CUSTOMERS = ("contoso", "fourthcoffee", "tailspin")
BACK_THEN = "2019-06-30T00:00:00Z"  # the time travel the demo shows


@dataclass(frozen=True)
class Step:
    """One event of the story; ``expect`` is the rule id that refuses it, if any."""

    event: Event
    story: str
    expect: str | None = None


@dataclass(frozen=True)
class Outcome:
    step: Step
    receipt: Receipt | None
    rejected_by: str | None
    message: str | None


def _step(line: dict[str, Any]) -> Step:
    from ledger import parse_event  # the event types: loaded by the demo only

    return Step(parse_event(line["event"]), line["story"], line.get("refused_by"))


@cache
def steps() -> tuple[Step, ...]:
    """The demo's steps, read from ``demo.jsonl`` on first use."""
    text = resources.files(__package__).joinpath(STORY).read_text(encoding="utf-8")
    return tuple(_step(orjson.loads(line)) for line in text.splitlines())


def stored_foreign_events(ledger: Ledger) -> int:
    """How many stored events are not the demo's (the demo wants a fresh ledger)."""
    ids = {step.event.event_id for step in steps()}
    return sum(1 for event in ledger.stored() if event["event_id"] not in ids)


def already_loaded(ledger: Ledger) -> bool:
    """Whether every event of the demo is stored already (loading it again would only
    re-judge the refused attempts against a later state)."""
    stored = {event["event_id"] for event in ledger.stored()}
    return stored >= {step.event.event_id for step in steps() if step.expect is None}


def load(ledger: Ledger) -> list[Outcome]:
    """Record the demo history step by step; rejected attempts are part of the story."""
    outcomes = []
    for step in steps():
        try:
            receipt = ledger.record(step.event)
        except RuleViolation as violation:
            outcomes.append(Outcome(step, None, violation.rule, violation.message))
        else:
            outcomes.append(Outcome(step, receipt, None, None))
    return outcomes


# --- the command ----------------------------------------------------------------------------


def _refuse_foreign(ledger: Ledger) -> None:
    foreign = stored_foreign_events(ledger)
    if foreign:
        raise BadInput(
            "db",
            f"{redact(ledger.url)} already holds {foreign} events of its own; the demo needs a fresh "
            "ledger: give another --db, e.g. --db sqlite:///demo.db",
        )


def _step_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "story": outcome.step.story,
        "type": outcome.step.event.type,
        "position": outcome.receipt.position if outcome.receipt else None,
        "rejected_by": outcome.rejected_by,
    }


def _tell(outcome: Outcome) -> None:
    """One step of the story, as it went: its position, or the rule that refused it."""
    at, story = outcome.step.event.effective_at[:10], outcome.step.story
    if outcome.receipt is not None:
        out.print(f"  {outcome.receipt.position:>3}  {at}  {story}")
        return
    out.print(
        styled("  ", ("  ✗", "red"), f"  {at}  {story}: refused by ", (outcome.rejected_by or "", "bold"))
    )


def _show(views: dict[str, Any], back_then: Any, count: int, ledger_cmd: str) -> None:
    """What the history derives, for people: each customer, and Contoso back then; the hint
    to go on with is ``ledger_cmd`` (``ledger``, with the ``--db`` given: ``command_line``)."""
    for view in views.values():
        show_customer(view)
        out.print()
    out.print(
        f"Time travel: Contoso as it was on 2019-06-30 ({ledger_cmd} customer contoso --as-of 2019-06-30)"
    )
    show_customer(back_then)
    out.print()
    out.print(
        f"Verified {count} events: the chain, the Merkle tree, the rulebook and every projection match."
    )
    out.print(
        f"Try: {ledger_cmd} por azure-csp-1 --as-of 2019-12-31, "
        f"{ledger_cmd} history --customer contoso, {ledger_cmd} delegations contoso --as-of 2020-01-01"
    )


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Load a realistic built-in history into a fresh ledger and show what it derives.

        Example:

            ledger --db sqlite:///demo.db demo
        """
        with reporting(as_json), open_ledger(ctx) as ledger:
            _refuse_foreign(ledger)
            loaded_before = already_loaded(ledger)
            outcomes = [] if loaded_before else load(ledger)
            views = {cid: read.customer(ledger, cid) for cid in CUSTOMERS}
            back_then = read.customer(ledger, "contoso", to_us(parse_time(BACK_THEN, "as-of")))
            count = ledger.verify().count
            if as_json:
                emit_json(
                    {
                        "steps": [_step_json(o) for o in outcomes],
                        "customers": views,
                        "contoso_as_of_2019_06_30": back_then,
                        "verified": count,
                        "already_loaded": loaded_before,
                    }
                )
                return
            if loaded_before:
                where = redact(ledger.url)
                out.print(f"The demo history is already loaded in {where}; nothing new was recorded.")
            for outcome in outcomes:
                _tell(outcome)
            out.print()
            _show(views, back_then, count, command_line(ctx))
