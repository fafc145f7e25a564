"""``ledger import`` and ``ledger export``: the log in and out as JSON Lines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import orjson
import typer

from ledger import (
    BadInput,
    Ledger,
    LedgerError,
    check_output,
    event_lines,
    load_json,
    output_file,
    parse_event,
    spooled,
    store_files,
    writing,
)

from ._options import JsonOption, db_url, open_ledger
from ._output import emit_json, err, out, progress_bar, reporting, said_warnings

if TYPE_CHECKING:
    from ledger import Event


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
    app.command()(export)


@contextmanager
def _lines(file: str) -> Iterator[Iterator[tuple[int, bytes]]]:
    """The non-blank lines of a file (- : standard input) with their numbers, read as they
    are consumed (an import streams: memory does not grow with the file). Standard input is
    first read to its end into a temporary file, so no transaction waits on it (see
    ``ledger._lines``)."""
    if file == "-":
        with spooled(sys.stdin.buffer) as spool:
            yield event_lines(spool)
        return
    path = Path(file)
    if not path.is_file():
        raise BadInput("file", f"{file} is not a readable file")
    with path.open("rb") as handle:
        yield event_lines(handle)


def _count_lines(file: str, progress: object) -> int:
    """What a progress bar counts towards: the file's non-blank lines (0: unknown, or no bar)."""
    if progress is None or file == "-":
        return 0
    with Path(file).open("rb") as handle:
        return sum(1 for _ in event_lines(handle))


def _objects(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, Any]]:
    for number, raw in lines:
        try:
            obj = load_json(raw)
        except LedgerError as exc:
            raise exc.at_line(number) from None
        yield number, obj


def _events(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, Event]]:
    for number, obj in _objects(lines):
        try:
            event = parse_event(obj)
        except LedgerError as exc:
            raise exc.at_line(number) from None
        yield number, event


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
    digest: Annotated[
        str | None,
        typer.Option(
            "--digest",
            help=(
                "With --restore: a head hash held elsewhere (an earlier verify's). The restore is "
                "refused whole (exit 4) unless the file's chain holds it: a file cut short or "
                "rewritten since is caught."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record every event of a JSON Lines file in one transaction: all or nothing.

    An error names the line. Events whose event_id is already stored with the same content
    are skipped, so importing the same file twice stores it once.

    Examples:

        ledger import events.jsonl
        ledger import --restore backup.jsonl --digest HEAD_HASH
    """
    if restore:
        _restore(ctx, file, digest, as_json)
        return
    if digest is not None:
        with reporting(as_json):
            raise BadInput("--digest", "is for import --restore only")
    with reporting(as_json):
        with (
            _lines(file) as lines,
            said_warnings() as warned,
            open_ledger(ctx) as ledger,
            progress_bar("importing") as progress,
        ):
            summary = ledger.import_events(_events(lines), progress, _count_lines(file, progress))
            head = ledger.head()
        answer: dict[str, Any] = {
            "imported": summary.imported,
            "duplicates": summary.duplicates,
            "first_position": summary.first_position,
            "last_position": summary.last_position,
            "head": head,
        }
        if warned:
            answer["warnings"] = warned
        if as_json:
            emit_json(answer)
        elif summary.imported:
            out.print(
                f"Imported {summary.imported} events at positions {summary.first_position} to "
                f"{summary.last_position}{_dupes(summary.duplicates)}."
            )
        elif summary.duplicates:
            out.print(f"Nothing new to import{_dupes(summary.duplicates)}.")
        else:
            out.print(f"{_source(file)} holds no events; nothing was imported.")


def _restorable(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, obj in _objects(lines):
        if not isinstance(obj, dict):
            raise BadInput("event", "must be a JSON object", line=number)
        yield number, obj


def _restore(ctx: typer.Context, file: str, digest: str | None, as_json: bool) -> None:
    with reporting(as_json):
        with (
            _lines(file) as lines,
            open_ledger(ctx) as ledger,
            progress_bar("restoring") as progress,
        ):
            summary = ledger.restore(
                _restorable(lines), progress, _count_lines(file, progress), digest=digest
            )
        extends = {"extends": digest.lower()} if digest is not None else {}
        if as_json:
            emit_json(
                {
                    "restored": summary.imported,
                    "head": summary.last_hash,
                    "head_position": summary.last_position,
                    **extends,
                }
            )
        elif not summary.imported:
            out.print(f"{_source(file)} holds no events; nothing was restored.")
        else:
            out.print(
                f"Restored {summary.imported} events; every hash came out the same. Head: position "
                f"{summary.last_position}, hash {summary.last_hash}."
                + (f" It extends the log whose head was {extends['extends']}." if extends else "")
            )


def _source(file: str) -> str:
    return "Standard input" if file == "-" else file


def _dupes(count: object) -> str:
    return f"; {count} already stored" if count else ""


def export(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(
            help=(
                "Write here instead of standard output (- is standard output): owner-only, whole "
                "or not at all. An existing ordinary file is replaced; a database never."
            )
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write every stored event as JSON Lines in position order, with its chain fields.

    Each line is the event as recorded plus position, recorded_at, prev_hash and hash.

    Example:

        ledger export backup.jsonl
    """
    with reporting(as_json):
        if file in (None, "-"):
            with writing("standard output"), open_ledger(ctx) as ledger:
                _write_events(ledger, sys.stdout.buffer)
            return
        protected = store_files(db_url(ctx))
        check_output(file, "file", protected)
        with open_ledger(ctx) as ledger, output_file(file, "file", protected) as handle:
            count = _write_events(ledger, handle)
        if as_json:
            emit_json({"exported": count, "file": str(Path(file))})
        else:
            err.print(f"Exported {count} events to {Path(file)}.")


def _write_events(ledger: Ledger, handle: BinaryIO) -> int:
    count = 0
    for event in ledger.stored():
        handle.write(orjson.dumps(event) + b"\n")
        count += 1
    handle.flush()
    return count
