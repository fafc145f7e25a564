"""A part of test_adversarial.py, which runs it.

Issue 12 (hardening), the verification items, on SQLite and on PostgreSQL:

- 12.3 ``verify`` printed a head it did not verify: under concurrent appends the head hash
  was read after the verification, in another read. Here another writer commits in the
  middle of a verification (library and command): the count, the head position and the
  head hash answered are all of the one pass, and the digest handed on is the last
  position verified.
- 12.4 ``verify`` did not replay the rulebook: an attacker who drops the triggers, changes
  an event and recomputes every hash after it (and rebuilds the projections) had a log
  that verified although an event in it breaks a rule (its own export then fails to
  restore, exit 3). Now every event is judged again in the verification's one pass: exit
  4 naming the first position the rulebook refuses and the rule. Likewise an event the
  ledger could not have recorded (one that does not parse, one not in the normal form the
  ledger stores, one whose stored bytes carry the chain's own fields, which the hash does
  not cover), and an event_id stored twice: verify passes only a log whose export
  restores.
- 12.5 the report said "verify passed" of a log rewritten whole: ``ledger report`` takes
  ``--digest`` like ``verify``, shows what was checked (chain, rulebook, projections, and
  whether the log extends the digest), and says plainly when no earlier digest was
  checked.

The attacker has what a DBA has: a raw connection (``rawdb``). Each forgery is consistent:
the changed event's stored bytes are the ledger's own encoding of it (``state_bytes``) and
every hash from it on is recomputed (``chain_hash``). The triggers it drops come back when
a ``Ledger`` (or the command) opens the store, so what verify finds is the forgery itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import projections
from ledger import RULE_IDS, IntegrityFailure, Ledger
from ledger._chain import chain_hash
from ledger._stream import state_bytes

import rawdb
from builders import accept, customer, grant, partner, purchase, request
from clitools import run, run_json

EVENTS = [
    partner("fabrikam"),
    customer("contoso"),
    request("r-1", "fabrikam", "contoso"),
    accept("r-1", "contoso"),
    purchase("sub-1", "contoso"),
    grant("d-1", "contoso", "fabrikam", at="2019-05-01T00:00:00Z"),
]


@pytest.fixture
def recorded(url: str) -> str:
    """A store holding ``EVENTS``."""
    with Ledger(url) as ledger:
        ledger.record_many(list(enumerate(EVENTS, start=1)))
    return url


def forge(url: str, position: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the event at ``position`` with ``change`` and every hash from it on, as an
    attacker with write access would: triggers dropped, the stored bytes the ledger's own
    encoding of the changed event, each chain row's ``prev_hash`` and ``hash`` recomputed."""
    with Ledger(url) as ledger:
        stored = list(ledger.stored())
        table = ledger.events_table
    rawdb.drop_triggers(url)
    prev_hash = stored[position - 2]["hash"] if position > 1 else "0" * 64
    for row in stored[position - 1 :]:
        event = {k: v for k, v in row.items() if k not in ("position", "recorded_at", "prev_hash", "hash")}
        at = row["position"]
        if at == position:
            change(event)
            rawdb.execute(
                url, f"UPDATE {table} SET state = ? WHERE originator_version = ?", (state_bytes(event), at)
            )
        digest = chain_hash(event, at, row["recorded_at"], prev_hash)
        rawdb.execute(
            url, "UPDATE ledger_chain SET prev_hash = ?, hash = ? WHERE position = ?", (prev_hash, digest, at)
        )
        prev_hash = digest


def refused(url: str) -> IntegrityFailure:
    with Ledger(url) as ledger, pytest.raises(IntegrityFailure) as failure:
        ledger.verify()
    return failure.value


# --- 12.3: the head verify answers is the head it verified -----------------------------------


