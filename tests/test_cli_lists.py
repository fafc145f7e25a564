"""Listing and looking up (issue 16, item 3): ``ledger customers``, ``partners``,
``subscriptions [--customer]`` and ``show EVENT_ID_OR_POSITION``, with ``--as-of`` and
``--known-at``, through the installed console script on both stores: on the demo ledger, and
on small hand-made ones (each answer checked against another command's, never a copy)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_cli import Cli, assert_error, assert_plain_error
from test_cli_start import WRITE_SIDE
from test_cli_start import _ledger as start_ledger
from test_cli_start import _loaded as loaded

from ledger import Event, Ledger

from adversarial_text import HOSTILE_HISTORY, SHOWN_ESCAPES, SHOWN_MARKUP, UNSAFE
from builders import customer, partner, program_changed, purchase
from clitools import ledger_command, run_json


@pytest.fixture
def demo(url: str, tmp_path: Path) -> Cli:
    """``ledger`` on a demo ledger of each store."""
    run_json("--db", url, "demo")
    work = tmp_path / "work"
    work.mkdir()
    return Cli(url, work)


def _json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "--json").no_traceback()
    assert result.code == 0, result
    return result.json()


def _before(moment: str) -> str:
    """One second before a stored (canonical) time."""
    earlier = datetime.fromisoformat(moment.replace("Z", "+00:00")) - timedelta(seconds=1)
    return earlier.isoformat().replace("+00:00", "Z")


def _record(url: str, *events: Event) -> list[str]:
    """Record each event in a transaction of its own: the ``recorded_at`` of each."""
    with Ledger(url) as opened:
        return [opened.record(e).recorded_at for e in events]


# --- the lists on the demo ---------------------------------------------------------------


def test_customers_are_listed_by_id_with_their_counts_as_of_a_time(demo: Cli) -> None:
    now = _json(demo, "customers")
    assert set(now) == {"customers", "as_of"}
    ids = [c["customer_id"] for c in now["customers"]]
    assert ids == sorted(ids) and "contoso" in ids
    for listed in now["customers"]:  # the counts are what `customer` shows of each, as of then
        one = _json(demo, "customer", listed["customer_id"], "--as-of", now["as_of"])
        live = [s for s in one["subscriptions"] if s["status"] == "active"]
        assert (listed["name"], listed["cloud"]) == (one["name"], one["cloud"])
        assert listed["live_subscriptions"] == len(live)
        assert listed["active_delegations"] == len(one["delegations"])
    contoso = next(c for c in now["customers"] if c["customer_id"] == "contoso")
    assert 0 < contoso["live_subscriptions"] < len(_json(demo, "customer", "contoso")["subscriptions"])
    # Before its registration a customer is not listed; from then on it is.
    registered = contoso["registered_at"]
    before = _json(demo, "customers", "--as-of", _before(registered))
    assert "contoso" not in [c["customer_id"] for c in before["customers"]]
    assert before["as_of"] == _before(registered)
    at = _json(demo, "customers", "--as-of", registered)
    assert "contoso" in [c["customer_id"] for c in at["customers"]]
    assert _json(demo, "customer", "contoso", "--as-of", registered)["customer_id"] == "contoso"
    # A delegation revoked or expired by then no longer counts.
    later = {c["customer_id"]: c for c in _json(demo, "customers", "--as-of", "2019-06-30")["customers"]}
    active = _json(demo, "delegations", "contoso", "--as-of", "2019-06-30")["delegations"]
    assert later["contoso"]["active_delegations"] == len(active) != contoso["active_delegations"]


def test_partners_are_listed_by_id_with_their_program_and_providers(demo: Cli) -> None:
    answer = _json(demo, "partners")
    assert set(answer) == {"partners", "as_of"}
    ids = [p["partner_id"] for p in answer["partners"]]
    assert ids == sorted(ids)
    registered = {
        e["data"]["partner_id"]: e["data"]
        for e in _json(demo, "history")["events"]
        if e["type"] == "partner.registered"
    }
    assert set(ids) == set(registered)
    for p in answer["partners"]:
        d = registered[p["partner_id"]]
        assert (p["name"], p["cloud"], p["program"]) == (d["name"], d["cloud"], d["program"])
        assert p["provider_ids"] == d.get("provider_ids", [])
    assert any(p["provider_ids"] for p in answer["partners"])  # the indirect reseller's provider
    first = min(e["effective_at"] for e in _json(demo, "history")["events"])
    assert _json(demo, "partners", "--as-of", _before(first))["partners"] == []


def test_subscriptions_are_the_objects_por_prints_cancelled_ones_too(demo: Cli) -> None:
    at = "2025-01-01T00:00:00Z"
    every = _json(demo, "subscriptions", "--as-of", at)
    assert set(every) == {"subscriptions", "customer_id", "as_of"} and every["customer_id"] is None
    ids = [s["subscription_id"] for s in every["subscriptions"]]
    assert ids == sorted(ids)
    assert {s["status"] for s in every["subscriptions"]} == {"active", "cancelled"}
    sample = {  # one of each status, and one billed by another partner (an indirect sale)
        next(s["subscription_id"] for s in every["subscriptions"] if s["status"] == "active"),
        next(s["subscription_id"] for s in every["subscriptions"] if s["status"] == "cancelled"),
        next(
            s["subscription_id"]
            for s in every["subscriptions"]
            if s["billing_partner"] not in (None, s["partner_of_record"])
        ),
    }
    by_id = {s["subscription_id"]: s for s in every["subscriptions"]}
    for sub in sample:
        assert by_id[sub] == _json(demo, "por", sub, "--as-of", at)
    contoso = _json(demo, "subscriptions", "--customer", "contoso", "--as-of", at)
    assert contoso["customer_id"] == "contoso"
    shown = _json(demo, "customer", "contoso", "--as-of", at)["subscriptions"]
    assert contoso["subscriptions"] == sorted(shown, key=lambda s: s["subscription_id"])
    assert contoso["subscriptions"] == [s for s in every["subscriptions"] if s["customer_id"] == "contoso"]
    people = demo("subscriptions", "--customer", "contoso", "--as-of", at).no_traceback()
    assert people.code == 0
    for s in contoso["subscriptions"]:
        row = next(line for line in people.stdout.splitlines() if f" {s['subscription_id']} " in line)
        assert s["status"] in row and s["offer"] in row


def test_subscriptions_of_an_unknown_customer_suggest_one(demo: Cli) -> None:
    error = assert_error(demo("subscriptions", "--customer", "contso", "--json"), "not-found", 1, "contso")
    assert "did you mean contoso" in error["message"]
    early = demo("subscriptions", "--customer", "contoso", "--as-of", "2018-12-31", "--json")
    assert_error(early, "not-found", 1, "customer contoso", "2018-12-31")


# --- the lists on hand-made ledgers ------------------------------------------------------


def test_known_at_before_a_recording_omits_what_it_recorded(url: str, tmp_path: Path) -> None:
    first, second, third = _record(
        url,
        partner("fabrikam"),
        customer("contoso"),
        purchase("sub-1", "contoso", at="2019-03-01T00:00:00Z"),
    )
    cli = Cli(url, tmp_path)

    def customers(*args: str) -> list[str]:
        return [c["customer_id"] for c in _json(cli, "customers", *args)["customers"]]

    assert customers() == ["contoso"]
    assert customers("--known-at", first) == []  # the customer was recorded after
    assert customers("--known-at", second) == ["contoso"]
    assert [p["partner_id"] for p in _json(cli, "partners", "--known-at", first)["partners"]] == ["fabrikam"]
    listed = _json(cli, "customers", "--known-at", second)["customers"][0]
    assert listed["live_subscriptions"] == 0  # the purchase was recorded later still
    assert _json(cli, "customers", "--known-at", third)["customers"][0]["live_subscriptions"] == 1
    assert _json(cli, "subscriptions", "--known-at", second)["subscriptions"] == []
    assert [s["subscription_id"] for s in _json(cli, "subscriptions")["subscriptions"]] == ["sub-1"]
    # ... and `show` does not show an event recorded after --known-at.
    assert_error(cli("show", "3", "--known-at", second, "--json"), "not-found", 1, "position 3")
    assert _json(cli, "show", "3", "--known-at", third)["position"] == 3


def test_a_partners_program_as_of_a_time(url: str, tmp_path: Path) -> None:
    _record(
        url,
        partner("adatum", program="csp-indirect-provider"),
        partner("litware", program="csp-direct"),
        program_changed("litware", "csp-indirect-reseller", "2020-01-01T00:00:00Z", providers=["adatum"]),
    )
    cli = Cli(url, tmp_path)
    then = {p["partner_id"]: p for p in _json(cli, "partners", "--as-of", "2019-12-31")["partners"]}
    now = {p["partner_id"]: p for p in _json(cli, "partners")["partners"]}
    assert (then["litware"]["program"], then["litware"]["provider_ids"]) == ("csp-direct", [])
    assert (now["litware"]["program"], now["litware"]["provider_ids"]) == (
        "csp-indirect-reseller",
        ["adatum"],
    )
    assert list(now) == ["adatum", "litware"]


def test_a_list_loads_no_write_side(url: str, tmp_path: Path) -> None:
    """Like ``por``, the lists ask the store by its URL: neither the store's write side nor
    eventsourcing is loaded, nor rich for ``--json``."""
    _record(url, partner("fabrikam"), customer("contoso"), purchase("sub-1", "contoso"))
    for args, shown in (
        (("customers",), b"contoso"),
        (("partners", "--json"), b'"fabrikam"'),
        (("subscriptions", "--customer", "contoso"), b"sub-1"),
    ):
        done, modules = start_ledger("--db", url, *args, cwd=tmp_path)
        assert done.returncode == 0 and shown in done.stdout, done
        assert loaded(modules, *WRITE_SIDE) == [], args
        assert bool(loaded(modules, "rich")) == ("--json" not in args), args


def test_an_empty_ledger_lists_nothing(url: str, tmp_path: Path) -> None:
    cli = Cli(url, tmp_path)
    for command, key in (
        ("customers", "customers"),
        ("partners", "partners"),
        ("subscriptions", "subscriptions"),
    ):
        assert _json(cli, command)[key] == []
        people = cli(command).no_traceback()
        assert people.code == 0 and "none on record" in people.stdout, people
    assert_plain_error(cli("show", "1"), 1, "position 1", "empty")
    for args in (("customers", "--as-of", "yesterday"), ("show", "1", "--known-at", "2019-13-01")):
        assert_error(cli(*args, "--json"), "bad-input", 2, args[-2])  # names the option


@pytest.fixture
def hostile(url: str) -> str:
    """A ledger whose stored names, actor ids, offer and note hold markup and terminal escapes
    (as one recorded before input refused them holds)."""
    with Ledger(url) as opened:
        opened.record_many(enumerate(HOSTILE_HISTORY, start=1))
    return url


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("customers",), b"Con" + SHOWN_MARKUP[:20]),
        (("partners",), b"Fab" + SHOWN_ESCAPES[:20]),
        (("subscriptions",), b"Off" + SHOWN_ESCAPES[:20]),
        (("show", "2"), b"Con" + SHOWN_MARKUP + SHOWN_ESCAPES),  # its sentence names the customer
        (("show", "5"), b"Off" + SHOWN_ESCAPES),  # the offer, in the sentence and the data
    ],
)
def test_hostile_names_are_shown_escaped(hostile: str, args: Sequence[str], shown: bytes) -> None:
    done = subprocess.run([*ledger_command(), "--db", hostile, *args], capture_output=True, timeout=120)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    assert not UNSAFE.search(done.stdout), done.stdout
    assert shown in done.stdout, done.stdout


# --- show ----------------------------------------------------------------------------------


def test_show_an_event_by_position_or_id_as_export_writes_it(demo: Cli) -> None:
    exported = demo.export()
    for stored in (exported[0], exported[len(exported) // 2], exported[-1]):
        by_position = demo("show", str(stored["position"]), "--json").no_traceback()
        assert by_position.code == 0 and by_position.stdout == orjson.dumps(stored).decode() + "\n"
        assert _json(demo, "show", stored["event_id"]) == stored
        assert _json(demo, "show", stored["event_id"].upper()) == stored  # an id in any case


def test_show_for_people_the_fields_sentence_position_and_hash(demo: Cli) -> None:
    exported = demo.export()
    purchase = next(e for e in exported if e["type"] == "subscription.purchased" and "term_end" in e["data"])
    text = demo("show", purchase["event_id"]).no_traceback()
    assert text.code == 0, text
    d = purchase["data"]
    sentence = text.stdout.splitlines()[0]
    assert d["offer"] in sentence and d["subscription_id"] in sentence  # what happened, in words
    for value in (
        str(purchase["position"]),
        purchase["event_id"],
        purchase["effective_at"],
        purchase["recorded_at"],
        purchase["actor"]["id"],
        purchase["hash"],
        purchase["prev_hash"],
        *d.values(),
    ):
        assert value in text.stdout, (value, text.stdout)
    noted = next(e for e in exported if e.get("note"))
    assert noted["note"][:40] in demo("show", str(noted["position"])).stdout


def test_show_a_sentence_names_what_the_event_names_only_by_id(demo: Cli) -> None:
    """An acceptance names only its invitation, a cancellation only its subscription: their
    sentences tell the customer's and the partner's names, and the offer, as they were when
    each was recorded."""
    exported = demo.export()
    partners = {p["partner_id"]: p["name"] for p in _json(demo, "partners")["partners"]}

    def first(type_: str, **data: str) -> dict[str, Any]:
        return next(e for e in exported if e["type"] == type_ and data.items() <= e["data"].items())

    def sentence(event: dict[str, Any]) -> str:
        return demo("show", str(event["position"])).stdout.splitlines()[0]

    accepted = first("relationship.accepted")
    invited = first("relationship.requested", request_id=accepted["data"]["request_id"])
    owner = _json(demo, "customer", invited["data"]["customer_id"])["name"]
    told = sentence(accepted)
    assert owner in told and partners[invited["data"]["partner_id"]] in told, told
    csp = {s["subscription_id"]: s for s in _json(demo, "subscriptions")["subscriptions"]}
    cancelled = next(
        e
        for e in exported
        if e["type"] == "subscription.cancelled" and csp[e["data"]["subscription_id"]]["partner_of_record"]
    )
    listed = csp[cancelled["data"]["subscription_id"]]
    told = sentence(cancelled)
    assert listed["offer"] in told and partners[listed["partner_of_record"]] in told, told


def test_show_an_unknown_event_is_exit_1_with_a_suggestion(demo: Cli) -> None:
    exported = demo.export()
    stored = exported[4]["event_id"]
    typo = stored[:-1] + ("0" if stored[-1] != "0" else "1")
    error = assert_error(demo("show", typo, "--json"), "not-found", 1, typo)
    assert f"did you mean {stored}" in error["message"]
    cut_short = stored[:13]
    assert stored in assert_error(demo("show", cut_short, "--json"), "not-found", 1, cut_short)["message"]
    plain = assert_plain_error(demo("show", typo), 1, typo, stored)
    assert "did you mean" in plain
    nowhere = str(uuid.UUID(int=7))
    assert_error(demo("show", nowhere, "--json"), "not-found", 1, nowhere)


def test_show_a_position_out_of_range_is_exit_1(demo: Cli) -> None:
    head = len(demo.export())
    for position in ("0", str(head + 1), "99999999999999999999"):
        error = assert_error(demo("show", position, "--json"), "not-found", 1, f"position {position}")
        assert f"1 to {head}" in error["message"]
    assert_plain_error(demo("show", str(head + 1)), 1, f"position {head + 1}")
    assert _json(demo, "show", str(head))["position"] == head


def test_show_as_of_before_the_event_is_effective(demo: Cli) -> None:
    last = demo.export()[-1]
    at = last["effective_at"]
    assert _json(demo, "show", str(last["position"]), "--as-of", at) == last
    error = assert_error(
        demo("show", str(last["position"]), "--as-of", _before(at), "--json"), "not-found", 1, at
    )
    assert "effective at" in error["message"]
