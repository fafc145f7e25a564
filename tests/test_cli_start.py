"""A question (``ledger por``, ``delegations``, ``customer``) loads only what it uses: not the
store's write side, eventsourcing, the event types, the rulebook or the fold; psycopg only
on PostgreSQL; rich only to print for people (not for ``--json``). It answers as a
``Ledger`` does, and where it cannot (a store not created yet) a ``Ledger`` answers,
exactly as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import typer

import ledger
import projections
from cli.app import _COMMANDS
from ledger import Ledger
from ledger._backend import read_store
from ledger._env import store_env
from ledger._time import parse_time
from ledger._url import DEFAULT_URL
from projections._time import to_us

from builders import accept, customer, grant, partner, purchase, request, switch

HISTORY = [
    partner("fabrikam", at="2018-01-01T00:00:00Z"),
    partner("northwind", at="2018-01-02T00:00:00Z"),
    customer("contoso", at="2019-01-01T00:00:00Z"),
    request("r-fab", "fabrikam", "contoso", at="2019-01-02T00:00:00Z"),
    accept("r-fab", "contoso", at="2019-01-03T00:00:00Z"),
    request("r-nw", "northwind", "contoso", at="2019-01-03T00:00:00Z"),
    accept("r-nw", "contoso", at="2019-01-03T12:00:00Z"),
    purchase("azure-1", "contoso", at="2019-01-04T00:00:00Z"),
    grant("d-1", "contoso", "northwind", at="2019-01-05T00:00:00Z"),
    switch("azure-1", "fabrikam", "northwind", at="2019-01-10T00:00:00Z"),
]

# Runs the console script's ``main`` and, on the way out, writes the names of the modules
# it loaded to the file named by the first argument.
_MAIN = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
from cli.app import main
sys.argv[0] = "ledger"
main()
"""

# Never loaded by a question.
WRITE_SIDE = (
    "eventsourcing",
    "psycopg_pool",
    "ledger._store",
    "ledger._events",
    "ledger._rules",
    "ledger._sqlite_recorder",
    "ledger._postgres_recorder",
    "ledger._append",
    "ledger._verify",
    "projections._session",
    "projections._fold",
    "projections._timeline",
    "cli._record",
    "cli._transfer",
    "cli._audit",
    "jinja2",
)


def _ledger(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """``ledger ARGS`` in a fresh process, its output piped; and the modules it loaded."""
    modules = cwd / "modules.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DB", "FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run(
        [sys.executable, "-c", _MAIN, str(modules), *args], capture_output=True, cwd=cwd, env=env, timeout=120
    )
    return done, set(modules.read_text().split())


def _loaded(modules: set[str], *names: str) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture
def recorded(url: str) -> str:
    with Ledger(url) as opened:
        opened.record_many(enumerate(HISTORY, start=1))
    return url


def test_a_question_loads_no_write_side(recorded: str, tmp_path: Path) -> None:
    postgres = recorded.startswith("postgresql")
    for args in (
        ("por", "azure-1"),
        ("por", "azure-1", "--json"),
        ("por", "azure-1", "--as-of", "2019-01-05T00:00:00Z", "--known-at", "2030-01-01T00:00:00Z"),
        ("delegations", "contoso"),
        ("customer", "contoso", "--json"),
        ("por", "unknown"),  # not found: an error on standard error
    ):
        done, modules = _ledger("--db", recorded, *args, cwd=tmp_path)
        assert b"Traceback" not in done.stderr, done.stderr
        assert _loaded(modules, *WRITE_SIDE) == [], args
        assert bool(_loaded(modules, "rich")) == ("--json" not in args), args  # for people only
        assert bool(_loaded(modules, "psycopg")) == postgres, args


def test_a_question_answers_as_a_ledger_does(recorded: str, tmp_path: Path) -> None:
    at = to_us(parse_time("2020-01-01T00:00:00Z", "t"))
    with Ledger(recorded) as opened:
        expected = ledger.read.por(opened, "azure-1", at, None)
        expected_customer = ledger.read.customer(opened, "contoso", at)
    assert ledger.read.por(recorded, "azure-1", at, None) == expected
    assert ledger.read.customer(recorded, "contoso", at) == expected_customer
    done, _ = _ledger("--db", recorded, "por", "azure-1", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["partner_of_record"] == "northwind"


def test_a_store_not_created_yet_is_created_by_a_ledger_as_before(tmp_path: Path) -> None:
    for args, code in ((("por", "azure-1"), 1), (("delegations", "contoso"), 1)):
        work = tmp_path / args[0]
        work.mkdir()
        done, modules = _ledger(*args, cwd=work)  # the default store, ledger.db here
        assert done.returncode == code, done.stderr
        assert done.stderr.startswith(b"error: ") and b"is not on record" in done.stderr
        assert "ledger._store" in modules  # a Ledger answered: it created the store
        assert (work / "ledger.db").is_file()
        assert sorted(p.name for p in work.iterdir()) == ["ledger.db", "modules.txt"]
        with Ledger(f"sqlite:///{work / 'ledger.db'}") as opened:
            assert opened.head() == 0


def test_a_question_leaves_no_write_ahead_log_behind(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(f"sqlite:///{path}") as opened:
        opened.record_many(enumerate(HISTORY, start=1))
    work = tmp_path / "work"
    work.mkdir()
    done, modules = _ledger("--db", f"sqlite:///{path}", "por", "azure-1", cwd=work)
    assert done.returncode == 0, done.stderr
    assert "ledger._store" not in modules
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.db", "work"]


@pytest.mark.parametrize(
    "store_url",
    [
        "sqlite:///ledger.db",
        "sqlite:///some%20where/l.db",
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql://u:p%40ss@db.example:6543/name?schema=s_1",
        "postgres://localhost",
        "postgresql://user@/db?schema=x&sslmode=require",
    ],
)
def test_a_read_store_opens_what_a_ledger_would(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "some where").mkdir()
    env = store_env(store_url)
    if store_url.startswith("sqlite"):
        path = Path(env["SQLITE_DBNAME"])
        with Ledger(store_url):
            pass
        store = read_store(store_url)
        assert store is not None and store._reader is not None
        assert store._reader._uri == f"file:{quote(os.path.abspath(path))}?mode=rw"
        return
    store = read_store(store_url)
    assert store is not None
    assert store._pg_params == {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": env["POSTGRES_PORT"],
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
    }
    assert store._schema == env["POSTGRES_SCHEMA"]


def test_a_read_store_leaves_to_a_ledger_what_it_cannot_open(tmp_path: Path) -> None:
    not_wal = tmp_path / "plain.db"
    not_wal.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    for url in (
        "mysql://x/y",
        "sqlite:///",
        "sqlite:///:memory:",
        f"sqlite:///{tmp_path / 'missing.db'}",
        f"sqlite:///{not_wal}",
        "postgresql://h/d?schema=Bad",
        "postgresql://h:99999/d",
    ):
        assert read_store(url) is None, url
    assert DEFAULT_URL == ledger.DEFAULT_URL


def test_the_public_names_are_all_there() -> None:
    for module in (ledger, projections):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module, name)
        assert set(module.__all__) <= set(dir(module))


def test_each_command_is_found_where_the_command_line_looks_for_it() -> None:
    from cli import app

    group: Any = typer.main.get_command(app)
    assert [*_COMMANDS, "record"] == list(group.commands)