def _commit_meanwhile(url: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make another writer commit one event while a verification is under way (after its
    events are folded, before the projections are compared); returns the positions it
    stored."""
    compare = projections.first_difference
    stored: list[int] = []

    def appended_meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not stored:
            with Ledger(url) as other:
                stored.append(other.record(partner(f"latecomer-{len(stored)}")).position)
        return compare(*args, **kwargs)

    monkeypatch.setattr(projections, "first_difference", appended_meanwhile)
    return stored


def test_12_3_verify_answers_the_head_of_its_own_pass_while_another_writer_commits(
    recorded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(recorded) as ledger:
        before = ledger.head_hash()
        meanwhile = _commit_meanwhile(recorded, monkeypatch)
        verified = ledger.verify(digest=before)
        assert meanwhile == [len(EVENTS) + 1]  # the other writer did commit, mid-verification
        assert verified == verified.count == verified.head == len(EVENTS)
        assert verified.head_hash == before != ledger.head_hash()
        assert verified.extends == len(EVENTS)
        monkeypatch.undo()
        after = ledger.verify()
        assert (after.count, after.head_hash) == (len(EVENTS) + 1, ledger.head_hash())


def test_12_3_the_verify_command_prints_the_head_it_verified_while_another_writer_commits(
    recorded: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command, in this process (``cli.app.main``, what the console script runs), so
    that the other writer can commit in the middle of its verification."""
    from cli.app import main

    with Ledger(recorded) as ledger:
        verified_head = ledger.head_hash()
    meanwhile = _commit_meanwhile(recorded, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["ledger", "--db", recorded, "verify", "--json"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0 and meanwhile == [len(EVENTS) + 1]
    answer = orjson.loads(capsys.readouterr().out)
    assert answer == {"verified": len(EVENTS), "head": verified_head}
    with Ledger(recorded) as ledger:  # the digest it printed is that of the last position verified
        assert next(ledger.stored(len(EVENTS), len(EVENTS)))["hash"] == answer["head"]
        assert ledger.head_hash() != answer["head"]


def test_12_3_the_result_still_reads_as_the_count(recorded: str, tmp_path: Path) -> None:
    """``verify`` answers an int carrying the head: printed, it is the count it always was."""
    with Ledger(recorded) as ledger:
        verified = ledger.verify()
    assert (str(verified), f"{verified}", f"{verified:>3}", orjson.dumps(verified)) == ("6", "6", "  6", b"6")
    demo = run("--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo")
    assert demo.returncode == 0 and "Verified 60 events: the chain" in demo.stdout.decode()


def test_12_3_an_empty_log_verifies_to_the_genesis_head(url: str) -> None:
    with Ledger(url) as ledger:
        verified = ledger.verify(digest="0" * 64)
    assert (verified.count, verified.head, verified.head_hash, verified.extends) == (0, 0, "0" * 64, 0)


# --- 12.4: a consistently rewritten log that breaks a rule ------------------------------------


def test_12_4_an_event_rewritten_to_break_a_rule_without_touching_the_projections(recorded: str) -> None:
    """The partner's registration now claims a sales agent registered it (eligible-role):
    the fold reads no role, so the projections still match; only the rulebook sees it."""

    def by_a_sales_agent(event: dict[str, Any]) -> None:
        event["actor"]["role"] = "sales-agent"

    forge(recorded, 1, by_a_sales_agent)
    with Ledger(recorded) as ledger:
        assert ledger.verify_chain() == len(EVENTS)  # the forgery is consistent
    failure = refused(recorded)
    assert failure.position == 1 and failure.rule == "eligible-role"
    assert "position 1" in failure.message and "eligible-role" in failure.message


def test_12_4_a_rewritten_purchase_caught_by_the_rulebook_as_restore_catches_it(
    recorded: str, fresh_url: str, tmp_path: Path
) -> None:
    """The purchase now names a seller the ledger never knew; the attacker rebuilds the
    projections so that they match. Verify exits 4 naming the position and the rule that its
    own export's restore refuses with (exit 3)."""

    def sold_by_mallory(event: dict[str, Any]) -> None:
        event["data"]["seller_id"] = "mallory"

    forge(recorded, 5, sold_by_mallory)
    assert run_json("--db", recorded, "rebuild") == {"rebuilt": len(EVENTS)}  # tidied
    backup = tmp_path / "forged.jsonl"
    assert run_json("--db", recorded, "export", str(backup))["exported"] == len(EVENTS)
    restore = run_json("--db", fresh_url, "import", "--restore", str(backup), expect=3)["error"]
    assert restore["code"] == "rule-violation" and restore["rule"] in RULE_IDS

    error = run_json("--db", recorded, "verify", expect=4)["error"]
    assert error["code"] == "integrity" and error["position"] == 5 and error["rule"] == restore["rule"]
    assert "position 5" in error["message"] and restore["rule"] in error["message"]
    plain = run("--db", recorded, "verify")
    assert plain.returncode == 4 and b"Traceback" not in plain.stderr
    assert restore["rule"].encode() in plain.stderr and b"position 5" in plain.stderr


def test_12_4_the_first_position_the_rulebook_refuses_is_named(recorded: str) -> None:
    """Two forged events: the earlier one is named, even where a later one is also bad."""

    def by_a_sales_agent(event: dict[str, Any]) -> None:
        event["actor"]["role"] = "sales-agent"

    forge(recorded, 6, by_a_sales_agent)  # a customer's grant, now by a partner's sales agent
    forge(recorded, 4, by_a_sales_agent)  # the customer's acceptance, likewise
    failure = refused(recorded)
    assert (failure.position, failure.rule) == (4, "eligible-role")


def _unknown_field(event: dict[str, Any]) -> None:
    event["data"]["discount"] = "100%"


def _offset_time(event: dict[str, Any]) -> None:
    event["effective_at"] = event["effective_at"].replace("Z", "+00:00")  # the same instant


def _hash_inside(event: dict[str, Any]) -> None:
    event["hash"] = "f" * 64  # the chain's own field, in the stored bytes: not hashed


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_unknown_field, "not one the ledger could have recorded (data.discount"),
        (_offset_time, "not in the form the ledger records"),
        (_hash_inside, "not the ledger's own record"),
    ],
    ids=["unknown field", "time not in normal form", "chain field in the stored event"],
)
def test_12_4_an_event_the_ledger_could_not_have_recorded(
    recorded: str, change: Callable[[dict[str, Any]], None], says: str
) -> None:
    forge(recorded, 3, change)
    failure = refused(recorded)
    assert failure.position == 3 and says in failure.message, failure.message
    error = run_json("--db", recorded, "verify", expect=4)["error"]
    assert error["code"] == "integrity" and error["position"] == 3


