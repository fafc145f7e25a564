"""The auditor's other commands, and the demo: report, verify, rebuild, demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger import GENESIS, BadInput, IntegrityFailure, read
from ledger._files import check_output, store_files, write_output
from ledger._time import now, parse_time
from ledger._url import redact
from projections._time import format_us, to_us

from ._options import AsOf, JsonOption, KnownAt, as_us, db_url, open_ledger
from ._output import emit_json, out, progress_bar, reporting, styled
from ._views import show_customer

if TYPE_CHECKING:  # loaded by the commands that use them: jinja2 and the demo cost a start
    from ledger import Ledger

    from . import _report


def _verification(ledger: Ledger, digest: str | None) -> _report.Verification:
    """Run ``verify`` (the chain, the rulebook, every projection, and with ``digest`` whether
    the log extends it); a failure is reported, not raised."""
    from . import _report

    try:
        verified = ledger.verify(digest=digest)
    except IntegrityFailure as failure:
        return _report.Verification(False, 0, failure.message, failure.position, digest=digest)
    return _report.Verification(
        True,
        verified.count,
        "",
        head=_report.Head(verified.head, verified.head_hash),
        digest=digest,
        extends=verified.extends,
    )


def _head_at(ledger: Ledger, position: int) -> _report.Head:
    from . import _report

    if position == 0:
        return _report.Head(0, GENESIS)
    try:
        return _report.Head(position, next(ledger.stored(position, position))["hash"])
    except IntegrityFailure:
        return _report.Head(position, "unreadable (see Verification)")


Digest = Annotated[
    str | None,
    typer.Option(
        "--digest",
        help=(
            "A head hash an earlier verify printed: also prove that the log still extends "
            "the log that had it (exit 4 if it was truncated or rewritten since)."
        ),
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        ctx: typer.Context,
        customer_id: Annotated[str, typer.Argument(help="The customer.")],
        out_file: Annotated[
            str,
            typer.Option(
                "--out", help="The HTML file to write (written whole or not at all).", show_default=False
            ),
        ],
        as_of: AsOf = None,
        known_at: KnownAt = None,
        digest: Digest = None,
        as_json: JsonOption = False,
    ) -> None:
        """Write one customer's relationship history as a self-contained HTML page for auditors.

        A timeline of partners of record, reseller relationships and delegations (DAP, GDAP).

        The customer's events in plain language, the chain head verify checked, and what verify
        checked: the chain, the rulebook, every projection, and with --digest whether the log
        extends a head taken earlier (without one, a log rewritten whole would pass).

        It opens offline: no script, nothing fetched. Exit 4 when verify fails (the page says so).
        """
        from ledger._chain import parse_digest

        from . import _report

        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            wanted = None if digest is None else parse_digest(digest)
            target = Path(out_file)
            protected = store_files(db_url(ctx))
            check_output(out_file, "--out", protected)
            with open_ledger(ctx) as ledger:
                timeline = read.timeline(ledger, customer_id, at, known)
                events = list(
                    read.history(ledger, customer=customer_id, as_of=timeline.as_of, known_at=known)
                )
                verification = _verification(ledger, wanted)
                # What verify checked; after a failure, the stored head (nothing vouches for it).
                head = verification.head or _report.Head(ledger.head(), ledger.head_hash())
                known_head = None if known is None else _head_at(ledger, timeline.known)
            page = _report.render(timeline, events, verification, head, known_head, known, to_us(now()))
            write_output(out_file, "--out", protected, page.encode("utf-8"))
            if not verification.ok:
                raise IntegrityFailure(
                    f"{verification.message} (the report {target} was written and says so)",
                    position=verification.position,
                )
            if as_json:
                emit_json(
                    {
                        "report": str(target),
                        "customer_id": timeline.customer_id,
                        "events": len(events),
                        "as_of": format_us(timeline.as_of),
                        "verified": verification.count,
                        "head": head.hash,
                        **({"extends": wanted} if wanted else {}),
                    }
                )
            else:
                extends = (
                    f"the log extends the one whose head was {wanted}"
                    if wanted
                    else "no earlier digest was checked: a log rewritten whole would pass"
                )
                out.print(
                    f"Wrote the report of {timeline.customer_id} ({len(events)} events, as of "
                    f"{format_us(timeline.as_of)}) to {target}; verify passed (the chain, the rulebook "
                    f"and every projection, up to position {head.position}); {extends}."
                )

    @app.command()
    def verify(ctx: typer.Context, digest: Digest = None, as_json: JsonOption = False) -> None:
        """Recompute the hash chain, judge every event again by the rulebook, rebuild every
        projection, and compare them with what is stored.

        Exit 4 naming the first bad position. Prints the head hash it verified: a digest of the
        whole log up to there; keep it, and a later `verify --digest HASH` proves nothing
        recorded by then was lost or rewritten.
        """
        with reporting(as_json):
            with open_ledger(ctx) as ledger, progress_bar("verifying") as progress:
                verified = ledger.verify(progress, digest=digest)
            head, wanted = verified.head_hash, None if digest is None else digest.lower()
            if as_json:
                emit_json(
                    {"verified": verified.count, "head": head, **({"extends": wanted} if wanted else {})}
                )
            else:
                extends = (
                    f" It extends the log whose head was {wanted} (position {verified.extends})."
                    if wanted
                    else ""
                )
                out.print(
                    f"Verified {verified.count} events: the chain, the rulebook and every projection "
                    f"match. Head {head} (position {verified.head}).{extends}"
                )

    @app.command()
    def rebuild(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Rebuild every projection from position 1, replacing the old state atomically."""
        with reporting(as_json):
            with open_ledger(ctx) as ledger, progress_bar("rebuilding") as progress:
                count = ledger.rebuild(progress)
            if as_json:
                emit_json({"rebuilt": count})
            else:
                out.print(f"Rebuilt every projection from {count} events.")

    @app.command("demo")
    def demo_(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """Load a realistic built-in history into a fresh ledger and show what it derives."""
        from ledger import demo

        with reporting(as_json), open_ledger(ctx) as ledger:
            foreign = demo.stored_foreign_events(ledger)
            if foreign:
                raise BadInput(
                    "db",
                    f"{redact(ledger.url)} already holds {foreign} events of its own; the demo needs a fresh "
                    "ledger: give another --db, e.g. --db sqlite:///demo.db",
                )
            loaded_before = demo.already_loaded(ledger)
            outcomes = [] if loaded_before else demo.load(ledger)
            views = {cid: read.customer(ledger, cid) for cid in demo.CUSTOMERS}
            back_then = read.customer(ledger, "contoso", to_us(parse_time("2019-06-30T00:00:00Z", "as-of")))
            count = ledger.verify()
            if as_json:
                emit_json(
                    {
                        "steps": [
                            {
                                "story": o.step.story,
                                "type": o.step.event.type,
                                "position": o.receipt.position if o.receipt else None,
                                "rejected_by": o.rejected_by,
                            }
                            for o in outcomes
                        ],
                        "customers": views,
                        "contoso_as_of_2019_06_30": back_then,
                        "verified": count,
                        "already_loaded": loaded_before,
                    }
                )
                return
            if loaded_before:
                out.print(
                    f"The demo history is already loaded in {redact(ledger.url)}; nothing new was recorded.",
                    markup=False,
                )
            for o in outcomes:
                if o.receipt is not None:
                    out.print(f"  {o.receipt.position:>3}  {o.step.event.effective_at[:10]}  {o.step.story}")
                else:
                    out.print(
                        styled(
                            "  ",
                            ("  ✗", "red"),
                            f"  {o.step.event.effective_at[:10]}  {o.step.story}: refused by ",
                            (o.rejected_by or "", "bold"),
                        )
                    )
            out.print()
            for view in views.values():
                show_customer(view)
                out.print()
            out.print("Time travel: Contoso as it was on 2019-06-30 (ledger customer contoso --as-of …)")
            show_customer(back_then)
            out.print()
            out.print(f"Verified {count} events: the chain, the rulebook and every projection match.")
            out.print(
                "Try: ledger por azure-csp-1 --as-of 2019-12-31T00:00:00Z, "
                "ledger history --customer contoso, ledger delegations contoso --as-of 2020-01-01T00:00:00Z"
            )
