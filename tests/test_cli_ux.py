"""The operator's day at the command line (issue 16, items 5 to 9 and 11): the default actor,
every bad field at once, dates as people write them, ``--db`` anywhere, the command line's
own help and conveniences, and the PostgreSQL of ``docker compose``.

The real ``ledger`` console script, run as a subprocess (``Cli`` of ``test_cli``), on both
stores where a store is involved."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main
from test_cli import (
    ACCEPT,
    CUSTOMER,
    GRANT,
    PARTNER,
    PURCHASE,
    REQUEST,
    Call,
    Cli,
    Result,
    assert_error,
    assert_plain_error,
    assert_receipt,
    jsonl,
)
from typer.core import TyperGroup

from cli.app import app
from ledger import EVENT_TYPES, ROLES

ROOT = Path(__file__).resolve().parent.parent
ACTOR_ENV = ("LEDGER_ACTOR_ID", "LEDGER_ACTOR_ROLE", "LEDGER_ACTOR_TENANT_ID")


class EnvCli(Cli):
    """``Cli`` with variables of its own in the environment (the default actor's)."""

    def __init__(self, db: str | None, cwd: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(db, cwd)
        self.extra = env or {}

    def many(self, *calls: Call) -> list[Result]:
        import test_cli

        original = test_cli._env

        def env(env_db: str | None) -> dict[str, str]:
            return {**original(env_db), **self.extra}

        test_cli._env = env
        try:
            return super().many(*calls)
        finally:
            test_cli._env = original


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _registered(cli: Cli) -> None:
    result = cli("import", "-", "--json", stdin=jsonl([PARTNER, CUSTOMER]))
    assert result.code == 0, result


def _request_options(n: int) -> list[str]:
    return [
        "--effective-at",
        "2019-02-01T00:00:00Z",
        "--request-id",
        f"r-{n}",
        "--partner-id",
        "fabrikam",
        "--customer-id",
        "contoso",
    ]


def _recorded_actor(cli: Cli, position: int) -> dict[str, Any]:
    actor: dict[str, Any] = cli.export()[position - 1]["actor"]
    return actor


# --- 5. the default actor -------------------------------------------------------------------


def test_the_actor_comes_from_the_environment_and_an_option_overrides_it(url: str, work: Path) -> None:
    env = {
        "LEDGER_ACTOR_ID": "ops@fabrikam.example",
        "LEDGER_ACTOR_ROLE": "sales-agent",
        "LEDGER_ACTOR_TENANT_ID": "fabrikam",
    }
    cli = EnvCli(url, work, env)
    _registered(cli)
    assert_receipt(cli("record", "relationship.requested", *_request_options(1), "--json"), 3)
    assert_receipt(
        cli(
            "record", "relationship.requested", *_request_options(2), "--actor-role", "admin-agent", "--json"
        ),
        4,
    )
    exported = cli.export()
    assert exported[2]["actor"] == {
        "id": "ops@fabrikam.example",
        "role": "sales-agent",
        "tenant_id": "fabrikam",
    }
    assert exported[3]["actor"] == {
        "id": "ops@fabrikam.example",
        "role": "admin-agent",
        "tenant_id": "fabrikam",
    }
    # A bad value from the environment is named by its variable, not by an option never typed.
    bad = EnvCli(url, work, {**env, "LEDGER_ACTOR_ROLE": "owner"})
    error = assert_error(
        bad("record", "relationship.requested", *_request_options(3), "--json"),
        "bad-input",
        2,
        "LEDGER_ACTOR_ROLE",
    )
    assert error["fields"] == ["LEDGER_ACTOR_ROLE"]
    assert len(cli.export()) == 4


def test_the_actor_from_ledger_toml_beside_the_database_then_the_config_folder(tmp_path: Path) -> None:
    """SQLite only: a PostgreSQL store has no file to sit beside."""
    beside, config, work = tmp_path / "store", tmp_path / "config", tmp_path / "work"
    for folder in (beside, config / "ledger", work):
        folder.mkdir(parents=True)
    (config / "ledger" / "ledger.toml").write_text(
        '[actor]\nid = "me@fabrikam.example"\nrole = "sales-agent"\ntenant_id = "fabrikam"\n'
    )
    cli = EnvCli(f"sqlite:///{beside / 'ledger.db'}", work, {"XDG_CONFIG_HOME": str(config)})
    _registered(cli)
    assert_receipt(cli("record", "relationship.requested", *_request_options(1), "--json"), 3)
    assert _recorded_actor(cli, 3) == {
        "id": "me@fabrikam.example",
        "role": "sales-agent",
        "tenant_id": "fabrikam",
    }
    # Beside the database wins over the config folder, field by field; the environment over both.
    (beside / "ledger.toml").write_text('[actor]\nrole = "admin-agent"\n')
    assert_receipt(cli("record", "relationship.requested", *_request_options(2), "--json"), 4)
    assert _recorded_actor(cli, 4) == {
        "id": "me@fabrikam.example",
        "role": "admin-agent",
        "tenant_id": "fabrikam",
    }
    cli.extra["LEDGER_ACTOR_ID"] = "env@fabrikam.example"
    assert_receipt(cli("record", "relationship.requested", *_request_options(3), "--json"), 5)
    assert _recorded_actor(cli, 5)["id"] == "env@fabrikam.example"

    # A bad config file: exit 2 naming the file and the key; nothing stored.
    for text, named in (
        ('[actor]\nname = "x"\n', "actor.name"),
        ("[actor]\nid = 42\n", "actor.id"),
        ("[author]\n", "author"),
        ("[actor\n", "not valid TOML"),
    ):
        (beside / "ledger.toml").write_text(text)
        result = cli("record", "relationship.requested", *_request_options(9), "--json")
        assert_error(result, "bad-input", 2, str(beside / "ledger.toml"), named)
        assert_plain_error(
            cli("record", "relationship.requested", *_request_options(9)),
            2,
            str(beside / "ledger.toml"),
            named,
        )
    assert len(cli.export()) == 5


def test_the_precedence_is_documented_in_record_help(work: Path) -> None:
    text = " ".join(Cli(None, work)("record", "--help").stdout.replace("│", " ").split())
    for name in (
        "--actor-id",
        *ACTOR_ENV,
        "ledger.toml",
        "beside the SQLite database",
        "config folder",
        "[actor]",
    ):
        assert name in text, name
    assert text.index("--actor-id") < text.index("LEDGER_ACTOR_ID") < text.index("ledger.toml beside")


# --- 6. every bad field at once, as the user named it --------------------------------------


def test_every_missing_or_bad_field_at_once_by_option_name_and_json_path(url: str, work: Path) -> None:
    cli = Cli(url, work)
    typed, as_json, plain, imported = cli.many(
        Call(
            ("record", "delegation.granted", "--kind", "lighthouse", "--roles", "a", "--roles", "a", "--json")
        ),
        Call(
            (
                "record",
                "--event",
                orjson.dumps({**GRANT, "actor": {}, "data": {"kind": "x"}}).decode(),
                "--json",
            )
        ),
        Call(("record", "delegation.granted", "--customer-id", "contoso")),
        Call(
            ("import", "-", "--json"),
            jsonl([PARTNER, {**CUSTOMER, "effective_at": "2019-01-01", "data": {}}]),
        ),
    )
    error = assert_error(typed, "bad-input", 2)
    assert error["fields"] == [
        "--effective-at",
        "--actor-id",
        "--actor-role",
        "--actor-tenant-id",
        "--delegation-id",
        "--customer-id",
        "--partner-id",
        "--kind",
        "--roles",
    ]
    assert "9 fields" in error["message"] and "data." not in error["message"]
    error = assert_error(as_json, "bad-input", 2)
    assert error["fields"] == [
        "actor.id",
        "actor.role",
        "actor.tenant_id",
        "data.delegation_id",
        "data.customer_id",
        "data.partner_id",
        "data.kind",
        "data.roles",
    ]
    text = assert_plain_error(plain, 2, "--effective-at", "--actor-role", "--kind", "--roles")
    assert "--customer-id" not in text  # given
    error = assert_error(imported, "bad-input", 2, line=2)
    assert error["fields"] == ["effective_at", "data.customer_id", "data.name", "data.cloud"]
    assert cli.export() == []


def test_did_you_mean_an_id_the_ledger_knows(url: str, work: Path) -> None:
    cli = Cli(url, work)
    assert cli("import", "-", "--json", stdin=jsonl([PARTNER, CUSTOMER, REQUEST, ACCEPT, PURCHASE])).code == 0
    cancel = ["record", "subscription.cancelled", "--effective-at", "2019-04-01T00:00:00Z"]
    actor = [
        "--actor-id",
        "ops@fabrikam.example",
        "--actor-role",
        "sales-agent",
        "--actor-tenant-id",
        "fabrikam",
    ]
    por, customer, history, far, before, field, record = cli.many(
        Call(("por", "sub1", "--json")),
        Call(("customer", "contosso")),
        Call(("history", "--partner", "fabrikan", "--json")),
        Call(("customer", "zzzzzz", "--json")),
        Call(("por", "sub-1", "--as-of", "2019-01-01", "--json")),  # known, not yet: no guess
        Call(("record", "--event", orjson.dumps({**CUSTOMER, "efective_at": "x"}).decode(), "--json")),
        Call((*cancel, *actor, "--subscription-id", "sub-2", "--json")),
    )
    assert assert_error(por, "not-found", 1)["message"].endswith("did you mean sub-1?")
    assert assert_plain_error(customer, 1, "contosso").endswith("did you mean contoso?")
    assert assert_error(history, "not-found", 1)["message"].endswith("did you mean fabrikam?")
    assert "did you mean" not in assert_error(far, "not-found", 1)["message"]
    assert "did you mean" not in assert_error(before, "not-found", 1)["message"]
    assert "did you mean effective_at?" in assert_error(field, "bad-input", 2, "efective_at")["message"]
    refused = assert_error(record, "rule-violation", 3, "sub-2", rule="known-references")
    assert refused["message"].endswith("did you mean sub-1?")
    assert len(cli.export()) == 5


def test_a_delegation_never_granted_is_unknown_one_revoked_not_active(url: str, work: Path) -> None:
    cli = Cli(url, work)
    assert cli("import", "-", "--json", stdin=jsonl([PARTNER, CUSTOMER, REQUEST, ACCEPT, GRANT])).code == 0
    revoke = [
        "record",
        "delegation.revoked",
        "--actor-id",
        "admin@contoso.example",
        "--actor-role",
        "customer-global-admin",
        "--actor-tenant-id",
        "contoso",
        "--json",
    ]
    never = cli(*revoke, "--effective-at", "2019-06-01T00:00:00Z", "--delegation-id", "d-404")
    message = assert_error(never, "rule-violation", 3, rule="known-references")["message"]
    assert "delegation d-404 is unknown" in message and "not active" not in message
    assert_receipt(cli(*revoke, "--effective-at", "2019-06-01T00:00:00Z", "--delegation-id", "d-1"), 6)
    again = cli(*revoke, "--effective-at", "2019-07-01T00:00:00Z", "--delegation-id", "d-1")
    assert (
        "delegation d-1 is not active"
        in assert_error(again, "rule-violation", 3, rule="known-references")["message"]
    )


# --- 7. dates as people write them -------------------------------------------------------------


def test_a_date_is_midnight_utc_and_a_time_without_offset_utc_said_so(url: str, work: Path) -> None:
    cli = Cli(url, work)
    assert cli("import", "-", "--json", stdin=jsonl([PARTNER, CUSTOMER, REQUEST, ACCEPT, PURCHASE])).code == 0
    date, strict, naive, people, window, known, bad = cli.many(
        Call(("por", "sub-1", "--as-of", "2019-03-02", "--json")),
        Call(("por", "sub-1", "--as-of", "2019-03-02T00:00:00Z", "--json")),
        Call(("por", "sub-1", "--as-of", "2019-03-01T09:00", "--json")),
        Call(("por", "sub-1", "--as-of", "2019-03-02")),
        Call(("history", "--since", "2019-02-01 00:00", "--until", "2019-02-02", "--json")),
        Call(("history", "--known-at", "2000-01-01T00:00", "--json")),
        Call(("por", "sub-1", "--as-of", "2019-03-32")),
    )
    assert date.json() == strict.json() and date.json()["as_of"] == "2019-03-02T00:00:00Z"
    assert date.stderr == ""  # --json: nothing but the answer
    assert naive.json()["as_of"] == "2019-03-01T09:00:00Z" and naive.json()["partner_of_record"] == "fabrikam"
    assert "--as-of 2019-03-02 is read as 2019-03-02T00:00:00Z (midnight UTC)" in people.stderr
    assert "2019-03-02T00:00:00Z" in people.stdout
    assert [e["type"] for e in window.json()["events"]] == ["relationship.requested", "relationship.accepted"]
    assert known.json() == {"events": []}
    assert_plain_error(bad, 2, "--as-of", "2019-03-32")
    # An event's own times stay strict: an offset is required.
    for given in ("2019-04-01", "2019-04-01T00:00"):
        typed = cli(
            "record",
            "subscription.cancelled",
            "--effective-at",
            given,
            "--subscription-id",
            "sub-1",
            "--json",
        )
        assert_error(typed, "bad-input", 2, "--effective-at", "offset")
        event = {**PURCHASE, "effective_at": given}
        assert_error(
            cli("record", "--event", orjson.dumps(event).decode(), "--json"), "bad-input", 2, "effective_at"
        )
    assert len(cli.export()) == 5


# --- 8. --db before or after the command -----------------------------------------------------


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command line of ``ledger``, from typer's own command list."""
    found = [path]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


COMMAND_LINES = _commands(typer.main.get_command(app))


def test_db_after_the_command_and_on_every_command(url: str, work: Path) -> None:
    cli = Cli(None, work)  # no --db before the command, no LEDGER_DB
    recorded = cli("record", "--event", orjson.dumps(PARTNER).decode(), "--db", url, "--json")
    assert_receipt(recorded, 1)
    listed = cli("history", "--json", "--db", url)
    assert [e["type"] for e in listed.json()["events"]] == ["partner.registered"]
    assert not (work / "ledger.db").exists()
    helps = cli.many(*(Call((*line, "--help")) for line in COMMAND_LINES if line))
    for result in helps:
        assert result.code == 0 and "--db" in result.stdout, result


def test_the_closing_hint_echoes_the_db_given_and_hides_its_password(url: str, work: Path) -> None:
    secret = "hunter2-secret"
    given = url.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    demo = Cli(given, work)("demo")
    assert demo.code == 0, demo
    hint = demo.stdout.strip().splitlines()[-1]
    assert hint.startswith("Try: ledger --db ")
    assert secret not in demo.stdout + demo.stderr
    if url.startswith("sqlite"):
        assert f"ledger --db {url} por azure-csp-1" in hint
    else:
        assert "postgres:***@" in hint
    # Following the hint asks the same store.
    follow = Cli(None, work)("por", "azure-csp-1", "--db", url, "--as-of", "2019-12-31", "--json")
    assert follow.json()["partner_of_record"] == "fabrikam"


# --- 9. the command line itself -----------------------------------------------------------------


def test_version_short_help_and_shell_completion(work: Path) -> None:
    cli = Cli(None, work)
    version, long_help, short_help, por_short, por_long = cli.many(
        Call(("--version",)), Call(("--help",)), Call(("-h",)), Call(("por", "-h")), Call(("por", "--help"))
    )
    from importlib.metadata import version as installed

    assert version.stdout.strip() == f"ledger {installed('relationship-ledger')}"
    assert short_help.stdout == long_help.stdout and por_short.stdout == por_long.stdout
    assert "--show-completion" in long_help.stdout and "--install-completion" in long_help.stdout
    completed = EnvCli(
        None, work, {"_LEDGER_COMPLETE": "complete_bash", "COMP_WORDS": "ledger re", "COMP_CWORD": "1"}
    )()
    assert set(completed.stdout.split()) >= {"record", "report", "rebuild"}, completed
    assert not (work / "ledger.db").exists()


def _help(cli: Cli, line: tuple[str, ...], columns: int) -> str:
    env = EnvCli(None, cli.cwd, {"COLUMNS": str(columns)})
    result = env(*line, "--help")
    assert result.code == 0 and result.stderr == "", result
    return result.stdout


def test_every_command_has_an_example_and_help_that_wraps_at_80_columns(work: Path) -> None:
    cli = Cli(None, work)
    for line in COMMAND_LINES:
        text = _help(cli, line, 80)
        assert max(len(row) for row in text.splitlines()) <= 80, line
        assert "…" not in text, (line, text)  # nothing cut short
        prose = text.split("╭")[0]
        assert re.search(r"Examples?:", prose), (line, prose)
        examples = [row.strip() for row in prose.splitlines() if row.strip().startswith("ledger ")]
        assert examples and all(
            e.startswith(("ledger " + " ".join(line)).strip()) or "--db" in e for e in examples
        )
        # Each paragraph fills its lines: none ends early (as a docstring's own line breaks did).
        for paragraph in re.split(r"\n\s*\n", prose.split("Usage:")[1].split("\n", 1)[1]):
            rows = [row.strip() for row in paragraph.splitlines() if row.strip()]
            if rows and not rows[0].startswith("ledger"):
                assert all(len(row) > 55 for row in rows[:-1]), (line, rows)


def test_record_examples_are_well_formed_events(url: str, work: Path) -> None:
    """The example in each type's help, run as given (with an actor from the environment):
    never bad input; a rule may refuse it on an empty ledger."""
    cli = Cli(url, work)
    calls = []
    for name, event_type in EVENT_TYPES.items():
        text = " ".join(_help(cli, ("record", name), 200).split())
        example = re.search(rf"Example: (ledger record {re.escape(name)} [^│╭]*?)(?: ╭|$)", text)
        assert example, (name, text)
        words = shlex.split(example.group(1))[1:]  # as a shell reads it
        role = next(r for r in ROLES if r in event_type.roles)
        actor = ["--actor-id", "ops@example.com", "--actor-role", role, "--actor-tenant-id", "t-1"]
        calls.append(Call((*words, *actor, "--json")))
    for result in cli.many(*calls):
        result.no_traceback()
        assert result.code in (0, 3), result


def test_record_first_and_the_eligible_roles_of_each_type(work: Path) -> None:
    cli = Cli(None, work)
    top = cli("--help").stdout
    commands = re.findall(r"^│ (\S+) ", top.split("Commands")[1], flags=re.MULTILINE)
    assert commands[0] == "record" and set(commands) == {line[0] for line in COMMAND_LINES if line}
    results = cli.many(*(Call(("record", name, "--help")) for name in EVENT_TYPES))
    for (name, event_type), result in zip(EVENT_TYPES.items(), results, strict=True):
        row = re.search(r"--actor-role .*?--actor-tenant-id", result.stdout, flags=re.DOTALL)
        assert row, result
        listed = set(re.findall(r"(?<![\w-])(" + "|".join(ROLES) + r")(?![\w-])", row.group()))
        assert listed == set(event_type.roles), (name, listed)


def test_history_as_of_is_the_contracts_time_travel_the_events_effective_by_then(
    url: str, work: Path
) -> None:
    """The contract names ``--as-of`` on ``history`` (issue 16.9 asked for a distinct meaning or
    a refusal; the binding contract keeps it): the history as the world stood at T, the events
    effective by then, said so in its help."""
    cli = Cli(url, work)
    cli("demo", "--json")
    as_of, until = cli.many(
        Call(("history", "--as-of", "2019-06-30", "--json")),
        Call(("history", "--until", "2019-06-30", "--json")),
    )
    events = as_of.json()["events"]
    assert events and events == until.json()["events"]
    assert all(e["effective_at"] <= "2019-06-30T00:00:00Z" for e in events)
    assert "--as-of" in cli("history", "--help").stdout


# --- 11. docker compose and the benchmark's PostgreSQL ---------------------------------------


def test_compose_uses_another_host_port_and_the_bench_database_is_documented() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    ports = re.findall(r'"127\.0\.0\.1:(\d+):5432"', compose)
    assert ports and ports[0] != "5432"
    assert f"127.0.0.1:{ports[0]}/ledger" in compose and "5432" in compose.split("services:")[0]
    assert f"127.0.0.1:{ports[0]}/ledger" in (ROOT / "README.md").read_text()
    default = re.search(r'LEDGER_BENCH_PG", "([^"]+)"', (ROOT / "bench" / "run.py").read_text())
    assert default
    bench_doc = (ROOT / "docs" / "benchmark.md").read_text()
    assert "LEDGER_BENCH_PG" in bench_doc and f"`{default.group(1)}`" in bench_doc
