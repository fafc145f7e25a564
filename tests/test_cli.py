"""The ``ledger`` command end to end: the installed console script, run as a subprocess, on
SQLite and on PostgreSQL (the ``url`` fixture), checked against the contract's answers.

Each subprocess costs about half a second, so each test is one scenario with its
assertions grouped, and calls that do not depend on each other run in parallel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main

from cli.app import app
from ledger import EVENT_TYPES

from builders import raw

LEDGER = shutil.which("ledger") or str(Path(sys.executable).parent / "ledger")
HEX64 = re.compile(r"[0-9a-f]{64}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")
GENESIS = "0" * 64
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/x"
CHAIN_KEYS = {"position", "recorded_at", "prev_hash", "hash"}
RECEIPT_KEYS = {"event_id", "position", "recorded_at", "hash", "duplicate"}


def eid(n: int) -> str:
    return str(uuid.UUID(int=n))


def with_id(event: dict[str, Any], n: int) -> dict[str, Any]:
    return {"event_id": eid(n), **event}


PARTNER = raw(
    "partner.registered",
    "2019-01-01T00:00:00Z",
    "global-admin",
    "fabrikam",
    partner_id="fabrikam",
    name="Fabrikam",
    cloud="commercial",
    program="csp-direct",
)
CUSTOMER = raw(
    "customer.registered",
    "2019-01-01T00:00:00Z",
    "global-admin",
    "contoso",
    customer_id="contoso",
    name="Contoso",
    cloud="commercial",
)
REQUEST = raw(
    "relationship.requested",
    "2019-02-01T00:00:00Z",
    "sales-agent",
    "fabrikam",
    request_id="r-1",
    partner_id="fabrikam",
    customer_id="contoso",
)
ACCEPT = raw(
    "relationship.accepted", "2019-02-02T00:00:00Z", "customer-global-admin", "contoso", request_id="r-1"
)
PURCHASE = raw(
    "subscription.purchased",
    "2019-03-01T09:00:00Z",
    "sales-agent",
    "fabrikam",
    note="order 4711",
    subscription_id="sub-1",
    customer_id="contoso",
    offer="Office 365 E3",
    service="license",
    channel="csp",
    seller_id="fabrikam",
    term_end="2020-03-01T00:00:00Z",
)
GRANT = raw(
    "delegation.granted",
    "2019-05-01T00:00:00Z",
    "customer-global-admin",
    "contoso",
    delegation_id="d-1",
    customer_id="contoso",
    partner_id="fabrikam",
    kind="dap",
    roles=["admin-agent"],
)
# The same request, by a role that may not record it: rule eligible-role.
BAD_ROLE_REQUEST = {**REQUEST, "actor": {**REQUEST["actor"], "role": "customer-global-admin"}}

STORY = [PARTNER, CUSTOMER, REQUEST, ACCEPT, PURCHASE]


def jsonl(events: Sequence[dict[str, Any] | str]) -> str:
    return "".join((e if isinstance(e, str) else orjson.dumps(e).decode()) + "\n" for e in events)


def js(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode()


# --- running the command -------------------------------------------------------------------


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.stdout.count("\n") == 1, self
        return orjson.loads(self.stdout)

    def lines(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.stdout.splitlines()]

    def no_traceback(self) -> Result:
        for text in (self.stdout, self.stderr):
            assert "Traceback" not in text, self
            assert 'File "' not in text, self
        return self


def _env(env_db: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    env["COLUMNS"] = "200"  # help tables wide enough that no option name is cut
    for name in ("LEDGER_ACTOR_ID", "LEDGER_ACTOR_ROLE", "LEDGER_ACTOR_TENANT_ID"):
        env.pop(name, None)  # no default actor but what a test gives
    env["XDG_CONFIG_HOME"] = "/nonexistent/ledger-tests-config"  # nor the user's ledger.toml
    if env_db is not None:
        env["LEDGER_DB"] = env_db
    return env


@dataclass
class Call:
    args: tuple[str, ...]
    stdin: str | None = None
    db: str | None = None  # instead of the Cli's store


class Cli:
    """``ledger`` on one store, run in a scratch working directory."""

    def __init__(self, db: str | None, cwd: Path, env_db: str | None = None) -> None:
        self.db, self.cwd, self.env_db = db, cwd, env_db

    def argv(self, call: Call) -> list[str]:
        db = call.db or self.db
        return [LEDGER, *(["--db", db] if db else []), *call.args]

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        return self.many(Call(args, stdin))[0]

    def many(self, *calls: Call) -> list[Result]:
        """Run independent calls in parallel."""
        procs = [
            subprocess.Popen(
                self.argv(c),
                cwd=self.cwd,
                env=_env(self.env_db),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            for c in calls
        ]
        results = []
        for call, proc in zip(calls, procs, strict=True):
            stdout, stderr = proc.communicate(call.stdin or "", timeout=120)
            results.append(Result(call.args, proc.returncode, stdout, stderr))
        return results

    def export(self) -> list[dict[str, Any]]:
        result = self("export").no_traceback()
        assert result.code == 0, result
        assert result.stderr == "", result
        return result.lines()


@pytest.fixture
def cli(url: str, tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir()
    return Cli(url, work)


def assert_error(
    result: Result,
    code: str,
    exit_code: int,
    *names: str,
    rule: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    """A ``--json`` error answer, as the contract spells it."""
    result.no_traceback()
    assert result.code == exit_code, result
    body = result.json()
    assert set(body) == {"error"}, result
    error = body["error"]
    expected_keys = {"code", "message"} | ({"rule"} if rule else set()) | ({"line"} if line else set())
    assert set(error) - {"edition", "fields"} == expected_keys, result
    if "fields" in error:  # bad input: every field at fault, each named in the message too
        assert code == "bad-input" and error["fields"], result
        assert all(isinstance(f, str) and f in error["message"] for f in error["fields"]), result
    if rule:  # the edition of the rule that refused it, named in the message too
        assert error["message"].startswith(f"{rule} (edition {error['edition']})"), result
    assert error["code"] == code, result
    assert isinstance(error["message"], str) and error["message"], result
    assert error.get("rule") == rule, result
    assert error.get("line") == line, result
    for name in names:
        assert name in error["message"], result
    return error


def assert_plain_error(result: Result, exit_code: int, *names: str) -> str:
    """Without ``--json``: one plain sentence on standard error, nothing on standard output."""
    result.no_traceback()
    assert result.code == exit_code, result
    assert result.stdout == "", result
    text = result.stderr.strip()
    assert text and "\n" not in text, result
    assert not text.startswith("{"), result
    for name in names:
        assert name in text, result
    return text


def assert_receipt(result: Result, position: int, *, duplicate: bool = False) -> dict[str, Any]:
    result.no_traceback()
    assert result.code == 0, result
    receipt = result.json()
    assert set(receipt) == RECEIPT_KEYS, result
    assert receipt["position"] == position, result
    assert receipt["duplicate"] is duplicate, result
    assert str(uuid.UUID(receipt["event_id"])) == receipt["event_id"]
    assert HEX64.fullmatch(receipt["hash"]), result
    assert TIME.fullmatch(receipt["recorded_at"]), result
    return receipt


def with_json(args: tuple[str, ...]) -> tuple[str, ...]:
    return args if "--json" in args else (*args, "--json")


def actor_options(role: str, tenant: str) -> list[str]:
    return ["--actor-id", f"ops@{tenant}.example", "--actor-role", role, "--actor-tenant-id", tenant]


# --- record --------------------------------------------------------------------------------


def test_record_as_json_from_stdin_and_as_typed_options(cli: Cli) -> None:
    receipts = [assert_receipt(cli("record", "--event", js(PARTNER), "--json"), 1)]

    plain = cli("record", "--event", "-", stdin=js(CUSTOMER)).no_traceback()
    assert plain.code == 0, plain
    assert "position 2" in plain.stdout and "customer.registered" in plain.stdout

    typed = [
        [
            "relationship.requested",
            "--effective-at",
            "2019-02-01T00:00:00Z",
            *actor_options("sales-agent", "fabrikam"),
            "--request-id",
            "r-1",
            "--partner-id",
            "fabrikam",
            "--customer-id",
            "contoso",
        ],
        [
            "relationship.accepted",
            "--effective-at",
            "2019-02-02T00:00:00Z",
            *actor_options("customer-global-admin", "contoso"),
            "--request-id",
            "r-1",
        ],
        [
            "subscription.purchased",
            "--effective-at",
            "2019-03-01T10:00:00+01:00",
            *actor_options("sales-agent", "fabrikam"),
            "--subscription-id",
            "sub-1",
            "--customer-id",
            "contoso",
            "--offer",
            "Office 365 E3",
            "--service",
            "license",
            "--channel",
            "csp",
            "--seller-id",
            "fabrikam",
            "--term-end",
            "2020-03-01T01:00:00+01:00",
            "--note",
            "order 4711",
            "--event-id",
            eid(5),
        ],
        [
            "delegation.requested",
            "--effective-at",
            "2019-04-20T00:00:00Z",
            *actor_options("admin-agent", "fabrikam"),
            "--delegation-id",
            "d-1",
            "--customer-id",
            "contoso",
            "--partner-id",
            "fabrikam",
            "--roles",
            "admin-agent",
            "--roles",
            "helpdesk-agent",
            "--duration",
            "P23M",
            "--auto-extend",
            "P180D",
            "--name",
            "Fabrikam support",
        ],
        [
            "delegation.granted",
            "--effective-at",
            "2019-05-01T00:00:00Z",
            *actor_options("customer-global-admin", "contoso"),
            "--delegation-id",
            "d-1",
            "--customer-id",
            "contoso",
            "--partner-id",
            "fabrikam",
            "--kind",
            "gdap",
            "--roles",
            "admin-agent",
            "--roles",
            "helpdesk-agent",
            "--expires-at",
            "2021-04-01T00:00:00Z",
        ],
    ]
    for position, args in enumerate(typed, start=3):
        receipts.append(assert_receipt(cli("record", *args, "--json"), position))
    assert receipts[3]["event_id"] == eid(5)

    events = cli.export()
    assert [e["position"] for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [e["type"] for e in events] == [
        "partner.registered",
        "customer.registered",
        "relationship.requested",
        "relationship.accepted",
        "subscription.purchased",
        "delegation.requested",
        "delegation.granted",
    ]
    assert {k: v for k, v in events[0].items() if k not in CHAIN_KEYS | {"event_id"}} == PARTNER
    assert {k: v for k, v in events[1].items() if k not in CHAIN_KEYS | {"event_id"}} == CUSTOMER
    for receipt, event in zip(receipts, [events[0], *events[2:]], strict=True):
        assert {k: event[k] for k in ("event_id", "position", "recorded_at", "hash")} == {
            k: receipt[k] for k in ("event_id", "position", "recorded_at", "hash")
        }
    purchase = {k: v for k, v in events[4].items() if k not in CHAIN_KEYS}
    assert purchase == {
        **with_id(PURCHASE, 5),
        "actor": {"id": "ops@fabrikam.example", "role": "sales-agent", "tenant_id": "fabrikam"},
        "data": {**PURCHASE["data"], "term_end": "2020-03-01T00:00:00Z"},
    }
    assert events[5]["data"] == {
        "delegation_id": "d-1",
        "customer_id": "contoso",
        "partner_id": "fabrikam",
        "roles": ["admin-agent", "helpdesk-agent"],
        "duration": "P23M",
        "auto_extend": "P180D",
        "name": "Fabrikam support",
    }
    assert events[6]["data"] == {
        "delegation_id": "d-1",
        "customer_id": "contoso",
        "partner_id": "fabrikam",
        "kind": "gdap",
        "roles": ["admin-agent", "helpdesk-agent"],
        "expires_at": "2021-04-01T00:00:00Z",
    }
    assert "note" not in events[6]


def test_the_store_from_the_ledger_db_environment_variable(url: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    by_env = Cli(None, work, env_db=url)
    assert_receipt(by_env("record", "--event", js(PARTNER), "--json"), 1)
    # --db wins over LEDGER_DB.
    missing = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"
    by_option = Cli(url, work, env_db=missing)
    assert [e["type"] for e in by_option.export()] == ["partner.registered"]
    assert not (work / "ledger.db").exists()  # not the default store in the working directory
    assert not (tmp_path / "missing").exists()


def test_recording_an_event_id_again(cli: Cli) -> None:
    event = with_id(CUSTOMER, 1)
    first = assert_receipt(cli("record", "--event", js(event), "--json"), 1)
    assert first["event_id"] == eid(1)

    # The same content, spelled differently (offset, key order, upper-case id): a no-op.
    respelled = {
        "data": event["data"],
        "actor": event["actor"],
        "effective_at": "2019-01-01T01:00:00+01:00",
        "type": event["type"],
        "event_id": eid(1).upper(),
    }
    again = assert_receipt(cli("record", "--event", "-", "--json", stdin=js(respelled)), 1, duplicate=True)
    assert again == {**first, "duplicate": True}

    plain = cli("record", "--event", js(event)).no_traceback()
    assert plain.code == 0, plain
    assert "position 1" in plain.stdout and "Already stored" in plain.stdout

    changed = {**event, "data": {**event["data"], "name": "Contoso Ltd"}}
    assert_error(cli("record", "--event", js(changed), "--json"), "bad-input", 2, "event_id", eid(1))
    typed = cli(
        "record",
        "customer.registered",
        "--effective-at",
        "2019-01-01T00:00:00Z",
        *actor_options("global-admin", "contoso"),
        "--customer-id",
        "contoso",
        "--name",
        "Contoso",
        "--cloud",
        "commercial",
        "--event-id",
        eid(1),
        "--note",
        "changed",
    )
    assert_plain_error(typed, 2, "event_id")

    events = cli.export()
    assert len(events) == 1
    assert events[0]["data"]["name"] == "Contoso" and "note" not in events[0]


def test_bad_input_is_named_and_stores_nothing(cli: Cli) -> None:
    missing_name = {**CUSTOMER, "data": {"customer_id": "contoso", "cloud": "commercial"}}
    cases = [
        (("record", "--event", js(missing_name)), None, "data.name"),
        (("record", "--event", "-"), '{"type": "customer.registered",', "not valid JSON"),
        (
            (
                "record",
                "delegation.granted",
                "--effective-at",
                "2019-05-01T00:00:00Z",
                *actor_options("customer-global-admin", "contoso"),
                "--delegation-id",
                "d-1",
                "--customer-id",
                "contoso",
                "--partner-id",
                "fabrikam",
                "--kind",
                "lighthouse",
                "--roles",
                "admin-agent",
            ),
            None,
            "--kind",  # as typed: the option's name
        ),
    ]
    results = cli.many(*(Call((*args, "--json"), stdin) for args, stdin, _ in cases))
    for result, (_, _, name) in zip(results, cases, strict=True):
        assert_error(result, "bad-input", 2, name)
    assert_plain_error(cli("record", "--event", js(missing_name)), 2, "data.name")
    # Nothing stored; an empty ledger exports to an empty file.
    exported = cli("export", "empty.jsonl", "--json").no_traceback()
    assert exported.code == 0, exported
    assert exported.json()["exported"] == 0
    assert (cli.cwd / "empty.jsonl").read_text() == ""


def test_more_bad_input_at_the_command_line(tmp_path: Path) -> None:
    """Bad input that never reaches a store (one store suffices), and bad options."""
    cli = Cli(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    purchase_options = [
        "--effective-at",
        "2019-03-01T09:00:00Z",
        *actor_options("sales-agent", "fabrikam"),
        "--subscription-id",
        "sub-1",
        "--offer",
        "Office 365 E3",
        "--service",
        "license",
        "--channel",
        "csp",
        "--seller-id",
        "fabrikam",
        "--term-end",
        "2020-03-01T00:00:00Z",
    ]
    cases = [
        (("record",), None, "event"),
        (("record", "--event", js(CUSTOMER), "--json", "customer.registered"), None, "event"),
        (("record", "--event", "-"), "", "not valid JSON"),
        (
            ("record", "--event", js({**PURCHASE, "effective_at": "0001-01-01T00:30:00+01:00"})),
            None,
            "effective_at",
        ),
        (
            ("record", "--event", js({**CUSTOMER, "effective_at": "2019-01-01T00:00:00"})),
            None,
            "effective_at",
        ),
        (("record", "--event", js({**CUSTOMER, "colour": "blue"})), None, "colour"),
        (
            ("record", "--event", js({**CUSTOMER, "actor": {**CUSTOMER["actor"], "role": "owner"}})),
            None,
            "actor.role",
        ),
        (
            (
                "record",
                "--event",
                js({**PURCHASE, "data": {**PURCHASE["data"], "channel": "csp", "seller_id": None}}),
            ),
            None,
            "data.seller_id",
        ),
        (("record", "subscription.purchased", *purchase_options), None, "--customer-id"),
        (
            (
                "record",
                "subscription.purchased",
                *purchase_options,
                "--customer-id",
                "contoso",
                "--event-id",
                "42",
            ),
            None,
            "--event-id",
        ),
        (
            (
                "record",
                "relationship.accepted",
                *actor_options("customer-global-admin", "contoso"),
                "--request-id",
                "r-1",
            ),
            None,
            "--effective-at",
        ),
        (
            (
                "record",
                "relationship.accepted",
                "--effective-at",
                "2019-02-02T00:00:00Z",
                "--request-id",
                "r-1",
            ),
            None,
            "--actor-id",
        ),
        (
            (
                "record",
                "delegation.granted",
                "--effective-at",
                "2019-05-01T00:00:00Z",
                *actor_options("customer-global-admin", "contoso"),
                "--delegation-id",
                "d-1",
                "--customer-id",
                "contoso",
                "--partner-id",
                "fabrikam",
                "--kind",
                "dap",
            ),
            None,
            "--roles",
        ),
        (("import", str(tmp_path / "no-such-file.jsonl")), None, "file"),
        (("export", str(tmp_path / "no-such-folder" / "out.jsonl")), None, "file"),
    ]
    results = cli.many(*(Call(with_json(args), stdin) for args, stdin, _ in cases))
    for result, (_, _, name) in zip(results, cases, strict=True):
        assert_error(result, "bad-input", 2, name)

    # Bad options and commands: the parser's usage error, exit 2, no traceback.
    usage = cli.many(
        Call(("record", "customer.registered", "--partner-id", "fabrikam", "--json")),
        Call(("no-such-command",)),
    )
    for result in usage:
        result.no_traceback()
        assert result.code == 2, result
    assert cli.export() == []


def test_a_rule_violation_names_the_rule_and_stores_nothing(cli: Cli) -> None:
    bad_role = {**PARTNER, "actor": {**PARTNER["actor"], "role": "sales-agent"}}
    unknown_customer = {**PURCHASE, "data": {**PURCHASE["data"], "customer_id": "nobody"}}
    as_json, plain, unknown = cli.many(
        Call(("record", "--event", js(bad_role), "--json")),
        Call(("record", "--event", js(bad_role))),
        Call(("record", "--event", js(unknown_customer), "--json")),
    )
    assert_error(as_json, "rule-violation", 3, "sales-agent", rule="eligible-role")
    assert_plain_error(plain, 3, "eligible-role")
    assert_error(unknown, "rule-violation", 3, "nobody", rule="known-references")
    assert cli.export() == []


# --- import --------------------------------------------------------------------------------


def test_import_is_all_or_nothing_and_idempotent(cli: Cli) -> None:
    work = cli.cwd
    story = [with_id(e, n) for n, e in enumerate(STORY, start=1)]
    (work / "story.jsonl").write_text(jsonl(story))
    (work / "rule3.jsonl").write_text(jsonl([PARTNER, CUSTOMER, BAD_ROLE_REQUEST, ACCEPT]))
    (work / "json3.jsonl").write_text(jsonl([PARTNER, CUSTOMER, '{"type": "relationship.requested"', ACCEPT]))
    (work / "field3.jsonl").write_text(
        jsonl([PARTNER, CUSTOMER, {**REQUEST, "data": {**REQUEST["data"], "colour": "blue"}}])
    )

    rule3, json3, rule3_plain, field3_plain = cli.many(
        Call(("import", "rule3.jsonl", "--json")),
        Call(("import", "json3.jsonl", "--json")),
        Call(("import", "rule3.jsonl")),
        Call(("import", "field3.jsonl")),
    )
    assert_error(rule3, "rule-violation", 3, rule="eligible-role", line=3)
    assert_error(json3, "bad-input", 2, "not valid JSON", line=3)
    assert_plain_error(rule3_plain, 3, "line 3", "eligible-role")
    assert_plain_error(field3_plain, 2, "line 3", "data.colour")
    assert cli.export() == []

    first = cli("import", "story.jsonl", "--json").no_traceback()
    assert first.code == 0, first
    assert first.json() == {
        "imported": 5,
        "duplicates": 0,
        "first_position": 1,
        "last_position": 5,
        "head": 5,
    }
    again = cli("import", "story.jsonl", "--json").no_traceback()
    assert again.code == 0, again
    assert again.json() == {
        "imported": 0,
        "duplicates": 5,
        "first_position": None,
        "last_position": None,
        "head": 5,
    }

    # A stored event_id with different content, on line 3: refused whole, naming the line.
    changed = {**story[0], "data": {**story[0]["data"], "name": "Fabrikam Ltd"}}
    grant = with_id(GRANT, 6)
    cancel = with_id(
        raw(
            "subscription.cancelled",
            "2019-06-01T00:00:00Z",
            "sales-agent",
            "fabrikam",
            subscription_id="sub-1",
        ),
        7,
    )
    (work / "conflict3.jsonl").write_text(jsonl([grant, cancel, changed]))
    assert_error(cli("import", "conflict3.jsonl", "--json"), "bad-input", 2, "event_id", line=3)

    # From standard input: new events after an already-stored one (and a blank line).
    from_stdin = cli("import", "-", "--json", stdin=jsonl([story[4], grant]) + "\n" + jsonl([cancel]))
    assert from_stdin.no_traceback().code == 0, from_stdin
    assert from_stdin.json() == {
        "imported": 2,
        "duplicates": 1,
        "first_position": 6,
        "last_position": 7,
        "head": 7,
    }
    plain = cli("import", "-", stdin=jsonl(story)).no_traceback()
    assert plain.code == 0 and "Nothing new" in plain.stdout, plain

    events = cli.export()
    assert [e["event_id"] for e in events] == [eid(n) for n in range(1, 8)]
    assert [e["position"] for e in events] == list(range(1, 8))
    assert events[0]["data"]["name"] == "Fabrikam"


# --- export --------------------------------------------------------------------------------


def test_export_writes_the_chain_in_position_order(cli: Cli) -> None:
    story = [with_id(e, n) for n, e in enumerate([*STORY, GRANT], start=1)]
    (cli.cwd / "story.jsonl").write_text(jsonl(story))
    assert cli("import", "story.jsonl").no_traceback().code == 0

    stdout = cli("export").no_traceback()
    assert stdout.code == 0 and stdout.stderr == "", stdout
    events = stdout.lines()
    assert [e["position"] for e in events] == list(range(1, len(story) + 1))
    prev = GENESIS
    for event, given in zip(events, story, strict=True):
        assert set(event) == set(given) | CHAIN_KEYS
        assert {k: v for k, v in event.items() if k not in CHAIN_KEYS} == given
        assert event["prev_hash"] == prev
        assert HEX64.fullmatch(event["hash"])
        assert TIME.fullmatch(event["recorded_at"])
        prev = event["hash"]
    assert [e["recorded_at"] for e in events] == sorted(e["recorded_at"] for e in events)

    to_file, to_file_plain, to_dash = cli.many(
        Call(("export", "out.jsonl", "--json")),
        Call(("export", str(cli.cwd / "plain.jsonl"))),
        Call(("export", "-")),
    )
    assert to_file.no_traceback().code == 0, to_file
    summary = to_file.json()
    assert summary["exported"] == len(story)
    assert Path(cli.cwd, summary["file"]).resolve() == (cli.cwd / "out.jsonl").resolve()
    assert (cli.cwd / "out.jsonl").read_text() == stdout.stdout
    assert to_file_plain.no_traceback().code == 0 and to_file_plain.stdout == "", to_file_plain
    assert f"{len(story)} events" in to_file_plain.stderr
    assert (cli.cwd / "plain.jsonl").read_text() == stdout.stdout
    assert to_dash.no_traceback().stdout == stdout.stdout
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["out.jsonl", "plain.jsonl", "story.jsonl"]


# --- the store -----------------------------------------------------------------------------


def test_a_store_that_cannot_be_used(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"
    pg, pg_plain, password, sqlite, sqlite_plain, by_env, scheme = [
        *Cli(UNREACHABLE_PG, tmp_path).many(
            Call(("record", "--event", js(PARTNER), "--json")),
            Call(("export",)),
            Call(("export", "--json"), db="postgresql://postgres:s3cret-pw@127.0.0.1:1/x"),
        ),
        *Cli(missing, tmp_path).many(
            Call(("record", "--event", js(PARTNER), "--json")),
            Call(("import", "-"), stdin=jsonl([PARTNER])),
        ),
        Cli(None, tmp_path, env_db=missing)("export", "--json"),
        Cli("mysql://localhost/ledger", tmp_path)("export", "--json"),
    ]
    assert_error(pg, "store", 1, "127.0.0.1:1")
    assert_plain_error(pg_plain, 1, "127.0.0.1:1")
    assert_error(password, "store", 1, "127.0.0.1:1")
    assert "s3cret-pw" not in password.stdout + password.stderr
    assert_error(sqlite, "store", 1, str(tmp_path / "missing"))
    assert_plain_error(sqlite_plain, 1, str(tmp_path / "missing"))
    assert_error(by_env, "store", 1, str(tmp_path / "missing"))
    assert_error(scheme, "bad-input", 2, "db", "mysql://")
    assert not (tmp_path / "missing").exists()
    assert not (tmp_path / "ledger.db").exists()


# --- help ----------------------------------------------------------------------------------

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_help_for_every_command_and_every_event_type(tmp_path: Path) -> None:
    cli = Cli(None, tmp_path)
    types = list(EVENT_TYPES)
    calls = [
        Call(("--help",)),
        *(Call((command, "--help")) for command in COMMANDS),
        *(Call(("record", name, "--help")) for name in types),
    ]
    results = cli.many(*calls)
    for result in results:
        result.no_traceback()
        assert result.code == 0, result
        assert "Usage" in result.stdout, result
        assert result.stderr == "", result

    top, *by_command = results[: 1 + len(COMMANDS)]
    for command in ("record", "import", "export"):
        assert command in COMMANDS
        assert command in top.stdout
    for command in COMMANDS:
        assert command in top.stdout
    record_help = dict(zip(COMMANDS, by_command, strict=True))["record"].stdout
    assert "--event" in record_help
    for name in types:
        assert name in record_help

    common = [
        "--effective-at",
        "--actor-id",
        "--actor-role",
        "--actor-tenant-id",
        "--event-id",
        "--note",
        "--json",
    ]
    for name, result in zip(types, results[1 + len(COMMANDS) :], strict=True):
        assert f"record {name}" in result.stdout, result
        options = set(re.findall(r"--[a-z][a-z-]*", result.stdout))
        expected = {"--" + f.name.replace("_", "-") for f in EVENT_TYPES[name].fields}
        assert expected | set(common) <= options, (name, expected | set(common) - options)
        assert options - expected - set(common) == {"--help", "--db", "--quiet"}, (name, options)
        for choice in {c for f in EVENT_TYPES[name].fields for c in f.choices}:
            assert choice in result.stdout, (name, choice)
    assert not (tmp_path / "ledger.db").exists()
