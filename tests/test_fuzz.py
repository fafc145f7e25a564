"""Bad input, generated: malformed JSON, wrong types, unknown and missing keys, huge strings,
odd unicode, out-of-range times (``tests/fuzz_inputs.py``) fed to ``record`` and ``import``:
always exit 2 with a message naming the field, never a traceback, never a stored byte.

The default suite runs a short pass through the library, a shorter one through the command's
entry point in this process, and a handful through the installed ``ledger`` script on both
stores; what the long pass found is kept below as explicit examples. The long pass itself
(100,000 inputs) is ``pytest -m fuzz`` or ``python tests/fuzz_inputs.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import fuzz_inputs as fuzz
import orjson
import pytest
from fuzz_inputs import Case
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger import Ledger

import clitools

QUICK = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=600)

# What the fuzzing pass found, kept as regressions.
FOUND = [
    # An empty (or blank, or unprintable) unknown key was "named" as nothing at all: the message
    # read "is not a known field"; it is now quoted: "'' is not a known field".
    Case(
        "unknown-key",
        orjson.dumps({**fuzz.base_event("customer.registered"), "": None}),
        "''",
    ),
    Case("unknown-key", orjson.dumps({**fuzz.base_event("customer.registered"), " data": 1}), "' data'"),
    # A raw line break inside a JSON string: malformed as one record; as a line of a file it
    # is split in two (here escaped, which makes it valid: the oracle must allow that).
    Case(
        "not-json",
        orjson.dumps(fuzz.base_event("customer.registered")).replace(b'"id":"', b'"id":"\n', 1),
        None,
        must_fail=False,
    ),
    Case(
        "unknown-key",
        orjson.dumps(fuzz.put(fuzz.base_event("relationship.accepted"), "data.\u200b", 1)),
        "data.'\\u200b'",
    ),
]


def _with_examples(test: object) -> object:
    for case in FOUND:
        test = example(case)(test)  # type: ignore[arg-type]
    return test


@QUICK
@given(fuzz.bad_inputs())
@_with_examples
def test_bad_input_is_refused_naming_the_field(case: Case) -> None:
    fuzz.judge_library(case)


_STORE: dict[str, object] = {}


def _cli_store() -> tuple[str, Path]:
    """One SQLite store for the in-process command runs (hypothesis examples share it)."""
    if "url" not in _STORE:
        folder = Path(tempfile.mkdtemp(prefix="ledger-fuzz-"))
        url = f"sqlite:///{folder / 'fuzz.db'}"
        fuzz.prepare_store(url)
        _STORE.update(url=url, folder=folder, before=fuzz.store_state(url))
    return str(_STORE["url"]), Path(str(_STORE["folder"]))


@settings(QUICK, max_examples=120)
@given(fuzz.bad_inputs())
@_with_examples
def test_bad_input_through_the_command_exits_2_and_stores_nothing(case: Case) -> None:
    url, folder = _cli_store()
    fuzz.judge_cli(case, url, folder)


@settings(QUICK, max_examples=80)
@given(
    st.one_of(fuzz.bad_value(), fuzz.bad_time(), fuzz.odd_unicode(), fuzz.huge_string(), fuzz.cross_field())
)
def test_bad_values_through_typed_options_exit_2_naming_the_field(case: Case) -> None:
    """``ledger record TYPE --field value``: the same values, as options, the same answer."""
    try:
        event = orjson.loads(case.text)
    except orjson.JSONDecodeError:
        return  # a lone surrogate: no JSON text to take it from (and no shell could pass it)
    if case.field in (None, "type", "event") or not case.must_fail:
        return
    url, _ = _cli_store()
    args = ["--db", url, "record", event["type"], "--json"]
    options = {"effective_at": event["effective_at"], "event_id": event["event_id"], "note": event["note"]}
    options |= {f"actor_{k}": v for k, v in event["actor"].items()} | event["data"]
    for name, value in options.items():
        for item in value if isinstance(value, list) else [value]:
            args += [f"--{name.replace('_', '-')}", item]
    code, out, err = fuzz.run_cli(*args)
    assert b"Traceback" not in err, err
    assert code == 2, (case, out, err)
    error = orjson.loads(out)["error"]
    # Named as typed: the option (data.term_end: --term-end; actor.id: --actor-id), every field
    # at fault listed in "fields".
    option = "--" + case.field.split("[")[0].removeprefix("data.").replace("actor.", "actor_").replace(
        "_", "-"
    )
    assert error["code"] == "bad-input" and option in [f.split(" ")[0] for f in error["fields"]], error
    assert all(f in error["message"] for f in error["fields"]), error


def test_the_command_runs_stored_nothing() -> None:
    url, _ = _cli_store()
    assert fuzz.store_state(url) == _STORE["before"]


def _samples() -> list[Case]:
    """A fixed, varied handful: the first example of each kind of spoiling (seeded)."""
    found: dict[str, Case] = {}

    @settings(QUICK, max_examples=400, database=None, derandomize=True)
    @given(fuzz.bad_inputs())
    def collect(case: Case) -> None:
        if case.must_fail and case.kind not in found and len(case.text) < 100_000:
            found[case.kind] = case

    collect()
    return [*found.values(), *FOUND[:1]]


def test_bad_input_through_the_installed_command_on_both_stores(url: str, tmp_path: Path) -> None:
    """``ledger record --event -`` and ``ledger import`` as a user runs them, on SQLite and
    PostgreSQL: exit 2 naming the field (and the line), no traceback, nothing stored."""
    with Ledger(url) as ledger:
        fuzz.prepare_store(url)
        before = fuzz.store_state(url)
        assert ledger.head() == 2
    for case in _samples():
        done = clitools.run("--db", url, "record", "--json", "--event", "-", stdin=case.text)
        assert b"Traceback" not in done.stderr, done.stderr
        assert done.returncode == 2, (case, done.stdout, done.stderr)
        error = orjson.loads(done.stdout)["error"]
        assert error["code"] == "bad-input"
        if case.field is not None:
            assert error["message"].startswith(case.field), (case, error)
        middle = case.text.replace(b"\n", b" ")
        if not middle.strip():
            continue  # a blank line in a file is skipped: no bad input there
        lines = tmp_path / "events.jsonl"
        lines.write_bytes(b"\n".join([fuzz.VALID_LINES[0], middle, fuzz.VALID_LINES[1]]))
        done = clitools.run("--db", url, "import", str(lines))
        assert b"Traceback" not in done.stderr, done.stderr
        assert done.returncode == 2, (case, done.stdout, done.stderr)
        assert b"line 2" in done.stderr
    assert fuzz.store_state(url) == before


@pytest.mark.fuzz
def test_the_long_fuzzing_pass(tmp_path: Path) -> None:
    """100,000 generated inputs through the library, one in twenty also through the command."""
    folder = tmp_path
    url = f"sqlite:///{folder / 'fuzz.db'}"
    fuzz.prepare_store(url)
    before = fuzz.store_state(url)
    seen: dict[str, int] = {"cases": 0}

    @settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=100_000, database=None)
    @given(fuzz.bad_inputs())
    def one(case: Case) -> None:
        seen["cases"] += 1
        if fuzz.judge_library(case) == "bad" and seen["cases"] % 20 == 0:
            fuzz.judge_cli(case, url, folder)
            seen["through the command"] = seen.get("through the command", 0) + 1

    one()
    assert seen["cases"] >= 100_000 and seen["through the command"] >= 4_000
    assert fuzz.store_state(url) == before
