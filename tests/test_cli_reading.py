"""Reading output for operators and auditors (issue 16, items 1 and 2), through the installed
console script on both stores: tables that fit the width without cutting an id, a time or a
type; what an auditor needs in the people's output (recorded time, note, cancellation, a
licence's ended term); ``--csv`` with formula cells neutralised; the pager on a terminal only;
``--quiet``."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli import _output, _views
from ledger import Ledger, parse_event, parse_time, read
from projections import to_us

import rawdb
from builders import CUSTOMER_ROLE, PARTNER_ROLE, SALES_ROLE, accept, cancel, partner, purchase, raw, request
from clitools import ledger_command, run_json

# What splits people's output into words: whitespace, the tables' rules, and the punctuation
# the views put between values (roles' commas, an actor's parentheses, history's key=value).
_SEPARATORS = re.compile(r"[\s│┃,()=]+")
WIDTHS = (40, 80, 200)
AS_OF = "2030-01-01T00:00:00Z"  # after the demo's last event: cancellations and ended terms


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PAGER", "LESS")}
    return {**env, **extra}


def people(*args: str, columns: int | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
    """``ledger ARGS`` for people, piped, at ``columns`` wide (``COLUMNS``) if given."""
    extra = {**env, **({"COLUMNS": str(columns)} if columns is not None else {})}
    done = subprocess.run(
        [*ledger_command(), *args], capture_output=True, env=_env(**extra), timeout=120, check=False
    )
    assert b"Traceback" not in done.stderr, done.stderr
    return done


def _words(text: str) -> set[str]:
    return set(_SEPARATORS.split(text))


# What the people's tables leave to --json: a subscription's seller (its billing partner
# until a switch) and the subscription it migrated from; and what they show in words of
# their own: well-known roles by name, GDAP's auto-extension P180D as "180 days".
NOT_SHOWN = {"seller_id", "migrated_from", "roles", "auto_extend"}


def _leaves(value: Any) -> Iterator[str]:
    """Every string and number of a JSON answer (keys excepted), but ``NOT_SHOWN``'s."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in NOT_SHOWN:
                yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield str(value)


def assert_shown_whole(answer: Any, text: str) -> None:
    """Every word of every value of the JSON answer is a word of the people's output: no id,
    time or type cut ("azure-…") or broken across lines."""
    shown = _words(text)
    missing = {w for leaf in _leaves(answer) for w in _SEPARATORS.split(leaf) if w and w not in shown}
    assert not missing, (missing, text)
    assert "…" not in text


def assert_fits(text: str, width: int) -> None:
    """Every line of a table is within the width (a folded record's line is the terminal's
    to wrap: it holds a value whole)."""
    for line in text.splitlines():
        if any(rule in line for rule in "│┃┏┗┡└"):
            assert len(line) <= width, (width, line)


@pytest.fixture
def demo_url(url: str) -> str:
    run_json("--db", url, "demo")
    return url


def _history_shown(event: dict[str, Any]) -> dict[str, Any]:
    """What ``history`` shows people of an event (not its event id, prev_hash or whole hash)."""
    return {
        "position": event["position"],
        "effective_at": event["effective_at"],
        "recorded_at": event["recorded_at"],
        "type": event["type"],
        "actor": [event["actor"]["id"], event["actor"]["role"]],
        "data": event["data"],
        "note": event.get("note"),
        "hash": event["hash"][:12],
    }


def _rendered(monkeypatch: pytest.MonkeyPatch, width: int, show: Callable[[], None]) -> str:
    """What ``show`` prints for people on standard output ``width`` columns wide (the
    command's own console, made as it makes it, writing to a string)."""
    written = io.StringIO()
    console = _output._console(width=width, file=written, highlight=False, soft_wrap=True)
    monkeypatch.setattr(_output.out, "_console", console)
    show()
    return written.getvalue()


