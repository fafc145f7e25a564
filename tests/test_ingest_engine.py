"""The ingest engine (``ledger/_ingest/_engine.py``) on both stores, with a small reader and
mapping of the tests' own: each record names the events it implies, so a test states its
scenario directly and the engine's guarantees are what is checked (idempotency, overlap
recorded once, files in any order, refusals listed with rule and edition while the rest is
recorded, the dry run, a file that is not a source, the account of every record)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import BadInput, Ledger, RuleViolation, parse_time
from ledger import read as queries
from ledger._ingest import SOURCES, Context, Mapper, Proposal, Record, Skip, event_id, mpn_note
from ledger._ingest._engine import IngestResult, ingest, ingest_sources
from projections import to_us

import builders
from builders import SALES_ROLE, raw

PARTNER = "fabrikam"
CONTEXT = Context(PARTNER)


def read(source: str, name: str, data: bytes) -> list[Record]:
    """A page: ``{"source": SOURCE, "items": [record...]}``; anything else is not one."""
    try:
        page = json.loads(data)
    except ValueError:
        page = None
    if not isinstance(page, dict) or page.get("source") != source or not isinstance(page.get("items"), list):
        raise BadInput("file", f"{name} is not a {source} page (expected an object with source and items)")
    return [
        Record(source, str(item["id"]), item, name, f"item {i + 1}") for i, item in enumerate(page["items"])
    ]


def mapped(records: Sequence[Record], context: Context) -> list[Proposal | Skip]:
    """Each record's ``events`` as proposals (``key`` makes the event_id), or its ``skip``;
    ``crash`` makes the mapping fail, ``silent`` gives nothing for the record."""
    out: list[Proposal | Skip] = []
    for record in records:
        data = record.data
        if data.get("crash"):
            raise RuntimeError("a mapping bug")
        if data.get("silent"):
            continue
        if "skip" in data:
            out.append(Skip(record.source, record.source_id, data["skip"]))
        if data.get("reseller_of"):  # a subscription whose seller is an MPN id: the reseller map
            tenant = context.resellers.get(data["reseller_of"])
            if tenant is None:
                out.append(Skip(record.source, record.source_id, f"MPN id {data['reseller_of']} is unknown"))
                continue
            out.append(
                Proposal(record.source, record.source_id, {**data["event"], "note": f"seller {tenant}"})
            )
        for spec in data.get("events", []):
            body = {"event_id": event_id(*spec["key"]), **spec["body"]}
            out.append(Proposal(record.source, record.source_id, body, tuple(spec.get("inferred", ()))))
    return out


MAPPERS: dict[str, Mapper] = dict.fromkeys(SOURCES, mapped)


def page(source: str, *items: Mapping[str, Any]) -> bytes:
    return json.dumps({"source": source, "items": list(items)}).encode()


def spec(key: Sequence[str], body: dict[str, Any], *inferred: str) -> dict[str, Any]:
    return {"key": list(key), "body": body, "inferred": list(inferred)}


def customer(cid: str, at: str = "2019-01-01T00:00:00Z", cloud: str = "commercial") -> dict[str, Any]:
    body = raw(
        "customer.registered", at, "global-admin", PARTNER, customer_id=cid, name=cid.title(), cloud=cloud
    )
    return spec(["customer.registered", cid], body)


def purchase(sid: str, cid: str, at: str, *inferred: str, key: str | None = None) -> dict[str, Any]:
    body = raw(
        "subscription.purchased",
        at,
        SALES_ROLE,
        PARTNER,
        subscription_id=sid,
        customer_id=cid,
        offer="Azure plan",
        service="usage",
        channel="csp",
        seller_id=PARTNER,
    )
    return spec(["subscription.purchased", key or sid], body, *inferred)


def cancel(sid: str, at: str, key: str | None = None) -> dict[str, Any]:
    body = raw("subscription.cancelled", at, SALES_ROLE, PARTNER, subscription_id=sid)
    return spec(["subscription.cancelled", key or sid], body)


def record(rid: str, *events: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": rid, "events": list(events), **more}


def run(ledger: Ledger, source: str, *files: bytes, dry_run: bool = False, **kw: Any) -> IngestResult:
    named = [(f"file-{i + 1}.json", data) for i, data in enumerate(files)]
    return ingest(
        ledger, source, named, kw.pop("context", CONTEXT), dry_run=dry_run, reader=read, mappers=MAPPERS
    )


def stored(ledger: Ledger) -> list[dict[str, Any]]:
    return list(ledger.stored())


def accounted(result: IngestResult, *records_files: bytes) -> None:
    """Every record read has at least one item, and every item exactly one outcome."""
    outcomes = [i.outcome for i in result.items]
    assert outcomes.count("recorded") == result.recorded
    assert result.recorded + result.already_recorded + len(result.skipped) == len(result.items)
    ids = {str(item["id"]) for data in records_files for item in json.loads(data)["items"]}
    assert ids <= {i.source_id for i in result.items}


def test_first_ingest_registers_the_partner_then_records_in_effective_order(ledger: Ledger) -> None:
    later = page(
        "pc-audit",
        record("a-2", cancel("sub-1", "2019-06-01T00:00:00Z")),
        record("a-3", purchase("sub-2", "contoso", "2019-07-01T00:00:00Z")),
    )
    earlier = page(
        "pc-subscriptions",
        record("s-1", customer("contoso"), purchase("sub-1", "contoso", "2019-03-01T00:00:00Z")),
    )
    result = ingest_sources(
        ledger,
        [("pc-audit", [("later.json", later)]), ("pc-subscriptions", [("earlier.json", earlier)])],
        CONTEXT,
        reader=read,
        mappers=MAPPERS,
    )
    assert (result.recorded, result.already_recorded, result.skipped) == (5, 0, [])
    events = stored(ledger)
    assert [e["type"] for e in events] == [
        "partner.registered",
        "customer.registered",
        "subscription.purchased",
        "subscription.cancelled",
        "subscription.purchased",
    ]
    registered = events[0]
    assert registered["data"] == {
        "partner_id": PARTNER,
        "name": PARTNER,
        "cloud": "commercial",
        "program": "csp-direct",
    }
    # Effective when the mappings' registrations are, before every ingested event.
    assert registered["effective_at"] == "2014-01-01T00:00:00Z"
    assert "effective_at 2014-01-01T00:00:00Z (defaulted" in registered["note"]
    own = next(i for i in result.items if i.type == "partner.registered")
    assert own.inferred and own.inferred[0].startswith("effective_at")
    assert [i.position for i in result.of("recorded")] == [1, 2, 3, 4, 5]
    assert {i.file for i in result.items if i.source_id == "a-2"} == {"later.json"}


def test_same_files_twice_records_nothing_more(ledger: Ledger) -> None:
    data = page(
        "pc-subscriptions",
        record("s-1", customer("contoso"), purchase("sub-1", "contoso", "2019-03-01T00:00:00Z")),
        record("s-2", purchase("sub-2", "contoso", "2019-04-01T00:00:00Z")),
    )
    first = run(ledger, "pc-subscriptions", data)
    assert first.recorded == 4
    export = stored(ledger)
    second = run(ledger, "pc-subscriptions", data)
    # The partner is registered already: the second run has nothing to say of it.
    assert (second.recorded, second.already_recorded, second.skipped) == (0, 3, [])
    assert {i.reason for i in second.items} == {"already on record (its event_id is stored)"}
    assert stored(ledger) == export
    # Another source registers the same customer under its own key: on record already.
    other = customer("contoso", "2018-06-01T00:00:00Z")
    other["key"] = ["customer from the audit log", "contoso"]
    third = run(ledger, "pc-audit", page("pc-audit", record("a-1", other)))
    assert [(i.outcome, i.reason) for i in third.items] == [
        ("already_recorded", "already on record (the customer is registered)")
    ]
    assert stored(ledger) == export


def test_one_transition_from_two_sources_is_recorded_once_with_the_read_time(ledger: Ledger) -> None:
    run(ledger, "pc-customers", page("pc-customers", record("c-1", customer("contoso"))))
    inferred = purchase(
        "sub-1", "contoso", "2019-03-05T00:00:00Z", "effective_at from creationDate (inferred)"
    )
    read_one = purchase("sub-1", "contoso", "2019-03-01T09:00:00Z")
    inferred["body"]["note"] = "from the subscription"
    result = ingest_sources(
        ledger,
        [
            ("pc-subscriptions", [("subs.json", page("pc-subscriptions", record("s-1", inferred)))]),
            ("pc-audit", [("audit.json", page("pc-audit", record("a-1", read_one)))]),
        ],
        CONTEXT,
        reader=read,
        mappers=MAPPERS,
    )
    assert (result.recorded, result.already_recorded) == (1, 1)
    purchases = [e for e in stored(ledger) if e["type"] == "subscription.purchased"]
    assert len(purchases) == 1
    assert purchases[0]["effective_at"] == "2019-03-01T09:00:00Z"
    merged = result.of("already_recorded")[0]
    assert merged.source_id == "s-1" and "a-1" in (merged.reason or "")
    # A later export seen again by the other source: already recorded, even with another note.
    again = run(ledger, "pc-subscriptions", page("pc-subscriptions", record("s-1", inferred)))
    assert (again.recorded, again.already_recorded) == (0, 1)


def test_an_older_file_ingested_later_is_a_late_recording(ledger: Ledger) -> None:
    setup = page(
        "pc-subscriptions",
        record("s-0", customer("contoso", "2018-01-01T00:00:00Z")),
        record("s-2", purchase("sub-2", "contoso", "2020-06-01T00:00:00Z")),
    )
    assert run(ledger, "pc-subscriptions", setup).recorded == 3
    older = page(
        "pc-audit",
        record("a-2", cancel("sub-1", "2019-09-01T00:00:00Z")),
        record("a-1", purchase("sub-1", "contoso", "2019-03-01T00:00:00Z")),
    )
    result = run(ledger, "pc-audit", older)
    assert (result.recorded, result.skipped) == (2, [])
    assert [e["type"] for e in stored(ledger)][-2:] == ["subscription.purchased", "subscription.cancelled"]


def test_a_refused_event_is_listed_with_rule_and_edition_and_the_rest_recorded(ledger: Ledger) -> None:
    run(
        ledger,
        "pc-subscriptions",
        page(
            "pc-subscriptions",
            record("s-0", customer("contoso")),
            record("s-1", purchase("sub-1", "contoso", "2019-03-01T00:00:00Z")),
            record("s-9", cancel("sub-1", "2020-01-01T00:00:00Z")),
        ),
    )
    events = [
        record(f"a-{n}", purchase(f"sub-{n}", "contoso", f"2019-04-{n:02d}T00:00:00Z")) for n in range(2, 30)
    ]
    # Cancelled late, at a time before the stored cancellation: that one would then name a
    # cancelled subscription, so this one is refused as time-order (edition late recordings).
    events.insert(7, record("a-late", cancel("sub-1", "2019-06-01T00:00:00Z", key="audit-late")))
    events.append(
        record("a-gov", customer("gov", cloud="us-gov"), purchase("sub-gov", "gov", "2019-05-01T00:00:00Z"))
    )
    result = run(ledger, "pc-audit", page("pc-audit", *events))
    refused = {i.source_id: i for i in result.refused}
    assert set(refused) == {"a-late", "a-gov"}
    assert (refused["a-late"].rule, refused["a-late"].edition) == ("time-order", "late recordings")
    assert (refused["a-gov"].rule, refused["a-gov"].edition) == ("same-cloud", "seeds")
    assert refused["a-gov"].reason is not None and refused["a-gov"].reason.startswith(
        "same-cloud (edition seeds)"
    )
    assert result.exit_code == 3
    assert result.recorded == 28 + 1  # every purchase, and the us-gov customer's registration
    stored_ids = {e["event_id"] for e in stored(ledger)}
    assert {i.event_id for i in result.of("recorded")} <= stored_ids
    assert not {i.event_id for i in result.refused} & stored_ids
    answer = result.to_json()
    assert {(s["source_id"], s["rule"]) for s in answer["skipped"]} == {
        ("a-late", "time-order"),
        ("a-gov", "same-cloud"),
    }


def test_dry_run_answers_as_the_real_run_and_stores_nothing(ledger: Ledger) -> None:
    data = page(
        "pc-audit",
        record("a-0", customer("contoso")),
        *(
            record(f"a-{n}", purchase(f"sub-{n}", "contoso", f"2019-04-{n:02d}T00:00:00Z"))
            for n in range(1, 9)
        ),
        record("a-x", cancel("sub-404", "2019-05-01T00:00:00Z")),
        record("a-s", skip="a failed operation"),
    )
    dry = run(ledger, "pc-audit", data, dry_run=True)
    assert ledger.head() == 0 and stored(ledger) == []
    assert dry.recorded == 10 and dry.exit_code == 3
    real = run(ledger, "pc-audit", data)
    assert {**dry.to_json(), "dry_run": False} == real.to_json()
    assert ledger.head() == 10


def test_a_file_that_is_not_the_source_is_refused_whole(ledger: Ledger) -> None:
    good = page("pc-audit", record("a-0", customer("contoso")))
    with pytest.raises(BadInput) as refused:
        run(ledger, "pc-audit", good, page("graph-gdap", record("g-1")))
    assert refused.value.field == "file"
    assert "file-2.json is not a pc-audit page (expected" in refused.value.message
    assert ledger.head() == 0
    with pytest.raises(BadInput, match="source"):
        ingest(ledger, "pc-nothing", [("x", good)], CONTEXT, reader=read, mappers=MAPPERS)


def test_mapping_bugs_are_skipped_with_their_reason_never_lost(ledger: Ledger) -> None:
    bad = purchase("sub-1", "contoso", "2019-03-01T00:00:00Z")
    bad["body"]["data"]["service"] = "seats"
    data = page(
        "pc-audit",
        record("a-0", customer("contoso")),
        record("a-bad", bad),
        record("a-crash", crash=True),
        record("a-silent", silent=True),
        record("a-ok", purchase("sub-2", "contoso", "2019-03-02T00:00:00Z")),
    )
    result = run(ledger, "pc-audit", data)
    accounted(result, data)
    skipped = {i.source_id: i for i in result.skipped}
    assert set(skipped) == {"a-bad", "a-crash", "a-silent"}
    assert "data.service" in (skipped["a-bad"].reason or "")
    assert "RuntimeError: a mapping bug" in (skipped["a-crash"].reason or "")
    assert "no event and no reason" in (skipped["a-silent"].reason or "")
    assert all(i.rule is None for i in result.skipped) and result.exit_code == 0
    assert result.recorded == 3  # the partner, contoso, sub-2


def test_the_reseller_map_is_found_again_in_the_log(ledger: Ledger) -> None:
    reseller = raw(
        "partner.registered",
        "2019-01-01T00:00:00Z",
        "global-admin",
        "adatum",
        note=f"reseller Adatum, {mpn_note('4812345')}",
        partner_id="adatum",
        name="Adatum",
        cloud="commercial",
        program="csp-indirect-reseller",
        provider_ids=[PARTNER],
    )
    first = run(
        ledger, "pc-resellers", page("pc-resellers", record("adatum", spec(["r", "adatum"], reseller)))
    )
    assert first.recorded == 2
    sold = {
        "reseller_of": "4812345",
        "event": {**customer("contoso")["body"], "event_id": event_id("c", "contoso")},
    }
    later = run(ledger, "pc-subscriptions", page("pc-subscriptions", {"id": "s-1", **sold}))
    assert later.recorded == 1
    assert stored(ledger)[-1]["note"] == "seller adatum"
    unknown = run(
        ledger, "pc-subscriptions", page("pc-subscriptions", {"id": "s-2", **sold, "reseller_of": "9"})
    )
    assert [i.reason for i in unknown.skipped] == ["MPN id 9 is unknown"]


_RECORDS = st.lists(
    st.sampled_from(["customer", "purchase", "dup", "cancel", "orphan", "skip", "silent", "bad"]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=_RECORDS, split=st.integers(1, 3), seed=st.randoms(use_true_random=False))
def test_every_record_is_accounted_for_exactly_once(
    ledger: Ledger, kinds: list[str], split: int, seed: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    cid = f"c-{tag}"
    made = {
        "customer": lambda n: record(f"{tag}-{n}", customer(cid)),
        "purchase": lambda n: record(
            f"{tag}-{n}", purchase(f"{tag}-s{n}", cid, f"2019-03-{n + 1:02d}T00:00:00Z")
        ),
        "dup": lambda n: record(f"{tag}-{n}", purchase(f"{tag}-s", cid, "2019-02-01T00:00:00Z")),
        "cancel": lambda n: record(f"{tag}-{n}", cancel(f"{tag}-s", "2019-08-01T00:00:00Z")),
        "orphan": lambda n: record(f"{tag}-{n}", cancel(f"{tag}-none", "2019-08-01T00:00:00Z")),
        "skip": lambda n: record(f"{tag}-{n}", skip="not modelled"),
        "silent": lambda n: record(f"{tag}-{n}", silent=True),
        "bad": lambda n: record(f"{tag}-{n}", {"key": ["x", tag], "body": {"type": "nope"}}),
    }
    items = [made[kind](n) for n, kind in enumerate(kinds)]
    seed.shuffle(items)
    files = [page("pc-audit", *items[i::split]) for i in range(split) if items[i::split]]
    before = ledger.head()
    result = run(ledger, "pc-audit", *files)
    accounted(result, *files)
    recorded = [i.event_id for i in result.of("recorded")]
    assert len(recorded) == len(set(recorded)) == ledger.head() - before
    by_record: dict[str, int] = {}
    for item in result.items:
        by_record[item.source_id] = by_record.get(item.source_id, 0) + 1
    expected = {r["id"]: max(1, len(r.get("events", [])) + ("skip" in r)) for r in items}
    assert {k: v for k, v in by_record.items() if not k.startswith("--partner")} == expected


# --- the sources' own readers and mappings, on the fixtures' world (tests/fixtures/sources) ---

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
WORLD_PARTNER = "3b33e682-00c3-41ee-9dd2-a548adf56438"
WORLD = Context(WORLD_PARTNER, program="csp-indirect-provider")
FIRST = ("pc-resellers", "pc-customers")  # the reseller map and the customers' relationships
REST = ("pc-subscriptions", "pc-audit", "graph-gdap", "pc-transfers")
# The world's refusals, each source alone after FIRST: the transfer to a partner whose
# relationship is in other files; the transfers' subscription is the audit log's purchase.
REFUSED = {
    "pc-audit": {("azure-switch-between-csp-partners", "seeds")},
    "pc-transfers": {("known-references", "seeds")},
}
WINGTIP, TAILSPIN = "6b2f1d0e-5a4c-4e3b-9a8d-2c1f0e9d8b7a", "8f4e2a1c-7b3d-4c5e-9f6a-1d2e3f4a5b6c"


def fixture_files(source: str) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(FIXTURES.glob(f"{source}.*"))]


def answers(ledger: Ledger) -> dict[str, Any]:
    """What an auditor asks of the world: the partner of record of its subscriptions, the
    customers' delegations, at a few times."""
    found: dict[str, Any] = {}
    for at in ("2023-10-01T00:00:00Z", "2024-03-01T00:00:00Z", "2024-06-01T00:00:00Z"):
        us = to_us(parse_time(at, "at"))
        for sub in ("a7c1e9b3-5d2f-4a8e-b6c4-3e1f9d7b5a20", "488745b5-2086-4912-802c-6abb9f7c3638"):
            answer = queries.por(ledger, sub, us)
            found[f"por {sub} {at}"] = (
                answer["status"],
                answer["partner_of_record"],
                answer["billing_partner"],
            )
        for customer in (WINGTIP, TAILSPIN):
            held = queries.delegations(ledger, customer, us)["delegations"]
            found[f"delegations {customer} {at}"] = sorted((d["delegation_id"], d["kind"]) for d in held)
    return found


