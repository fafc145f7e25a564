"""``ledger sync``: download what ``ledger ingest`` reads from Graph and Partner Center, and
ingest it (``ledger/_ingest/_sync.py`` says how a run is all or nothing and where it resumes)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger import BadInput, LedgerError

from ._options import TIME_FORMS, JsonOption, open_ledger
from ._output import emit_json, err, out, reporting, said_warnings

if TYPE_CHECKING:
    from datetime import datetime

    from ledger._ingest._sync import SyncResult

SOURCES_HELP = "graph-gdap, pc-audit, pc-customers, pc-subscriptions, pc-transfers, pc-resellers"


def _within(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise typer.BadParameter(f"{value} is not in the range {low} to {high}.")
        return value

    return check


def register(app: typer.Typer) -> None:
    app.command()(sync)


def sync(
    ctx: typer.Context,
    partner: Annotated[
        str,
        typer.Option(
            "--partner",
            metavar="TENANT",
            help=(
                "Whose data it is: the partner tenant the app signs in to (registered as a partner "
                "if it is not yet)."
            ),
            show_default=False,
        ),
    ],
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            metavar="SOURCE",
            help=f"A source to sync, repeatable: {SOURCES_HELP}. Default: all of them.",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help=(
                f"Ask for audit records from this time: {TIME_FORMS}. Default: where the ledger's "
                "audit history stops (the newest event ingested from an audit record, less a day), "
                "or 90 days back for a ledger without one. Partner Center keeps 90 days."
            ),
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Download and report what would be recorded and refused; store nothing."
        ),
    ] = False,
    program: Annotated[
        str,
        typer.Option(
            "--program",
            help="The program --partner is registered in if it is not yet.",
        ),
    ] = "csp-direct",
    cloud: Annotated[
        str,
        typer.Option(
            "--cloud", help="The cloud of --partner and of customers first seen, if not yet registered."
        ),
    ] = "commercial",
    graph_url: Annotated[
        str,
        typer.Option(
            "--graph-url",
            envvar="LEDGER_SYNC_GRAPH_URL",
            metavar="URL",
            help="Microsoft Graph's root, for another cloud (or a test server). Default: the public cloud's.",
            show_default=False,
        ),
    ] = "https://graph.microsoft.com",
    partner_center_url: Annotated[
        str,
        typer.Option(
            "--partner-center-url",
            envvar="LEDGER_SYNC_PC_URL",
            metavar="URL",
            help=(
                "Partner Center REST's root, for another cloud (or a test server). Default: the "
                "public cloud's."
            ),
            show_default=False,
        ),
    ] = "https://api.partnercenter.microsoft.com",
    authority: Annotated[
        str,
        typer.Option(
            "--authority",
            envvar="LEDGER_SYNC_AUTHORITY",
            metavar="URL",
            help=(
                "The Entra ID authority that gives the tokens, for another cloud (or a test server). "
                "Default: the public cloud's."
            ),
            show_default=False,
        ),
    ] = "https://login.microsoftonline.com",
    ca_bundle: Annotated[
        str | None,
        typer.Option(
            "--ca-bundle",
            envvar="LEDGER_SYNC_CA_BUNDLE",
            metavar="FILE",
            help=(
                "A PEM file of the certificate authorities to trust instead of the system's "
                "(a TLS-inspecting proxy's)."
            ),
            show_default=False,
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            metavar="N",
            callback=_within(0, 20),
            help=(
                "How many more times a page that failed (HTTP 5xx, no answer) is asked for, with "
                "growing pauses (0 to 20)."
            ),
        ),
    ] = 4,
    max_wait: Annotated[
        int,
        typer.Option(
            "--max-wait",
            callback=_within(0, 3600),
            metavar="SECONDS",
            help=(
                "The most seconds a run waits in all, for throttling (429 Retry-After) and "
                "retries, before it gives up (0 to 3600)."
            ),
        ),
    ] = 300,
    as_json: JsonOption = False,
) -> None:
    """Download the pages `ledger ingest` reads from Microsoft Graph and Partner Center, then
    ingest them: the same report, the same exit codes.

    The app's client credentials come from the environment, and are never stored or
    printed: the variables LEDGER_SYNC_TENANT_ID, LEDGER_SYNC_CLIENT_ID and
    LEDGER_SYNC_CLIENT_SECRET. Its tokens are for Graph and for Partner Center (each
    API's .default scope), kept in memory for the run only.

    Every page of a run is downloaded before anything is ingested: a page that still fails
    after the retries ends the run with nothing recorded (exit 1), and the next sync starts
    again from where the last complete one stopped. That point is read from the ledger itself
    (no state file): the newest event ingested from a Partner Center audit record, less a day
    of overlap. Audit records are asked for in windows of at most 30 days inside the last 90.

    Examples:

        ledger sync --partner fabrikam
        ledger sync --partner fabrikam --source pc-audit --since 2026-09-15
        ledger sync --partner fabrikam --dry-run --json
    """
    with reporting(as_json):
        chosen = _sources(source)
        start = _since(since)
        if start is not None and "pc-audit" not in chosen:
            raise BadInput("--since", "is for the audit records: add --source pc-audit")
        from ledger._ingest._fetch import Credentials, Endpoints
        from ledger._ingest._http import Patience

        endpoints = Endpoints(graph_url, partner_center_url, authority).checked()
        credentials = Credentials.from_env()
        patience = Patience(retries=retries, max_wait=float(max_wait))
        connection = (credentials, endpoints, patience, ca_bundle)
        try:
            with said_warnings() as warned:
                result = _run(ctx, chosen, start, partner, program, cloud, dry_run, connection)
        except LedgerError as error:  # the secret never in a message, whichever library wrote it
            error.message = credentials.scrub(error.message)
            raise
        _show(result, chosen, as_json, warned)
    if result.ingested.exit_code:
        raise typer.Exit(result.ingested.exit_code)


def _sources(given: list[str] | None) -> list[str]:
    from ledger._ingest import SOURCES

    if not given:
        return list(SOURCES)
    unknown = [name for name in given if name not in SOURCES]
    if unknown:
        raise BadInput("--source", f"{', '.join(map(repr, unknown))} is not a source: one of {SOURCES_HELP}")
    return list(dict.fromkeys(given))


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from datetime import UTC, datetime

    from ledger import parse_query_time

    moment, _assumed = parse_query_time(value, "--since")
    if moment > datetime.now(UTC):
        raise BadInput("--since", f"{value} is in the future")
    return moment


def _run(
    ctx: typer.Context,
    sources: list[str],
    since: datetime | None,
    partner: str,
    program: str,
    cloud: str,
    dry_run: bool,
    connection: tuple[Any, Any, Any, str | None],
) -> SyncResult:
    from ledger._ingest import Context
    from ledger._ingest._fetch import download, fetcher, http_client
    from ledger._ingest._sync import sync

    credentials, endpoints, patience, ca_bundle = connection
    context = Context(partner_id=partner, cloud=cloud, program=program)
    with (
        open_ledger(ctx) as ledger,
        http_client(ca_bundle, patience) as client,
        _progress() as (paged, ingested),
    ):
        fetch = fetcher(credentials, endpoints, patience, ca_bundle, client)
        return sync(
            ledger,
            sources,
            context,
            lambda windows: download(sources, windows, fetch, endpoints, paged),
            since=since,
            dry_run=dry_run,
            progress=ingested,
        )


@contextmanager
def _progress() -> Iterator[tuple[Callable[[str], None] | None, Callable[[int, int], None] | None]]:
    """On a terminal, a status line naming the page being downloaded, then the events being
    recorded; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None, None
        return
    with err.console.status("signing in") as status:

        def ingesting(done: int, total: int) -> None:
            if done % 500 == 0 or done == total:
                status.update(f"recording {done} of {total} events")

        yield (lambda page: status.update(f"downloading {page}")), ingesting


def _answer(result: SyncResult) -> dict[str, Any]:
    """``ledger ingest``'s answer, with what the sync adds: pages and outcomes per source,
    the audit records' range, requests made and seconds waited."""
    answer = result.ingested.to_json()
    answer["sources"] = result.by_source()
    answer["audit"] = None if result.audit is None else result.audit.to_json()
    answer["requests"] = result.downloaded.requests
    answer["waited_seconds"] = round(result.downloaded.waited, 3)
    return answer


def _show(result: SyncResult, sources: list[str], as_json: bool, warned: list[str]) -> None:
    answer = _answer(result)
    if warned:
        answer["warnings"] = warned
    if as_json:
        emit_json(answer)
        return
    from ._ingest import _report

    audit = result.audit
    if audit is not None:
        shown = audit.to_json()
        out.print(
            f"Audit records asked for from {shown['start']} to {shown['end']} in {shown['windows']} "
            f"windows (from {audit.since})."
        )
        if shown["lost_before"]:
            err.print(
                f"warning: Partner Center keeps 90 days: audit records before {shown['lost_before']} "
                "that the ledger does not hold are gone."
            )
    pages = ", ".join(f"{name} {counts['pages']}" for name, counts in answer["sources"].items())
    out.print(
        f"Downloaded {pages} pages in {answer['requests']} requests "
        f"({answer['waited_seconds']:g} s waited for throttling and retries)."
    )
    _report(", ".join(sources), result.ingested)
