"""A part of test_adversarial.py, which runs it.

Issue 12 ("Hardening"), items 6, 7 and 18: hostile text in events, and a read-only ledger.

- 12.6 Rich markup in stored text (``[/bold]``, ``[link=…]``, ``[conceal]``, ``:emoji:``) in a
  name, actor id, offer, role or note: ``customer``, ``history``, ``por`` and ``delegations``
  print it literally (no traceback, no link, nothing hidden).
- 12.7 Terminal escape sequences and other control characters: refused at input in ids,
  names, offers, roles, actor ids and notes (a note keeps its newlines and tabs), exit 2
  naming the field; already stored ones (recorded before the refusal, bypassing it here)
  are shown visibly escaped (``\\x1b``) in every output for people (tables, error messages
  that quote input, the HTML report) while JSON stays exact; an export holding them is
  refused by ``import --restore`` like any input.
- 12.18 A SQLite ledger on a read-only copy (file 0444, folder 0555, its write-ahead log
  absent or present), read by a process that may not write it (when the tests run as root,
  root without its file-permission override): every command that only reads works and
  answers as on the original; every command that writes says "the store … is read-only"
  (exit 1) and changes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import Actor, Event, Ledger

from builders import accept, customer, grant, partner, purchase, request
from clitools import ledger_command, run_json

# --- 12.6 and 12.7: hostile text ------------------------------------------------------------

# Rich markup (each token without spaces: a table may wrap a cell between words).
MARKUP = "[/bold]M[link=https://evil.example/]L[/link][conceal]hid[/conceal]:smile:"
# Terminal escapes: clear the screen, an OSC 8 link, a colour, C1 CSI, a bell, DEL, a
# right-to-left override.
ESCAPES = "\x1b[2J\x1b]8;;https://evil.example/\x1b\\X\x1b]8;;\x1b\\\x1b[31m\x9b8m\x07\x7f\u202e"
HOSTILE = MARKUP + ESCAPES
AS_OF = "2020-01-01T00:00:00Z"


def _at(args: Sequence[str]) -> str:
    """The option that asks a command about the world at AS_OF (history: events until then)."""
    return "--until" if args[0] == "history" else "--as-of"


# What must never reach a terminal raw: C0 controls but tab and newline, DEL, C1 (UTF-8),
# and the bidirectional overrides and isolates.
UNSAFE = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _with_text(event: Event, **data: Any) -> Event:
    """``event`` with hostile text put in, bypassing the input validation: what a ledger
    recorded before the refusal holds (or a restore of such an export)."""
    actor = Actor(f"{MARKUP}{ESCAPES}@{event.actor.tenant_id}", event.actor.role, event.actor.tenant_id)
    return dataclasses.replace(
        event, data={**event.data, **data}, actor=actor, note=f"note {HOSTILE}\nline two\tend"
    )


# A table crops a long cell (with an ellipsis): each field leads with what its test looks for.
HOSTILE_HISTORY = [
    _with_text(partner("fabrikam", at="2018-01-01T00:00:00Z"), name=f"Fab{ESCAPES}{MARKUP}"),
    _with_text(customer("contoso", at="2019-01-01T00:00:00Z"), name=f"Con{MARKUP}{ESCAPES}"),
    request("r-1", "fabrikam", "contoso", at="2019-01-02T00:00:00Z"),
    accept("r-1", "contoso", at="2019-01-03T00:00:00Z"),
    _with_text(purchase("azure-1", "contoso", at="2019-01-04T00:00:00Z"), offer=f"Off{ESCAPES}"),
    _with_text(grant("d-1", "contoso", "fabrikam", at="2019-01-05T00:00:00Z"), roles=[f"admin{MARKUP}"]),
]
# How they show: markup as written, escapes spelled out.
SHOWN_MARKUP = b"[/bold]M[link=https://evil.example/]L[/link][conceal]hid[/conceal]:smile:"
SHOWN_ESCAPES = (
    b"\\x1b[2J\\x1b]8;;https://evil.example/\\x1b\\X\\x1b]8;;\\x1b\\\\x1b[31m\\x9b8m\\x07\\x7f\\u202e"
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DB", "FORCE_COLOR", "TTY_COMPATIBLE")}
    return {**env, **extra}


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """The installed console script, its output piped (or, with ``FORCE_COLOR``, as on a
    terminal)."""
    return subprocess.run([*ledger_command(), *args], capture_output=True, env=_env(**env), timeout=120)


@pytest.fixture
def hostile(url: str) -> str:
    """A ledger whose stored names, actor ids, offer, roles and notes hold markup and escapes."""
    with Ledger(url) as opened:
        opened.record_many(enumerate(HOSTILE_HISTORY, start=1))
    return url


def _assert_shown_safely(done: subprocess.CompletedProcess[bytes]) -> None:
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    assert not UNSAFE.search(done.stdout), done.stdout
    assert not UNSAFE.search(done.stderr), done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("customer", "contoso"),
        ("history",),
        ("history", "--customer", "contoso"),
        ("por", "azure-1"),
        ("delegations", "contoso"),
    ],
)
def test_12_6_12_7_stored_markup_and_escapes_are_printed_literally(hostile: str, args: Sequence[str]) -> None:
    """12.6 and 12.7: markup prints as written (no traceback); escapes print visibly escaped."""
    done = run_cli("--db", hostile, *args, _at(args), AS_OF)
    _assert_shown_safely(done)
    out = done.stdout
    expected = {
        "customer": [
            b"Con" + SHOWN_MARKUP + SHOWN_ESCAPES + b" (contoso, cloud commercial)",
            b"Off\\x1b[2J\\x1b]8",
        ],
        "history": [
            b"name=Con" + SHOWN_MARKUP[:40],
            b"\\x1b[2J\\x1b]8;;",
            b"\nactor: " + SHOWN_MARKUP[:40],  # its words too long for a table: a block per event
        ],
        "por": [b"Off\\x1b[2J\\x1b]8;;"],
        "delegations": [b"admin" + SHOWN_MARKUP[:40]],
    }[args[0]]
    for shown in expected:
        assert shown in out, (shown, out)


@pytest.mark.parametrize("args", [("customer", "contoso"), ("history",)])
def test_12_6_markup_makes_no_link_and_hides_nothing_on_a_terminal(hostile: str, args: Sequence[str]) -> None:
    """12.6 on a terminal (styles on): no OSC 8 link, no concealed text, no emoji."""
    done = run_cli("--db", hostile, *args, _at(args), AS_OF, FORCE_COLOR="1")
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    out = done.stdout
    assert b"\x1b]8;" not in out and b"\x1b[8m" not in out and b"\x1b[5m" not in out
    plain = re.sub(rb"\x1b\[[0-9;]*m", b"", out)  # rich's own styles (bold headers) off
    assert b"[link=https://evil.example/]L[/link][conceal]hid" in plain and "😄".encode() not in plain
    assert not UNSAFE.search(plain), plain


def test_12_7_json_output_stays_exact(hostile: str) -> None:
    """12.7: ``--json`` answers carry the stored text exactly (JSON escapes it itself)."""
    events = run_json("--db", hostile, "history")["events"]
    assert [e["event_id"] for e in events] == [e.event_id for e in HOSTILE_HISTORY]
    assert events[1]["data"]["name"] == f"Con{MARKUP}{ESCAPES}"
    assert events[1]["actor"]["id"] == f"{MARKUP}{ESCAPES}@contoso"
    assert events[1]["note"] == f"note {HOSTILE}\nline two\tend"
    answer = run_json("--db", hostile, "customer", "contoso", "--as-of", AS_OF)
    assert answer["name"] == f"Con{MARKUP}{ESCAPES}"
    assert answer["delegations"][0]["roles"] == [f"admin{MARKUP}"]


def test_12_7_report_shows_control_characters_visibly(hostile: str, tmp_path: Path) -> None:
    """12.7: the HTML report (autoescaped, with SVG text) holds no raw control character.

    Events holding control characters can no longer be recorded, so ``verify`` (which the
    report runs) refuses this log as one the ledger could not have written (12.4): the
    report is written all the same, says so, and shows the stored text safely."""
    page = tmp_path / "report.html"
    done = run_cli("--db", hostile, "report", "contoso", "--out", str(page), "--as-of", AS_OF)
    assert done.returncode == 4, done.stderr
    assert b"could have recorded" in done.stderr and not UNSAFE.search(done.stderr)
    html = page.read_bytes()
    assert not UNSAFE.search(html)
    assert b"\\x1b[2J" in html and b"[conceal]hid[/conceal]" in html
    assert b"note " in html and b"\\nline two\\tend" in html  # a note's newline and tab, escaped


@pytest.mark.parametrize(
    "args",
    [
        ("por", "\x1b[2Jsub\x9b"),
        ("customer", "\x1b]8;;https://evil.example/\x1b\\x"),
        ("history", "--customer", "\x1b[8mc"),
        ("delegations", "c\u202eu"),
    ],
)
def test_12_7_an_error_quoting_input_shows_it_escaped(url: str, args: Sequence[str]) -> None:
    """12.7: an error message that quotes what was asked shows its escapes visibly (human);
    the JSON error quotes it exactly."""
    with Ledger(url) as opened:
        opened.record(customer("contoso"))
    done = run_cli("--db", url, *args)
    assert done.returncode == 1 and done.stderr.startswith(b"error: "), done.stderr
    assert not UNSAFE.search(done.stderr), done.stderr
    assert b"\\x" in done.stderr or b"\\u202e" in done.stderr
    error = run_json("--db", url, *args, expect=1)["error"]
    assert error["code"] == "not-found" and args[-1] in error["message"]


def test_12_7_visible_escapes_every_control_character() -> None:
    """12.7: the one function every output for people goes through."""
    from cli._output import visible

    controls = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)])) + "\u202a\u202b\u202c\u202d\u202e"
    controls += "\u2066\u2067\u2068\u2069\u2028\u2029"
    shown = visible(f"a{controls}b")
    assert shown.startswith("a\\x00\\x01") and shown.endswith("\\u2029b")
    assert shown.isprintable() and "\\n" in shown and "\\t" in shown and "\\x1b" in shown
    plain = "Contoso [bold]GmbH[/bold] :smile: \\x1b é 日本 😄 a\\b"
    assert visible(plain) == plain


def test_12_7_the_bidirectional_marks_are_escaped_too() -> None:
    """A form the issue did not name: the implicit bidirectional marks (LRM U+200E, RLM
    U+200F, ALM U+061C) reorder what is shown around them as the overrides do (the Trojan
    Source characters), and were shown as they are: invisible."""
    from cli._output import visible

    assert visible("a\u200eb\u200fc\u061cd") == "a\\u200eb\\u200fc\\u061cd"


def _event(
    type_: str = "customer.registered",
    data: dict[str, Any] | None = None,
    actor: dict[str, str] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """An event as JSON: a customer's registration unless told otherwise."""
    obj: dict[str, Any] = {
        "type": type_,
        "effective_at": "2019-01-01T00:00:00Z",
        "actor": {
            "id": "ops@contoso.example",
            "role": "global-admin",
            "tenant_id": "contoso",
            **(actor or {}),
        },
        "data": data or {"customer_id": "contoso", "name": "Contoso", "cloud": "commercial"},
    }
    if note is not None:
        obj["note"] = note
    return obj


