"""Options and helpers every command shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledger._time import parse_time, to_us

if TYPE_CHECKING:
    from ledger import Ledger

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result (or the error) as JSON.")]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The world as it was at this effective time (RFC 3339 with an offset). Default: now.",
        show_default=False,
    ),
]
KnownAt = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        help="Only what the ledger had recorded by this time (RFC 3339 with an offset). Default: now.",
        show_default=False,
    ),
]


def as_us(value: str | None, option: str) -> int | None:
    return None if value is None else to_us(parse_time(value, option))


def db_url(ctx: typer.Context) -> str | None:
    url: str | None = ctx.obj.get("db") if ctx.obj else None
    return url


def open_ledger(ctx: typer.Context) -> Ledger:
    """The ledger on the command's store (``por``, ``delegations`` and ``customer`` ask the
    store by its URL instead: see ``ledger.read``)."""
    from ledger import Ledger

    return Ledger(db_url(ctx))
