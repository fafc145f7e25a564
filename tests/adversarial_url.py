"""A part of test_adversarial.py, which runs it.

Issue 12 ("Hardening"), the store's URL and its connections: attacks 12.9, 12.10, 12.11,
12.12, 12.13, 12.14 and 12.17, each through the installed ``ledger`` command as a user runs
it (and through the library where that says more), on both stores where it applies.

- 12.9: a SQLite URL that is not a plain file path (``:memory:``, a ``file:`` URI, a host
  part, a query such as ``?mode=ro``) was accepted and lost the data or dropped what was
  asked: it is bad input (exit 2) naming the part, and nothing is created.
- 12.10: every libpq option of a PostgreSQL URL but ``schema`` was dropped (``sslmode=require``
  connected without TLS): each is passed to every connection, the ``Ledger``'s pool and a
  question's own connection alike; an option libpq does not know is bad input.
- 12.11: the password of a URL showed in errors (a misspelt scheme, ``demo`` on a store
  that holds events, a driver's error): no output of any failing command shows it.
- 12.12: a wrong database, port or user waited 5-6.5 s and said only "couldn't get a
  connection": the command fails at once with what the server answered.
- 12.13: ``?schema=`` empty meant ``public``; ``information_schema`` and ``pg_temp`` were
  taken; a schema not there yet was an error: empty and system schemas are bad input, and
  a missing schema is created on first use, as the tables are.
- 12.14: port 99999, port ``abc``, ``[::1/db``, ``%00`` in a path: a traceback, exit 1. Now
  exit 2 naming the part; any text at all is a URL or bad input (fuzzed).
- 12.17: a writer waiting behind a long import failed after about 31 s with "database is
  locked": it waits ``--wait`` seconds (``LEDGER_WAIT``, default 600), says on a terminal
  that it is waiting, and fails naming ``--wait`` when the time is up.
"""

from __future__ import annotations

import contextlib
import os
import pty
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger import BadInput, Ledger, StoreError
from ledger._backend import read_store
from ledger._url import StoreUrl, redact, store_url

from builders import customer, partner
from clitools import ledger_command
from conftest import PG_DSN

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "Sup3r-S3cret+pw"  # with a character a URL must encode (+ stays +)


