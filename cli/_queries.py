"""The auditor's questions: por, delegations, customer, history.

``por``, ``delegations`` and ``customer`` ask the store by its URL (see ``ledger.read``),
which needs neither the store's write side nor eventsourcing.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Annotated

import orjson
import typer

from ledger import read

from ._options import (
    TIME_FORMS,
    AsOf,
    CsvOption,
    JsonOption,
    KnownAt,
    as_us,
    db_url,
    one_format,
    open_ledger,
    suggesting,
)
from ._output import emit_json, paged, reporting
from ._views import (
    customer_csv,
    delegations_csv,
    history_csv,
    show_customer,
    show_delegations,
    show_history,
    show_por,
)

NoPager = Annotated[
    bool,
    typer.Option(
        "--no-pager",
        help="Print straight to the terminal: no pager (PAGER, default less) however long the output.",
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def por(
        ctx: typer.Context,
        subscription_id: Annotated[str, typer.Argument(help="The subscription.")],
        as_of: AsOf = None,
        known_at: KnownAt = None,
        as_json: JsonOption = False,
    ) -> None:
        """Partner of record of a subscription: who sold it, who bills it, since when.

        Example:

            ledger por azure-csp-1 --as-of 2019-12-31
        """
        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            with suggesting(ctx, "subscription", subscription_id):
                answer = read.por(db_url(ctx), subscription_id, at, known)
            emit_json(answer) if as_json else show_por(answer)

    @app.command()
    def delegations(
        ctx: typer.Context,
        customer_id: Annotated[str, typer.Argument(help="The customer.")],
        as_of: AsOf = None,
        known_at: KnownAt = None,
        as_csv: CsvOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """The customer's active delegated admin privileges (DAP and GDAP).

        Examples:

            ledger delegations contoso --as-of 2020-01-01
            ledger delegations contoso --csv > delegations.csv
        """
        with reporting(as_json):
            one_format(as_json, as_csv)
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            with suggesting(ctx, "customer", customer_id):
                answer = read.delegations(db_url(ctx), customer_id, at, known)
            if as_json:
                emit_json(answer)
            elif as_csv:
                delegations_csv(answer)
            else:
                show_delegations(answer)

    @app.command()
    def customer(
        ctx: typer.Context,
        customer_id: Annotated[str, typer.Argument(help="The customer.")],
        as_of: AsOf = None,
        known_at: KnownAt = None,
        as_csv: CsvOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """One customer: subscriptions with their partner of record, relationships, delegations.

        The subscriptions as `por` shows them (a cancelled one with its cancellation time, a
        licence past its term end saying so), the reseller relationships (with the indirect
        provider's reseller) and the active delegations, all as of --as-of. With --csv, one
        line for each of them, its section named in the first column.

        Examples:

            ledger customer contoso --as-of 2019-06-30
            ledger customer contoso --csv > contoso.csv
        """
        with reporting(as_json):
            one_format(as_json, as_csv)
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            with suggesting(ctx, "customer", customer_id):
                answer = read.customer(db_url(ctx), customer_id, at, known)
            if as_json:
                emit_json(answer)
            elif as_csv:
                customer_csv(answer)
            else:
                show_customer(answer)

    @app.command()
    def history(
        ctx: typer.Context,
        customer: Annotated[str | None, typer.Option(help="Only events of this customer.")] = None,
        subscription: Annotated[
            str | None, typer.Option(help="Only events naming this subscription.")
        ] = None,
        partner: Annotated[str | None, typer.Option(help="Only events naming this partner.")] = None,
        since: Annotated[
            str | None,
            typer.Option(
                help=f"Only events effective at or after this time: {TIME_FORMS}.", show_default=False
            ),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option(
                help=f"Only events effective at or before this time: {TIME_FORMS}.", show_default=False
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help=f"The contract's time travel: the history as the world stood at this time, i.e. the "
                f"events effective by then (with --until, the earlier of the two): {TIME_FORMS}.",
                show_default=False,
            ),
        ] = None,
        known_at: KnownAt = None,
        as_csv: CsvOption = False,
        no_pager: NoPager = False,
        as_json: JsonOption = False,
    ) -> None:
        """Stored events in position order, as export writes them, filtered.

        For people: each event's effective and recorded times, type, actor, data and note; on
        a terminal, through a pager where it is taller than the screen (never when piped).

        Examples:

            ledger history --customer contoso --since 2020-01-01 --until 2020-12-31
            ledger history --subscription o365-1 --csv > o365-1.csv
        """
        with reporting(as_json):
            one_format(as_json, as_csv)
            times = {
                "since": as_us(since, "--since"),
                "until": as_us(until, "--until"),
                "as_of": as_us(as_of, "--as-of"),
                "known_at": as_us(known_at, "--known-at"),
            }
            asked = [("customer", customer), ("subscription", subscription), ("partner", partner)]
            with ExitStack() as checks, open_ledger(ctx) as ledger:
                for thing, wanted in asked:  # each names the id it asked for, if that is unknown
                    checks.enter_context(suggesting(ctx, thing, wanted))
                events = list(
                    read.history(
                        ledger, customer=customer, subscription=subscription, partner=partner, **times
                    )
                )
            if as_json:
                sys.stdout.buffer.write(b'{"events":[' + b",".join(orjson.dumps(e) for e in events) + b"]}\n")
            elif as_csv:
                history_csv(events)
            else:
                paged(lambda: show_history(events), pager=not no_pager)
