"""``ledger ingest``: what saved Partner Center and Graph JSON implies, recorded.

Parse the options, read the files, call the engine (``ledger.ingest``), render its account:
for people a short report (counts by outcome, the events recorded by source and type, the
skipped records with their reasons, the values inferred rather than read), for scripts the
contract's JSON. The exit code is the contract's: 3 where the rulebook refused any record
(the rest is recorded), 2 for a file that is not such a source (nothing of the run stored).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger import BadInput

from ._options import JsonOption, open_ledger
from ._output import emit_json, out, progress_bar, reporting, said_warnings

if TYPE_CHECKING:
    from ledger import IngestResult


def register(app: typer.Typer) -> None:
    app.command()(ingest)


INFERRED_SHOWN = 20  # events whose inferred values the report lists (--json: every one)
SOURCES_HELP = "graph-gdap, pc-audit, pc-customers, pc-subscriptions, pc-transfers or pc-resellers"


def ingest(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(help=f"What the files hold: {SOURCES_HELP}.", metavar="SOURCE", show_default=False),
    ],
    files: Annotated[
        list[str],
        typer.Argument(
            help=(
                "Saved files of that source: a response page, a JSON list of pages, or JSON Lines "
                "of records; - reads standard input."
            ),
            metavar="FILE...",
            show_default=False,
        ),
    ],
    partner: Annotated[
        str,
        typer.Option(
            "--partner",
            metavar="TENANT",
            help=(
                "Whose data it is (the tenant that called the API); registered as a partner if it is not yet."
            ),
            show_default=False,
        ),
    ],
    program: Annotated[
        str,
        typer.Option("--program", help="The program the partner is registered in, if it is not yet."),
    ] = "csp-direct",
    cloud: Annotated[
        str,
        typer.Option(
            "--cloud", help="The cloud of the partner and of the customers first seen, if not registered yet."
        ),
    ] = "commercial",
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Judge everything as the real run would and report the same, but store nothing.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Record what saved Partner Center / Microsoft Graph JSON implies.

    Each event is recorded all or nothing. A source record that implies no event, or whose
    event the rulebook refuses, is listed with its reason (and rule), and the rest is recorded;
    ingesting the same files again records nothing twice. Exit 3 where the rulebook refused a
    record, 2 where a file is not such a source (then nothing is stored).

    Examples:

        ledger ingest pc-audit audit-2024-06.json --partner fabrikam
        ledger ingest graph-gdap relationships.json --partner fabrikam --dry-run
    """
    from ledger import INGEST_SOURCES, IngestContext
    from ledger import ingest as run_ingest

    with reporting(as_json):
        if source not in INGEST_SOURCES:
            raise BadInput("SOURCE", f"{source[:64]!r} is not a source (one of {', '.join(INGEST_SOURCES)})")
        read = [(file, _read(file)) for file in files]
        context = IngestContext(partner, cloud=cloud, program=program)
        with said_warnings() as warned, open_ledger(ctx) as ledger, progress_bar("ingesting") as progress:
            result = run_ingest(ledger, source, read, context, dry_run=dry_run, progress=progress)
        answer = result.to_json()
        if warned:
            answer["warnings"] = warned
        if as_json:
            emit_json(answer)
        else:
            _report(source, result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _read(file: str) -> bytes:
    """A file's bytes; ``-``: standard input's."""
    if file == "-":
        return sys.stdin.buffer.read()
    path = Path(file)
    if not path.is_file():
        raise BadInput("FILE", f"{file} is not a readable file")
    return path.read_bytes()


def _report(source: str, result: IngestResult) -> None:
    """The report for people: every string from the files through the escaping console."""
    stored = "would be recorded" if result.dry_run else "recorded"
    refused = len(result.refused)
    out.print(
        f"{source}: {result.records} records in {result.files} file{'s' if result.files != 1 else ''}"
        + (" (dry run: nothing was stored)" if result.dry_run else "")
    )
    out.print(f"  {stored}: {result.recorded}")
    out.print(f"  already recorded: {result.already_recorded}")
    out.print(
        f"  skipped: {len(result.skipped)}" + (f" ({refused} refused by the rulebook)" if refused else "")
    )
    recorded = result.of("recorded")
    if recorded:
        out.print(f"Events {stored}, by source and type:")
        for (name, type_), count in sorted(Counter((i.source, i.type) for i in recorded).items()):
            out.print(f"  {name}  {type_}  {count}")
    if result.skipped:
        out.print("Skipped:")
        for item in result.skipped:
            where = f" ({item.file}, {item.where})" if item.file else ""
            out.print(f"  {item.source} {item.source_id}{where}: {item.reason}")
    inferred = [i for i in recorded if i.inferred]
    if inferred:
        out.print(f"Inferred or defaulted, not read ({len(inferred)} events):")
        for item in inferred[:INFERRED_SHOWN]:
            out.print(f"  {item.source} {item.source_id} ({item.type}): {'; '.join(item.inferred)}")
        if len(inferred) > INFERRED_SHOWN:
            more = len(inferred) - INFERRED_SHOWN
            out.print(f"  and {more} more (--json lists every one; each event's note says it)")