def ledger(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The installed ``ledger`` command, as a user runs it (``LEDGER_*`` from ``env`` only)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run(
        [*ledger_command(), *args], capture_output=True, cwd=cwd, env={**clean, **(env or {})}, timeout=120
    )


def error_of(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """The ``--json`` error of a failed command (no traceback)."""
    assert b"Traceback" not in done.stderr, done.stderr
    error: dict[str, Any] = orjson.loads(done.stdout)["error"]
    return error


def pg_schema_exists(name: str) -> bool:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        row = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", [f'"{name}"']).fetchone()
    return bool(row and row[0])


def drop_pg_schema(name: str) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


EVENT = orjson.dumps(partner("fabrikam").to_json()).decode()


# --- 12.9: a SQLite URL is a plain file path ---------------------------------------------


@pytest.mark.parametrize(
    ("db", "part"),
    [
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///file::memory:?cache=shared", "query"),
        ("sqlite:///file:x.db", "URI"),
        ("sqlite:///file:x.db?mode=ro", "query"),
        ("sqlite://host/x.db", "host part"),
        ("sqlite:///x.db?mode=ro", "query"),
        ("sqlite:///x.db#ro", "fragment"),
        # an empty query or fragment is one too: a trailing "?" or "#" was dropped silently
        ("sqlite:///x.db?", "query"),
        ("sqlite:///x.db#", "fragment"),
        ("sqlite:///x.db?#", "query"),
        ("file::memory:?cache=shared", "is not a store"),
    ],
)
def test_12_9_a_sqlite_url_that_is_not_a_plain_file_is_refused_naming_its_part(
    db: str, part: str, tmp_path: Path
) -> None:
    """12.9: each of these was taken (an in-memory database that vanished with the process,
    a host or ``mode=ro`` dropped, a URI read as a file name): now exit 2 naming the part,
    and not a file is created."""
    for command in (["record", "--event", EVENT], ["verify"], ["por", "sub-1"]):
        done = ledger("--db", db, *command, "--json", cwd=tmp_path)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        error = error_of(done)
        assert error["code"] == "bad-input" and error["message"].startswith("db"), error
        assert part in error["message"], error
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    with pytest.raises(BadInput) as raised:
        Ledger(db)
    assert raised.value.field == "db"


def test_12_9_relative_and_absolute_paths_are_kept_as_they_were(tmp_path: Path) -> None:
    """12.9: ``sqlite:///rel.db`` is ``rel.db`` in the working directory, ``sqlite:////abs``
    the absolute path, and a percent-encoded ``?`` or ``#`` is part of the file's name (a
    guard: so they were before)."""
    (tmp_path / "work").mkdir()
    for db, where in (
        ("sqlite:///rel.db", tmp_path / "work" / "rel.db"),
        (f"sqlite:///{tmp_path / 'abs.db'}", tmp_path / "abs.db"),
        (f"sqlite:///{quote(str(tmp_path / 'odd?#name.db'))}", tmp_path / "odd?#name.db"),
    ):
        done = ledger("--db", db, "record", "--event", EVENT, "--json", cwd=tmp_path / "work")
        assert done.returncode == 0, done.stderr
        assert where.is_file(), sorted(tmp_path.rglob("*"))


# --- 12.10: every libpq option of the URL reaches every connection -----------------------


def test_12_10_sslmode_require_fails_against_a_server_without_tls(pg_url: str) -> None:
    """12.10: ``sslmode=require`` connected without TLS (the option was dropped); the local
    server has no TLS, so the connection must fail, saying so, for a write and a question."""
    db = f"{pg_url}&sslmode=require"
    for command in (["record", "--event", EVENT], ["verify"], ["por", "sub-1"]):
        done = ledger("--db", db, *command, "--json")
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        error = error_of(done)
        assert error["code"] == "store" and "does not support SSL" in error["message"], error
    with Ledger(pg_url) as opened:
        assert opened.head() == 0


def test_12_10_target_session_attrs_is_honoured(pg_url: str) -> None:
    """12.10: ``target_session_attrs=standby`` on a primary server: no session is fit."""
    for command in (["verify"], ["por", "sub-1"]):
        done = ledger("--db", f"{pg_url}&target_session_attrs=standby", *command, "--json")
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "standby" in error_of(done)["message"]


def test_12_10_application_name_and_options_reach_the_server(pg_url: str) -> None:
    """12.10: ``application_name`` shows in ``SHOW application_name`` and ``pg_stat_activity``
    and ``options`` are the server's settings, on the ``Ledger``'s pooled connections and on
    a question's own connection (``read_store``) alike; the schema stays the search path."""
    name = f"ledger-{uuid.uuid4().hex[:8]}"
    db = f"{pg_url}&application_name={name}&options={quote('-c statement_timeout=4321')}"
    schema = pg_url.rsplit("schema=", 1)[1]
    with Ledger(db) as opened:
        opened.record(partner("fabrikam"))
        with opened.read() as conn:
            conn.execute(
                "SELECT current_setting('application_name') AS a, current_setting('search_path') AS p"
            )
            assert conn.fetchone() == {"a": name, "p": schema}
            conn.execute("SHOW statement_timeout")
            assert conn.fetchone() == {"statement_timeout": "4321ms"}
        with psycopg.connect(PG_DSN, autocommit=True) as watcher:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name]
            ).fetchone()
            assert row is not None and row[0] >= 1
    store = read_store(db)
    assert store is not None
    with store, store.read() as conn:
        conn.execute("SELECT current_setting('application_name') AS a, current_setting('search_path') AS p")
        assert conn.fetchone() == {"a": name, "p": schema}
    done = ledger("--db", db, "history", "--json")
    assert done.returncode == 0 and len(orjson.loads(done.stdout)["events"]) == 1, done.stderr


