"""The readers and mappings of ``ledger ingest``: every source, every file form and casing,
every mapped operation and status, every skip reason, the bad files, and the pairs of
sources that describe one transition (issue 15).

Pure (records in, proposals out) but for the last test, which records the fixtures' world on
both stores to show the rulebook takes what the mappings propose.
"""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import BadInput, Ledger, RuleViolation, parse_event
from ledger._ingest import SOURCES, Context, Proposal, Record, Skip, event_id
from ledger._ingest._common import REGISTERED_AT
from ledger._ingest._mapping import MAPPERS, reseller_map
from ledger._ingest._read import read_source

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
PARTNER = "3b33e682-00c3-41ee-9dd2-a548adf56438"
RELECLOUD = "0c39d6d5-c70d-4c55-bc02-f620844f3fd1"
WINGTIP = "6b2f1d0e-5a4c-4e3b-9a8d-2c1f0e9d8b7a"
TAILSPIN = "8f4e2a1c-7b3d-4c5e-9f6a-1d2e3f4a5b6c"
RESELLER = "5d8a1b6f-2c4e-4f9a-8b3d-7e6f5a4c3b2a"
ADATUM = "9e7d6c5b-4a3f-4e2d-9c1b-0a9f8e7d6c5b"
SUB_O365 = "488745b5-2086-4912-802c-6abb9f7c3638"
SUB_AZURE = "f428d44a-d08b-348b-579e-ce92a6362c7b"
SUB_WINGTIP = "a7c1e9b3-5d2f-4a8e-b6c4-3e1f9d7b5a20"
GDAP_WINGTIP = "1b2e6f0a-9d3c-4a5b-8e7f-6c5d4b3a2f10-" + WINGTIP
GDAP_TAILSPIN = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f-" + TAILSPIN
FORMS = ("page.json", "pages.json", "jsonl")


def read(source: str, form: str = "page.json") -> list[Record]:
    path = FIXTURES / f"{source}.{form}"
    return read_source(source, path.name, path.read_bytes())


def context(**changes: Any) -> Context:
    base: dict[str, Any] = {
        "partner_id": PARTNER,
        "program": "csp-indirect-provider",
        "resellers": reseller_map(read("pc-resellers")),
    }
    return Context(**{**base, **changes})


def mapped(source: str, form: str = "page.json", ctx: Context | None = None) -> list[Proposal | Skip]:
    return MAPPERS[source](read(source, form), ctx or context())


def proposals(outcomes: Sequence[Proposal | Skip], event_type: str | None = None) -> list[Proposal]:
    return [o for o in outcomes if isinstance(o, Proposal) and event_type in (None, o.event["type"])]


def skips(outcomes: Sequence[Proposal | Skip]) -> dict[str, str]:
    return {o.source_id: o.reason for o in outcomes if isinstance(o, Skip)}


def the(outcomes: Sequence[Proposal | Skip], event_type: str, **data: Any) -> Proposal:
    found = [
        p
        for p in proposals(outcomes, event_type)
        if all(p.event["data"].get(k) == v for k, v in data.items())
    ]
    assert len(found) == 1, f"{event_type} {data}: {len(found)} found"
    return found[0]


def audit_record(operation: str) -> dict[str, Any]:
    """A copy of the fixtures' audit record of ``operation`` (as saved, camelCase)."""
    page = json.loads((FIXTURES / "pc-audit.page.json").read_text())
    return copy.deepcopy(next(r for r in page["items"] if r["operationType"] == operation))


def map_raw(source: str, items: list[dict[str, Any]], ctx: Context | None = None) -> list[Proposal | Skip]:
    raw = orjson.dumps({"totalCount": len(items), "items": items})
    if source == "graph-gdap":
        raw = orjson.dumps({"@odata.context": "x", "value": items})
    return MAPPERS[source](read_source(source, "t.json", raw), ctx or context())


# --- reading: forms, casings, where -----------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_every_file_form_reads_the_same_records(source: str) -> None:
    page = read(source)
    assert page, "the fixture has records"
    for form in ("pages.json", "jsonl"):
        other = read(source, form)
        assert [(r.source_id, dict(r.data)) for r in other] == [(r.source_id, dict(r.data)) for r in page]