def test_tables_fit_40_80_200_columns_and_never_cut_an_id_time_or_type(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = {
        "customer": ("customer", "contoso", "--as-of", AS_OF),
        "customer then": ("customer", "contoso", "--as-of", "2020-01-01"),
        "gdap customer": ("customer", "contoso", "--as-of", "2026-01-09"),
        "delegations": ("delegations", "contoso", "--as-of", "2020-01-01"),
        "por": ("por", "o365-1", "--as-of", AS_OF),
    }
    answers = {name: run_json("--db", demo_url, *args) for name, args in asked.items()}
    events = run_json("--db", demo_url, "history", "--customer", "contoso")["events"]
    assert events and answers["delegations"]["delegations"] and answers["gdap customer"]["requests"]
    views = {
        "customer": _views.show_customer,
        "customer then": _views.show_customer,
        "gdap customer": _views.show_customer,
        "delegations": _views.show_delegations,
        "por": _views.show_por,
    }
    outputs: dict[tuple[str, int], str] = {}
    for width in WIDTHS:
        # The command itself, piped at COLUMNS wide; then each view of the JSON answers.
        done = people("--db", demo_url, *asked["customer"], columns=width)
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode() == _rendered(
            monkeypatch, width, lambda: views["customer"](answers["customer"])
        )
        for name, answer in answers.items():
            text = _rendered(monkeypatch, width, lambda: views[name](answer))  # noqa: B023 (called at once)
            assert_shown_whole(answer, text)
            assert_fits(text, width)
            outputs[name, width] = text
        text = _rendered(monkeypatch, width, lambda: _views.show_history(events))
        assert_shown_whole([_history_shown(e) for e in events], text)
        assert_fits(text, width)
        outputs["history", width] = text
    # Piped with no COLUMNS: wide (200), not cut to 80 columns.
    piped = people("--db", demo_url, *asked["customer"]).stdout.decode()
    assert piped == outputs["customer", 200]
    # Wide, one row per line; narrow, one block per record ("column: value" lines); at 80,
    # a table that fits (the relationships) stays a table.
    assert "│ azure-ea-1 " in outputs["customer", 200]
    assert "\nsubscription: azure-ea-1\n" in outputs["customer", 40]
    assert "│ req-fab-1 " in outputs["customer", 80] and "│ req-fab-1 " not in outputs["customer", 40]
    assert "│ customer.registered " in outputs["history", 200]
    assert "\ntype: customer.registered\n" in outputs["history", 40]


def _world(ledger: Ledger, *extra: dict[str, Any]) -> None:
    """fabrikam sells contoso an Office 365 licence whose term ends on 2020-03-01, then
    whatever ``extra`` records."""
    events = [
        partner("fabrikam"),
        parse_event(
            raw(
                "customer.registered",
                "2019-01-01T00:00:00Z",
                PARTNER_ROLE,
                "contoso",
                customer_id="contoso",
                name="Contoso",
                cloud="commercial",
            )
        ),
        request("req-1", "fabrikam", "contoso"),
        accept("req-1", "contoso"),
        purchase("o365-1", "contoso", service="license", term_end="2020-03-01T00:00:00Z"),
        *(parse_event(e) for e in extra),
    ]
    ledger.record_many(list(enumerate(events, start=1)))


def test_a_cancellation_time_and_an_ended_term_in_json_and_for_people(url: str, ledger: Ledger) -> None:
    _world(ledger)
    ledger.record(cancel("o365-1", "2020-06-01T10:30:00Z"))

    def por(at: str) -> dict[str, Any]:
        moment = to_us(parse_time(at, "--as-of"))
        answer = read.por(ledger, "o365-1", moment)
        assert answer == read.customer(ledger, "contoso", moment)["subscriptions"][0]
        return answer

    before = por("2020-01-01T00:00:00Z")
    assert (before["status"], before["cancelled_at"]) == ("active", None)
    assert (before["term_end"], before["term_ended"]) == ("2020-03-01T00:00:00Z", False)
    ended = por("2020-03-01T00:00:00Z")
    assert (ended["status"], ended["cancelled_at"], ended["term_ended"]) == ("active", None, True)
    after = por("2021-01-01T00:00:00Z")
    assert (after["status"], after["cancelled_at"], after["term_ended"]) == (
        "cancelled",
        "2020-06-01T10:30:00Z",
        True,
    )

    shown = people("--db", url, "por", "o365-1", "--as-of", "2020-04-01T00:00:00Z").stdout.decode()
    assert "active, term ended 2020-03-01T00:00:00Z" in shown
    shown = people("--db", url, "customer", "contoso", "--as-of", "2021-01-01T00:00:00Z").stdout.decode()
    assert "cancelled 2020-06-01T10:30:00Z, term ended 2020-03-01T00:00:00Z" in shown
    assert "term ended" not in people("--db", url, "por", "o365-1", "--as-of", "2020-01-01").stdout.decode()

    # The command's answer; derived from the versions the fold writes, so verify agrees, and
    # a rebuild answers the same.
    assert run_json("--db", url, "por", "o365-1", "--as-of", "2021-01-01T00:00:00Z") == after
    assert ledger.verify().count == 6
    ledger.rebuild()
    assert por("2021-01-01T00:00:00Z") == after


def test_a_usage_subscription_has_no_term(url: str, ledger: Ledger) -> None:
    _world(ledger)
    ledger.record(purchase("azure-1", "contoso"))
    answer = run_json("--db", url, "por", "azure-1")
    assert (answer["term_end"], answer["term_ended"], answer["cancelled_at"]) == (None, None, None)


def test_history_shows_the_recorded_time_and_the_note_escaped(url: str, ledger: Ledger) -> None:
    note = "ticket 4711\nsecond line\tafter a tab"  # a note may hold line breaks and tabs
    _world(
        ledger,
        raw(
            "subscription.cancelled",
            "2020-06-01T00:00:00Z",
            SALES_ROLE,
            "fabrikam",
            note=note,
            subscription_id="o365-1",
        ),
    )
    events = run_json("--db", url, "history")["events"]
    shown = people("--db", url, "history", columns=40).stdout.decode()  # one block per event
    for event in events:
        assert event["recorded_at"] in _words(shown)
    assert "\nnote: ticket 4711\\nsecond line\\tafter a tab\n" in shown  # escaped, as stored text is
    assert events[-1]["note"] == note


def test_customer_without_delegations_says_none_active(url: str, ledger: Ledger) -> None:
    _world(ledger)
    shown = people("--db", url, "customer", "contoso").stdout.decode()
    assert "Delegations: none active." in shown
    assert "delegation" not in shown.split("Delegations: none active.")[0].lower()  # no empty table


# Cells a spreadsheet would run as formulas (OWASP "CSV Injection").
HOSTILE = ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tx", "\rx")


def _csv(*args: str) -> list[dict[str, str]]:
    done = people(*args, "--csv")
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout.decode(), newline="")))


