"""The auditor's other commands: report, verify, rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger import GENESIS, IntegrityFailure, check_output, now, read, store_files, write_output
from projections import format_us, to_us

from ._evidence import CheckpointOption, Origin, VerifierKeyOption, checkpoint_json, opened_checkpoint
from ._options import AsOf, JsonOption, KnownAt, QuietOption, as_us, db_url, open_ledger, suggesting
from ._output import emit_json, out, progress_bar, reporting

if TYPE_CHECKING:  # loaded by the command that uses it: jinja2 costs a start
    from ledger import Ledger
    from ledger._checkpoint import Checkpoint

    from . import _report


def _verification(
    ledger: Ledger, digest: str | None, signed: Checkpoint | None = None
) -> _report.Verification:
    """What ``check`` found (the chain, the tree, the rulebook, every projection, with
    ``digest`` whether the log extends it, with ``signed`` whether it holds that checkpoint's
    tree), as the report shows it."""
    from . import _report

    shown = None if signed is None else _report.Signed(**checkpoint_json(signed))
    found = ledger.check(digest=digest, checkpoint=signed)
    if found.failure is not None:
        return _report.Verification(
            False, 0, found.failure.message, found.failure.position, digest=digest, checkpoint=shown
        )
    return _report.Verification(
        True,
        found.count,
        "",
        head=_report.Head(found.head, found.head_hash),
        digest=digest,
        extends=found.extends,
        checkpoint=shown,
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
        checkpoint: CheckpointOption = None,
        key: VerifierKeyOption = None,
        origin: Origin = None,
        as_json: JsonOption = False,
    ) -> None:
        """Write one customer's relationship history as a self-contained HTML page for auditors.

        Findings first, each with the events that prove it: GDAP expiring within 30, 60 or 90
        days of --as-of, GDAP holding Global Administrator, a DAP without a live reseller
        relationship, a DAP still active after its retirement, a licence past its term, a
        partner whose program changed under a live subscription (--json lists them).

        A timeline of partners of record, reseller relationships and delegations (DAP, GDAP).

        The customer's events in plain language, the chain head verify checked, and what verify
        checked: the chain, the Merkle tree, the rulebook, every projection, with --digest whether
        the log extends a head taken earlier, and with --checkpoint FILE --key PUB whether it holds
        the tree a signed checkpoint describes (without either, a log rewritten whole would pass).

        It opens offline: no script, nothing fetched; it prints on A4 or Letter, landscape, the
        chain head on every page. Exit 4 when verify fails (the page says so).

        Example:

            ledger report contoso --out contoso.html --as-of 2024-06-15
        """
        from ledger import parse_digest

        from . import _report

        with reporting(as_json):
            at, known = as_us(as_of, "--as-of"), as_us(known_at, "--known-at")
            wanted = None if digest is None else parse_digest(digest)
            signed = opened_checkpoint(checkpoint, key, origin)
            target = Path(out_file)
            protected = store_files(db_url(ctx))
            check_output(out_file, "--out", protected)
            with open_ledger(ctx) as ledger:
                with suggesting(ctx, "customer", customer_id):
                    timeline = read.timeline(ledger, customer_id, at, known)
                events = list(
                    read.history(ledger, customer=customer_id, as_of=timeline.as_of, known_at=known)
                )
                cited = _report.cited_events(ledger, timeline, known)
                verification = _verification(ledger, wanted, signed)
                # What verify checked; after a failure, the stored head (nothing vouches for it).
                head = verification.head or _report.Head(ledger.head(), ledger.head_hash())
                known_head = None if known is None else _head_at(ledger, timeline.known)
            found = _report.findings(timeline, events, cited)
            page = _report.render(
                timeline, events, verification, head, known_head, known, to_us(now()), found, cited
            )
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
                        "findings": [f.json() for f in found],
                        **({"extends": wanted} if wanted else {}),
                        **({"checkpoint": checkpoint_json(signed)} if signed else {}),
                    }
                )
            else:
                extends = (
                    f"the log extends the one whose head was {wanted}"
                    if wanted
                    else "no earlier digest was checked: a log rewritten whole would pass"
                    if signed is None
                    else "no earlier digest was checked"
                )
                if signed is not None:
                    extends += f"; it holds the tree of {signed.size} events {signed.origin} signed"
                out.print(
                    f"Wrote the report of {timeline.customer_id} ({len(events)} events, as of "
                    f"{format_us(timeline.as_of)}) to {target}; verify passed (the chain, the rulebook "
                    f"and every projection, up to position {head.position}); {extends}."
                )
                counts = [(c.title, sum(1 for f in found if f.kind == c.kind)) for c in _report.CHECKS]
                listed = "; ".join(f"{title}: {n}" for title, n in counts if n)
                out.print(
                    f"Findings: {listed} (each with its events, at the report's top)."
                    if listed
                    else "Findings: none."
                )

    @app.command()
    def verify(
        ctx: typer.Context,
        digest: Digest = None,
        checkpoint: CheckpointOption = None,
        key: VerifierKeyOption = None,
        origin: Origin = None,
        quiet: QuietOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Recompute the hash chain and the Merkle tree, judge every event again by the
        rulebook, rebuild every projection, and compare them with what is stored.

        Exit 4 naming the first bad position. Prints the head hash it verified: a digest of the
        whole log up to there; keep it, and a later `verify --digest HASH` proves nothing
        recorded by then was lost or rewritten. Likewise `--checkpoint FILE --key PUB`: the log
        still holds the tree a signed checkpoint describes (a log rewritten whole since fails).

        Examples:

            ledger verify
            ledger verify --digest HEAD_HASH
            ledger verify --checkpoint cp1.txt --key ledger.pub
            ledger verify --quiet || echo "the ledger is broken"
        """
        with reporting(as_json):
            signed = opened_checkpoint(checkpoint, key, origin)
            with open_ledger(ctx) as ledger, progress_bar("verifying", quiet=quiet) as progress:
                verified = ledger.verify(progress, digest=digest, checkpoint=signed)
            head, wanted = verified.head_hash, None if digest is None else digest.lower()
            if quiet:
                return
            if as_json:
                emit_json(
                    {
                        "verified": verified.count,
                        "head": head,
                        **({"extends": wanted} if wanted else {}),
                        **({"checkpoint": checkpoint_json(signed)} if signed else {}),
                    }
                )
            else:
                extends = (
                    f" It extends the log whose head was {wanted} (position {verified.extends})."
                    if wanted
                    else ""
                )
                holds = (
                    f" It holds the tree of {signed.size} events the checkpoint of {signed.origin} signed."
                    if signed
                    else ""
                )
                out.print(
                    f"Verified {verified.count} events: the chain, the Merkle tree, the rulebook and every "
                    f"projection match. Head {head} (position {verified.head}).{extends}{holds}"
                )

    @app.command()
    def rebuild(ctx: typer.Context, quiet: QuietOption = False, as_json: JsonOption = False) -> None:
        """Rebuild every projection from position 1, replacing the old state atomically.

        Examples:

            ledger rebuild
            ledger rebuild --quiet
        """
        with reporting(as_json):
            with open_ledger(ctx) as ledger, progress_bar("rebuilding", quiet=quiet) as progress:
                count = ledger.rebuild(progress)
            if quiet:
                return
            if as_json:
                emit_json({"rebuilt": count})
            else:
                out.print(f"Rebuilt every projection from {count} events.")