@pytest.mark.parametrize(
    "source", ["pc-audit", "pc-customers", "pc-subscriptions", "pc-resellers", "graph-gdap"]
)
def test_powershell_pascal_case_maps_as_rest_camel_case(source: str) -> None:
    """PowerShell's objects: PascalCase, renamed ids, enum names; a subscription without its
    links but with the CustomerId the export adds; Graph durations as TimeSpans."""
    rest = read(source)
    powershell = read(source, "powershell.json")
    assert [r.source_id for r in powershell] == [r.source_id for r in rest]
    if source in ("pc-audit", "pc-customers", "pc-resellers"):  # the same resource, renamed
        assert [dict(r.data) for r in powershell] == [dict(r.data) for r in rest]
    ctx = context()
    assert [o.event for o in proposals(MAPPERS[source](powershell, ctx))] == [
        o.event for o in proposals(MAPPERS[source](rest, ctx))
    ]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SOURCES), st.data())
def test_any_split_into_pages_or_lines_reads_the_same_records(source: str, data: st.DataObject) -> None:
    """However a script saved the pages (one, several, bare records, JSON Lines), the records
    and their order are the same."""
    key = "value" if source == "graph-gdap" else "items"
    items = json.loads((FIXTURES / f"{source}.page.json").read_text())[key]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=3)))
    pages = [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)]
    form = data.draw(st.sampled_from(["pages", "bare", "lines", "page lines"]))
    if form == "pages":
        raw = orjson.dumps([{key: page, "extraMicrosoftField": 1} for page in pages])
    elif form == "bare":
        raw = orjson.dumps(items)
    elif form == "lines":
        raw = b"\n".join(orjson.dumps(i) for i in items) + b"\n"
    else:
        raw = b"\r\n".join(orjson.dumps({key: page}) for page in pages)
    got = read_source(source, "any.json", raw)
    assert [(r.source_id, dict(r.data)) for r in got] == [(r.source_id, dict(r.data)) for r in read(source)]


def test_where_names_the_page_item_or_line() -> None:
    assert [r.where for r in read("pc-audit")][:2] == ["page 1, item 1", "page 1, item 2"]
    pages = read("pc-audit", "pages.json")
    assert pages[7].where == "page 2, item 1" and pages[7].file == "pc-audit.pages.json"
    assert read("pc-audit", "jsonl")[3].where == "line 4"
    assert read("pc-audit", "powershell.json")[1].where == "item 2"
    one = read_source(
        "pc-resellers", "one.json", orjson.dumps(json.loads((FIXTURES / "pc-resellers.jsonl").read_text()))
    )
    assert [(r.source_id, r.where) for r in one] == [(RESELLER, "item 1")]


def test_windows_powershell_files_read_utf16_bom_and_enum_numbers() -> None:
    record = audit_record("create_order")
    record["operationType"] = 11  # CreateOrder in the SDK's OperationType.cs
    raw = json.dumps([record]).encode("utf-16")
    (read,) = read_source("pc-audit", "ps51.json", raw)
    assert read.data["operationType"] == "create_order"
    assert len(proposals(MAPPERS["pc-audit"]([read], context()), "subscription.purchased")) == 2


def test_unknown_keys_and_enum_values_are_kept_as_text() -> None:
    record = audit_record("add_customer")
    record["operationType"], record["brandNewField"] = "some_future_operation", {"x": 1}
    (rec,) = read_source("pc-audit", "a.json", orjson.dumps([record]))
    assert rec.data["operationType"] == "some_future_operation" and rec.data["brandNewField"] == {"x": 1}
    (outcome,) = MAPPERS["pc-audit"]([rec], context())
    assert isinstance(outcome, Skip) and "'some_future_operation'" in outcome.reason
    graph = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[0])
    graph["status"] = "suspendedByMicrosoft"
    (skip,) = map_raw("graph-gdap", [graph])
    assert isinstance(skip, Skip) and "'suspendedByMicrosoft'" in skip.reason


