"""Options and helpers every command shares."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from ledger import parse_query_time
from projections import format_time, to_us

if TYPE_CHECKING:
    from ledger import Ledger

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result (or the error) as JSON.")]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",  # no -q: a short option's column would cut long role names in record's help
        help="Print nothing when it succeeds, for scripts and cron: an error is still printed, "
        "and the exit code is the same.",
    ),
]
CsvOption = Annotated[
    bool,
    typer.Option(
        "--csv",
        help=(
            "Print the answer as CSV for a spreadsheet: a header line of the JSON answer's names, "
            "then a line per row; a cell a spreadsheet would read as a formula starts with an apostrophe."
        ),
    ),
]
# How a time a question is asked at may be written (``ledger.parse_query_time``).
TIME_FORMS = "a date (2024-06-15: midnight UTC), a date and time (2024-06-15T09:00: UTC) or RFC 3339"
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help=f"The world as it was at this effective time: {TIME_FORMS}. Default: now.",
        show_default=False,
    ),
]
KnownAt = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        help=f"Only what the ledger had recorded by this time: {TIME_FORMS}. Default: now.",
        show_default=False,
    ),
]


def as_us(value: str | None, option: str) -> int | None:
    """The time an option names, in microseconds; what was assumed (a date's midnight UTC, a
    time without an offset in UTC) is said on standard error for people."""
    if value is None:
        return None
    moment, assumed = parse_query_time(value, option)
    if assumed is not None and "--json" not in sys.argv:
        from ._output import err

        err.print(f"{option} {value} is read as {format_time(moment)} ({assumed}).")
    return to_us(moment)


def one_format(as_json: bool, as_csv: bool) -> None:
    """``--json`` and ``--csv`` ask for two different answers: bad input, naming ``--csv``."""
    if as_json and as_csv:
        from ledger import BadInput

        raise BadInput("--csv", "cannot be given with --json: choose one format")


def db_url(ctx: typer.Context) -> str | None:
    url: str | None = ctx.obj.get("db") if ctx.obj else None
    return url


@contextmanager
def suggesting(ctx: typer.Context, thing: str, wanted: str | None) -> Iterator[None]:
    """Run a question about ``wanted``, an id of ``thing``; if it is not found, the error
    says which known ids are spelled like it ("did you mean …")."""
    from ledger import NotFound, read

    try:
        yield
    except NotFound as error:
        if wanted is None or f"{thing} {wanted}" not in error.message:  # another id's error
            raise
        near = read.similar_ids(db_url(ctx), thing, wanted)
        if not near:
            raise
        raise NotFound(f"{error.message}; did you mean {' or '.join(near)}?") from None


def command_line(ctx: typer.Context) -> str:
    """``ledger`` as the user called it, for a hint to run next: with the ``--db`` given on
    the command line (its password hidden), so following the hint asks the same store."""
    import shlex

    from ledger import redact

    url = db_url(ctx)
    given = bool(ctx.obj.get("db_given")) if ctx.obj else False
    return f"ledger --db {shlex.quote(redact(url))}" if url and given else "ledger"


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