def test_12_4_an_event_id_stored_twice(recorded: str, fresh_url: str, tmp_path: Path) -> None:
    """The attacker also drops the chain table's UNIQUE constraint (rebuilding the table
    without it) and gives the purchase the customer registration's event_id: the rulebook
    and the fold do not read event ids, restore refuses the export ("appears twice")."""
    for statement in (
        "CREATE TABLE chain_copy AS SELECT * FROM ledger_chain",
        "DROP TABLE ledger_chain",
        "ALTER TABLE chain_copy RENAME TO ledger_chain",
    ):
        rawdb.execute(recorded, statement)
    taken = EVENTS[1].event_id

    def reusing_an_id(event: dict[str, Any]) -> None:
        event["event_id"] = taken

    forge(recorded, 5, reusing_an_id)
    rawdb.execute(recorded, "UPDATE ledger_chain SET event_id = ? WHERE position = 5", (taken,))
    with Ledger(recorded) as ledger:
        assert ledger.verify_chain() == len(EVENTS)
    backup = tmp_path / "forged.jsonl"
    run_json("--db", recorded, "export", str(backup))
    assert (
        "appears twice"
        in run_json("--db", fresh_url, "import", "--restore", str(backup), expect=4)["error"]["message"]
    )
    failure = refused(recorded)
    assert failure.position == 5 and "event_id" in failure.message


def test_12_4_rebuild_does_not_judge(recorded: str) -> None:
    """Rebuilding is not verifying: it folds a forged log as it is (verify is what refuses)."""

    def by_a_sales_agent(event: dict[str, Any]) -> None:
        event["actor"]["role"] = "sales-agent"

    forge(recorded, 1, by_a_sales_agent)
    with Ledger(recorded) as ledger:
        assert ledger.rebuild() == len(EVENTS)
    assert refused(recorded).rule == "eligible-role"


