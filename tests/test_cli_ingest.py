"""``ledger ingest`` end to end: the installed console script on both stores (``Cli`` of
``test_cli``), with saved pages in the shapes of ``spec/sources.md`` (Graph's
``delegatedAdminRelationship`` page, Partner Center's customer page): the contract's JSON
answer and exit codes, the report for people (escaped), ``--dry-run``, standard input, and a
file that is not such a source refused whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import Cli, assert_error, assert_plain_error

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
CONTOSO = "0c39d6d5-c70d-4c55-bc02-f620844f3fd1"
WINGTIP = "6b2f1d0e-5a4c-4e3b-9a8d-2c1f0e9d8b7a"


def customers_page(*items: dict[str, Any]) -> str:
    """``GET /v1/customers``: a page of Customer resources."""
    return json.dumps(
        {"totalCount": len(items), "items": list(items), "attributes": {"objectType": "Collection"}}
    )


def customer(tenant: str, name: str, relationship: str = "reseller") -> dict[str, Any]:
    return {
        "id": tenant,
        "companyProfile": {"tenantId": tenant, "companyName": name, "domain": f"{name.lower()}.example"},
        "relationshipToPartner": relationship,
        "allowDelegatedAccess": True,
        "attributes": {"objectType": "Customer"},
    }


def gdap_page(*relationships: dict[str, Any]) -> str:
    """``GET /tenantRelationships/delegatedAdminRelationships``: one Graph page."""
    return json.dumps(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships",
            "value": list(relationships),
        }
    )


def relationship(rid: str, tenant: str, activated: str = "2024-02-01T12:00:00Z") -> dict[str, Any]:
    return {
        "id": rid,
        "displayName": f"Support for {tenant[:8]}",
        "duration": "P730D",
        "customer": {"tenantId": tenant, "displayName": "Customer"},
        "accessDetails": {"unifiedRoles": [{"roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8"}]},
        "status": "active",
        "autoExtendDuration": "PT0S",
        "createdDateTime": "2024-01-30T08:00:00Z",
        "lastModifiedDateTime": activated,
        "activatedDateTime": activated,
        "endDateTime": "2026-02-01T12:00:00Z",
    }


@pytest.fixture
def cli(url: str, tmp_path: Path) -> Cli:
    return Cli(url, tmp_path)


def write(work: Path, name: str, text: str) -> str:
    (work / name).write_text(text)
    return name


def test_ingest_answers_the_contract_and_is_idempotent(cli: Cli) -> None:
    names = write(
        cli.cwd, "customers.json", customers_page(customer(CONTOSO, "Contoso"), customer(WINGTIP, "Wingtip"))
    )
    gdap = write(
        cli.cwd, "gdap.json", gdap_page(relationship("rel-1", CONTOSO), relationship("rel-2", WINGTIP))
    )
    first = cli("ingest", "pc-customers", names, "--partner", "fabrikam", "--json").no_traceback()
    assert first.code == 0, first
    answer = first.json()
    assert {"recorded", "already_recorded", "skipped"} <= set(answer)
    assert answer["skipped"] == [] and answer["already_recorded"] == 0
    events = cli.export()
    assert answer["recorded"] == len(events) == len(answer["events"])
    assert [e["position"] for e in answer["events"]] == [e["position"] for e in events]
    assert events[0]["type"] == "partner.registered" and events[0]["data"]["partner_id"] == "fabrikam"
    assert sum(e["type"] == "customer.registered" for e in events) == 2
    assert any(v.startswith("effective_at") for i in answer["inferred"] for v in i["values"])

    again = cli("ingest", "pc-customers", names, "--partner", "fabrikam", "--json").no_traceback()
    assert again.code == 0, again
    assert (again.json()["recorded"], again.json()["already_recorded"]) == (0, answer["recorded"] - 1)
    assert cli.export() == events

    # Graph's GDAP relationships, standard input among the files.
    text = (cli.cwd / gdap).read_text()
    both = cli("ingest", "graph-gdap", "-", "--partner", "fabrikam", "--json", stdin=text).no_traceback()
    assert both.code == 0, both
    types = [e["type"] for e in cli.export()[len(events) :]]
    assert types == [
        "delegation.requested",
        "delegation.requested",
        "delegation.granted",
        "delegation.granted",
    ]
    delegations = cli("delegations", CONTOSO, "--as-of", "2024-06-01", "--json").json()
    assert [d["delegation_id"] for d in delegations["delegations"]] == ["rel-1"]


def test_dry_run_stores_nothing_and_answers_as_the_real_run(cli: Cli) -> None:
    names = write(cli.cwd, "customers.json", customers_page(customer(CONTOSO, "Contoso")))
    cli("ingest", "pc-customers", names, "--partner", "fabrikam", "--cloud", "us-gov")
    gdap = write(
        cli.cwd, "gdap.json", gdap_page(relationship("rel-1", CONTOSO), relationship("rel-2", WINGTIP))
    )
    before = cli.export()
    # Northwind, in the commercial cloud, and a customer of the us-gov cloud: same-cloud refuses.
    args = ("ingest", "graph-gdap", gdap, "--partner", "northwind", "--json")
    dry = cli(*args, "--dry-run").no_traceback()
    assert dry.code == 3, dry
    assert cli.export() == before
    real = cli(*args).no_traceback()
    assert real.code == 3, real
    assert {**dry.json(), "dry_run": False} == real.json()
    skipped = real.json()["skipped"]
    # The request refused, its grant then names an unknown request.
    refused = [(s["source_id"], s["type"], s["rule"]) for s in skipped if s["rule"]]
    assert refused == [
        ("rel-1", "delegation.requested", "same-cloud"),
        ("rel-1", "delegation.granted", "known-references"),
    ]
    assert all(
        s["reason"].startswith(f"{s['rule']} (edition {s['edition']}): ") for s in skipped if s["rule"]
    )
    assert len(cli.export()) == len(before) + real.json()["recorded"] > len(before)

    plain = cli("ingest", "graph-gdap", gdap, "--partner", "northwind", "--dry-run").no_traceback()
    assert plain.code == 3, plain
    assert "dry run: nothing was stored" in plain.stdout
    assert "rel-1" in plain.stdout and "same-cloud (edition seeds)" in plain.stdout


def test_a_file_that_is_not_such_a_source_stores_nothing_of_the_run(cli: Cli) -> None:
    good = write(cli.cwd, "customers.json", customers_page(customer(CONTOSO, "Contoso")))
    gdap = write(cli.cwd, "gdap.json", gdap_page(relationship("rel-1", CONTOSO)))
    wrong = cli("ingest", "pc-customers", good, gdap, "--partner", "fabrikam", "--json")
    error = assert_error(wrong, "bad-input", 2)
    assert "gdap.json" in error["message"], error
    assert cli.export() == []
    plain = cli("ingest", "pc-customers", good, "missing.json", "--partner", "fabrikam")
    assert_plain_error(plain, 2, "missing.json")
    assert_error(
        cli("ingest", "pc-nothing", good, "--partner", "fabrikam", "--json"), "bad-input", 2, "SOURCE"
    )
    assert_error(
        cli("ingest", "pc-customers", good, "--partner", "fabrikam", "--cloud", "mars", "--json"),
        "bad-input",
        2,
        "--cloud",
    )
    assert_error(cli("ingest", "pc-customers", good, "--json"), "bad-input", 2, "--partner")
    assert cli.export() == []


def test_the_report_for_people_escapes_what_the_files_say(cli: Cli) -> None:
    evil = customer(CONTOSO, "Contoso", relationship="advisor\x1b[2J")
    many = [customer(f"tenant-{n:02d}", f"Customer {n}") for n in range(25)]
    names = write(cli.cwd, "customers.json", customers_page(evil, customer(WINGTIP, "Wingtip"), *many))
    dry = cli("ingest", "pc-customers", names, "--partner", "fabrikam", "--dry-run", "--json").json()
    inferred = len(dry["inferred"])
    assert inferred > 20
    result = cli("ingest", "pc-customers", names, "--partner", "fabrikam").no_traceback()
    assert result.code == 0, result
    assert "\x1b" not in result.stdout
    assert "advisor\\x1b[2J" in result.stdout
    for words in (
        "recorded: ",
        "already recorded: 0",
        "skipped: 1",
        "customer.registered",
        f"Inferred or defaulted, not read ({inferred} events):",
        f"and {inferred - 20} more (--json lists every one",
    ):
        assert words in result.stdout, result


FIXTURES = Path(__file__).parent / "fixtures" / "sources"
WORLD_PARTNER = "3b33e682-00c3-41ee-9dd2-a548adf56438"
# (source, exit code, rules refused) in the order the fixtures' README gives.
WORLD_RUNS = (
    ("pc-resellers", 0, set()),
    ("pc-customers", 0, set()),
    ("pc-subscriptions", 0, set()),
    ("pc-audit", 3, {"azure-switch-between-csp-partners"}),
    ("graph-gdap", 0, set()),
    ("pc-transfers", 3, {"azure-switch-between-csp-partners"}),
)


def test_every_source_of_the_fixtures_world_from_the_command_line(cli: Cli) -> None:
    world = ("--partner", WORLD_PARTNER, "--program", "csp-indirect-provider", "--json")
    for source, code, rules in WORLD_RUNS:
        page = str(FIXTURES / f"{source}.page.json")
        done = cli("ingest", source, page, *world).no_traceback()
        assert done.code == code, done
        answer = done.json()
        assert {s["rule"] for s in answer["skipped"] if s["rule"]} == rules, answer
        assert answer["records"] > 0 and all(s["reason"] for s in answer["skipped"]), answer
        assert all(s["source"] == source and s["file"] == page for s in answer["skipped"] if s["file"]), (
            answer
        )
    events = cli.export()
    # Again, the JSON Lines form of every source: nothing new.
    for source, code, _ in WORLD_RUNS:
        done = cli("ingest", source, str(FIXTURES / f"{source}.jsonl"), *world).no_traceback()
        assert done.code == code and done.json()["recorded"] == 0, done
    assert cli.export() == events
    por = cli("por", "a7c1e9b3-5d2f-4a8e-b6c4-3e1f9d7b5a20", "--json").json()
    assert (por["partner_of_record"], por["billing_partner"]) == (
        "5d8a1b6f-2c4e-4f9a-8b3d-7e6f5a4c3b2a",
        WORLD_PARTNER,
    )
    held = cli(
        "delegations", "8f4e2a1c-7b3d-4c5e-9f6a-1d2e3f4a5b6c", "--as-of", "2024-03-01", "--json"
    ).json()
    assert [d["kind"] for d in held["delegations"]] == ["gdap"]