def test_12_10_connect_timeout_is_honoured(tmp_path: Path) -> None:
    """12.10: against a server that accepts the connection and never answers, the URL's
    ``connect_timeout=2`` is the time it takes to give up (the default is 5 s)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        db = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/test?connect_timeout=2"
        for command in (["verify"], ["por", "sub-1"]):
            started = time.monotonic()
            done = ledger("--db", db, *command, "--json")
            took = time.monotonic() - started
            assert done.returncode == 1, (command, done.stdout, done.stderr)
            assert "timeout" in error_of(done)["message"]
            assert 1.5 < took < 4.5, (command, took)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("sslmod=require", "'sslmod'"),
        ("SSLMODE=require", "'SSLMODE'"),
        ("application-name=x", "'application-name'"),
        ("schema=s&schema=t", "'schema' twice"),
        ("sslmode", "'sslmode' with no value"),
        ("connect_timeout=soon", "'connect_timeout'"),
        ("options=-c%20search_path%3Dpublic", "search_path"),
    ],
)
def test_12_10_an_option_libpq_does_not_know_is_bad_input(query: str, named: str) -> None:
    """12.10: an unknown (or misspelt, repeated, valueless) option was silently dropped; it
    is bad input naming the option, before any connection is tried."""
    done = ledger("--db", f"{PG_BASE}?{query}", "verify", "--json")
    assert done.returncode == 2, (done.stdout, done.stderr)
    error = error_of(done)
    assert error["code"] == "bad-input" and named in error["message"], error


# --- 12.11: no password in any output ----------------------------------------------------


def _with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{quote(PASSWORD, safe='')}@")


def test_12_11_no_output_of_a_failing_command_shows_the_password(pg_url: str, tmp_path: Path) -> None:
    """12.11: a misspelt scheme, a bad port or host part, a server that refuses, a schema
    refused, a password given as a query option, arguments typer refuses: neither standard
    output nor standard error, with ``--json`` or without, holds the password (as given or
    percent-encoded)."""
    secret = quote(PASSWORD, safe="")
    port = free_port()
    cases = [
        (f"postgresq://postgres:{secret}@127.0.0.1/test", ["verify"]),
        (f"postgres://u:{PASSWORD}@h/db", ["bogus-command"]),
        (f"postgresql://postgres:{secret}@127.0.0.1:abc/test", ["verify"]),
        (f"postgresql://postgres:{secret}@[::1/test", ["por", "sub-1"]),
        (f"postgresql://nobody:{secret}@127.0.0.1:5432/test", ["verify"]),
        (f"postgresql://nobody:{secret}@127.0.0.1:5432/test", ["por", "sub-1"]),
        (f"postgresql://postgres:{secret}@127.0.0.1:{port}/test", ["record", "--event", EVENT]),
        (f"{PG_BASE}?password={secret}&sslmode=require", ["verify"]),
        (f"{PG_BASE}?password={secret}&schema=pg_x", ["verify"]),
        (f"{PG_BASE}?sslpassword={secret}&sslmode=require", ["por", "sub-1"]),
        (f"sqlite://u:{secret}@host/x.db", ["verify"]),
    ]
    runs: list[tuple[list[str], dict[str, str]]] = [
        (["--db", db, *command, *json], {}) for db, command in cases for json in ([], ["--json"])
    ]
    runs += [([*command, "--json"], {"LEDGER_DB": db}) for db, command in cases]
    runs += [(["verify", *json, db], {}) for db, _ in cases[:2] for json in ([], ["--json"])]  # typer's
    for args, env in runs:
        done = ledger(*args, env=env, cwd=tmp_path)
        assert done.returncode != 0, (args, done.stdout, done.stderr)
        output = done.stdout + done.stderr
        assert PASSWORD.encode() not in output and secret.encode() not in output, (args, env, output)
        assert b"Traceback" not in output, output


def test_12_11_demo_on_a_store_of_its_own_never_shows_the_password(pg_url: str) -> None:
    """12.11: ``demo`` on a store that holds events of its own refuses naming the store, and
    on a store that has the demo already says so naming it: with the password hidden."""
    db = _with_password(pg_url)
    secret = quote(PASSWORD, safe="")
    with Ledger(pg_url) as opened:
        opened.record(partner("fabrikam-own"))
    for json in ([], ["--json"]):
        done = ledger("--db", db, "demo", *json)
        assert done.returncode == 2, (done.stdout, done.stderr)
        output = done.stdout + done.stderr
        assert b"already holds" in output and b"postgres:***@" in output, output
        assert PASSWORD.encode() not in output and secret.encode() not in output, output
    fresh = f"{pg_url}_demo"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{fresh.rsplit("=", 1)[1]}"')
    try:
        first = ledger("--db", _with_password(fresh), "demo", "--json")
        assert first.returncode == 0, first.stderr
        again = ledger("--db", _with_password(fresh), "demo")
        assert again.returncode == 0 and b"already loaded in" in again.stdout, again.stdout
        assert PASSWORD.encode() not in again.stdout + again.stderr, again.stdout
    finally:
        drop_pg_schema(fresh.rsplit("=", 1)[1])


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql://u:{PASSWORD}@h/db",
        f"cannot use the store postgresql://u:{quote(PASSWORD, safe='')}@h:5432/db?sslmode=require: no",
        f"postgresq://u:{PASSWORD}@h/db is not a store",
        f"'postgresql://:{PASSWORD}@h/db'",
        f"host=h password={PASSWORD} dbname=d",
        f"host=h password='{PASSWORD} x' dbname=d",
        f"postgresql://h/db?sslmode=require&password={PASSWORD}&x=1",
        f"postgresql://h/db?sslpassword={PASSWORD}",
        f"invalid percent-encoded token: {PASSWORD}%zz",  # no URL in it: its secrets are known
    ],
)
def test_12_11_redact_hides_every_password_of_a_url_or_connection_string(text: str) -> None:
    """12.11: the one function every message with a URL or connection string goes through."""
    url = f"postgresql://u:{quote(PASSWORD, safe='')}@h/db?password={PASSWORD}"
    for hidden in (redact(text, url), *([redact(text)] if "://" in text or "password=" in text else [])):
        assert PASSWORD not in hidden and quote(PASSWORD, safe="") not in hidden, hidden
        assert "***" in hidden, hidden
    assert redact("postgresql://postgres@127.0.0.1:5432/test?schema=s") == (
        "postgresql://postgres@127.0.0.1:5432/test?schema=s"
    )


# --- 12.12: a server that refuses says why, at once --------------------------------------


@pytest.mark.parametrize(
    ("db", "reason"),
    [
        ("postgresql://postgres@127.0.0.1:5432/no_such_db_12", 'database "no_such_db_12" does not exist'),
        ("postgresql://postgres@127.0.0.1:{port}/test", "Connection refused"),
        ("postgresql://postgres@localhost:{port}/test", "Connection refused"),
        ("postgresql://no_such_role_12@127.0.0.1:5432/test", 'role "no_such_role_12" does not exist'),
    ],
)
def test_12_12_a_server_that_refuses_says_why_at_once(db: str, reason: str) -> None:
    """12.12: a wrong database, port or user waited out the pool's 5 s and said "couldn't
    get a connection"; now exit 1 in well under that, with what the server answered, from a
    write, a verification and a question alike."""
    db = db.format(port=free_port())
    for command in (["record", "--event", EVENT], ["verify"], ["por", "sub-1"]):
        started = time.monotonic()
        done = ledger("--db", db, *command, "--json")
        took = time.monotonic() - started
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        error = error_of(done)
        assert error["code"] == "store" and reason in error["message"], error
        assert "couldn't get a connection" not in error["message"], error
        assert took < 3, (command, took)
    started = time.monotonic()
    with pytest.raises(StoreError, match=reason):
        Ledger(db)
    assert time.monotonic() - started < 2


# --- 12.13: the schema ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ("", "empty"),
        ("information_schema", "PostgreSQL's own"),
        ("pg_temp", "PostgreSQL's own"),
        ("pg_catalog", "PostgreSQL's own"),
        ("pg_toast", "PostgreSQL's own"),
    ],
)
def test_12_13_an_empty_or_system_schema_is_bad_input(schema: str, named: str) -> None:
    """12.13: ``?schema=`` meant ``public`` (the ledger's tables went there unasked);
    ``information_schema`` and ``pg_temp`` were taken (``pg_temp`` failing later with
    "function ledger_append_only() does not exist"). Exit 2, before any connection."""
    db = f"{PG_BASE}?schema={schema}"
    for command in (["record", "--event", EVENT], ["verify"], ["por", "sub-1"]):
        done = ledger("--db", db, *command, "--json")
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        error = error_of(done)
        assert error["code"] == "bad-input" and "schema" in error["message"] and named in error["message"]
    with pytest.raises(BadInput):
        Ledger(db)


def test_12_13_a_schema_not_there_yet_is_created_on_first_use() -> None:
    """12.13: as the tables are: by a write, and by a question on a store not created yet."""
    for command in (["record", "--event", EVENT], ["por", "sub-1"]):
        name = f"new_{uuid.uuid4().hex[:10]}"
        assert not pg_schema_exists(name)
        try:
            done = ledger("--db", f"{PG_BASE}?schema={name}", *command, "--json")
            assert b"Traceback" not in done.stderr
            if command[0] == "record":
                assert done.returncode == 0, done.stderr
            else:
                assert (done.returncode, error_of(done)["code"]) == (1, "not-found"), done.stdout
            assert pg_schema_exists(name)
            with Ledger(f"{PG_BASE}?schema={name}") as opened:
                assert opened.head() == (1 if command[0] == "record" else 0)
                assert opened.verify() == opened.head()
        finally:
            drop_pg_schema(name)


# --- 12.14: malformed URLs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("db", "part"),
    [
        ("postgresql://h:99999/d", "port 99999"),
        ("postgresql://h:0/d", "port 0"),
        ("postgresql://h:abc/d", "port"),
        ("postgresql://h:-1/d", "port"),
        ("postgresql://h/d?port=70000", "port 70000"),
        ("postgresql://[::1/db", "host part"),
        ("postgresql://[::1]x/db", "host part"),
        ("postgresql://h/d%00b", "NUL"),
        ("postgresql://u%00@h/d", "NUL"),
        ("postgresql://h/d#x", "fragment"),
        ("postgresql://h/d#", "fragment"),  # empty, dropped silently before
        ("sqlite:///a%00b.db", "NUL"),
        ("sqlite:///" + "x" * 5000 + "/l.db", "File name too long"),
        ("mysql://h/d", "mysql://… (its scheme)"),
        ("ledger.db", "is not a store"),
    ],
)
def test_12_14_a_malformed_url_is_bad_input_naming_its_part(db: str, part: str, tmp_path: Path) -> None:
    """12.14: these raised ``ValueError`` out of the URL's parsing: a traceback and exit 1.
    Now exit 2 naming the part (a path the system cannot take is the store's error, 1)."""
    for command, json in ((["record", "--event", EVENT], ["--json"]), (["por", "sub-1"], [])):
        done = ledger("--db", db, *command, *json, cwd=tmp_path)
        assert b"Traceback" not in done.stderr, done.stderr
        assert done.returncode == (1 if "too long" in part else 2), (done.stdout, done.stderr)
        assert part in (done.stdout if json else done.stderr).decode(), (done.stdout, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


_URLISH = st.text(alphabet="[]:/@?&=%#.,+ 0123456789abcdefxyz\x00\u00e9", max_size=40)


@settings(deadline=None, max_examples=400, database=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            str.__add__,
            st.sampled_from(
                ["sqlite:", "sqlite://", "sqlite:///", "postgresql://", "postgres://u:p@", "x://"]
            ),
            _URLISH,
        ),
        st.builds(
            lambda host, query: f"postgresql://u:p@{host}/d?{query}",
            _URLISH,
            st.text(alphabet="=&%schemaportsslmode_0123456789", max_size=30),
        ),
    )
)
@example("postgresql://h:99999/d")
@example("postgresql://[::1/db")
@example("sqlite:///a%00b.db")
@example("postgresql://h/d?port=%ff")
@example("postgresql://h/d?connect_timeout=%d9%a0")
def test_12_14_any_text_is_a_store_url_or_bad_input(text: str) -> None:
    """12.14, fuzzed: the URL's reader returns a ``StoreUrl`` or raises the contract's
    errors, never anything else; and a question's reader agrees (None: a ``Ledger`` says)."""
    try:
        where = store_url(text or "sqlite:///x.db")
    except (BadInput, StoreError) as error:
        assert error.message and "Traceback" not in error.message
        assert read_store(text or "sqlite:///x.db") is None
        return
    assert isinstance(where, StoreUrl)
    if where.dialect == "postgresql":
        assert dict(where.pg).keys() == {"dbname", "host", "port", "user", "password"}
        assert all(p.isdigit() and 0 < int(p) < 65536 for p in dict(where.pg)["port"].split(","))
        where.connection_options(lock_timeout=5)


# --- 12.17: a writer waits for another as long as the user allows --------------------------


@contextlib.contextmanager
def write_lock_held(url: str) -> Iterator[Callable[[], None]]:
    """The store's write lock, held by another connection as a long import holds it (SQLite's
    one writer lock; PostgreSQL's EXCLUSIVE lock on the events table) until ``release``."""
    with Ledger(url) as opened:  # the store, there
        table = opened.events_table
    if url.startswith("sqlite"):
        conn: Any = sqlite3.connect(
            url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn = psycopg.connect(url.split("?")[0])
        conn.execute(f'LOCK TABLE "{url.rsplit("schema=", 1)[1]}"."{table}" IN EXCLUSIVE MODE')
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            conn.rollback()
            conn.close()

    try:
        yield release
    finally:
        release()


def test_12_17_a_writer_waits_for_another_and_then_writes(url: str) -> None:
    """12.17: the write started while another holds the lock goes through once it is let go
    (a guard: it did before, up to 30 s on SQLite and 60 s on PostgreSQL)."""
    with write_lock_held(url) as release:
        started = time.monotonic()
        proc = subprocess.Popen(
            [*ledger_command(), "--db", url, "record", "--event", EVENT, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(2)
        assert proc.poll() is None, proc.communicate()
        release()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert orjson.loads(out)["position"] == 1 and time.monotonic() - started >= 2
    with Ledger(url) as opened:
        assert opened.head() == 1


@pytest.mark.parametrize("how", ["--wait", "LEDGER_WAIT"])
@pytest.mark.parametrize("command", [["record", "--event", EVENT], ["rebuild"]])
def test_12_17_a_writer_gives_up_after_the_wait_it_was_given(url: str, how: str, command: list[str]) -> None:
    """12.17: with ``--wait 1`` (or ``LEDGER_WAIT=1``) a write (or a rebuild) behind another
    writer fails after about a second, exit 1, with a message naming ``--wait``; nothing
    is stored."""
    args, env = (["--wait", "1"], {}) if how == "--wait" else ([], {"LEDGER_WAIT": "1"})
    with write_lock_held(url):
        for json in (["--json"], []):
            started = time.monotonic()
            done = ledger("--db", url, *args, *command, *json, env=env)
            took = time.monotonic() - started
            assert done.returncode == 1, (done.stdout, done.stderr)
            message = error_of(done)["message"] if json else done.stderr.decode()
            assert "--wait" in message and "another writer" in message, message
            assert "database is locked" not in message and "lock timeout" not in message, message
            assert 1 <= took < 6, took
    with Ledger(url) as opened:
        assert opened.head() == 0


@pytest.mark.parametrize("value", ["0", "-5", "soon", "1.5", "9999999999"])
def test_12_17_a_wait_that_is_not_a_number_of_seconds_is_bad_input(value: str, tmp_path: Path) -> None:
    """12.17: 0 would mean no limit to PostgreSQL (and 5 s to eventsourcing on SQLite)."""
    for args, env in ((["--wait", value], {}), ([], {"LEDGER_WAIT": value})):
        done = ledger("--db", f"sqlite:///{tmp_path / 'l.db'}", *args, "verify", "--json", env=env)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "--wait" in error_of(done)["message"]
    if value.lstrip("-").isdigit():
        with pytest.raises(BadInput) as raised:
            Ledger(f"sqlite:///{tmp_path / 'l.db'}", wait=int(value))
        assert raised.value.field == "wait"


def _on_a_terminal(*args: str) -> tuple[int, str, bytes]:
    """``ledger ARGS`` with standard error on a terminal (a pseudo-terminal): exit code,
    what it wrote there, standard output."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([*ledger_command(), *args], stdout=subprocess.PIPE, stderr=follower)
        os.close(follower)
        out, _ = proc.communicate(timeout=60)
        chunks = []
        with contextlib.suppress(OSError):  # EIO once the terminal's last writer is gone
            while chunk := os.read(leader, 65536):
                chunks.append(chunk)
    finally:
        os.close(leader)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), out


def test_12_17_on_a_terminal_a_waiting_writer_says_so(url: str) -> None:
    """12.17: on a terminal, a write that does not get the lock at once says that it waits
    (and for how long at most), once; one that gets it at once says nothing."""
    with write_lock_held(url) as release:
        threading.Timer(2, release).start()
        code, said, _ = _on_a_terminal("--db", url, "--wait", "30", "record", "--event", EVENT)
    assert code == 0, said
    assert said.count("waiting for another writer to finish (up to 30 s; --wait to change)") == 1, said
    code, said, _ = _on_a_terminal(
        "--db", url, "record", "--event", orjson.dumps(customer("contoso").to_json()).decode()
    )
    assert code == 0 and "waiting" not in said, said
    with Ledger(url) as opened:
        assert opened.head() == 2
