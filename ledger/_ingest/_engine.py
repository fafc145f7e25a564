"""The ingest engine: saved source files in, events recorded, and an account of every record.

``ingest`` reads each file (``_read.read_source``; a file that is not such a source is bad
input and nothing of the run is stored), maps the records (``_mapping.MAPPERS``), and turns
the proposals into events:

1. the reseller map (MPN id -> tenant) is this run's ``pc-resellers`` records plus the
   resellers registered by earlier runs, found again in their registrations' notes
   (``mpnId NNN``: ``_model.mpn_note``): it lives in the event log, nowhere else;
2. the ingesting partner (``--partner``) is registered if it is not yet, effective when the
   mappings' registrations are (``_common.REGISTERED_AT``), or earlier where the run's
   earliest event is (said in its note and the report: that time is defaulted);
3. proposals sharing an ``event_id`` (one transition seen by two sources or two pages) are
   merged: the one whose ``effective_at`` was read beats one whose time was inferred; a
   tenant's registrations are merged too (the earliest kept), and a registration of a
   tenant already on record, or an event whose ``event_id`` is stored, is already recorded
   (also where its note or actor differ: another source saw it first);
4. the rest is ordered by ``effective_at`` (late recordings are the rulebook's to judge:
   ``ledger/_late.py``) and recorded in batches (``record_many``, each its own savepoint);
   where the rulebook refuses an event of a batch, the events before it are recorded, it
   is skipped with its rule and edition, and the rest goes on, in batches small at first:
   the same outcome as one event at a time, at the cost of an append or two a refusal.

All of it runs inside ``Ledger.held``: one store transaction, each batch a savepoint of it,
committed at the end, or rolled back for ``--dry-run``, so a dry run is the real run, every
rule judged, its answer the same, nothing stored.

Every record read ends up in the account: each proposal or skip of its mapping (a record the
mapping gave nothing for is skipped, saying so) is recorded, already recorded (merged with
one recorded, or on record) or skipped, exactly once; ``IngestResult`` checks that sum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from projections import to_us

from .._errors import BadInput, RuleViolation
from .._events import Event
from .._parse import _ident as ident
from .._parse import parse_event
from .._rebuild import Progress
from .._sql import CHAIN
from .._store import Ledger
from .._stored import decoded_at
from .._time import parse_time
from ._common import REGISTERED_AT
from ._facts import transfer_facts
from ._mapping import MAPPERS
from ._model import MPN_IN_NOTE, SOURCES, Context, Mapper, Proposal, Record, Skip, event_id
from ._pc_resellers import reseller_map
from ._read import read_source

Reader = Callable[[str, str, bytes], list[Record]]
Outcome = Literal["recorded", "already_recorded", "skipped"]

BATCH = 5000  # events per append, at most (a refusal costs the events of its batch before it, again)
_IN_CHUNK = 500  # ids per IN (...) list

# Same effective time: registrations first, then each thing's lifecycle in its order.
_TYPE_ORDER = {
    name: rank
    for rank, name in enumerate(
        [
            "partner.registered",
            "partner.program-changed",
            "customer.registered",
            "relationship.requested",
            "relationship.accepted",
            "delegation.requested",
            "delegation.granted",
            "delegation.extended",
            "subscription.purchased",
            "subscription.switched",
            "subscription.cancelled",
            "delegation.revoked",
            "relationship.removed",
        ]
    )
}
_REGISTERS = {"partner.registered": "partner_id", "customer.registered": "customer_id"}


@dataclass(frozen=True)
class Item:
    """What became of one proposal or skip of a mapping (or of the engine's own
    registration of the ingesting partner): recorded, already recorded, or skipped."""

    source: str
    source_id: str
    outcome: Outcome
    event_id: str | None = None
    type: str | None = None
    effective_at: str | None = None
    position: int | None = None
    reason: str | None = None  # why it is already recorded or skipped
    rule: str | None = None  # the rule that refused it
    edition: str | None = None
    inferred: tuple[str, ...] = ()
    file: str | None = None  # where its record was read (None: the engine's own)
    where: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_id": self.source_id,
            "event_id": self.event_id,
            "type": self.type,
            "effective_at": self.effective_at,
            "position": self.position,
            "reason": self.reason,
            "rule": self.rule,
            "edition": self.edition,
            "inferred": list(self.inferred),
            "file": self.file,
            "where": self.where,
        }


@dataclass
class IngestResult:
    """The account of one ingest: every item (one per proposal or skip), in the order they
    were decided, and how many source records were read from how many files."""

    items: list[Item]
    records: int
    files: int
    dry_run: bool = False
    expected: int = field(default=0, repr=False)  # items the mappings gave (the account's sum)

    def __post_init__(self) -> None:
        """Nothing dropped: every item the mappings gave is in exactly one outcome."""
        counted = self.recorded + self.already_recorded + len(self.skipped)
        if counted != len(self.items) or (self.expected and len(self.items) != self.expected):
            raise AssertionError(
                f"ingest accounting: {self.expected} items mapped, {len(self.items)} decided, "
                f"{counted} counted"
            )

    def of(self, outcome: Outcome) -> list[Item]:
        return [i for i in self.items if i.outcome == outcome]

    @property
    def recorded(self) -> int:
        return sum(1 for i in self.items if i.outcome == "recorded")

    @property
    def already_recorded(self) -> int:
        return sum(1 for i in self.items if i.outcome == "already_recorded")

    @property
    def skipped(self) -> list[Item]:
        return self.of("skipped")

    @property
    def refused(self) -> list[Item]:
        """The items the rulebook refused (exit 3)."""
        return [i for i in self.items if i.outcome == "skipped" and i.rule is not None]

    @property
    def exit_code(self) -> int:
        return 3 if self.refused else 0

    def to_json(self) -> dict[str, Any]:
        """The contract's answer (``recorded``, ``already_recorded``, ``skipped`` with
        ``source_id``, ``reason``, ``rule``), with more keys beside: each skip's source,
        edition and place, the events recorded, the values inferred."""
        recorded = self.of("recorded")
        return {
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "skipped": [
                {
                    "source_id": i.source_id,
                    "reason": i.reason,
                    "rule": i.rule,
                    "edition": i.edition,
                    "source": i.source,
                    "event_id": i.event_id,
                    "type": i.type,
                    "file": i.file,
                    "where": i.where,
                }
                for i in self.skipped
            ],
            "records": self.records,
            "files": self.files,
            "dry_run": self.dry_run,
            "events": [
                {
                    "source": i.source,
                    "source_id": i.source_id,
                    "event_id": i.event_id,
                    "type": i.type,
                    "position": i.position,
                }
                for i in recorded
            ],
            "inferred": [
                {
                    "source": i.source,
                    "source_id": i.source_id,
                    "event_id": i.event_id,
                    "values": list(i.inferred),
                }
                for i in recorded
                if i.inferred
            ],
        }


@dataclass
class _Pending:
    """A proposal on its way: parsed, where its record was read."""

    proposal: Proposal
    event: Event
    order: int
    file: str | None
    where: str | None

    @property
    def effective_inferred(self) -> bool:
        return any(phrase.startswith("effective_at") for phrase in self.proposal.inferred)

    def item(self, outcome: Outcome, **more: Any) -> Item:
        p = self.proposal
        return Item(
            p.source,
            p.source_id,
            outcome,
            event_id=self.event.event_id,
            type=self.event.type,
            effective_at=self.event.effective_at,
            inferred=p.inferred,
            file=self.file,
            where=self.where,
            **more,
        )


def ingest(
    ledger: Ledger,
    source: str,
    files: Sequence[tuple[str, bytes]],
    context: Context,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    reader: Reader | None = None,
    mappers: Mapping[str, Mapper] | None = None,
) -> IngestResult:
    """Ingest ``files`` (each its name and bytes) of one ``source`` (see the module)."""
    return ingest_sources(
        ledger, [(source, files)], context, dry_run=dry_run, progress=progress, reader=reader, mappers=mappers
    )


def ingest_sources(
    ledger: Ledger,
    sources: Sequence[tuple[str, Sequence[tuple[str, bytes]]]],
    context: Context,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    reader: Reader | None = None,
    mappers: Mapping[str, Mapper] | None = None,
) -> IngestResult:
    """Ingest several sources' files in one run: one account, one transaction, every event
    ordered by effective time across sources (``pc-resellers`` mapped first, since the
    others' mappings need its reseller map). ``reader`` and ``mappers`` default to the
    sources' own (``_read.read_source``, ``_mapping.MAPPERS``)."""
    for name, _ in sources:
        if name not in SOURCES:
            raise BadInput("source", f"{name[:64]!r} is not a source (one of {', '.join(SOURCES)})")
    _check_context(context)
    reader = reader or read_source
    mappers = mappers if mappers is not None else MAPPERS
    read = [(name, [r for file, raw in files for r in reader(name, file, raw)]) for name, files in sources]
    read.sort(key=lambda pair: pair[0] != "pc-resellers")
    n_records = sum(len(records) for _, records in read)
    n_files = sum(len(files) for _, files in sources)

    resellers = dict(_stored_resellers(ledger))
    resellers.update(reseller_map([r for name, records in read if name == "pc-resellers" for r in records]))
    context = replace(context, resellers={**resellers, **context.resellers})
    context = transfer_facts(ledger, read, context)  # what transfers and sales say of each other

    items: list[Item] = []
    pending: list[_Pending] = []
    mapped = _map_all(read, mappers, context)
    read.clear()  # the records are mapped: what follows needs only where each was read
    for out, (file, where) in mapped:
        if isinstance(out, Skip):
            items.append(
                Item(out.source, out.source_id, "skipped", reason=out.reason, file=file, where=where)
            )
            continue
        parsed = _parsed(out)
        if isinstance(parsed, BadInput):
            items.append(
                Item(
                    out.source,
                    out.source_id,
                    "skipped",
                    event_id=_text(out.event.get("event_id")),
                    type=_text(out.event.get("type")),
                    reason=f"the mapping made a bad event: {parsed.message}",
                    inferred=out.inferred,
                    file=file,
                    where=where,
                )
            )
            continue
        pending.append(_Pending(out, parsed, len(pending), file, where))
    expected = len(items) + len(pending)

    own = _own_registration(ledger, context, pending, sources[0][0] if sources else SOURCES[0])
    if own is not None:
        pending.insert(0, own)
        expected += 1

    pending, merged = _merge(pending)
    items += merged
    pending, on_record = _on_record(ledger, pending)
    items += on_record
    pending.sort(key=lambda p: (p.event.effective_us, _TYPE_ORDER.get(p.event.type, 99), p.order))

    with ledger.held(commit=not dry_run):
        items += _record(ledger, pending, progress)
    return IngestResult(items, n_records, n_files, dry_run, expected)


_OPTIONS = {
    "data.partner_id": "--partner",
    "actor.tenant_id": "--partner",
    "data.program": "--program",
    "data.cloud": "--cloud",
}


def _check_context(context: Context) -> None:
    """Bad input naming the option (``--partner``, ``--program``, ``--cloud``, ``--customer``)
    whose value the events could not carry, before anything is read."""
    named: dict[str, BadInput] = {}
    try:
        _registration(context, "2000-01-01T00:00:00Z", "the options")
    except BadInput as bad:
        for problem in bad.problems:
            option = _OPTIONS.get(problem.field, problem.field)
            named.setdefault(option, BadInput(option, problem.reason))
    if context.customer_id is not None:
        try:
            ident(context.customer_id, "--customer")
        except BadInput as bad:
            named["--customer"] = bad
    if named:
        raise BadInput.combined(list(named.values()))


def _registration(context: Context, at: str, note: str) -> Event:
    """The ingesting partner's registration (program and cloud from the options)."""
    partner = context.partner_id
    return parse_event(
        {
            "event_id": event_id("partner.registered", partner),
            "type": "partner.registered",
            "effective_at": at,
            "actor": {"id": "ledger-ingest", "role": "global-admin", "tenant_id": partner},
            "data": {
                "partner_id": partner,
                "name": partner,
                "cloud": context.cloud,
                "program": context.program,
            },
            "note": note,
        }
    )


def parse_event_time(value: str) -> int:
    return to_us(parse_time(value, "effective_at"))


Place = tuple[str | None, str | None]  # the file and the place in it a record was read from


def _map_all(
    read: list[tuple[str, list[Record]]], mappers: Mapping[str, Mapper], context: Context
) -> list[tuple[Proposal | Skip, Place]]:
    """Every source's proposals and skips, each with where its record was read."""
    mapped: list[tuple[Proposal | Skip, Place]] = []
    for name, records in read:
        places: dict[str, Place] = {r.source_id: (r.file, r.where) for r in records}
        outs = _mapped(mappers[name], name, records, context)
        mapped += [(out, places.get(out.source_id, (None, None))) for out in outs]
    return mapped


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapped(
    mapper: Mapper, source: str, records: Sequence[Record], context: Context
) -> list[Proposal | Skip]:
    """The mapping's proposals and skips; a record it gave nothing for is skipped, saying so,
    and a mapping that fails is tried record by record, a record it fails on skipped with
    the failure: a mapping's bug never stops the ingest, nor loses a record silently."""
    try:
        out = list(mapper(records, context))
    except Exception:
        out = []
        for record in records:
            try:
                out += mapper([record], context)
            except Exception as exc:
                out.append(
                    Skip(
                        source,
                        record.source_id,
                        f"the mapping failed on this record ({type(exc).__name__}: {exc})",
                    )
                )
    answered = {o.source_id for o in out}
    for record in records:
        if record.source_id not in answered:
            answered.add(record.source_id)
            out.append(
                Skip(source, record.source_id, "the mapping gave no event and no reason for this record")
            )
    return out


def _parsed(proposal: Proposal) -> Event | BadInput:
    """The proposal's event, or what is wrong with it: a mapping's bug, named by its field.
    An ingested event needs its deterministic id: without one a second run would record it
    again."""
    if "event_id" not in proposal.event:
        return BadInput("event_id", "is missing (an ingested event needs its deterministic id)")
    try:
        return parse_event(dict(proposal.event))
    except BadInput as bad:
        return bad


def _own_registration(
    ledger: Ledger, context: Context, pending: list[_Pending], source: str
) -> _Pending | None:
    """The ingesting partner's registration, effective when every ingested registration is
    (``_common.REGISTERED_AT``) or at the run's earliest time if that is earlier,
    unless it is registered already or a proposal of the run registers it (no item then:
    it is no record's, and a run after the first has nothing to say of it)."""
    partner = context.partner_id
    with ledger.read() as db:
        if _present(db, "prj_partners", "partner_id", [partner]):
            return None
    if any(
        p.event.type == "partner.registered" and p.event.data.get("partner_id") == partner for p in pending
    ):
        return None
    earliest = min((p.event for p in pending), key=lambda e: e.effective_us, default=None)
    at = REGISTERED_AT
    if earliest is not None and earliest.effective_us < parse_event_time(REGISTERED_AT):
        at = earliest.effective_at
    inferred = (
        f"effective_at {at} (defaulted: registrations precede every ingested event)",
        "actor: the ingest on the partner's behalf, role global-admin (defaulted)",
    )
    note = f"ingest --partner {partner} (program and cloud from the options); " + "; ".join(inferred)
    event = _registration(context, at, note)
    proposal = Proposal(source, f"--partner {partner}", event.to_json(), inferred)
    return _Pending(proposal, event, -1, None, None)


def _merge(pending: list[_Pending]) -> tuple[list[_Pending], list[Item]]:
    """One proposal per event_id (a read time beats an inferred one, then fewer inferred
    values, then the first), and one registration per tenant (the earliest); the others are
    already recorded, merged with the one kept."""
    by_id: dict[str, _Pending] = {}
    for p in pending:
        have = by_id.get(p.event.event_id)
        if have is None or _rank(p) < _rank(have):
            by_id[p.event.event_id] = p
    registrations: dict[tuple[str, str], _Pending] = {}
    for p in by_id.values():
        key = _registers(p.event)
        have = registrations.get(key) if key is not None else None
        if key is not None and (
            have is None or (p.event.effective_us, p.order) < (have.event.effective_us, have.order)
        ):
            registrations[key] = p
    out: list[_Pending] = []
    merged: list[Item] = []
    for p in pending:
        winner = by_id[p.event.event_id]
        key = _registers(winner.event)
        if key is not None:
            winner = registrations[key]
        if winner is p:
            out.append(p)
            continue
        what = "registration" if key is not None else "transition"
        merged.append(
            p.item(
                "already_recorded",
                reason=f"the same {what} as {winner.proposal.source} {winner.proposal.source_id} "
                f"({winner.event.event_id})",
            )
        )
    return out, merged


def _rank(p: _Pending) -> tuple[bool, int, int]:
    return (p.effective_inferred, len(p.proposal.inferred), p.order)


def _registers(event: Event) -> tuple[str, str] | None:
    """The tenant a registration registers, as (type, tenant)."""
    name = _REGISTERS.get(event.type)
    return None if name is None else (event.type, str(event.data[name]))


def _on_record(ledger: Ledger, pending: list[_Pending]) -> tuple[list[_Pending], list[Item]]:
    """The proposals not on record yet; the others already recorded: an event_id stored, or
    a registration of a tenant registered already (looked up in bulk)."""
    ids = [p.event.event_id for p in pending]
    partners = [str(p.event.data["partner_id"]) for p in pending if p.event.type == "partner.registered"]
    customers = [str(p.event.data["customer_id"]) for p in pending if p.event.type == "customer.registered"]
    with ledger.read() as db:
        stored = _present(db, CHAIN, "event_id", ids)
        known_partners = _present(db, "prj_partners", "partner_id", partners)
        known_customers = _present(db, "prj_customers", "customer_id", customers)
    out, already = [], []
    for p in pending:
        if p.event.event_id in stored:
            already.append(p.item("already_recorded", reason="already on record (its event_id is stored)"))
        elif p.event.type == "partner.registered" and p.event.data["partner_id"] in known_partners:
            already.append(p.item("already_recorded", reason="already on record (the partner is registered)"))
        elif p.event.type == "customer.registered" and p.event.data["customer_id"] in known_customers:
            already.append(
                p.item("already_recorded", reason="already on record (the customer is registered)")
            )
        else:
            out.append(p)
    return out, already


def _present(db: Any, table: str, column: str, values: Iterable[str]) -> set[str]:
    """Which of ``values`` the ``column`` of ``table`` holds, a few ``IN (...)`` queries."""
    wanted = sorted(set(values))
    found: set[str] = set()
    for i in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[i : i + _IN_CHUNK]
        db.execute(
            f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        found |= {str(row["v"]) for row in db.fetchall()}
    return found


def _stored_resellers(ledger: Ledger) -> Iterable[tuple[str, str]]:
    """(MPN id, tenant) of every reseller an earlier run registered (its note's ``mpnId``)."""
    with ledger.read() as db:
        db.execute("SELECT DISTINCT created_pos AS p FROM prj_partners")
        positions = [int(row["p"]) for row in db.fetchall()]
        events = decoded_at(db, ledger.events_table, positions)
    for position in sorted(events):
        event = events[position]
        found = MPN_IN_NOTE.search(str(event.get("note") or ""))
        registered = event.get("type") == "partner.registered"
        if registered and event["data"].get("program") == "csp-indirect-reseller" and found:
            yield found.group(1), str(event["data"]["partner_id"])


def _record(ledger: Ledger, pending: list[_Pending], progress: Progress | None) -> list[Item]:
    """Record ``pending`` in order, batch by batch. A refusal names the event it refused (its
    line in the batch): the batch is tried again up to it (those passed already); the
    refused event, then first in its batch, is skipped (judged against exactly what it would
    be judged against alone); batches grow again after each success (doubling, up to
    ``BATCH``). The outcome is that of one event at a time, at the cost of an append or two
    a refusal, and of a few small batches after it."""
    items: list[Item] = []
    total, done, start, size = len(pending), 0, 0, BATCH
    while start < total:
        batch = pending[start : start + size]
        try:
            receipts = ledger.record_many([(line, p.event) for line, p in enumerate(batch, start=1)])
        except (RuleViolation, BadInput) as refused:
            at = refused.line
            if at == 1 or len(batch) == 1:
                items.append(_refused(batch[0], refused))
                start, done = start + 1, done + 1
            elif at is not None and 1 < at <= len(batch):
                size = at - 1  # the events before the refused one: they passed
                continue
            else:  # a refusal that names no line of the batch (none does today): smaller batches
                size = max(1, len(batch) // 2)
                continue
        else:
            for p, receipt in zip(batch, receipts, strict=True):
                if receipt.duplicate:  # stored meanwhile by another writer
                    why = "already on record (its event_id is stored)"
                    items.append(p.item("already_recorded", reason=why))
                else:
                    items.append(p.item("recorded", position=receipt.position))
            start, done, size = start + len(batch), done + len(batch), min(BATCH, size * 2)
        if progress is not None:
            progress(done, total)
    return items


def _refused(p: _Pending, refused: RuleViolation | BadInput) -> Item:
    if isinstance(refused, RuleViolation):
        return p.item("skipped", reason=refused.message, rule=refused.rule, edition=refused.edition)
    if refused.field == "event_id":  # stored meanwhile, by another writer, with other content
        return p.item("already_recorded", reason=f"already on record ({refused.message})")
    return p.item("skipped", reason=f"the store refused it as bad input: {refused.message}")