CUSTOMER = {"customer_id": "contoso", "name": "Contoso", "cloud": "commercial"}
PURCHASE = {
    "subscription_id": "sub-1",
    "customer_id": "contoso",
    "offer": "Office 365 E3",
    "service": "usage",
    "channel": "csp",
    "seller_id": "fabrikam",
}
GRANT = {"delegation_id": "d-1", "customer_id": "contoso", "partner_id": "fabrikam", "kind": "dap"}


@pytest.mark.parametrize(
    ("field", "event"),
    [
        ("data.name", _event(data={**CUSTOMER, "name": "Contoso\x1b[2J"})),
        ("data.name", _event(data={**CUSTOMER, "name": "Contoso\x9b31m"})),  # C1 CSI
        ("data.name", _event(data={**CUSTOMER, "name": "Con\x7ftoso"})),  # DEL
        ("actor.id", _event(actor={"id": "ops\x1b]8;;https://evil.example/\x1b\\@contoso"})),
        ("data.offer", _event("subscription.purchased", {**PURCHASE, "offer": "E3\x1b[8m"})),
        ("data.roles[0]", _event("delegation.granted", {**GRANT, "roles": ["admin\x1b[5m"]})),
        ("note", _event(note="ticket 4711\x1b[2J")),
        ("data.customer_id", _event(data={**CUSTOMER, "customer_id": "con\x1btoso"})),
        ("actor.tenant_id", _event(actor={"tenant_id": "con\x85toso"})),  # C1 NEL
    ],
)
def test_12_7_control_characters_are_refused_at_input(url: str, field: str, event: dict[str, Any]) -> None:
    """12.7: a control character in an id, a name, an offer, a role, an actor id or a note
    is bad input naming the field (exit 2); nothing is stored."""
    error = run_json("--db", url, "record", "--event", orjson.dumps(event).decode(), expect=2)["error"]
    assert error["code"] == "bad-input" and re.match(rf"{re.escape(field)}[ :]", error["message"]), error
    assert "control character" in error["message"] or "is not an id" in error["message"]
    people = run_cli("--db", url, "record", "--event", orjson.dumps(event).decode())
    assert people.returncode == 2 and people.stderr.startswith(f"error: {field}".encode()), people.stderr
    assert not UNSAFE.search(people.stderr), people.stderr
    assert run_json("--db", url, "history")["events"] == []


