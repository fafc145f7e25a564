"""What every source's mapping shares: building a proposal with its note, times, the
registrations of tenants a record names, the reseller map, the default roles.

Why one place: two sources that describe the same transition must propose the same
``event_id`` and the same content, so the pieces they share (a customer's registration, the
actor a default role gives, how a Microsoft time becomes RFC 3339) are written once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ._model import DERIVED_ID, Context, Proposal, Record, Skip, event_id

# Registrations (``customer.registered``, ``partner.registered``) and a pc-customers reseller
# relationship carry no date in any source, and a tenant must be registered before the first
# event naming it, whichever file arrives first. So every ingested registration is effective
# at this one time (CSP opened in 2014), the same whichever source proposes it, and its note
# says so (and keeps the time a record gave, e.g. an add_customer's operationDate).
REGISTERED_AT = "2014-01-01T00:00:00Z"

# Default actors (domain.md "Eligible roles"): the sources do not say in which role a person
# acted, so each event gets the one role eligible for it that matches who does it in Partner
# Center; every default is named in the note.
PARTNER_ROLE = "admin-agent"  # purchases, switches, cancellations, relationships, GDAP requests
REGISTRAR_ROLE = "global-admin"  # partner.registered, customer.registered
GDAP_CUSTOMER_ROLE = "customer-delegated-admin-relationship-admin"  # GDAP grant and end
DAP_CUSTOMER_ROLE = "customer-global-admin"  # DAP grant and end
MICROSOFT = "microsoft"
DAP_ROLES = ("admin-agent",)  # what a DAP gave: the partner's admin agents, as Global admins

_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?")
_MS_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")  # Windows PowerShell 5.1's DateTime
_PASCAL_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_LEADING_CAPS = re.compile(r"[A-Z]+")


@functools.lru_cache(maxsize=8192)  # a file repeats the same few dozen keys
def camel(key: str) -> str:
    """A PascalCase key in camelCase (``OperationType`` -> ``operationType``, ``MPNId`` ->
    ``mpnId``, ``ID`` -> ``id``); camelCase and ``@odata.*`` keys unchanged."""
    m = _LEADING_CAPS.match(key)
    if m is None:
        return key
    run = len(m.group())
    if run == 1 or run == len(key) or not key[run].isalpha():
        return key[:run].lower() + key[run:]
    return key[: run - 1].lower() + key[run - 1 :]


def fold(value: Any) -> Any:
    """``value`` with every object key, nested ones too, in camelCase."""
    if isinstance(value, dict):
        return {camel(k): (fold(v) if isinstance(v, dict | list) else v) for k, v in value.items()}
    if isinstance(value, list):
        return [fold(v) if isinstance(v, dict | list) else v for v in value]
    return value


class Unreadable(Exception):
    """A record the mapping cannot read (a value of the wrong kind): skipped with this reason,
    never a crash."""


def skip_reason_text(value: object) -> str:
    """A value as a skip reason shows it: short, printable."""
    text = value if isinstance(value, str) else repr(value)
    return text[:80]


def snake(value: str) -> str:
    """An enum value in Partner Center's wire spelling: ``CreateOrder`` (PowerShell's
    ``-EnumsAsStrings``) is ``create_order``; a value already in snake_case is kept."""
    if "_" in value or not value[:1].isupper():
        return value
    return _PASCAL_WORD.sub("_", value).lower()


def lower(value: object) -> str:
    """An enum value compared without case (``Completed``/``completed``, ``License``)."""
    return value.lower() if isinstance(value, str) else str(value)


def text(data: Mapping[str, Any], *path: str) -> str | None:
    """The non-empty string at ``path`` in ``data``, or None."""
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_when(value: object, field: str) -> tuple[datetime, str | None]:
    """A Microsoft time as UTC, and what was assumed reading it (None if nothing): REST
    writes ``2017-06-15T22:56:05.0589308Z`` (7 fraction digits, more than RFC 3339 parsers
    take), PowerShell 5.1 ``/Date(1497567365058)/``, a DateTime without offset is UTC."""
    if not isinstance(value, str):
        raise Unreadable(f"{field} is missing or not a time")
    m = _MS_DATE.fullmatch(value.strip())
    if m is not None:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC), None
    m = _TIME.fullmatch(value.strip())
    if m is None:
        raise Unreadable(f"{field} {skip_reason_text(value)!r} is not a time")
    day, clock, fraction, offset = m.groups()
    if len(clock) == 5:
        clock += ":00"
    micro = (fraction or "0")[:6].ljust(6, "0")
    assumed = None
    if offset is None:
        offset, assumed = "+00:00", f"{field} without offset taken as UTC (inferred)"
    elif offset in "Zz":
        offset = "+00:00"
    elif ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    try:
        parsed = datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}")
    except ValueError:
        raise Unreadable(f"{field} {skip_reason_text(value)!r} is not a time") from None
    return parsed.astimezone(UTC), assumed


def rfc3339(moment: datetime) -> str:
    """UTC, ``Z``, microseconds only when there are some."""
    moment = moment.astimezone(UTC)
    shown = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        shown += f".{moment.microsecond:06d}".rstrip("0")
    return shown + "Z"


def when(data: Mapping[str, Any], field: str, inferred: list[str]) -> str:
    """The record's time ``field`` as RFC 3339, noting any assumption in ``inferred``."""
    moment, assumed = parse_when(data.get(field), field)
    if assumed:
        inferred.append(assumed)
    return rfc3339(moment)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def actor(actor_id: str, role: str, tenant_id: str) -> dict[str, str]:
    return {"id": actor_id[:256], "role": role, "tenant_id": tenant_id}


