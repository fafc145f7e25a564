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
    keys,
    load_json,
    output_file,
    parse_event,
    spooled,
    store_files,
    write_output,
    writing,
)

from ._evidence import Origin, VerifierKeyOption, checkpoint_json, opened_checkpoint
from ._options import JsonOption, QuietOption, db_url, open_ledger
from ._output import emit_json, err, out, progress_bar, reporting, said_warnings

if TYPE_CHECKING:
    from ledger import Event
    from ledger._checkpoint import SignerKey


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
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help=(
                "With --restore and --key: a signed checkpoint. The restore is refused whole (exit 4) "
                "unless the file's first events make the tree it signed."
            ),
            show_default=False,
        ),
    ] = None,
    key: VerifierKeyOption = None,
    origin: Origin = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record every event of a JSON Lines file in one transaction: all or nothing.

    An error names the line. Events whose event_id is already stored with the same content
    are skipped, so importing the same file twice stores it once.

    Examples:

        ledger import events.jsonl
        ledger import --quiet events.jsonl
        ledger import --restore backup.jsonl --digest HEAD_HASH
    """
    if restore:
        _restore(ctx, file, digest, (checkpoint, key, origin), as_json, quiet)
        return
    for option, value in (("--digest", digest), ("--checkpoint", checkpoint), ("--key", key)):
        if value is not None:
            with reporting(as_json):
                raise BadInput(option, "is for import --restore only")
    with reporting(as_json):
        with (
            _lines(file) as lines,
            said_warnings() as warned,
            open_ledger(ctx) as ledger,
            progress_bar("importing", quiet=quiet) as progress,
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
        if quiet:
            return
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


def _restore(
    ctx: typer.Context,
    file: str,
    digest: str | None,
    signed_by: tuple[str | None, str | None, str | None],
    as_json: bool,
    quiet: bool,
) -> None:
    with reporting(as_json):
        signed = opened_checkpoint(*signed_by)
        with (
            _lines(file) as lines,
            open_ledger(ctx) as ledger,
            progress_bar("restoring", quiet=quiet) as progress,
        ):
            summary = ledger.restore(
                _restorable(lines), progress, _count_lines(file, progress), digest=digest, checkpoint=signed
            )
        extends = {"extends": digest.lower()} if digest is not None else {}
        if quiet:
            return
        if as_json:
            emit_json(
                {
                    "restored": summary.imported,
                    "head": summary.last_hash,
                    "head_position": summary.last_position,
                    **extends,
                    **({"checkpoint": checkpoint_json(signed)} if signed else {}),
                }
            )
        elif not summary.imported:
            out.print(f"{_source(file)} holds no events; nothing was restored.")
        else:
            out.print(
                f"Restored {summary.imported} events; every hash came out the same. Head: position "
                f"{summary.last_position}, hash {summary.last_hash}."
                + (f" It extends the log whose head was {extends['extends']}." if extends else "")
                + (
                    f" Its first {signed.size} events are the tree the checkpoint of {signed.origin} signed."
                    if signed
                    else ""
                )
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
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help=(
                "Also write a checkpoint of exactly the events exported, signed with --key, to this "
                "file: hand both over, and `ledger check` proves an event of the file in it."
            ),
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            metavar="FILE",
            help="With --checkpoint: the signer (private) key file `ledger keygen` wrote. Never printed.",
            show_default=False,
        ),
    ] = None,
    origin: Origin = None,
    as_json: JsonOption = False,
) -> None:
    """Write every stored event as JSON Lines in position order, with its chain fields.

    Each line is the event as recorded plus position, recorded_at, prev_hash and hash.

    Example:

        ledger export backup.jsonl
    """
    with reporting(as_json):
        protected = store_files(db_url(ctx))
        signer = None
        if (checkpoint is None) != (key is None):
            raise BadInput(
                "--checkpoint" if checkpoint is None else "--key", "--checkpoint and --key go together"
            )
        if checkpoint is not None and key is not None:
            check_output(checkpoint, "--checkpoint", protected)
            signer = keys.load_signer(key)
        if file in (None, "-"):
            with writing("standard output"), open_ledger(ctx) as ledger:
                size, note = _signed(ledger, signer, origin)
                _write_events(ledger, sys.stdout.buffer, size)
            if checkpoint is not None:
                write_output(checkpoint, "--checkpoint", protected, note.encode("utf-8"))
            return
        check_output(file, "file", protected)
        with open_ledger(ctx) as ledger:
            size, note = _signed(ledger, signer, origin)
            with output_file(file, "file", protected) as handle:
                count = _write_events(ledger, handle, size)
        answer: dict[str, Any] = {"exported": count, "file": str(Path(file))}
        if checkpoint is not None:
            write_output(checkpoint, "--checkpoint", protected, note.encode("utf-8"))
            answer["checkpoint"] = str(Path(checkpoint))
        if as_json:
            emit_json(answer)
        else:
            err.print(
                f"Exported {count} events to {Path(file)}"
                + (f", and their signed checkpoint to {Path(checkpoint)}." if checkpoint else ".")
            )


def _signed(ledger: Ledger, signer: SignerKey | None, origin: str | None) -> tuple[int | None, str]:
    """With a signer: the tree size to export up to and its signed checkpoint (taken first,
    so the file holds exactly the events it signs, whatever is appended meanwhile)."""
    if signer is None:
        return None, ""
    head, note = ledger.checkpoint(signer, origin)
    return head.size, note


def _write_events(ledger: Ledger, handle: BinaryIO, stop: int | None = None) -> int:
    count = 0
    if stop == 0:
        handle.flush()
        return 0
    for event in ledger.stored(stop=stop):
        handle.write(orjson.dumps(event) + b"\n")
        count += 1
    handle.flush()
    return count