def test_12_7_a_typed_option_with_an_escape_is_refused(url: str) -> None:
    """12.7: the same through ``ledger record TYPE --field value``."""
    done = run_cli(
        "--db",
        url,
        "record",
        "customer.registered",
        "--effective-at",
        "2019-01-01T00:00:00Z",
        "--actor-id",
        "ops@contoso.example",
        "--actor-role",
        "global-admin",
        "--actor-tenant-id",
        "contoso",
        "--customer-id",
        "contoso",
        "--name",
        "Contoso\x1b]8;;https://evil.example/\x1b\\",
        "--cloud",
        "commercial",
    )
    # Named as typed: the option (issue 16.6).
    assert done.returncode == 2 and done.stderr.startswith(b"error: --name "), done.stderr
    assert not UNSAFE.search(done.stderr)
    assert run_json("--db", url, "history")["events"] == []


def test_12_7_a_note_keeps_its_newlines_and_tabs(url: str) -> None:
    """12.7: a note is free text: newlines (also CR LF) and tabs are kept exactly."""
    note = "ticket 4711\r\n\tsecond line\nthird [b]line[/b]"
    run_json("--db", url, "record", "--event", orjson.dumps(_event(note=note)).decode())
    assert run_json("--db", url, "history")["events"][0]["note"] == note