@pytest.mark.parametrize("source", REST)
def test_each_source_of_the_fixtures_world_once_in_every_file_form(ledger: Ledger, source: str) -> None:
    for first in FIRST:
        assert ingest(ledger, first, fixture_files(first), WORLD).exit_code == 0
    forms = fixture_files(source)
    assert len(forms) >= 3
    first_form, *others = forms
    result = ingest(ledger, source, [first_form], WORLD)
    assert result.recorded > 0
    assert {(i.rule, i.edition) for i in result.refused} == REFUSED.get(source, set())
    head = ledger.head()
    # The same records in the other forms (pages, JSON Lines, PowerShell): nothing new.
    again = ingest(ledger, source, others, WORLD)
    assert again.recorded == 0 and ledger.head() == head
    assert again.records == result.records * len(others)
    assert {(i.source_id, i.rule) for i in again.refused} == {(i.source_id, i.rule) for i in result.refused}


def test_the_fixtures_world_in_any_order_answers_the_same(url: str, fresh_url: str) -> None:
    with Ledger(url) as one_by_one:
        for source in (*FIRST, *REST):
            ingest(one_by_one, source, fixture_files(source)[:1], WORLD)
        expected = answers(one_by_one)
        ids = {e["event_id"] for e in one_by_one.stored()}
    assert expected["por a7c1e9b3-5d2f-4a8e-b6c4-3e1f9d7b5a20 2024-03-01T00:00:00Z"] == (
        "active",
        "5d8a1b6f-2c4e-4f9a-8b3d-7e6f5a4c3b2a",  # the reseller, through the reseller map
        WORLD_PARTNER,
    )
    assert expected["por 488745b5-2086-4912-802c-6abb9f7c3638 2024-06-01T00:00:00Z"][0] == "cancelled"
    assert expected[f"delegations {TAILSPIN} 2024-03-01T00:00:00Z"] != []
    assert expected[f"delegations {TAILSPIN} 2024-06-01T00:00:00Z"] == []
    with Ledger(fresh_url) as at_once:
        # Every file of every source in one run, later sources first: one account.
        everything = [(s, fixture_files(s)) for s in reversed((*FIRST, *REST))]
        result = ingest_sources(at_once, everything, WORLD)
        assert result.exit_code == 3 and {i.rule for i in result.refused} == {
            "azure-switch-between-csp-partners"
        }
        assert answers(at_once) == expected
        assert {e["event_id"] for e in at_once.stored()} == ids