def proposal(
    record: Record,
    event_type: str,
    key: Sequence[str],
    effective_at: str,
    who: Mapping[str, str],
    data: Mapping[str, Any],
    inferred: Iterable[str] = (),
) -> Proposal:
    """One proposed event: its id from the transition ``key``; its note names the source,
    the record and every value inferred or defaulted (the same phrases as ``inferred``)."""
    if record.source_id.startswith(DERIVED_ID):  # _read.derived_audit_id: the record had no id
        inferred = (*inferred, "record id derived from its content (the record has no id)")
    phrases = tuple(dict.fromkeys(inferred))
    note = f"{record.source} {record.source_id}"
    if phrases:
        note += ": " + "; ".join(phrases)
    event = {
        "event_id": event_id(event_type, *key),
        "type": event_type,
        "effective_at": effective_at,
        "actor": dict(who),
        "data": dict(data),
        "note": note[:4096],
    }
    return Proposal(record.source, record.source_id, event, phrases)


def registrar(record: Record, context: Context) -> dict[str, str]:
    """Who records a registration: the ingesting partner's Global admin (defaulted)."""
    return actor(_actor_id(record, context), REGISTRAR_ROLE, context.partner_id)


def _actor_id(record: Record, context: Context) -> str:
    """The person or application a record names, else the ingesting partner's ingest."""
    return (
        text(record.data, "userPrincipalName")
        or text(record.data, "applicationId")
        or f"ledger ingest {record.source} for {context.partner_id}"
    )


def partner_actor(record: Record, context: Context) -> dict[str, str]:
    """A partner-side event's actor: who the record names (or the ingest), role
    ``admin-agent`` (defaulted), for the ingesting partner."""
    return actor(_actor_id(record, context), PARTNER_ROLE, context.partner_id)


_NAME_DEFAULTED = "name = the tenant id (defaulted: the record names none)"


def _registration_defaults(context: Context) -> list[str]:
    """What every registration a record implies takes by default, said as such."""
    return [
        f"effective_at {REGISTERED_AT} (defaulted: registrations precede every ingested event)",
        f"cloud {context.cloud} (defaulted from --cloud)",
        "actor role global-admin (defaulted)",
    ]


def customer_registered(
    record: Record, context: Context, tenant: str, name: str | None, why: str
) -> Proposal:
    """``customer.registered`` of a customer the record names (the engine drops it when the
    customer is on record already)."""
    inferred = [*_registration_defaults(context), why]
    if name is None:
        name = tenant
        inferred.insert(-1, _NAME_DEFAULTED)
    return proposal(
        record,
        "customer.registered",
        (tenant,),
        REGISTERED_AT,
        registrar(record, context),
        {"customer_id": tenant, "name": name[:1024], "cloud": context.cloud},
        inferred,
    )


def partner_registered(
    record: Record,
    context: Context,
    tenant: str,
    name: str | None,
    program: str,
    why: Iterable[str],
    provider_ids: Sequence[str] = (),
) -> Proposal:
    """``partner.registered`` of a partner the record names first (a reseller, a transfer's
    other partner)."""
    inferred = [*_registration_defaults(context), *why]
    if name is None:
        name = tenant
        inferred.append(_NAME_DEFAULTED)
    data: dict[str, Any] = {
        "partner_id": tenant,
        "name": name[:1024],
        "cloud": context.cloud,
        "program": program,
    }
    if provider_ids:
        data["provider_ids"] = list(provider_ids)
    return proposal(
        record, "partner.registered", (tenant,), REGISTERED_AT, registrar(record, context), data, inferred
    )


