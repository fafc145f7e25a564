"""Issue 12 (hardening), the verification items, on SQLite and on PostgreSQL:

- 12.3 ``verify`` printed a head it did not verify: under concurrent appends the head hash
  was read after the verification, in another read. Here another writer commits in the
  middle of a verification (library and command): the count, the head position and the
  head hash answered are all of the one pass, and the digest handed on is the last
  position verified.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
import pytest

import projections
from ledger import Ledger

from builders import accept, customer, grant, partner, purchase, request

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


def test_12_3_an_empty_log_verifies_to_the_genesis_head(url: str) -> None:
    with Ledger(url) as ledger:
        verified = ledger.verify(digest="0" * 64)
    assert (verified.count, verified.head, verified.head_hash, verified.extends) == (0, 0, "0" * 64, 0)