def test_12_7_restore_refuses_an_export_holding_control_characters(
    hostile: str, fresh_url: str, tmp_path: Path
) -> None:
    """12.7, decided: ``import --restore`` validates every event as ``import`` does, so an
    export holding control characters (recorded before they were refused) is refused whole,
    naming the field, and nothing is stored."""
    exported = tmp_path / "old.jsonl"
    done = run_cli("--db", hostile, "export", str(exported))
    assert done.returncode == 0, done.stderr
    error = run_json("--db", fresh_url, "import", "--restore", str(exported), expect=2)["error"]
    assert "actor.id must not contain control characters" in error["message"], error
    assert error["fields"][0] == "actor.id", error  # and every other field at fault (issue 16.6)
    assert run_json("--db", fresh_url, "history")["events"] == []


# --- 12.18: a read-only copy -------------------------------------------------------------

RO_HISTORY = [
    partner("fabrikam", at="2018-01-01T00:00:00Z"),
    customer("contoso", at="2019-01-01T00:00:00Z"),
    request("r-1", "fabrikam", "contoso", at="2019-01-02T00:00:00Z"),
    accept("r-1", "contoso", at="2019-01-03T00:00:00Z"),
    purchase("azure-1", "contoso", at="2019-01-04T00:00:00Z"),
    grant("d-1", "contoso", "fabrikam", at="2019-01-05T00:00:00Z"),
]


