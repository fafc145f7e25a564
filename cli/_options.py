"""Options and helpers every command shares."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ledger import parse_time
from projections import to_us

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
    store by its URL instead: see ``ledger.read``); a write waits ``--wait`` seconds for
    another writer, saying so on a terminal."""
    from ledger import DEFAULT_WAIT, Ledger

    wait = int(ctx.obj.get("wait", DEFAULT_WAIT)) if ctx.obj else DEFAULT_WAIT
    return Ledger(db_url(ctx), wait=wait, on_wait=say_waiting if sys.stderr.isatty() else None)


def say_waiting(wait: int) -> None:
    """Told once when a write has not got the store's write lock at once (on a terminal)."""
    sys.stderr.write(f"waiting for another writer to finish (up to {wait} s; --wait to change)…\n")
    sys.stderr.flush()
