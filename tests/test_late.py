"""Late recordings (spec/domain.md, "Late recordings"): an event effective before events
already recorded for its customer is accepted when every later event of that customer still
passes the rulebook with it in place, and refused as ``time-order`` otherwise. Projections
then answer the amended history at every ``--as-of``, and the history as it was known
before at ``--known-at`` before the recording; verify, rebuild and restore agree.

Every test runs on both stores (the ``ledger`` fixture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import Ledger, RuleViolation, read
from projections import TABLES

from builders import (
    accept,
    cancel,
    customer,
    gdap_request,
    grant,
    partner,
    purchase,
    remove,
    request,
    revoke,
    switch,
)
from clitools import run, run_json
from model import us


def snapshot(ledger: Ledger) -> dict[str, Any]:
    """Everything a recorded event can change: head, export (with the chain), projections."""
    tables: dict[str, list[tuple[tuple[str, Any], ...]]] = {}
    with ledger.read() as db:
        for name in [t.sql_name for t in TABLES] + ["prj_event_refs"]:
            db.execute(f"SELECT * FROM {name}")
            tables[name] = sorted((tuple(sorted(r.items())) for r in db.fetchall()), key=repr)
    return {"head": ledger.head(), "export": list(ledger.stored()), "projections": tables}


def story(ledger: Ledger) -> None:
    """contoso with fabrikam's and northwind's relationships; sub-1 (Azure, csp) bought
    from fabrikam in 2019, switched to northwind in 2025 (contoso's newest event)."""
    ledger.record_many(
        [
            (0, e)
            for e in (
                partner("fabrikam"),
                partner("northwind"),
                customer("contoso"),
                request("r-1", "fabrikam", "contoso"),
                accept("r-1", "contoso"),
                request("r-2", "northwind", "contoso", "2019-02-03T00:00:00Z"),
                accept("r-2", "contoso", "2019-02-04T00:00:00Z"),
                purchase("sub-1", "contoso", "2019-03-01T00:00:00Z"),
                purchase("sub-2", "contoso", "2019-03-02T00:00:00Z"),
                switch("sub-1", "fabrikam", "northwind", "2025-01-01T00:00:00Z"),
            )
        ]
    )


def status(ledger: Ledger, sid: str, at: str, known_at: str | None = None) -> tuple[str, str]:
    answer = read.por(ledger, sid, us(at), None if known_at is None else us(known_at))
    return answer["status"], answer["partner_of_record"]


def verified_and_rebuilt(ledger: Ledger) -> None:
    """verify (which replays every event, judging it) passes, and a rebuild writes exactly
    the rows the appends wrote (verify compares them column by column)."""
    before = snapshot(ledger)["projections"]
    assert ledger.verify() == ledger.head()
    ledger.rebuild()
    assert snapshot(ledger)["projections"] == before
    assert ledger.verify() == ledger.head()


def test_a_late_cancellation_is_accepted_and_amends_every_as_of(ledger: Ledger) -> None:
    story(ledger)
    known_before = ledger.head()
    recorded_before = next(ledger.stored(known_before))["recorded_at"]
    receipt = ledger.record(cancel("sub-2", "2024-02-01T00:00:00Z"))
    assert receipt.position == known_before + 1
    assert status(ledger, "sub-2", "2024-01-31T00:00:00Z") == ("active", "fabrikam")
    assert status(ledger, "sub-2", "2024-02-01T00:00:00Z") == ("cancelled", "fabrikam")
    assert status(ledger, "sub-2", "2026-01-01T00:00:00Z") == ("cancelled", "fabrikam")
    # As known before the recording: sub-2 was never cancelled.
    assert status(ledger, "sub-2", "2026-01-01T00:00:00Z", recorded_before) == ("active", "fabrikam")
    # The later switch of another subscription stands.
    assert status(ledger, "sub-1", "2026-01-01T00:00:00Z") == ("active", "northwind")
    verified_and_rebuilt(ledger)


def test_a_late_event_that_would_invalidate_a_later_one_is_refused_naming_it(ledger: Ledger) -> None:
    story(ledger)
    switch_event = next(e for e in ledger.stored() if e["type"] == "subscription.switched")
    before = snapshot(ledger)
    with pytest.raises(RuleViolation) as refused:
        ledger.record(cancel("sub-1", "2024-02-01T00:00:00Z"))
    assert (refused.value.rule, refused.value.edition) == ("time-order", "late recordings")
    message = refused.value.message
    assert f"position {switch_event['position']}" in message
    assert switch_event["event_id"] in message
    assert "known-references" in message and "sub-1 is not live" in message
    assert snapshot(ledger) == before
    # Nothing of it leaks into the next append: the same cancellation after the switch is fine.
    ledger.record(cancel("sub-1", "2025-02-01T00:00:00Z"))
    assert status(ledger, "sub-1", "2026-01-01T00:00:00Z") == ("cancelled", "northwind")
    verified_and_rebuilt(ledger)


def test_a_late_switch_between_a_purchase_and_a_switch_amends_both(ledger: Ledger) -> None:
    """A late switch to northwind in 2020 before a later switch... which then must come
    from northwind: the later one (from fabrikam) breaks azure-switch-between-csp-partners."""
    story(ledger)
    with pytest.raises(RuleViolation) as refused:
        ledger.record(switch("sub-1", "fabrikam", "northwind", "2020-01-01T00:00:00Z"))
    assert refused.value.rule == "time-order"
    assert "azure-switch-between-csp-partners" in refused.value.message


def test_late_events_between_others_amend_history_and_survive_verify_rebuild_restore(
    ledger: Ledger, fresh_url: str, tmp_path: Path
) -> None:
    story(ledger)
    first = ledger.head()
    ledger.record(remove("northwind", "contoso", "2026-01-01T00:00:00Z"))  # newest event now
    # Late: a purchase and a DAP grant in 2019, a GDAP granted in 2020 (expiring 2021) and
    # revoked in 2023 after the 2022 switch of sub-3, all before the 2025 switch and 2026 removal.
    late = [
        purchase("sub-3", "contoso", "2019-06-01T00:00:00Z"),
        grant("d-1", "contoso", "fabrikam", "2019-07-01T00:00:00Z"),
        gdap_request("g-1", "contoso", "northwind", "2019-12-15T00:00:00Z", duration="P1Y11M"),
        grant(
            "g-1", "contoso", "northwind", "2020-01-01T00:00:00Z", kind="gdap", expires="2021-12-01T00:00:00Z"
        ),
        switch("sub-3", "fabrikam", "northwind", "2021-01-01T00:00:00Z"),
        revoke("g-1", "contoso", "2021-06-01T00:00:00Z"),
        revoke("d-1", "contoso", "2020-06-01T00:00:00Z"),  # late again: before the GDAP's grant
    ]
    for event in late:
        ledger.record(event)
    assert status(ledger, "sub-3", "2020-12-31T00:00:00Z") == ("active", "fabrikam")
    assert status(ledger, "sub-3", "2021-01-01T00:00:00Z") == ("active", "northwind")
    assert status(ledger, "sub-1", "2025-01-01T00:00:00Z") == ("active", "northwind")

    def delegation_ids(at: str) -> list[str]:
        found = read.delegations(ledger, "contoso", us(at))["delegations"]
        return [d["delegation_id"] for d in found]

    assert delegation_ids("2019-08-01T00:00:00Z") == ["d-1"]
    assert delegation_ids("2020-07-01T00:00:00Z") == ["g-1"]
    assert delegation_ids("2021-07-01T00:00:00Z") == []
    relationships = read.customer(ledger, "contoso", us("2026-02-01T00:00:00Z"))["relationships"]
    assert [r["partner_id"] for r in relationships] == ["fabrikam"]
    # As known after the story alone, none of it.
    recorded = next(ledger.stored(first))["recorded_at"]
    assert read.delegations(ledger, "contoso", us("2019-08-01T00:00:00Z"), us(recorded))["delegations"] == []
    verified_and_rebuilt(ledger)

    exported = tmp_path / "late.jsonl"
    lines = [orjson.dumps(e).decode() for e in ledger.stored()]
    exported.write_text("\n".join(lines) + "\n", encoding="utf-8")
    restored = run("--db", fresh_url, "import", str(exported), "--restore")
    assert restored.returncode == 0, restored.stderr
    assert run_json("--db", fresh_url, "verify")["verified"] == ledger.head()
    with Ledger(fresh_url) as copy:
        assert snapshot(copy)["projections"] == snapshot(ledger)["projections"]


def test_an_import_in_any_order_of_one_customers_events(ledger: Ledger) -> None:
    """One import whose events of a customer arrive out of effective order: each late one
    is judged with the events before it in the same input in place."""
    events = [
        partner("fabrikam"),
        customer("contoso"),
        request("r-1", "fabrikam", "contoso"),
        accept("r-1", "contoso"),
        purchase("sub-1", "contoso", "2023-01-01T00:00:00Z"),
        purchase("sub-2", "contoso", "2020-01-01T00:00:00Z"),
        cancel("sub-1", "2024-01-01T00:00:00Z"),
        cancel("sub-2", "2021-01-01T00:00:00Z"),
        purchase("sub-0", "contoso", "2019-06-01T00:00:00Z"),
    ]
    ledger.record_many([(i + 1, e) for i, e in enumerate(events)])
    assert status(ledger, "sub-2", "2020-06-01T00:00:00Z") == ("active", "fabrikam")
    assert status(ledger, "sub-2", "2021-06-01T00:00:00Z") == ("cancelled", "fabrikam")
    assert status(ledger, "sub-1", "2024-06-01T00:00:00Z") == ("cancelled", "fabrikam")
    verified_and_rebuilt(ledger)
    # A late removal of fabrikam's relationship in 2019 is accepted (purchases need none).
    ledger.record(remove("fabrikam", "contoso", "2019-03-01T00:00:00Z"))
    assert read.customer(ledger, "contoso", us("2025-01-01T00:00:00Z"))["relationships"] == []
    verified_and_rebuilt(ledger)


def test_a_late_event_that_refuses_within_an_import_names_its_line(ledger: Ledger) -> None:
    story(ledger)
    before = snapshot(ledger)
    with pytest.raises(RuleViolation) as refused:
        ledger.record_many(
            [
                (1, purchase("sub-5", "contoso", "2024-01-01T00:00:00Z")),
                (2, cancel("sub-1", "2024-02-01T00:00:00Z")),
            ]
        )
    assert (refused.value.rule, refused.value.line) == ("time-order", 2)
    assert snapshot(ledger) == before


def test_a_late_grant_before_a_later_reuse_of_its_id_is_judged_by_its_own_rules(ledger: Ledger) -> None:
    """A later event's own rows do not make its ids "in use" when it is judged again, but a
    late event reusing a later event's id is refused by known-references itself."""
    story(ledger)
    with pytest.raises(RuleViolation) as refused:
        ledger.record(purchase("sub-2", "contoso", "2019-01-15T00:00:00Z"))
    assert refused.value.rule == "known-references"


def test_the_issue_example_at_the_command_line(url: str) -> None:
    """``ledger record subscription.cancelled --effective-at 2024-02-01...`` for a customer
    whose newest event is from 2025 is accepted; ``por`` answers before and after, and as
    known before the recording."""
    with Ledger(url) as ledger:
        story(ledger)
        known = next(ledger.stored(ledger.head()))["recorded_at"]
    actor = [
        "--actor-id",
        "ops@fabrikam.example",
        "--actor-role",
        "sales-agent",
        "--actor-tenant-id",
        "fabrikam",
    ]
    done = run(
        "--db", url, "record", "subscription.cancelled", "--effective-at", "2024-02-01T00:00:00Z",
        *actor, "--subscription-id", "sub-2", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    def por(*args: str) -> Any:
        return run_json("--db", url, "por", "sub-2", *args)

    assert por("--as-of", "2024-01-31T00:00:00Z")["status"] == "active"
    assert por("--as-of", "2024-02-01T00:00:00Z")["status"] == "cancelled"
    assert por("--known-at", known)["status"] == "active"
    refused = run(
        "--db", url, "record", "subscription.cancelled", "--effective-at", "2024-02-01T00:00:00Z",
        *actor, "--subscription-id", "sub-1", "--json",
    )  # fmt: skip
    assert refused.returncode == 3
    error = orjson.loads(refused.stdout)["error"]
    assert error["rule"] == "time-order" and "known-references" in error["message"]
