"""``ledger sync``: download every page of the chosen sources, then ingest them together.

Two decisions, and why:

- **All or nothing per run, at the download.** Every page of every source is downloaded
  before anything is ingested; a page that fails (after the retries) ends the run with
  nothing of it recorded. Ingesting then goes source by source through the same engine as
  ``ledger ingest``, each event all or nothing, and every event id is deterministic, so a run
  cut short while ingesting (a crash, a killed process) is completed by the next one: what
  it recorded is "already recorded", the rest is recorded then.
- **Where the last sync stopped is read from the ledger itself**, never kept in a file of
  its own: it is the effective time of the newest event ingested from an audit record (the
  note of an ingested event begins with its source, ``pc-audit <record id>``), less a day of
  overlap (Partner Center may log a record some time after it happened; reading a record
  twice records nothing twice). It travels with the ledger (export, restore, another
  machine), and a sync that stored nothing leaves it where it was, so the next sync starts
  again from there. A ledger with no audit history starts ``--since`` or 90 days back.
  Partner Center keeps 90 days: when the last sync stopped further back than that, the
  records in between are gone, and the answer says from when (``lost_before``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._fetch import ORDER, Downloaded, Window, audit_windows, earliest_audit_start

if TYPE_CHECKING:
    from .._rebuild import Progress
    from .._store import Ledger
    from ._engine import IngestResult
    from ._model import Context

OVERLAP = timedelta(days=1)
AUDIT_NOTE = "pc-audit "  # how the note of an event ingested from an audit record begins


def last_audit_time(ledger: Ledger) -> datetime | None:
    """The effective time of the newest event the ledger holds from a Partner Center audit
    record (see the module's docstring), or None."""
    newest: datetime | None = None
    for event in ledger.stored():
        note = event.get("note")
        if isinstance(note, str) and note.startswith(AUDIT_NOTE):
            at = datetime.fromisoformat(event["effective_at"].replace("Z", "+00:00"))
            if newest is None or at > newest:
                newest = at
    return newest


@dataclass(frozen=True)
class AuditPlan:
    """Which audit records a sync asks for, and why from then."""

    start: datetime
    end: datetime
    since: str  # "--since", "the ledger" or "90 days back"
    last: datetime | None  # the newest audit record's event in the ledger
    lost_before: datetime | None  # records before this (and after ``last``) are gone

    @property
    def windows(self) -> list[Window]:
        return audit_windows(self.start, self.end)

    def to_json(self) -> dict[str, Any]:
        def shown(moment: datetime | None) -> str | None:
            return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")

        return {
            "start": shown(self.start),
            "end": shown(self.end),
            "from": self.since,
            "windows": len(self.windows),
            "last_ingested": shown(self.last),
            "lost_before": shown(self.lost_before),
        }


def plan_audit(ledger: Ledger, since: datetime | None, now: datetime) -> AuditPlan:
    """The audit query's range: from ``since`` when given, else from where the ledger's audit
    history stops (less ``OVERLAP``), else 90 days back; never before what Partner Center
    keeps, never after ``now``."""
    earliest = earliest_audit_start(now)
    last = last_audit_time(ledger)
    if since is not None:
        start, why = since, "--since"
    elif last is not None:
        start, why = last - OVERLAP, "the ledger"
    else:
        start, why = earliest, "90 days back"
    lost = None
    if start < earliest:
        # What was asked for before Partner Center's 90 days is gone: the records from
        # ``--since``, or from where the ledger's audit history stops (unless within the overlap).
        if why == "--since" or (last is not None and last < earliest):
            lost = earliest
        start = earliest
    return AuditPlan(min(start, now), now, why, last, lost)


@dataclass
class SyncResult:
    """What a sync downloaded, and the account of ingesting it (one for the whole run)."""

    downloaded: Downloaded
    ingested: IngestResult
    audit: AuditPlan | None = None

    def by_source(self) -> dict[str, dict[str, int]]:
        """Pages and outcomes per source (the engine's own registration of ``--partner``
        is counted with the first source)."""
        counts: dict[str, dict[str, int]] = {}
        for name, pages in self.downloaded.pages.items():
            counts[name] = {"pages": len(pages), "recorded": 0, "already_recorded": 0, "skipped": 0}
        for item in self.ingested.items:
            counts.setdefault(item.source, {"pages": 0, "recorded": 0, "already_recorded": 0, "skipped": 0})
            counts[item.source][item.outcome] += 1
        return {name: counts[name] for name in ORDER if name in counts}


Fetch = Callable[[Sequence[Window]], Downloaded]


def sync(
    ledger: Ledger,
    sources: Sequence[str],
    context: Context,
    fetch: Fetch,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    **engine: Any,
) -> SyncResult:
    """Download ``sources`` with ``fetch`` (all pages, or its error: then nothing is
    ingested), then ingest every page of the run together, as one ``ledger ingest`` of all
    the sources (one store transaction: ``ingest_sources``). ``engine``: the engine's
    ``reader`` and ``mappers``, for tests."""
    from ._engine import ingest_sources

    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    plan = plan_audit(ledger, since, moment) if "pc-audit" in sources else None
    downloaded = fetch(plan.windows if plan is not None else [])
    files = [(name, downloaded.pages.get(name, [])) for name in ORDER if name in sources]
    ingested = ingest_sources(ledger, files, context, dry_run=dry_run, progress=progress, **engine)
    return SyncResult(downloaded, ingested, plan)
