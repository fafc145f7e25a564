"""The ``ledger`` command: parse, call the ledger, render. No domain logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import orjson
import typer
from typer.exceptions import TyperException

from ledger import BadInput, Ledger, LedgerError, parse_event

from ._output import emit_json, err, fail, out, progress_bar, reporting
from ._queries import register as register_queries
from ._record import JsonOption, record_app

app = typer.Typer(
    name="ledger",
    help=(
        "The relationship ledger: an append-only, tamper-evident record of who may sell, "
        "manage and support a customer's Microsoft cloud subscriptions."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(record_app)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="LEDGER_DB",
            help=(
                "The store: sqlite:///path/to/file.db or "
                "postgresql://user:password@host:port/dbname[?schema=NAME]. "
                "Default: sqlite:///ledger.db in the working directory."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    ctx.obj = {"db": db}


def _read_lines(source: BinaryIO) -> list[tuple[int, bytes]]:
    return [(n, raw) for n, raw in enumerate(source, start=1) if raw.strip()]


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A JSON Lines file of events; - reads standard input.")],
    restore: Annotated[
        bool,
        typer.Option(
            "--restore",
            help=(
                "Load a file written by `ledger export` into an EMPTY ledger, keeping positions, "
                "recorded_at and hashes. A file whose chain does not verify is refused whole."
            ),
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Record every event of a JSON Lines file in one transaction: all or nothing.

    An error names the line. Events whose event_id is already stored with the same content
    are skipped, so importing the same file twice stores it once.
    """
    if restore:
        _restore(ctx, file, as_json)
        return
    with reporting(as_json):
        if file == "-":
            lines = _read_lines(sys.stdin.buffer)
        else:
            path = Path(file)
            if not path.is_file():
                raise BadInput("file", f"{file} is not a readable file")
            with path.open("rb") as handle:
                lines = _read_lines(handle)
        events = []
        for number, raw in lines:
            try:
                events.append((number, parse_event(orjson.loads(raw))))
            except orjson.JSONDecodeError as exc:
                raise BadInput("event", f"is not valid JSON ({exc})", line=number) from None
            except LedgerError as exc:
                raise exc.at_line(number) from None
        with Ledger(ctx.obj["db"]) as ledger, progress_bar("importing") as progress:
            receipts = ledger.record_many(events, progress)
            head = ledger.head()
        written = [r.position for r in receipts if not r.duplicate]
        summary = {
            "imported": len(written),
            "duplicates": len(receipts) - len(written),
            "first_position": min(written) if written else None,
            "last_position": max(written) if written else None,
            "head": head,
        }
        if as_json:
            emit_json(summary)
        elif written:
            out.print(
                f"Imported {len(written)} events at positions {min(written)} to {max(written)}"
                f"{_dupes(summary['duplicates'])}."
            )
        else:
            out.print(f"Nothing new to import{_dupes(summary['duplicates'])}.")


def _open_lines(file: str) -> list[tuple[int, bytes]]:
    if file == "-":
        return _read_lines(sys.stdin.buffer)
    path = Path(file)
    if not path.is_file():
        raise BadInput("file", f"{file} is not a readable file")
    with path.open("rb") as handle:
        return _read_lines(handle)


def _restore(ctx: typer.Context, file: str, as_json: bool) -> None:
    with reporting(as_json):
        stored = []
        for number, raw in _open_lines(file):
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise BadInput("event", f"is not valid JSON ({exc})", line=number) from None
            if not isinstance(obj, dict):
                raise BadInput("event", "must be a JSON object", line=number)
            stored.append((number, obj))
        with Ledger(ctx.obj["db"]) as ledger, progress_bar("restoring") as progress:
            receipts = ledger.restore(stored, progress)
        if as_json:
            emit_json({"restored": len(receipts), "head": receipts[-1].hash if receipts else None})
        else:
            out.print(f"Restored {len(receipts)} events; every hash came out the same.")


def _dupes(count: object) -> str:
    return f"; {count} already stored" if count else ""


@app.command()
def export(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="Write here instead of standard output (- is standard output).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write every stored event as JSON Lines in position order, with its chain fields.

    Each line is the event as recorded plus position, recorded_at, prev_hash and hash.
    """
    with reporting(as_json):
        with Ledger(ctx.obj["db"]) as ledger:
            if file in (None, "-"):
                count = _write_events(ledger, sys.stdout.buffer)
                return
            target = Path(file)
            if not target.parent.is_dir():
                raise BadInput("file", f"folder {target.parent} does not exist")
            partial = target.with_name(target.name + ".partial")
            with partial.open("wb") as handle:
                count = _write_events(ledger, handle)
            partial.replace(target)
        if as_json:
            emit_json({"exported": count, "file": str(target)})
        else:
            err.print(f"Exported {count} events to {target}.")


def _write_events(ledger: Ledger, handle: BinaryIO) -> int:
    count = 0
    for event in ledger.stored():
        handle.write(orjson.dumps(event) + b"\n")
        count += 1
    handle.flush()
    return count


register_queries(app)


def main() -> None:
    """The console script: usage errors are bad input too, as JSON under ``--json``."""
    try:
        code = app(standalone_mode=False)
    except TyperException as exc:  # a bad option or argument, an unknown command
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `ledger`: the help, as click shows it
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(exc.exit_code) from None
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        raise SystemExit(
            fail(BadInput("", exc.format_message() + hint), "--json" in sys.argv).exit_code
        ) from None
    except typer.Abort:
        err.print("Aborted.")
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)