@pytest.mark.parametrize(
    ("source", "raw", "expected"),
    [
        (
            "pc-audit",
            b"",
            "pc-audit: bad.json: expected a saved response page, a JSON list of pages or records",
        ),
        (
            "pc-audit",
            b'{"id": "a", "operationType"',
            "pc-audit: bad.json, line 1: expected a saved response page",
        ),
        ("pc-audit", b"42", "pc-audit: bad.json: expected a saved response page"),
        (
            "pc-audit",
            orjson.dumps({"items": [{"id": "a", "operationType": "x", "operationDate": "d"}, {"id": "b"}]}),
            "pc-audit: bad.json, page 1, item 2: expected an audit record with id, operationType",
        ),
        (
            "pc-audit",
            orjson.dumps({"items": {"id": "a"}}),
            "pc-audit: bad.json, page 1: expected items to be a list",
        ),
        (
            "pc-subscriptions",
            b'{"id": "s", "offerId": "o"}\n\n{"id": "t"}\n',
            "pc-subscriptions: bad.json, line 3: expected a subscription with id, offerId",
        ),
        ("graph-gdap", b"[1, 2]", "graph-gdap: bad.json, item 1: expected a delegatedAdminRelationship"),
        (
            "pc-resellers",
            b'{"id": 7, "name": "x"}',
            "pc-resellers: bad.json, item 1: expected an indirect reseller",
        ),
    ],
)
def test_a_file_that_is_not_the_source_is_bad_input_naming_where(
    source: str, raw: bytes, expected: str
) -> None:
    with pytest.raises(BadInput) as caught:
        read_source(source, "bad.json", raw)
    assert caught.value.message.startswith(expected), caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "source", ["pc-audit", "pc-subscriptions", "pc-transfers", "graph-gdap", "pc-resellers"]
)
def test_another_sources_file_is_refused(source: str) -> None:
    wrong = "pc-customers" if source != "pc-customers" else "pc-audit"
    with pytest.raises(BadInput, match=rf"^{source}: {wrong}.page.json, page 1, item 1: expected "):
        read_source(source, f"{wrong}.page.json", (FIXTURES / f"{wrong}.page.json").read_bytes())


def test_an_unknown_source_is_bad_input() -> None:
    with pytest.raises(BadInput, match="source: 'pc-invoices' is not one of graph-gdap"):
        read_source("pc-invoices", "x.json", b"[]")


# --- every outcome is accounted for and valid -------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("form", FORMS)
def test_every_record_has_an_outcome_and_every_proposal_is_an_event(source: str, form: str) -> None:
    records = read(source, form)
    outcomes = MAPPERS[source](records, context())
    assert {r.source_id for r in records} <= {o.source_id for o in outcomes}
    for p in proposals(outcomes):
        event = parse_event(dict(p.event))
        assert event.event_id == p.event["event_id"]
        assert p.event["note"].startswith(f"{source} {p.source_id}")
        for phrase in p.inferred:
            assert phrase in p.event["note"]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(SOURCES), st.randoms(use_true_random=False))
def test_the_order_of_records_changes_no_event(source: str, rnd: random.Random) -> None:
    records = read(source)
    shuffled = list(records)
    rnd.shuffle(shuffled)
    ctx = context()

    def events(rs: list[Record]) -> set[str]:
        return {
            orjson.dumps(p.event, option=orjson.OPT_SORT_KEYS).decode()
            for p in proposals(MAPPERS[source](rs, ctx))
        }

    assert events(shuffled) == events(records)


# --- pc-audit ---------------------------------------------------------------------------


def test_audit_create_order_purchases_each_line_item() -> None:
    outcomes = mapped("pc-audit")
    o365 = the(
        outcomes, "subscription.purchased", subscription_id=SUB_O365
    )  # SubscriptionId-0 was upper case
    assert o365.event["data"] == {
        "subscription_id": SUB_O365,
        "customer_id": RELECLOUD,
        "offer": "Office 365 E3",
        "service": "license",
        "channel": "csp",
        "seller_id": PARTNER,
        "term_end": "2024-03-01T10:00:05.05893Z",
    }
    assert o365.event["effective_at"] == "2023-03-01T10:00:05.05893Z"
    assert o365.event["actor"] == {
        "id": "admin@fabrikam.onmicrosoft.com",
        "role": "admin-agent",
        "tenant_id": PARTNER,
    }
    assert "term_end = effective_at + P1Y (from the term duration)" in o365.inferred
    azure = the(outcomes, "subscription.purchased", subscription_id=SUB_AZURE)
    assert azure.event["data"]["service"] == "usage" and "term_end" not in azure.event["data"]
    assert "service usage from offer DZH318Z0BPS6:0001 (inferred)" in azure.inferred
    wingtip = the(outcomes, "subscription.purchased", subscription_id=SUB_WINGTIP)
    assert wingtip.event["data"]["reseller_id"] == RESELLER
    assert "mpnId 1234567" in wingtip.event["note"]


