"""The auditor's commands end to end through the installed console script, on both stores:
the contract's JSON shapes and exit codes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import rawdb
from clitools import run, run_json

POR_KEYS = {
    "subscription_id",
    "customer_id",
    "channel",
    "service",
    "status",
    "partner_of_record",
    "billing_partner",
    "since",
    "as_of",
}
# The contract's keys, and whether a GDAP's request asked for auto-extension.
DELEGATION_KEYS = {"delegation_id", "partner_id", "kind", "roles", "granted_at", "expires_at", "auto_extend"}


@pytest.fixture
def demo_url(url: str) -> str:
    answer = run_json("--db", url, "demo")
    assert answer["verified"] == sum(1 for s in answer["steps"] if s["rejected_by"] is None)
    return url


def test_demo_tells_the_story_with_its_refusals(url: str) -> None:
    first = run_json("--db", url, "demo")
    refused = {s["rejected_by"] for s in first["steps"] if s["rejected_by"]}
    assert refused == {
        "indirect-reseller-cannot-invite",
        "azure-from-other-channel-migrates",
        "gdap-duration",
        "license-switch-needs-term-end",
        "csp-cannot-resell-to-csp",
        "same-cloud",
        "dap-retired",
        "eligible-role",  # Microsoft may not remove a GDAP
        "gdap-auto-extend",
        "delegation-needs-invitation",
    }
    again = run_json("--db", url, "demo")  # loading it twice stores it once
    assert again["already_loaded"] and again["steps"] == [] and again["verified"] == first["verified"]
    contoso = again["customers"]["contoso"]
    assert {s["subscription_id"]: s["partner_of_record"] for s in contoso["subscriptions"]} == {
        "azure-ea-1": None,
        "pbi-1": None,
        "o365-1": "fabrikam",
        "azure-csp-1": "northwind",
        "o365-2": "litware",
    }
    people = run("--db", url, "demo")
    assert people.returncode == 0 and b"already loaded" in people.stdout


def test_demo_refuses_a_ledger_with_events_of_its_own(url: str, tmp_path: Path) -> None:
    event = {
        "type": "customer.registered",
        "effective_at": "2019-01-01T00:00:00Z",
        "actor": {"id": "a@x", "role": "global-admin", "tenant_id": "x"},
        "data": {"customer_id": "x", "name": "X", "cloud": "commercial"},
    }
    run_json("--db", url, "record", "--event", orjson.dumps(event).decode())
    error = run_json("--db", url, "demo", expect=2)["error"]
    assert error["code"] == "bad-input" and "fresh" in error["message"]


def test_por_json_shape_and_time_travel(demo_url: str) -> None:
    now = run_json("--db", demo_url, "por", "azure-csp-1")
    assert set(now) >= POR_KEYS
    assert (now["partner_of_record"], now["billing_partner"], now["status"]) == (
        "northwind",
        "northwind",
        "active",
    )
    assert now["since"] == "2020-02-01T00:00:00Z"
    then = run_json("--db", demo_url, "por", "azure-csp-1", "--as-of", "2019-12-31T00:00:00Z")
    assert (then["partner_of_record"], then["since"], then["as_of"]) == (
        "fabrikam",
        "2019-04-01T00:00:00Z",
        "2019-12-31T00:00:00Z",
    )
    indirect = run_json("--db", demo_url, "por", "o365-2")
    assert (indirect["partner_of_record"], indirect["billing_partner"]) == ("litware", "adatum")
    cancelled = run_json("--db", demo_url, "por", "o365-1")
    assert (cancelled["status"], cancelled["partner_of_record"]) == ("cancelled", "fabrikam")
    other_channel = run_json("--db", demo_url, "por", "pbi-1")
    assert (other_channel["channel"], other_channel["partner_of_record"]) == ("microsoft", None)


def test_not_found_is_exit_1(demo_url: str) -> None:
    for args in (
        ("por", "no-such-sub"),
        ("por", "azure-csp-1", "--as-of", "2019-03-31T00:00:00Z"),  # before its purchase
        ("customer", "nobody"),
        ("delegations", "nobody"),
        ("history", "--customer", "nobody"),
    ):
        error = run_json("--db", demo_url, *args, expect=1)["error"]
        assert error["code"] == "not-found", args
    plain = run("--db", demo_url, "por", "no-such-sub")
    assert plain.returncode == 1 and b"no-such-sub" in plain.stderr and b"Traceback" not in plain.stderr


def test_delegations_json_shape_and_expiry(demo_url: str) -> None:
    mid_2019 = run_json("--db", demo_url, "delegations", "contoso", "--as-of", "2019-06-30T00:00:00Z")
    assert set(mid_2019) == {"customer_id", "as_of", "delegations"}
    assert [d["delegation_id"] for d in mid_2019["delegations"]] == ["dap-fab-1", "gdap-lit-1"]
    assert all(set(d) == DELEGATION_KEYS for d in mid_2019["delegations"])
    dap, gdap = mid_2019["delegations"]
    assert (dap["kind"], dap["expires_at"], gdap["expires_at"]) == ("dap", None, "2021-06-03T00:00:00Z")
    after_expiry = run_json("--db", demo_url, "delegations", "contoso", "--as-of", "2021-06-03T00:00:00Z")
    assert [d["delegation_id"] for d in after_expiry["delegations"]] == ["dap-fab-1"]


def test_the_gdap_lifecycle_as_customer_and_delegations_show_it(demo_url: str) -> None:
    """Tailspin's chapter of the demo: a GDAP auto-extended, a request pending (then lapsed),
    roles named where their Entra id is well known, and the expiry at the new end."""
    db = ("--db", demo_url)
    spring = run_json(*db, "customer", "tailspin", "--as-of", "2024-04-01T00:00:00Z")
    [gdap] = spring["delegations"]
    assert (gdap["delegation_id"], gdap["expires_at"], gdap["auto_extend"]) == (
        "gdap-tt-1",
        "2024-08-01T00:00:00Z",
        "P180D",
    )
    assert gdap["roles"] == ["729827e3-9c14-49f7-bb1b-9608f156bbb8", "fe930be7-5e62-47db-91af-98c3a49a38b1"]
    [pending] = spring["requests"]
    assert (pending["delegation_id"], pending["lapses_at"]) == ("gdap-tt-3", "2024-05-30T00:00:00Z")
    before = run_json(*db, "delegations", "tailspin", "--as-of", "2024-02-02T00:00:00Z")["delegations"]
    assert [d["expires_at"] for d in before] == ["2024-02-03T00:00:00Z"]  # as it was before its extension
    summer = run_json(*db, "customer", "tailspin", "--as-of", "2024-08-01T00:00:00Z")
    assert summer["delegations"] == [] and summer["requests"] == []
    people = run(*db, "customer", "tailspin", "--as-of", "2024-04-01T00:00:00Z")
    assert people.returncode == 0, people.stderr
    text = people.stdout.decode()
    for shown in (
        "Helpdesk Administrator",
        "User Administrator",
        "180 days",
        "gdap-tt-3",
        "Exchange Administrator",
    ):
        assert shown in text, text


def test_customer_json_shape(demo_url: str) -> None:
    answer = run_json("--db", demo_url, "customer", "contoso", "--as-of", "2020-03-01T00:00:00Z")
    assert {"customer_id", "name", "cloud", "as_of", "subscriptions", "relationships", "delegations"} <= set(
        answer
    )
    assert all(set(s) >= POR_KEYS for s in answer["subscriptions"])
    assert all(
        set(r) == {"partner_id", "request_id", "reseller_id", "accepted_at"} for r in answer["relationships"]
    )
    assert [r["partner_id"] for r in answer["relationships"]] == ["fabrikam", "adatum", "northwind"]


def test_history_is_export_filtered(demo_url: str) -> None:
    exported = [orjson.loads(line) for line in run("--db", demo_url, "export").stdout.splitlines()]
    everything = run_json("--db", demo_url, "history")
    assert everything == {"events": exported}
    china = run_json("--db", demo_url, "history", "--customer", "fourthcoffee")["events"]
    assert [e["type"] for e in china] == [
        "customer.registered",
        "subscription.purchased",
        "relationship.requested",
        "relationship.accepted",
        "relationship.requested",  # 2023: Harbin on its reseller Pearl River's behalf
        "relationship.accepted",
    ]
    assert china == [e for e in exported if e["position"] in {c["position"] for c in china}]
    window = run_json(
        "--db", demo_url, "history", "--since", "2020-01-01T00:00:00Z", "--until", "2020-03-01T00:00:00Z"
    )
    assert all("2020-01-01" <= e["effective_at"][:10] <= "2020-03-01" for e in window["events"])
    known_before = run_json("--db", demo_url, "history", "--known-at", "2020-01-01T00:00:00Z")
    assert known_before == {"events": []}
    bad = run_json("--db", demo_url, "history", "--as-of", "yesterday", expect=2)["error"]
    assert bad["code"] == "bad-input" and "--as-of" in bad["message"]


def test_verify_rebuild_and_a_broken_projection(demo_url: str) -> None:
    ok = run_json("--db", demo_url, "verify")
    assert ok["verified"] > 0 and len(ok["head"]) == 64
    rawdb.execute(
        demo_url,
        "UPDATE prj_subscriptions SET partner_of_record = 'mallory' WHERE partner_of_record = 'litware'",
    )
    broken = run_json("--db", demo_url, "verify", expect=4)["error"]
    assert broken["code"] == "integrity" and broken["position"] >= 1
    plain = run("--db", demo_url, "verify")
    assert plain.returncode == 4 and b"position" in plain.stderr
    assert run_json("--db", demo_url, "rebuild") == {"rebuilt": ok["verified"]}
    assert run_json("--db", demo_url, "verify") == ok


def test_verify_catches_an_altered_event_row(demo_url: str) -> None:
    rawdb.drop_triggers(demo_url)
    rawdb.execute(demo_url, "UPDATE ledger_chain SET recorded_at = '2001-01-01T00:00:00Z' WHERE position = 7")
    broken = run_json("--db", demo_url, "verify", expect=4)["error"]
    assert broken["code"] == "integrity" and broken["position"] == 7


def test_export_and_restore_round_trip_byte_for_byte(demo_url: str, fresh_url: str, tmp_path: Path) -> None:
    backup = tmp_path / "backup.jsonl"
    assert run_json("--db", demo_url, "export", str(backup))["exported"] > 0
    restored = run_json("--db", fresh_url, "import", "--restore", str(backup))
    assert restored["restored"] == backup.read_bytes().count(b"\n")
    assert run("--db", fresh_url, "export").stdout == backup.read_bytes()
    assert run_json("--db", fresh_url, "verify")["head"] == run_json("--db", demo_url, "verify")["head"]
    again = run_json("--db", fresh_url, "import", "--restore", str(backup), expect=2)["error"]
    assert "empty ledger" in again["message"]


def test_restore_refuses_a_tampered_file_whole(demo_url: str, fresh_url: str, tmp_path: Path) -> None:
    lines = run("--db", demo_url, "export").stdout.splitlines()
    event = orjson.loads(lines[9])
    event["note"] = "inserted later"
    lines[9] = orjson.dumps(event)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"\n".join(lines) + b"\n")
    error = run_json("--db", fresh_url, "import", "--restore", str(tampered), expect=4)["error"]
    assert error["code"] == "integrity" and error["line"] == 10
    assert run("--db", fresh_url, "export").stdout == b""