@cache
def _unprivileged() -> tuple[str, ...]:
    """How to run the console script as a process that may not write the copy: as it is
    when the tests do not run as root; as root, without the capabilities that let root
    ignore file permissions (``setpriv``: CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH out of
    its bounding set), so the copy's modes (0444 files in a 0555 folder) bind it as they
    bind its owner. It stays root otherwise, so it reaches the checkout and its venv
    wherever they are (a folder only root may enter, as ``mktemp -d`` makes)."""
    script = ledger_command()[0]
    if os.geteuid() != 0:
        return (script,)
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) runs the test without root's file-permission override"
    command = (setpriv, "--bounding-set=-dac_override,-dac_read_search", script)
    probe = subprocess.run([*command, "--help"], capture_output=True, env=_reader_env(), timeout=120)
    assert probe.returncode == 0, f"cannot run the console script through setpriv: {probe.stderr[-300:]!r}"
    return command


def _reader_env() -> dict[str, str]:
    return _env(HOME=tempfile.gettempdir(), PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")


def run_unprivileged(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*_unprivileged(), *args],
        capture_output=True,
        env=_reader_env(),
        cwd=tempfile.gettempdir(),
        timeout=120,
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder every user may enter (pytest's own are the test user's only)."""
    base = Path(tempfile.mkdtemp(prefix="ledger-ro-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def _seal(folder: Path) -> dict[str, str]:
    """Make ``folder`` and its files read-only (0555, 0444); return each file's digest."""
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    return _digests(folder)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _copy(shared_dir: Path, *, open_log: bool) -> tuple[Path, Path]:
    """An original ledger and its evidence copy (``copy/ledger.db``): with ``open_log``,
    copied while the original is open, so the copy holds its write-ahead log (``-wal``,
    events not yet in the file) and ``-shm``; else copied closed (the file alone)."""
    live, copy = shared_dir / "live", shared_dir / "copy"
    live.mkdir()
    copy.mkdir()
    with Ledger(f"sqlite:///{live / 'ledger.db'}") as opened:
        opened.record_many(enumerate(RO_HISTORY, start=1))
        if open_log:
            for suffix in ("", "-wal", "-shm"):
                shutil.copyfile(live / f"ledger.db{suffix}", copy / f"ledger.db{suffix}")
            assert (copy / "ledger.db-wal").stat().st_size > 0
    if not open_log:
        assert sorted(p.name for p in live.iterdir()) == ["ledger.db"]
        shutil.copyfile(live / "ledger.db", copy / "ledger.db")
    return live / "ledger.db", copy / "ledger.db"


READS = [
    ("por", "azure-1", "--as-of", AS_OF, "--json"),
    ("delegations", "contoso", "--as-of", AS_OF, "--json"),
    ("customer", "contoso", "--as-of", AS_OF, "--json"),
    ("history", "--json"),
    ("history", "--customer", "contoso", "--until", AS_OF),
    ("customer", "contoso", "--as-of", AS_OF),
    ("export",),
    ("verify", "--json"),
]


@pytest.mark.parametrize("open_log", [False, True], ids=["file-alone", "with-wal-and-shm"])
def test_12_18_every_read_works_on_a_read_only_copy(shared_dir: Path, open_log: bool) -> None:
    """12.18: por, delegations, customer, history, export, verify and report on a read-only
    copy, run by a user who may not write it, answer as on the original; nothing changes."""
    live, copy = _copy(shared_dir, open_log=open_log)
    sealed = _seal(copy.parent)
    out = shared_dir / "out"
    out.mkdir()
    out.chmod(0o777)
    for args in READS:
        expected = subprocess.run(
            [*ledger_command(), "--db", f"sqlite:///{live}", *args], capture_output=True, env=_env()
        )
        done = run_unprivileged("--db", f"sqlite:///{copy}", *args)
        assert done.returncode == 0 and b"Traceback" not in done.stderr, (args, done.stderr)
        assert done.stdout == expected.stdout, args
    done = run_unprivileged("--db", f"sqlite:///{copy}", "export", str(out / "evidence.jsonl"), "--json")
    assert done.returncode == 0, done.stderr
    live_export = subprocess.run(
        [*ledger_command(), "--db", f"sqlite:///{live}", "export"], capture_output=True
    )
    assert (out / "evidence.jsonl").read_bytes() == live_export.stdout
    done = run_unprivileged(
        "--db",
        f"sqlite:///{copy}",
        "report",
        "contoso",
        "--out",
        str(out / "r.html"),
        "--as-of",
        AS_OF,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["verified"] == len(RO_HISTORY)
    assert _digests(copy.parent) == sealed


def test_12_18_every_write_says_the_store_is_read_only(shared_dir: Path) -> None:
    """12.18: record, import, import --restore, rebuild and demo on a read-only copy: exit 1,
    "the store … is read-only" (code ``store`` as JSON), no traceback, nothing changed."""
    live, copy = _copy(shared_dir, open_log=False)
    empty = shared_dir / "empty"
    empty.mkdir()
    with Ledger(f"sqlite:///{empty / 'ledger.db'}"):
        pass  # a ledger with its tables and no event: the demo's
    exported = subprocess.run([*ledger_command(), "--db", f"sqlite:///{live}", "export"], capture_output=True)
    dump = shared_dir / "events.jsonl"
    dump.write_bytes(exported.stdout)
    dump.chmod(0o644)
    sealed, sealed_empty = _seal(copy.parent), _seal(empty)
    new = orjson.dumps(_event(data={**CUSTOMER, "customer_id": "adatum", "name": "Adatum"})).decode()
    for db, args in (
        (copy, ("record", "--event", new)),
        (copy, ("import", str(dump))),
        (copy, ("rebuild",)),
        (empty / "ledger.db", ("import", "--restore", str(dump))),
        (empty / "ledger.db", ("demo",)),
    ):
        done = run_unprivileged("--db", f"sqlite:///{db}", *args)
        assert done.returncode == 1 and b"Traceback" not in done.stderr, (args, done.stderr)
        assert done.stderr.startswith(f"error: the store sqlite:///{db} is read-only".encode()), done.stderr
        error = orjson.loads(run_unprivileged("--db", f"sqlite:///{db}", *args, "--json").stdout)["error"]
        assert error["code"] == "store" and "is read-only" in error["message"], error
    assert _digests(copy.parent) == sealed and _digests(empty) == sealed_empty


def test_12_18_a_log_without_its_shm_in_a_read_only_folder_is_named(shared_dir: Path) -> None:
    """12.18: a copy with its write-ahead log but not its ``-shm``, in a folder that cannot be
    written, cannot be read whole (SQLite needs the -shm to read the log): a clear error
    (exit 1), not a traceback, and not an answer that misses the log's events."""
    _, copy = _copy(shared_dir, open_log=True)
    (copy.parent / "ledger.db-shm").unlink()
    _seal(copy.parent)
    for args in (("verify",), ("por", "azure-1"), ("export",)):
        done = run_unprivileged("--db", f"sqlite:///{copy}", *args)
        assert done.returncode == 1 and b"Traceback" not in done.stderr, (args, done.stderr)
        assert b"ledger.db-shm" in done.stderr and b"read-only" in done.stderr, done.stderr
        assert done.stdout == b""