def test_audit_create_order_with_three_line_items_is_three_purchases() -> None:
    record = audit_record("create_order")
    record["customizedData"] += [
        {"key": "OfferId-2", "value": "CFQ7TTC0LH18:0001"},
        {"key": "SubscriptionId-2", "value": "c1d2e3f4-0000-4000-8000-000000000003"},
        {"key": "SubscriptionName-2", "value": "Microsoft 365 E5"},
    ]
    purchased = proposals(map_raw("pc-audit", [record]), "subscription.purchased")
    assert [p.event["data"]["offer"] for p in purchased] == [
        "Office 365 E3",
        "Azure plan",
        "Microsoft 365 E5",
    ]
    assert len({p.event["event_id"] for p in purchased}) == 3


def test_audit_line_item_of_an_unknown_mpn_id_is_skipped_or_the_partners_own() -> None:
    record = audit_record("create_order")
    for pair in record["customizedData"]:
        if pair["key"] == "PartnerOnRecord-1":
            pair["value"] = "7654321"
    provider = map_raw("pc-audit", [record])
    assert [p.event["data"]["subscription_id"] for p in proposals(provider, "subscription.purchased")] == [
        SUB_O365
    ]
    (reason,) = skips(provider).values()
    assert "line item 1" in reason and "mpnId 7654321" in reason and "ingest pc-resellers first" in reason
    direct = map_raw("pc-audit", [record], context(program="csp-direct", resellers={}))
    azure = the(direct, "subscription.purchased", subscription_id=SUB_AZURE)
    assert "reseller_id" not in azure.event["data"] and azure.event["data"]["seller_id"] == PARTNER
    assert any("mpnId 7654321 not in the reseller map" in p for p in azure.inferred)


def test_audit_cancellation_and_unmodelled_subscription_updates() -> None:
    outcomes = mapped("pc-audit")
    cancelled = the(outcomes, "subscription.cancelled", subscription_id=SUB_O365)
    assert cancelled.event["effective_at"] == "2024-02-29T09:00:00Z"
    assert any("quantity, name or renewal" in r and "does not model" in r for r in skips(outcomes).values())


def test_audit_gdap_activation_and_termination() -> None:
    outcomes = mapped("pc-audit")
    granted = the(outcomes, "delegation.granted", delegation_id=GDAP_TAILSPIN)
    assert granted.event["effective_at"] == "2024-01-12T08:30:00Z"
    assert granted.event["data"]["expires_at"] == "2025-01-11T08:30:00Z"  # activation + P365D
    assert granted.event["actor"]["role"] == "customer-delegated-admin-relationship-admin"
    assert granted.event["actor"]["tenant_id"] == TAILSPIN
    requested = the(outcomes, "delegation.requested", delegation_id=GDAP_TAILSPIN)
    assert requested.event["data"]["duration"] == "P365D" and "auto_extend" not in requested.event["data"]
    revoked = the(outcomes, "delegation.revoked", delegation_id=GDAP_TAILSPIN)
    assert revoked.event["effective_at"] == "2024-05-20T16:45:10.5Z"  # the audit's exact time, read
    assert not any("lastModifiedDateTime" in p for p in revoked.inferred)


def test_audit_dap_granted_and_revoked_by_microsoft() -> None:
    outcomes = mapped("pc-audit")
    dap = f"dap:{PARTNER}:{TAILSPIN}"
    granted = the(outcomes, "delegation.granted", delegation_id=dap)
    assert (
        granted.event["data"]["kind"] == "dap" and granted.event["actor"]["role"] == "customer-global-admin"
    )
    revoked = the(outcomes, "delegation.revoked", delegation_id=dap)
    assert revoked.event["actor"] == {"id": "Microsoft", "role": "microsoft", "tenant_id": "microsoft"}
    assert revoked.event["effective_at"] == "2023-11-15T00:00:00Z"
    by_customer = audit_record("dap_admin_relationship_terminated_by_microsoft")
    by_customer["operationType"] = "dap_admin_relationship_terminated"
    (_, own) = proposals(map_raw("pc-audit", [by_customer]))
    assert (
        own.event["actor"]["role"] == "customer-global-admin"
        and own.event["event_id"] == revoked.event["event_id"]
    )