def test_csv_neutralises_formulas(url: str, ledger: Ledger) -> None:
    hostile_sale = raw(
        "subscription.purchased",
        "2019-03-02T00:00:00Z",
        SALES_ROLE,
        "fabrikam",
        note=HOSTILE[1],
        subscription_id="azure-1",
        customer_id="contoso",
        offer=HOSTILE[0],
        service="usage",
        channel="csp",
        seller_id="fabrikam",
    )
    notes = [
        raw(
            "delegation.granted",
            "2019-05-01T00:00:00Z",
            CUSTOMER_ROLE,
            "contoso",
            note=text,
            delegation_id=f"-{n}",
            customer_id="contoso",
            partner_id="fabrikam",
            kind="dap",
            roles=["admin-agent"],
        )
        for n, text in enumerate(HOSTILE[2:])
    ]
    _world(ledger, hostile_sale, *notes)

    history = _csv("--db", url, "history")
    assert [row["note"] for row in history if row["note"]] == [
        f"'{text}" for text in HOSTILE[1:2] + HOSTILE[2:]
    ]
    assert [int(row["position"]) for row in history] == list(range(1, len(history) + 1))
    assert orjson.loads(history[5]["data"])["offer"] == HOSTILE[0]  # JSON text: it starts with {

    customer = _csv("--db", url, "customer", "contoso")
    offers = {row["subscription_id"]: row["offer"] for row in customer if row["section"] == "subscription"}
    assert offers == {"o365-1": "Office 365 E3", "azure-1": f"'{HOSTILE[0]}"}
    assert {row["delegation_id"] for row in customer if row["section"] == "delegation"} == {
        "'-0",
        "'-1",
        "'-2",
        "'-3",
    }

    delegations = _csv("--db", url, "delegations", "contoso")
    assert [(row["customer_id"], row["delegation_id"], row["roles"]) for row in delegations] == [
        ("contoso", f"'-{n}", "admin-agent") for n in range(4)
    ]
    both = people("--db", url, "delegations", "contoso", "--csv", "--json")
    assert both.returncode == 2 and orjson.loads(both.stdout)["error"]["fields"] == ["--csv"]