def reseller_of(context: Context, mpn_id: str | None, field: str, inferred: list[str]) -> str | None:
    """The reseller tenant of an MPN id (a subscription's ``partnerId``, a line item's
    ``PartnerOnRecord``/``partnerIdOnRecord``) through the reseller map, or None for none.

    An MPN id the map lacks: for an indirect provider, the record is skipped (Unreadable)
    naming the MPN id, since guessing the reseller of record would put a wrong partner on
    record; for a direct-bill partner it is its own MPN id (only indirect providers sell
    through resellers), so the sale is the ingesting partner's and the note says so.
    """
    if mpn_id is None or mpn_id in ("0", "None", "null"):
        return None
    tenant = context.resellers.get(mpn_id)
    if tenant is not None:
        inferred.append(f"reseller {tenant} from {field} mpnId {mpn_id} (reseller map)")
        return tenant
    if mpn_id in context.resellers.values():  # already a tenant id
        return mpn_id
    if context.program == "csp-indirect-provider":
        raise Unreadable(f"{field} mpnId {mpn_id} is not in the reseller map: ingest pc-resellers first")
    inferred.append(
        f"{field} mpnId {mpn_id} not in the reseller map: taken as the ingesting partner's own "
        "(direct bill, defaulted)"
    )
    return None


_AZURE_OFFERS = ("MS-AZR-", "DZH318Z0BPS6")  # Azure in CSP (legacy) and the Azure plan


def service_from_offer(offer_id: str | None, billing_type: str | None, inferred: list[str]) -> str:
    """``license`` or ``usage``: the record's ``billingType`` when it says, else inferred from
    the offer (Azure's offer ids are usage-based; every other offer is seat-based)."""
    kind = lower(billing_type) if billing_type else ""
    if kind in ("license", "usage"):
        return kind
    service = "usage" if offer_id and offer_id.upper().startswith(_AZURE_OFFERS) else "license"
    inferred.append(f"service {service} from offer {offer_id} (inferred)")
    return service


Outcome = Proposal | Skip
RecordMapper = Callable[[Record, Context], Iterator[Outcome]]


def each_record(map_one: RecordMapper) -> Callable[[Sequence[Record], Context], list[Outcome]]:
    """A source's mapper from its one-record mapping: a record it cannot read is skipped with
    the reason (never a crash); a registration proposed by several records is proposed once,
    the one of the record with the least id (so the order of records and pages changes no
    event), where it first appears; a record that yields nothing is reported as skipped
    (never dropped silently)."""

    def mapper(records: Sequence[Record], context: Context) -> list[Outcome]:
        per_record: list[tuple[Record, list[Outcome]]] = []
        chosen: dict[str, Proposal] = {}
        for record in records:
            try:
                outcomes = list(map_one(record, context))
            except Unreadable as unreadable:
                outcomes = [Skip(record.source, record.source_id, str(unreadable))]
            per_record.append((record, outcomes))
            for o in outcomes:
                if isinstance(o, Proposal) and o.event["type"].endswith(".registered"):
                    held = chosen.get(o.event["event_id"])
                    if held is None or o.source_id < held.source_id:
                        chosen[o.event["event_id"]] = o
        out: list[Outcome] = []
        placed: set[str] = set()
        for record, outcomes in per_record:
            produced = 0
            for o in outcomes:
                if isinstance(o, Proposal) and o.event["type"].endswith(".registered"):
                    if o.event["event_id"] in placed:
                        continue
                    placed.add(o.event["event_id"])
                    o = chosen[o.event["event_id"]]
                out.append(o)
                produced += 1
            if not produced:
                why = "its registration is proposed by another record" if outcomes else "implies no event"
                out.append(Skip(record.source, record.source_id, why))
        return out

    return mapper


_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def norm_id(value: str) -> str:
    """A GUID in lowercase (Partner Center writes some upper, some lower: an audit record's
    ``SubscriptionId-0`` and the subscription's ``id`` name the same subscription)."""
    return value.lower() if _GUID.fullmatch(value) else value


def embedded(data: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """The JSON an audit record carries as a string (``resourceNewValue``), keys folded to
    camelCase (its keys are PascalCase: the service's own serialisation), or None."""
    value = data.get(field)
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        folded: dict[str, Any] | None = fold(parsed) if isinstance(parsed, dict) else None
        return folded
    if isinstance(value, dict):
        return dict(fold(value))
    return None