def test_audit_add_customer_and_relationship_removal() -> None:
    added = the(mapped("pc-audit"), "customer.registered", customer_id=TAILSPIN)
    assert added.event["data"]["name"] == "Tailspin Traders" and added.event["effective_at"] == REGISTERED_AT
    assert "add_customer at 2021-04-20T13:14:12.8069005Z" in added.event["note"]
    record = audit_record("add_customer")
    record["operationType"] = "remove_partner_customer_relationship"
    removed = the(map_raw("pc-audit", [record]), "relationship.removed", customer_id=TAILSPIN)
    assert removed.event["data"] == {"partner_id": PARTNER, "customer_id": TAILSPIN}
    assert removed.event["effective_at"] == "2021-04-20T13:14:12.8069Z"


@pytest.mark.parametrize(
    ("operation", "status", "reason"),
    [
        ("create_order", "failed", "create_order did not succeed (operationStatus failed)"),
        ("create_order", "decline", "create_order did not succeed (operationStatus decline)"),
        ("create_transfer", "progress", "create_transfer did not succeed (operationStatus progress)"),
        ("update_order", "succeeded", "update_order: an order change"),
        ("upgrade_subscription", "succeeded", "upgrade_subscription: an upgrade is not modelled"),
        ("create_partner_relationship", "succeeded", "ingest pc-resellers"),
        ("remove_partner_relationship", "succeeded", "ingest pc-resellers"),
        ("granular_admin_relationship_approved", "succeeded", "granular_admin_relationship_activated"),
        ("granular_admin_relationship_termination_requested", "succeeded", "a termination not yet done"),
        ("granular_admin_relationship_expired", "succeeded", "an expiry needs no event"),
        ("granular_admin_relationship_cleaned_up", "succeeded", "clean-up after an end"),
        ("granular_admin_access_assignment_created", "succeeded", "access assignments"),
        ("granular_admin_access_assignment_updated", "succeeded", "access assignments"),
        ("granular_admin_access_assignment_deleted", "succeeded", "access assignments"),
        ("granular_admin_access_assignment_activated", "succeeded", "access assignments"),
        ("create_new_commerce_migration", "succeeded", "a new-commerce migration is not modelled"),
        ("update_customer_user", "succeeded", "'update_customer_user' changes no right"),
    ],
)
def test_audit_skip_reasons(operation: str, status: str, reason: str) -> None:
    record = audit_record("add_customer")
    record["operationType"], record["operationStatus"] = operation, status
    (outcome,) = map_raw("pc-audit", [record])
    assert isinstance(outcome, Skip) and reason in outcome.reason


def test_audit_record_it_cannot_read_is_skipped_with_the_reason() -> None:
    record = audit_record("granular_admin_relationship_terminated")
    record["resourceNewValue"] = record["resourceOldValue"] = "not json"
    (outcome,) = map_raw("pc-audit", [record])
    assert isinstance(outcome, Skip) and "resourceNewValue carries no relationship" in outcome.reason
    record = audit_record("add_customer")
    record["operationDate"] = "yesterday"
    record["operationType"] = "dap_admin_relationship_approved"
    (outcome,) = map_raw("pc-audit", [record])
    assert isinstance(outcome, Skip) and "operationDate 'yesterday' is not a time" in outcome.reason


@pytest.mark.parametrize(
    ("given", "read", "noted"),
    [
        ("2023-03-01T10:00:05.0589308Z", "2023-03-01T10:00:05.05893Z", False),
        ("2023-03-01T12:00:05+02:00", "2023-03-01T10:00:05Z", False),
        ("/Date(1677664805000)/", "2023-03-01T10:00:05Z", False),
        ("2023-03-01T10:00:05", "2023-03-01T10:00:05Z", True),
    ],
)
def test_microsoft_times_are_read_as_rfc3339(given: str, read: str, noted: bool) -> None:
    record = audit_record("dap_admin_relationship_approved")
    record["operationDate"] = given
    granted = the(map_raw("pc-audit", [record]), "delegation.granted", kind="dap")
    assert granted.event["effective_at"] == read
    assert ("operationDate without offset taken as UTC (inferred)" in granted.inferred) is noted