def test_held_undoes_a_refused_append_alone_and_a_dry_run_whole(ledger: Ledger) -> None:
    """``Ledger.held``, which the engine runs in: each append a savepoint of one transaction."""
    with ledger.held(commit=False):
        ledger.record_many([(0, builders.partner("fabrikam")), (0, builders.customer("contoso"))])
        with pytest.raises(RuleViolation):
            ledger.record(builders.cancel("sub-404", "2019-05-01T00:00:00Z"))
        # The refused append is undone alone: the next takes the position after the others.
        assert ledger.record(builders.purchase("sub-1", "contoso", at="2019-03-01T09:00:00Z")).position == 3
    assert ledger.head() == 0  # a dry run: all of it rolled back
    with ledger.held():
        ledger.record_many([(0, builders.partner("fabrikam")), (0, builders.customer("contoso"))])
        with pytest.raises(RuleViolation):
            ledger.record(builders.cancel("sub-404", "2019-05-01T00:00:00Z"))
        ledger.record(builders.purchase("sub-1", "contoso", at="2019-03-01T09:00:00Z"))
    assert ledger.head() == 3
    assert ledger.verify() == 3


def test_batches_with_refusals_end_as_one_event_at_a_time(
    url: str, fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dense refusals (an unknown subscription's cancellation every third record, one
    subscription cancelled twice) in batches of 7: the same account and the same log as
    batches of one."""
    from ledger._ingest import _engine

    items = [record("a-0", customer("contoso"))]
    for n in range(1, 40):
        if n % 3 == 0:
            items.append(record(f"a-{n}", cancel(f"sub-x{n}", f"2019-05-{n % 28 + 1:02d}T00:00:00Z")))
        else:
            items.append(
                record(f"a-{n}", purchase(f"sub-{n}", "contoso", f"2019-04-{n % 28 + 1:02d}T00:00:00Z"))
            )
    items.append(record("a-end", cancel("sub-1", "2019-09-01T00:00:00Z")))
    items.append(record("a-late", cancel("sub-1", "2019-06-01T00:00:00Z", key="late")))
    data = page("pc-audit", *items)
    answers = []
    for store, batch in ((url, 7), (fresh_url, 1)):
        monkeypatch.setattr(_engine, "BATCH", batch)
        with Ledger(store) as ledger:
            result = run(ledger, "pc-audit", data)
            events = [{k: e[k] for k in ("event_id", "type", "data", "position")} for e in ledger.stored()]
            answers.append((result.to_json(), events))
    assert answers[0] == answers[1]
    refused = answers[0][0]["skipped"]
    # In one run the cancellations are in effective order: the earlier stands, the later names
    # a cancelled subscription.
    assert {s["rule"] for s in refused} == {"known-references"}
    assert {s["source_id"] for s in refused} == {f"a-{n}" for n in range(3, 40, 3)} | {"a-end"}
