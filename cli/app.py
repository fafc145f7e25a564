"""The ``ledger`` command: parse, call the ledger, render. No domain logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import orjson
import typer
from typer.exceptions import TyperException

from ledger import BadInput, Event, Ledger, LedgerError, parse_event

from ._output import emit_json, err, fail, out, progress_bar, reporting
from ._queries import register as register_queries
from ._record import JsonOption, record_app

_APP_SETTINGS: dict[str, Any] = {
    "name": "ledger",
    "help": (
        "The relationship ledger: an append-only, tamper-evident record of who may sell, "
        "manage and support a customer's Microsoft cloud subscriptions."
    ),
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
}
app = typer.Typer(**_APP_SETTINGS)
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


@contextmanager
def _lines(file: str) -> Iterator[Iterator[tuple[int, bytes]]]:
    """The non-blank lines of a file (- : standard input) with their numbers, read as they
    are consumed (an import streams: memory does not grow with the file)."""
    if file == "-":
        yield ((n, raw) for n, raw in enumerate(sys.stdin.buffer, start=1) if raw.strip())
        return
    path = Path(file)
    if not path.is_file():
        raise BadInput("file", f"{file} is not a readable file")
    with path.open("rb") as handle:
        yield ((n, raw) for n, raw in enumerate(handle, start=1) if raw.strip())


def _count_lines(file: str, progress: object) -> int:
    """What a progress bar counts towards: the file's non-blank lines (0: unknown, or no bar)."""
    if progress is None or file == "-":
        return 0
    with Path(file).open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())


def _objects(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, Any]]:
    for number, raw in lines:
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadInput("event", f"is not valid JSON ({exc})", line=number) from None


def _events(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, Event]]:
    for number, obj in _objects(lines):
        try:
            event = parse_event(obj)
        except LedgerError as exc:
            raise exc.at_line(number) from None
        yield number, event


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
        with (
            _lines(file) as lines,
            Ledger(ctx.obj["db"]) as ledger,
            progress_bar("importing") as progress,
        ):
            summary = ledger.import_events(_events(lines), progress, _count_lines(file, progress))
            head = ledger.head()
        answer = {
            "imported": summary.imported,
            "duplicates": summary.duplicates,
            "first_position": summary.first_position,
            "last_position": summary.last_position,
            "head": head,
        }
        if as_json:
            emit_json(answer)
        elif summary.imported:
            out.print(
                f"Imported {summary.imported} events at positions {summary.first_position} to "
                f"{summary.last_position}{_dupes(summary.duplicates)}."
            )
        else:
            out.print(f"Nothing new to import{_dupes(summary.duplicates)}.")


def _restorable(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, obj in _objects(lines):
        if not isinstance(obj, dict):
            raise BadInput("event", "must be a JSON object", line=number)
        yield number, obj


def _restore(ctx: typer.Context, file: str, as_json: bool) -> None:
    with reporting(as_json):
        with (
            _lines(file) as lines,
            Ledger(ctx.obj["db"]) as ledger,
            progress_bar("restoring") as progress,
        ):
            summary = ledger.restore(_restorable(lines), progress, _count_lines(file, progress))
        if as_json:
            emit_json({"restored": summary.imported, "head": summary.last_hash})
        else:
            out.print(f"Restored {summary.imported} events; every hash came out the same.")


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


def _app_for(args: Sequence[str]) -> typer.Typer:
    """What parses ``args``: ``app``, or where they name a command after the global options,
    an app of ``app``'s callback and that one command (or group). Typer builds the options of
    every registered command on each start, ``record``'s typed subcommands above all; a
    command never reaches the others, so its options, help and errors are the same, and it
    starts sooner. Anything else (help, an unknown command, an unknown option) takes ``app``."""
    words = iter(args)
    for word in words:
        if word == "--db":
            next(words, None)
        elif not word.startswith("--db="):
            break
    else:
        return app
    if word == "record":
        lean = typer.Typer(**_APP_SETTINGS)
        lean.registered_callback = app.registered_callback
        lean.registered_groups = list(app.registered_groups)
        return lean
    for info in app.registered_commands:
        callback = info.callback
        if callback is not None and word == (info.name or typer.main.get_command_name(callback.__name__)):
            lean = typer.Typer(**_APP_SETTINGS)
            lean.registered_callback = app.registered_callback
            lean.registered_commands = [info]
            return lean
    return app


def main() -> None:
    """The console script: usage errors are bad input too, as JSON under ``--json``."""
    try:
        code = _app_for(sys.argv[1:])(standalone_mode=False)
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
