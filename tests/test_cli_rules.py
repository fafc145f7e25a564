"""``ledger rules`` (every rule with its editions, for people and as JSON) and the editions'
refusals at the command line: exit 3 naming the rule and the edition, unknown roles exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import Cli, actor_options, assert_error, assert_plain_error, cli  # noqa: F401 (fixture)

from ledger import RULEBOOK

from clitools import run, run_json

CLOUDS = ["commercial", "us-gov", "germany", "china"]


def test_rules_json_lists_every_rule_with_its_editions_in_the_rulebooks_order() -> None:
    answer = run_json("rules")
    assert [r["id"] for r in answer["rules"]] == [r.id for r in RULEBOOK]
    by_id = {r["id"]: r for r in answer["rules"]}
    for rule in answer["rules"]:
        assert set(rule) == {"id", "summary", "editions"} and rule["summary"]
        for edition in rule["editions"]:
            assert set(edition) == {"name", "since", "until", "clouds", "says", "source"}
            assert edition["says"] and edition["source"] and edition["clouds"]
    assert by_id["license-switch-needs-term-end"]["editions"] == [
        {
            **by_id["license-switch-needs-term-end"]["editions"][0],
            "since": None,
            "until": None,
            "clouds": ["china"],
        },
        {
            **by_id["license-switch-needs-term-end"]["editions"][1],
            "name": "seeds",
            "since": None,
            "until": "2020-03-20",
            "clouds": ["commercial", "us-gov", "germany"],
        },
        {
            **by_id["license-switch-needs-term-end"]["editions"][2],
            "name": "2020-03-20",
            "since": "2020-03-20",
            "until": None,
            "clouds": ["commercial", "us-gov", "germany"],
        },
    ]
    [closed] = by_id["cloud-closed"]["editions"]
    assert (closed["name"], closed["since"], closed["until"], closed["clouds"]) == (
        "2021-10-29",
        "2021-10-29",
        None,
        ["germany"],
    )
    [retired] = by_id["dap-retired"]["editions"]
    assert (retired["since"], retired["clouds"]) == ("2023-10-09", CLOUDS)
    reseller = by_id["indirect-reseller-cannot-invite"]["editions"]
    assert [(e["name"], e["since"], e["until"]) for e in reseller] == [
        ("seeds", None, None),
        ("seeds", None, "2021-01-27"),
        ("2021-01-27", "2021-01-27", None),
    ]
    assert [e["name"] for e in by_id["eligible-role"]["editions"]] == ["roles vocabulary"]


def test_rules_for_people_is_a_table_of_every_edition() -> None:
    done = run("rules", columns=200)  # wide enough for a table (narrower, one block per edition)
    assert done.returncode == 0 and done.stderr == b""
    text = done.stdout.decode()
    assert text.startswith("The rulebook")
    for rule in RULEBOOK:
        assert rule.id in text
    for cell in (
        "before 2020-03-20",
        "from 2020-03-20",
        "from 2021-01-27",
        "before 2021-01-27",
        "from 2021-10-29",
    ):
        assert cell in text
    assert "commercial, us-gov, germany" in text and "│ germany " in text
    assert f"{len(RULEBOOK)} rules." in text


def test_rules_takes_no_store(tmp_path: Path) -> None:
    done = run("--db", f"sqlite:///{tmp_path}/none/ledger.db", "rules", "--json", cwd=tmp_path)
    assert done.returncode == 0
    assert not (tmp_path / "none").exists()


def _purchase_by(role: str) -> tuple[str, ...]:
    return (
        "record",
        "subscription.purchased",
        "--effective-at",
        "2024-06-01T00:00:00Z",
        *actor_options(role, "fabrikam"),
        "--subscription-id",
        "sub-9",
        "--customer-id",
        "contoso",
        "--offer",
        "Azure plan",
        "--service",
        "usage",
        "--channel",
        "csp",
        "--seller-id",
        "fabrikam",
    )


def _world(cli: Cli) -> None:  # noqa: F811
    for args in (
        (
            "partner.registered",
            "--partner-id",
            "fabrikam",
            "--name",
            "Fabrikam",
            "--cloud",
            "commercial",
            "--program",
            "csp-direct",
            *actor_options("global-admin", "fabrikam"),
        ),
        (
            "customer.registered",
            "--customer-id",
            "contoso",
            "--name",
            "Contoso",
            "--cloud",
            "commercial",
            *actor_options("global-admin", "fabrikam"),
        ),
    ):
        result = cli("record", *args, "--effective-at", "2019-01-01T00:00:00Z")
        assert result.code == 0, result


def test_a_helpdesk_agent_trying_to_buy_is_refused_by_eligible_role(cli: Cli) -> None:  # noqa: F811
    _world(cli)
    error = assert_error(
        cli(*_purchase_by("helpdesk-agent"), "--json"),
        "rule-violation",
        3,
        "helpdesk-agent",
        rule="eligible-role",
    )
    assert error["edition"] == "roles vocabulary"
    text = assert_plain_error(cli(*_purchase_by("helpdesk-agent")), 3)
    assert text.startswith(
        "error: eligible-role (edition roles vocabulary): role helpdesk-agent may not record"
    )
    assert len(cli.export()) == 2  # nothing of it stored


def test_an_unknown_role_is_bad_input(cli: Cli) -> None:  # noqa: F811
    _world(cli)
    assert_error(cli(*_purchase_by("helpdesk"), "--json"), "bad-input", 2, "--actor-role")  # as typed


@pytest.mark.parametrize("event_type", ["delegation.revoked", "delegation.granted"])
def test_record_help_lists_the_roles_that_may_record_the_type(event_type: str) -> None:
    done = run("record", event_type, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.decode().replace("│", " ").split())
    if event_type == "delegation.revoked":
        assert "microsoft (a dap only)" in text
    else:
        assert "customer-delegated-admin-relationship-admin (a gdap only)" in text
    assert "refused by the rule eligible-role" in text