# --- graph-gdap -------------------------------------------------------------------------


def test_graph_active_gdap_with_an_extension() -> None:
    outcomes = mapped("graph-gdap")
    requested = the(outcomes, "delegation.requested", delegation_id=GDAP_WINGTIP)
    assert requested.event["data"] == {
        "delegation_id": GDAP_WINGTIP,
        "customer_id": WINGTIP,
        "partner_id": PARTNER,
        "roles": ["29232cdf-9323-42fd-ade2-1d097af3e4de", "fe930be7-5e62-47db-91af-98c3a49a38b1"],
        "duration": "P730D",
        "auto_extend": "P180D",
        "name": "Fabrikam-Wingtip admin",
    }
    assert (
        requested.event["actor"]["role"] == "admin-agent"
        and "actor role admin-agent (defaulted)" in requested.inferred
    )
    granted = the(outcomes, "delegation.granted", delegation_id=GDAP_WINGTIP)
    assert granted.event["effective_at"] == "2022-03-01T12:00:00Z"
    assert granted.event["data"]["expires_at"] == "2024-02-29T12:00:00Z"
    (extended,) = proposals(outcomes, "delegation.extended")
    assert extended.event["effective_at"] == "2024-02-29T12:00:00Z"
    assert extended.event["data"] == {"delegation_id": GDAP_WINGTIP, "expires_at": "2024-08-27T12:00:00Z"}
    assert extended.event["actor"]["role"] == "microsoft"
    assert any("extension inferred from endDateTime" in p for p in extended.inferred)


def test_graph_two_extensions_and_none_after_a_termination() -> None:
    record = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[0])
    record["endDateTime"] = "2025-02-23T12:00:00Z"  # two times 180 days past activation + P730D
    ends = [
        p.event["data"]["expires_at"]
        for p in proposals(map_raw("graph-gdap", [record]), "delegation.extended")
    ]
    assert ends == ["2024-08-27T12:00:00Z", "2025-02-23T12:00:00Z"]
    record["status"], record["lastModifiedDateTime"] = "terminated", "2024-06-01T00:00:00Z"
    outcomes = map_raw("graph-gdap", [record])
    assert [p.event["data"]["expires_at"] for p in proposals(outcomes, "delegation.extended")] == [
        "2024-08-27T12:00:00Z"
    ]
    assert proposals(outcomes)[-1].event["type"] == "delegation.revoked"


def test_graph_terminated_gdap_revoked_at_last_modified_inferred() -> None:
    outcomes = mapped("graph-gdap")
    revoked = the(outcomes, "delegation.revoked", delegation_id=GDAP_TAILSPIN)
    assert revoked.event["effective_at"] == "2024-05-20T16:45:12.123Z"
    assert "effective_at from lastModifiedDateTime (inferred: the termination time)" in revoked.inferred
    assert "lastModifiedDateTime (inferred" in revoked.event["note"]


@pytest.mark.parametrize("status", ["created", "approvalPending", "approved", "activating"])
def test_graph_request_not_yet_active_is_only_requested(status: str) -> None:
    record = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[2])
    record["status"] = status
    assert [p.event["type"] for p in proposals(map_raw("graph-gdap", [record]))] == [
        "customer.registered",
        "delegation.requested",
    ]


@pytest.mark.parametrize("status", ["expiring", "expired", "terminationRequested", "terminating"])
def test_graph_granted_states_that_change_nothing_more(status: str) -> None:
    record = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[0])
    record["status"] = status
    types = [p.event["type"] for p in proposals(map_raw("graph-gdap", [record]))]
    assert types == [
        "customer.registered",
        "delegation.requested",
        "delegation.granted",
        "delegation.extended",
    ]


def test_graph_skips() -> None:
    reasons = skips(mapped("graph-gdap"))
    assert "customer.tenantId is absent" in reasons["e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7081"]
    record = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[1])
    record["activatedDateTime"] = None
    assert "terminated before activation" in skips(map_raw("graph-gdap", [record]))[GDAP_TAILSPIN]
    record = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[0])
    record["accessDetails"] = {"unifiedRoles": []}
    assert "lists no roleDefinitionId" in skips(map_raw("graph-gdap", [record]))[GDAP_WINGTIP]