# --- 12.5: the report says what was checked ---------------------------------------------------


def _checks(page: str) -> str:
    start = page.index('id="verification"')
    return page[start : page.index("</dd>", start)]


def test_12_5_the_report_says_no_earlier_digest_was_checked(recorded: str, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    answer = run_json("--db", recorded, "report", "contoso", "--out", str(target))
    assert answer["verified"] == len(EVENTS) and "extends" not in answer
    checks = _checks(target.read_text(encoding="utf-8"))
    for check in ("check-chain", "check-rulebook", "check-projections"):
        assert f'id="{check}"' in checks
    assert "no earlier digest was checked: a log rewritten whole would pass" in checks
    plain = run("--db", recorded, "report", "contoso", "--out", str(target))
    assert plain.returncode == 0 and b"verify passed" in plain.stdout
    assert b"no earlier digest was checked: a log rewritten whole would pass" in plain.stdout


def test_12_5_the_report_with_a_digest_says_the_log_extends_it(recorded: str, tmp_path: Path) -> None:
    with Ledger(recorded) as ledger:
        digest = next(ledger.stored(4, 4))["hash"]  # a head kept when the log had 4 events
    target = tmp_path / "r.html"
    answer = run_json("--db", recorded, "report", "contoso", "--out", str(target), "--digest", digest.upper())
    assert answer["extends"] == digest and answer["verified"] == len(EVENTS)
    checks = _checks(target.read_text(encoding="utf-8"))
    assert "no earlier digest was checked" not in checks
    assert (
        f'the log still extends the log whose head was <code class="hash">{digest}</code> (position 4)'
        in checks
    )
    plain = run("--db", recorded, "report", "contoso", "--out", str(target), "--digest", digest)
    assert (
        plain.returncode == 0 and f"the log extends the one whose head was {digest}".encode() in plain.stdout
    )


def test_12_5_a_log_rewritten_whole_fails_the_report_given_the_earlier_digest(
    recorded: str, fresh_url: str, tmp_path: Path
) -> None:
    """A forged log, recorded from scratch, verifies on its own; the digest of the real one
    is not in it."""
    with Ledger(recorded) as ledger:
        digest = ledger.head_hash()
    with Ledger(fresh_url) as forged:
        forged.record_many(list(enumerate(EVENTS[:5], start=1)))
    target = tmp_path / "r.html"
    run_json("--db", fresh_url, "report", "contoso", "--out", str(target))  # passes without one
    error = run_json(
        "--db", fresh_url, "report", "contoso", "--out", str(target), "--digest", digest, expect=4
    )
    assert (
        error["error"]["code"] == "integrity" and "no longer contains the head" in error["error"]["message"]
    )
    page = target.read_text(encoding="utf-8")
    assert "FAILED" in page and "passed" not in page and digest in _checks(page)


def test_12_5_a_forged_event_fails_the_report_naming_the_rule(recorded: str, tmp_path: Path) -> None:
    def by_a_sales_agent(event: dict[str, Any]) -> None:
        event["actor"]["role"] = "sales-agent"

    forge(recorded, 4, by_a_sales_agent)
    target = tmp_path / "r.html"
    error = run_json("--db", recorded, "report", "contoso", "--out", str(target), expect=4)["error"]
    assert error["code"] == "integrity" and error["position"] == 4 and "eligible-role" in error["message"]
    page = target.read_text(encoding="utf-8")
    assert "FAILED" in page and "eligible-role" in page and "no earlier digest was checked" in page


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "0" * 65])
def test_12_5_a_malformed_digest_is_bad_input_and_writes_no_report(
    recorded: str, tmp_path: Path, digest: str
) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "r.html"
    error = run_json(
        "--db", recorded, "report", "contoso", "--out", str(target), "--digest", digest, expect=2
    )
    assert error["error"]["code"] == "bad-input"
    assert error["error"]["message"].startswith("digest must be a head hash as verify prints it")
    assert list(target.parent.iterdir()) == []
