"""Listing and looking up: customers, partners, subscriptions, show.

The lists ask the projections by the store's URL (see ``ledger.read``), as ``por`` does,
each with ``--as-of`` and ``--known-at``; ``show`` reads one stored event. Tables go through
the views' own table helper (``_views._table``), so they fit the terminal as the others do,
and every stored string through the console that escapes control characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from ledger import read

from ._options import TIME_FORMS, AsOf, JsonOption, KnownAt, as_us, db_url, open_ledger, suggesting
from ._output import emit_json, out, reporting, styled
from ._views import _table, status


def register(app: typer.Typer) -> None:
    @app.command()
    def customers(
        ctx: typer.Context, as_of: AsOf = None, known_at: KnownAt = None, as_json: JsonOption = False
    ) -> None:
        """Every customer on record, by id: name, cloud, when registered, how many
        subscriptions are live and delegations active.

        A customer registered after --as-of, or recorded after --known-at, is not listed.

        Example:

            ledger customers --as-of 2019-06-30
        """
        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            answer = read.customers(db_url(ctx), at, known)
            emit_json(answer) if as_json else show_customers(answer)

    @app.command()
    def partners(
        ctx: typer.Context, as_of: AsOf = None, known_at: KnownAt = None, as_json: JsonOption = False
    ) -> None:
        """Every partner on record, by id: name, cloud, program (as of --as-of) and, for an
        indirect reseller, its indirect providers.

        Example:

            ledger partners --as-of 2020-01-01
        """
        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            answer = read.partners(db_url(ctx), at, known)
            emit_json(answer) if as_json else show_partners(answer)

    @app.command()
    def subscriptions(
        ctx: typer.Context,
        customer: Annotated[
            str | None, typer.Option("--customer", help="Only this customer's subscriptions.")
        ] = None,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        as_json: JsonOption = False,
    ) -> None:
        """Every subscription on record, by id, with its partner of record: cancelled ones
        too, with status cancelled.

        Each is the object `por --json` prints for it, so a script reads both alike.

        Examples:

            ledger subscriptions
            ledger subscriptions --customer contoso --as-of 2019-12-31
        """
        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            with suggesting(ctx, "customer", customer):
                answer = read.subscriptions(db_url(ctx), customer, at, known)
            emit_json(answer) if as_json else show_subscriptions(answer)

    @app.command()
    def show(
        ctx: typer.Context,
        event_id_or_position: Annotated[
            str,
            typer.Argument(
                help="The event: its position (all digits, 1 for the first) or its event id (a UUID).",
                show_default=False,
            ),
        ],
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of",
                help=f"Only if the event was effective by this time, as history --as-of lists "
                f"it: {TIME_FORMS}. Default: now.",
                show_default=False,
            ),
        ] = None,
        known_at: KnownAt = None,
        as_json: JsonOption = False,
    ) -> None:
        """One stored event: its fields, its sentence, its position and hash.

        An argument of digits is a position, anything else an event id (a UUID is never all
        digits). With --json, the event exactly as export writes it.

        Examples:

            ledger show 3
            ledger show 43b8062a-6c55-5699-95c1-4e0e13d921ae --json
        """
        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            with open_ledger(ctx) as ledger:
                stored = read.event(ledger, event_id_or_position, at, known)
                if as_json:
                    emit_json(stored)
                else:
                    show_event(stored, read.told(ledger, stored))


def show_customers(answer: Mapping[str, Any]) -> None:
    rows = [
        [
            c["customer_id"],
            c["name"],
            c["cloud"],
            c["registered_at"],
            c["live_subscriptions"],
            c["active_delegations"],
        ]
        for c in answer["customers"]
    ]
    title = f"Customers as of {answer['as_of']}"
    columns = ("customer", "name", "cloud", "registered", "live subscriptions", "active delegations")
    _print_list(title, columns, rows)


def show_partners(answer: Mapping[str, Any]) -> None:
    rows = [
        [p["partner_id"], p["name"], p["cloud"], p["program"], p["provider_ids"] or None]
        for p in answer["partners"]
    ]
    columns = ("partner", "name", "cloud", "program", "indirect providers")
    _print_list(f"Partners as of {answer['as_of']}", columns, rows)


SUBSCRIPTION_COLUMNS = (
    "subscription",
    "customer",
    "offer",
    "service",
    "channel",
    "status",
    "partner of record",
    "since",
)


def show_subscriptions(answer: Mapping[str, Any]) -> None:
    rows = [
        [
            s["subscription_id"],
            s["customer_id"],
            s["offer"],
            s["service"],
            s["channel"],
            status(s),
            s["partner_of_record"],
            s["since"],
        ]
        for s in answer["subscriptions"]
    ]
    whose = f" of {answer['customer_id']}" if answer["customer_id"] is not None else ""
    _print_list(f"Subscriptions{whose} as of {answer['as_of']}", SUBSCRIPTION_COLUMNS, rows)


def _print_list(title: str, columns: tuple[str, ...], rows: list[list[object]]) -> None:
    if rows:
        out.print(_table(title, columns, rows))
    else:
        out.print(f"{title}: none on record.")


def show_event(event: Mapping[str, Any], sentence: str) -> None:
    """The sentence first (what happened), then every field as stored, one per row."""
    actor = event["actor"]
    rows: list[list[object]] = [
        ["position", event["position"]],
        ["event id", event["event_id"]],
        ["type", event["type"]],
        ["effective at", event["effective_at"]],
        ["recorded at", event["recorded_at"]],
        ["actor", f"{actor['id']} ({actor['role']}, tenant {actor['tenant_id']})"],
        *([f"data.{key}", value] for key, value in event["data"].items()),
        ["note", event.get("note")],
        ["hash", event["hash"]],
        ["previous hash", event["prev_hash"]],
    ]
    out.print(styled((sentence, "bold")))
    out.print(_table(None, ("field", "value"), rows))