def _on_a_terminal(args: list[str], env: dict[str, str], rows: int = 10) -> tuple[int, bytes]:
    """Run ``ledger ARGS`` with standard output on a terminal ``rows`` high and 200 wide;
    its exit code and what reached the terminal."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 200, 0, 0))
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        done = subprocess.run(
            [*ledger_command(), *args],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert b"Traceback" not in done.stderr, done.stderr
    return done.returncode, b"".join(seen)


def test_long_history_is_paged_on_a_terminal_only(demo_url: str, tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    env = _env(PAGER=f"tee {paged} > /dev/null")
    count = len(run_json("--db", demo_url, "history")["events"])

    piped = people("--db", demo_url, "history", PAGER=f"tee {paged} > /dev/null")
    assert f"{count} events." in piped.stdout.decode() and not paged.exists()

    code, screen = _on_a_terminal(["--db", demo_url, "history"], env)
    assert code == 0 and f"{count} events." in paged.read_text() and b"events." not in screen
    paged.unlink()
    code, screen = _on_a_terminal(["--db", demo_url, "history", "--no-pager"], env)
    assert code == 0 and not paged.exists() and f"{count} events.".encode() in screen
    code, screen = _on_a_terminal(["--db", demo_url, "history", "--customer", "tailspin"], env, rows=500)
    assert code == 0 and not paged.exists() and b" events." in screen  # it fits: no pager


def test_quiet_prints_nothing_on_success_and_errors_still(url: str, tmp_path: Path) -> None:
    actor = [
        "--actor-id",
        "ops@contoso.example",
        "--actor-role",
        "global-admin",
        "--actor-tenant-id",
        "contoso",
    ]
    register = [
        "customer.registered",
        "--effective-at",
        "2019-01-01T00:00:00Z",
        *actor,
        "--cloud",
        "commercial",
    ]
    done = people(
        "--db", url, "record", *register, "--customer-id", "contoso", "--name", "Contoso", "--quiet"
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    done = people(
        "--db", url, "record", "--quiet", *register, "--customer-id", "wingtip", "--name", "Wingtip"
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    event = raw(
        "partner.registered",
        "2019-01-01T00:00:00Z",
        PARTNER_ROLE,
        "fabrikam",
        partner_id="fabrikam",
        name="Fabrikam",
        cloud="commercial",
        program="csp-direct",
    )
    done = people("--db", url, "record", "--event", orjson.dumps(event).decode(), "--quiet")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert len(run_json("--db", url, "history")["events"]) == 3

    bad = people(
        "--db", url, "record", *register, "--customer-id", "c", "--name", "C", "--cloud", "nowhere", "--quiet"
    )
    assert bad.returncode == 2 and bad.stdout == b"" and b"--cloud" in bad.stderr
    unknown = raw(
        "subscription.cancelled", "2020-01-01T00:00:00Z", SALES_ROLE, "fabrikam", subscription_id="nope"
    )
    refused = people("--db", url, "record", "--event", orjson.dumps(unknown).decode(), "--quiet")
    assert refused.returncode == 3 and refused.stdout == b"" and b"known-references" in refused.stderr

    lines = tmp_path / "events.jsonl"
    sale = raw(
        "customer.registered",
        "2019-02-01T00:00:00Z",
        PARTNER_ROLE,
        "tailspin",
        customer_id="tailspin",
        name="Tailspin",
        cloud="commercial",
    )
    lines.write_bytes(orjson.dumps(sale) + b"\n")
    for args in (("import", str(lines)), ("verify",), ("rebuild",), ("verify", "--json")):
        done = people("--db", url, *args, "--quiet")
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), args
    assert len(run_json("--db", url, "history")["events"]) == 4

    rawdb.execute(url, "UPDATE prj_customers SET name = 'Tampered' WHERE customer_id = 'tailspin'")
    broken = people("--db", url, "verify", "--quiet")
    assert broken.returncode == 4 and broken.stdout == b"" and b"position 4" in broken.stderr


def test_a_table_of_names_and_values_folds_to_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = "ab" * 32  # a hash: wider than 40 columns leave it
    rows = [["position", "6"], ["hash", digest]]
    folded = _rendered(
        monkeypatch, 40, lambda: _output.out.print(_output.table(None, ("field", "value"), rows))
    )
    assert folded == f"position: 6\nhash: {digest}\n"
    wide = _rendered(
        monkeypatch, 200, lambda: _output.out.print(_output.table(None, ("field", "value"), rows))
    )
    assert f"│ {digest} │" in wide