def test_graph_durations_from_powershell_timespans() -> None:
    record = json.loads((FIXTURES / "graph-gdap.jsonl").read_text().splitlines()[0])
    record["duration"] = {"Days": 730, "Ticks": 630720000000000}
    record["autoExtendDuration"] = {"Days": 0, "Ticks": 0}
    requested = the(map_raw("graph-gdap", [record]), "delegation.requested", delegation_id=GDAP_WINGTIP)
    assert requested.event["data"]["duration"] == "P730D" and "auto_extend" not in requested.event["data"]


# --- pc-customers, pc-subscriptions, pc-transfers, pc-resellers ---------------------------


def test_customers_registered_with_their_reseller_relationship() -> None:
    outcomes = mapped("pc-customers")
    registered = the(outcomes, "customer.registered", customer_id=WINGTIP)
    assert registered.event["data"] == {"customer_id": WINGTIP, "name": "Wingtip Toys", "cloud": "commercial"}
    assert "cloud commercial (defaulted from --cloud)" in registered.inferred
    requested = the(outcomes, "relationship.requested", customer_id=WINGTIP)
    assert (
        requested.event["data"]["reseller_id"] == RESELLER
        and requested.event["data"]["partner_id"] == PARTNER
    )
    accepted = the(outcomes, "relationship.accepted", request_id=requested.event["data"]["request_id"])
    assert accepted.event["actor"]["tenant_id"] == WINGTIP
    assert "relationshipToPartner advisor" in skips(outcomes)["f3c5a6eb-af69-4c3a-ae0f-4c3b7d6e5f44"]
    germany = the(
        mapped("pc-customers", ctx=context(cloud="germany")), "customer.registered", customer_id=WINGTIP
    )
    assert germany.event["data"]["cloud"] == "germany"


def test_subscriptions_purchased_with_the_reseller_of_record() -> None:
    outcomes = mapped("pc-subscriptions")
    wingtip = the(outcomes, "subscription.purchased", subscription_id=SUB_WINGTIP)
    assert wingtip.event["data"] == {
        "subscription_id": SUB_WINGTIP,
        "customer_id": WINGTIP,
        "offer": "Microsoft 365 Business Premium",
        "service": "license",
        "channel": "csp",
        "seller_id": PARTNER,
        "reseller_id": RESELLER,
        "term_end": "2024-08-31T00:00:00Z",
    }
    reasons = skips(outcomes)
    assert (
        "status deleted" in reasons[SUB_O365]
        and "status pending" in reasons["b8d2f0a4-6e3c-4b9f-a7d5-4f2e0c8a6b31"]
    )
    unknown = mapped("pc-subscriptions", ctx=context(resellers={}))
    assert (
        "partnerId mpnId 1234567 is not in the reseller map: ingest pc-resellers first"
        in skips(unknown)[SUB_WINGTIP]
    )


def test_subscription_without_a_customer_link_is_skipped() -> None:
    record = json.loads((FIXTURES / "pc-subscriptions.jsonl").read_text().splitlines()[1])
    del record["links"]
    assert "names no customer" in skips(map_raw("pc-subscriptions", [record]))[SUB_WINGTIP]


def test_completed_transfer_switches_each_line_item() -> None:
    outcomes = mapped("pc-transfers")
    switched = the(outcomes, "subscription.switched", subscription_id=SUB_AZURE)
    assert switched.event["data"] == {
        "subscription_id": SUB_AZURE,
        "from_partner_id": PARTNER,
        "to_partner_id": ADATUM,
    }
    assert switched.event["effective_at"] == "2024-04-10T14:00:00Z"
    adatum = the(outcomes, "partner.registered", partner_id=ADATUM)
    assert (
        adatum.event["data"]["program"] == "csp-direct"
        and "program csp-direct (defaulted)" in adatum.inferred
    )
    assert "status Active: not completed" in skips(outcomes)["2b4d6f8a-0c1e-4a3b-9d5f-7e9a1c3b5d7f"]


def test_resellers_registered_under_the_provider_with_their_mpn_id() -> None:
    (reseller,) = proposals(mapped("pc-resellers"))
    assert reseller.event["data"] == {
        "partner_id": RESELLER,
        "name": "Proseware Reseller",
        "cloud": "commercial",
        "program": "csp-indirect-reseller",
        "provider_ids": [PARTNER],
    }
    assert "mpnId 1234567" in reseller.event["note"]
    assert reseller_map(read("pc-resellers", "jsonl")) == {"1234567": RESELLER}
    record = json.loads((FIXTURES / "pc-resellers.jsonl").read_text())
    record["relationshipType"] = "IsSomethingNew"
    assert "relationshipType IsSomethingNew" in skips(map_raw("pc-resellers", [record]))[RESELLER]


# --- the same transition from two sources ------------------------------------------------


def _by_id(source: str) -> Mapping[str, Proposal]:
    return {p.event["event_id"]: p for p in proposals(mapped(source))}


@pytest.mark.parametrize(
    ("one", "other", "event_type", "key"),
    [
        ("pc-audit", "pc-subscriptions", "subscription.purchased", (SUB_O365,)),
        ("pc-audit", "pc-subscriptions", "subscription.purchased", (SUB_WINGTIP,)),
        (
            "pc-audit",
            "pc-transfers",
            "subscription.switched",
            ("7e9a3c1b-2d4f-4b6a-8c0e-5f1d3b9a7c2e", SUB_AZURE),
        ),
        ("pc-audit", "graph-gdap", "delegation.requested", (GDAP_TAILSPIN,)),
        ("pc-audit", "graph-gdap", "delegation.granted", (GDAP_TAILSPIN,)),
        ("pc-audit", "graph-gdap", "delegation.revoked", (GDAP_TAILSPIN,)),
        ("pc-customers", "graph-gdap", "customer.registered", (WINGTIP,)),
        ("pc-customers", "pc-subscriptions", "customer.registered", (RELECLOUD,)),
    ],
)
def test_two_sources_of_one_transition_propose_one_event_id(
    one: str, other: str, event_type: str, key: tuple[str, ...]
) -> None:
    wanted = event_id(event_type, *key)
    a, b = _by_id(one)[wanted].event, _by_id(other)[wanted].event
    assert a["type"] == b["type"] == event_type
    same = {"term_end", "name"}  # what one source defaults and the other reads
    assert {k: v for k, v in a["data"].items() if k not in same} == {
        k: v for k, v in b["data"].items() if k not in same
    }
    if event_type in ("delegation.granted", "subscription.switched", "delegation.requested"):
        assert a["effective_at"] == b["effective_at"]


# --- the rulebook takes the world the fixtures describe ----------------------------------


def test_the_fixtures_world_is_recorded_on_both_stores(ledger: Ledger) -> None:
    """Every proposal of the six sources, each once, in the files' order: all are recorded
    but the switch to Adatum, whose reseller relationship with the customer no file shows."""
    ctx = context()
    ledger.record(
        parse_event(
            {
                "type": "partner.registered",
                "effective_at": REGISTERED_AT,
                "actor": {"id": "ops", "role": "global-admin", "tenant_id": PARTNER},
                "data": {
                    "partner_id": PARTNER,
                    "name": "Fabrikam",
                    "cloud": "commercial",
                    "program": ctx.program,
                },
            }
        )
    )
    seen: set[str] = set()
    refused: list[tuple[str, str | None]] = []
    for source in (
        "pc-resellers",
        "pc-customers",
        "pc-subscriptions",
        "pc-audit",
        "graph-gdap",
        "pc-transfers",
    ):
        for p in proposals(mapped(source, ctx=ctx)):
            if p.event["event_id"] in seen:
                continue
            seen.add(p.event["event_id"])
            try:
                ledger.record(parse_event(dict(p.event)))
            except RuleViolation as error:
                refused.append((p.event["type"], error.rule))
    assert refused == [("subscription.switched", "azure-switch-between-csp-partners")]
    stored = Counter(e["type"] for e in ledger.stored())
    assert stored["delegation.extended"] == 1 and stored["subscription.purchased"] == 3
    assert len(seen) == sum(stored.values()) - 1 + len(refused)  # the provider's own registration
