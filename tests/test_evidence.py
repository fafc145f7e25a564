"""Issue 17 on the store: the Merkle tree every append keeps, its proofs, signed checkpoints,
and what they catch, on SQLite and PostgreSQL (the pure core: test_merkle, test_checkpoint,
test_verifier)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import IntegrityFailure, Ledger, _postgres, _sqlite
from ledger._chain import chain_hash, chain_leaf
from ledger._checkpoint import generate_key, open_checkpoint, sign_checkpoint
from ledger._merkle import (
    CompactRange,
    consistency_proof,
    hash_children,
    hash_leaf,
    inclusion_proof,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from ledger._proof_errors import ProofError, RootMismatch, SizeRolledBack
from ledger._stream import state_bytes
from ledger._verifier import check_consistency, check_inclusion, leaf_bytes

import rawdb
from builders import partner
from clitools import run, run_json

N = 150  # events of the property tests: every tree size up to it


def _partners(start: int, count: int) -> list[tuple[int, Any]]:
    return [(i, partner(f"p-{start + i}")) for i in range(1, count + 1)]


def _record(ledger: Ledger, count: int) -> None:
    """``count`` events in appends of uneven sizes, so the tree is carried across appends
    from every shape of compact range."""
    done, size = 0, 1
    while done < count:
        step = min(size, count - done)
        ledger.record_many(_partners(done, step))
        done += step
        size = size % 7 + 1


def _stored_nodes(url: str) -> dict[tuple[int, int], bytes]:
    return {
        (int(level), int(idx)): bytes.fromhex(value)
        for level, idx, value in rawdb.execute(url, "SELECT level, idx, hash FROM ledger_nodes")
    }


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH, by its recursive definition, from the leaves themselves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hash_leaf(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hash_children(_mth(leaves[:k]), _mth(leaves[k:]))


@pytest.fixture
def grown(url: str) -> Iterator[tuple[str, Ledger]]:
    with Ledger(url) as ledger:
        _record(ledger, N)
        yield url, ledger


# --- the stored tree ----------------------------------------------------------------------------


def test_every_proof_of_every_size_verifies_against_the_stored_tree(grown: tuple[str, Ledger]) -> None:
    """Every root of every size equals RFC 9162's MTH of the exported events' leaves;
    every inclusion proof of every leaf and every consistency proof between every two sizes,
    read from the stored nodes, verifies."""
    url, ledger = grown
    leaves = [leaf_bytes(event) for event in ledger.stored()]
    assert len(leaves) == N
    nodes = _stored_nodes(url)
    assert len(nodes) == 2 * N - N.bit_count()  # every perfect subtree, nothing else

    def get(level: int, idx: int) -> bytes:
        return nodes[(level, idx)]

    roots = [_mth(leaves[:size]) for size in range(N + 1)]
    for size in range(1, N + 1):
        assert root_at(size, get) == roots[size]
        for index in range(size):
            verify_inclusion(
                index, size, hash_leaf(leaves[index]), inclusion_proof(index, size, get), roots[size]
            )
        for old in range(1, size + 1):
            verify_consistency(old, size, roots[old], roots[size], consistency_proof(old, size, get))
    assert ledger.tree_head() == (N, roots[N])


def test_every_single_bit_change_of_a_proof_fails(grown: tuple[str, Ledger]) -> None:
    """A proof read through the ledger, each bit of each hash flipped in turn: never verifies."""
    _, ledger = grown
    leaves = [leaf_bytes(event) for event in ledger.stored()]
    for size in (1, 2, 3, 7, 8, 9, 64, 100, N):
        root = _mth(leaves[:size])
        index = (size * 5) // 7
        proof = ledger.prove_inclusion(index + 1, size)
        assert proof.leaf_hash == hash_leaf(leaves[index])
        verify_inclusion(index, size, proof.leaf_hash, proof.path, root)
        for element in range(len(proof.path) + 1):
            for bit in range(256):
                path = [proof.leaf_hash, *proof.path]
                flipped = bytearray(path[element])
                flipped[bit // 8] ^= 1 << (bit % 8)
                path[element] = bytes(flipped)
                with pytest.raises(ProofError):
                    verify_inclusion(index, size, path[0], path[1:], root)
        if size > 1:
            old = size // 2 + 1 if size > 2 else 1
            growth = ledger.prove_consistency(old, size)
            for element in range(len(growth.path)):
                for bit in range(256):
                    path = list(growth.path)
                    flipped = bytearray(path[element])
                    flipped[bit // 8] ^= 1 << (bit % 8)
                    path[element] = bytes(flipped)
                    with pytest.raises(ProofError):
                        verify_consistency(old, size, _mth(leaves[:old]), root, path)


def test_a_restore_builds_the_same_tree(grown: tuple[str, Ledger], fresh_url: str) -> None:
    url, ledger = grown
    with Ledger(fresh_url) as copy:
        copy.restore(enumerate(ledger.stored(), start=1))
        assert copy.tree_head() == ledger.tree_head()
    assert _stored_nodes(fresh_url) == _stored_nodes(url)


def _recreate_node_guards(url: str) -> None:
    if url.startswith("postgresql"):
        for statement in _postgres.triggers("ledger_nodes"):
            rawdb.execute(url, statement)


def test_a_ledger_made_before_the_tree_gets_it_once_when_first_needed(url: str) -> None:
    """Events stored with no tree (a ledger from before issue 17): the first append builds
    it under the write lock, node for node what it would have been."""
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 23))
    before = _stored_nodes(url)
    rawdb.drop_triggers(url)
    rawdb.execute(url, "DELETE FROM ledger_nodes")
    _recreate_node_guards(url)
    with Ledger(url) as ledger:
        if url.startswith("postgresql"):
            for statement in _postgres.guards_ddl(ledger.events_table):
                rawdb.execute(url, statement)
        assert rawdb.execute(url, "SELECT COUNT(*) FROM ledger_nodes") == [(0,)]
        ledger.record(partner("late"))
        nodes = _stored_nodes(url)
        assert {key: value for key, value in nodes.items() if (key[1] + 1) << key[0] <= 23} == before
        assert len(nodes) == 2 * 24 - (24).bit_count()
        assert ledger.verify() == 24


def test_a_long_backfill_is_said_on_standard_error(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger import _tree

    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 8))
        table = ledger.events_table
    rawdb.drop_triggers(url)
    rawdb.execute(url, "DELETE FROM ledger_nodes")
    _restore_guards(url, table)
    monkeypatch.setattr(_tree, "BACKFILL_NOTICE", 5)
    with Ledger(url) as ledger:
        capsys.readouterr()
        assert ledger.tree_head()[0] == 8
        assert "building the Merkle tree over the 8 events stored before it" in capsys.readouterr().err
        assert ledger.tree_head()[0] == 8
        assert capsys.readouterr().err == ""  # once


def test_a_postgresql_store_made_before_the_tree_gets_its_table_and_guards(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        ledger.record_many(_partners(0, 5))
    rawdb.execute(pg_url, "DROP TABLE ledger_nodes")
    with Ledger(pg_url) as ledger:
        ledger.verify_guards()  # the node table's guards are there, the others untouched
        assert ledger.verify() == 5  # the tree built once, when first needed
    assert len(_stored_nodes(pg_url)) == 2 * 5 - 2
    with pytest.raises(Exception, match="append-only"):
        rawdb.execute(pg_url, "DELETE FROM ledger_nodes")


def test_a_proof_reads_a_handful_of_nodes(grown: tuple[str, Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    """A proof is one query for O(log n) nodes, never a scan."""
    from ledger import _tree

    _, ledger = grown
    reads: list[int] = []
    real = _tree.read_nodes

    def counting(db: Any, keys: Any) -> Any:
        reads.append(len(keys))
        return real(db, keys)

    monkeypatch.setattr(_tree, "read_nodes", counting)
    ledger.prove_inclusion(77, N)
    assert len(reads) == 1 and 0 < reads[0] <= 2 * N.bit_length()
    reads.clear()
    ledger.prove_consistency(33, N)
    assert len(reads) == 1 and 0 < reads[0] <= 2 * N.bit_length()


# --- what verify catches --------------------------------------------------------------------------


def _rewrite(url: str, ledger: Ledger, from_position: int) -> None:
    """A full rewrite of the log from ``from_position`` on, as an attacker with write access
    makes it: each event's note changed, its stored bytes the ledger's own encoding, every
    chain hash and every node of the Merkle tree recomputed."""
    stored = list(ledger.stored())
    table = ledger.events_table
    rawdb.drop_triggers(url)
    prev = stored[from_position - 2]["hash"] if from_position > 1 else "0" * 64
    leaves = [leaf_bytes(row) for row in stored[: from_position - 1]]
    for row in stored[from_position - 1 :]:
        event = {k: v for k, v in row.items() if k not in ("position", "recorded_at", "prev_hash", "hash")}
        event["data"] = {**event["data"], "name": event["data"]["name"] + " (forged)"}
        at = row["position"]
        rawdb.execute(
            url, f'UPDATE "{table}" SET state = ? WHERE originator_version = ?', (state_bytes(event), at)
        )
        digest = chain_hash(event, at, row["recorded_at"], prev)
        leaves.append(chain_leaf(event, at, row["recorded_at"], prev))
        rawdb.execute(
            url, "UPDATE ledger_chain SET prev_hash = ?, hash = ? WHERE position = ?", (prev, digest, at)
        )
        prev = digest
    rawdb.replace_tree(url, leaves)
    _restore_guards(url, table)


def _restore_guards(url: str, table: str) -> None:
    """The attacker puts the guards back, so that nothing looks amiss to the guard check."""
    if url.startswith("postgresql"):
        for statement in _postgres.guards_ddl(table):
            rawdb.execute(url, statement)
    else:
        for _, _, ddl in _sqlite.guards(table):
            rawdb.execute(url, ddl)


def test_a_full_rewrite_is_caught_by_a_checkpoint_taken_before(url: str) -> None:
    """Rewritten whole, every hash and every node recomputed, the log verifies on its own;
    the checkpoint signed before the rewrite catches it (its tree is no prefix of the new)."""
    key = generate_key("example.com/ledger")
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 12))
        head, note = ledger.checkpoint(key)
        ledger.record_many(_partners(100, 3))
        signed = open_checkpoint(note, key.verifier())
        assert ledger.verify(checkpoint=signed) == 15
        _rewrite(url, ledger, 5)
    with Ledger(url) as ledger:
        ledger.rebuild()  # the attacker tidies the projections too
        assert ledger.verify() == 15  # on its own, the rewritten log verifies
        with pytest.raises(RootMismatch):
            ledger.verify(checkpoint=signed)
        with pytest.raises(RootMismatch):
            ledger.contains(signed)
        # and the rewritten log's own consistency proof fails offline too
        _, later = ledger.checkpoint(key)
        with pytest.raises(RootMismatch):
            check_consistency(note, later, ledger.prove_consistency(head.size).to_json(), key.verifier())


def test_a_log_cut_short_is_caught_by_a_checkpoint_taken_before(url: str) -> None:
    key = generate_key("example.com/ledger")
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 9))
        _, note = ledger.checkpoint(key)
        table = ledger.events_table
    rawdb.drop_triggers(url)
    rawdb.execute(url, f'DELETE FROM "{table}" WHERE originator_version > 6')
    rawdb.execute(url, "DELETE FROM ledger_chain WHERE position > 6")
    rawdb.execute(url, "DELETE FROM ledger_nodes WHERE ((idx + 1) << level) > 6")
    _restore_guards(url, table)
    with Ledger(url) as ledger:
        ledger.rebuild()
        assert ledger.verify() == 6
        with pytest.raises(SizeRolledBack):
            ledger.verify(checkpoint=open_checkpoint(note, key.verifier()))


@pytest.mark.parametrize("node", [(0, 3), (1, 2), (3, 0)], ids=["leaf", "inner", "subtree-root"])
def test_a_tampered_node_is_caught_by_verify(url: str, node: tuple[int, int]) -> None:
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 10))
        table = ledger.events_table
    rawdb.drop_triggers(url)
    rawdb.execute(url, "UPDATE ledger_nodes SET hash = ? WHERE level = ? AND idx = ?", ("ab" * 32, *node))
    _restore_guards(url, table)
    done = run("--db", url, "verify", "--json")
    answer = orjson.loads(done.stdout)
    assert done.returncode == 4, answer
    assert f"node ({node[0]}, {node[1]})" in answer["error"]["message"]
    assert answer["error"]["position"] == (node[1] + 1) << node[0]


def test_an_append_over_a_tree_missing_a_node_is_refused(url: str) -> None:
    """A node of the head's compact range deleted: the next append cannot carry the tree on,
    and says so (exit 4 from the command), storing nothing."""
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 6))  # the range of 6 leaves: nodes (2, 0) and (1, 2)
        table = ledger.events_table
    rawdb.drop_triggers(url)
    rawdb.execute(url, "DELETE FROM ledger_nodes WHERE level = 1 AND idx = 2")
    _restore_guards(url, table)
    with Ledger(url) as ledger:
        with pytest.raises(IntegrityFailure, match=r"no node \(1, 2\)"):
            ledger.record(partner("late"))
        assert ledger.head() == 6


def test_a_node_past_the_log_is_caught_by_verify(url: str) -> None:
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 5))
    rawdb.execute(url, "INSERT INTO ledger_nodes (level, idx, hash) VALUES (0, 9, ?)", ("cd" * 32,))
    done = run("--db", url, "verify", "--json")
    assert done.returncode == 4
    assert "past the log" in orjson.loads(done.stdout)["error"]["message"]


def test_the_node_table_is_append_only(url: str) -> None:
    """Its guards refuse to change or remove a node, as the chain's do."""
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 3))
    overwrite = (
        "INSERT INTO ledger_nodes (level, idx, hash) SELECT level, idx, 'x' FROM ledger_nodes WHERE idx = 0"
    )
    statements = ["UPDATE ledger_nodes SET hash = 'x'", "DELETE FROM ledger_nodes", overwrite]
    if url.startswith("sqlite"):
        statements += [
            overwrite.replace("INSERT", "INSERT OR REPLACE"),
            overwrite.replace("INSERT", "REPLACE"),
        ]
    else:
        statements += ["TRUNCATE ledger_nodes"]
    before = _stored_nodes(url)
    for statement in statements:
        with pytest.raises(Exception, match=r"append-only|UNIQUE|unique|duplicate"):
            rawdb.execute(url, statement)
        assert _stored_nodes(url) == before, statement


# --- the commands ----------------------------------------------------------------------------------


@pytest.fixture
def handed_over(url: str, tmp_path: Path) -> dict[str, Any]:
    """A ledger of 7 events, a key, a checkpoint of it, then 4 more events and a second
    checkpoint, the export of all 11: what an auditor holds."""
    key, pub = tmp_path / "ledger.key", tmp_path / "ledger.pub"
    made = run_json(
        "--db", url, "keygen", "--key", str(key), "--pub", str(pub), "--name", "example.com/ledger"
    )
    with Ledger(url) as ledger:
        ledger.record_many(_partners(0, 7))
    first = run_json("--db", url, "checkpoint", "--key", str(key), "--out", str(tmp_path / "cp1.txt"))
    with Ledger(url) as ledger:
        ledger.record_many(_partners(50, 4))
    run("--db", url, "checkpoint", "--key", str(key), "--out", str(tmp_path / "cp2.txt"))
    assert run("--db", url, "export", str(tmp_path / "events.jsonl")).returncode == 0
    return {"url": url, "dir": tmp_path, "key": key, "pub": pub, "made": made, "first": first}


def test_keygen_writes_an_owner_only_key_never_over_a_file_and_never_prints_it(
    handed_over: dict[str, Any],
) -> None:
    key, made = handed_over["key"], handed_over["made"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    secret = key.read_text().strip()
    assert secret.startswith("PRIVATE+KEY+example.com/ledger+")
    assert made["verifier_key"] == handed_over["pub"].read_text().strip()
    assert made["verifier_key"].startswith("example.com/ledger+") and secret.split("+", 4)[4] not in str(made)
    again = run("--db", handed_over["url"], "keygen", "--key", str(key), "--json")
    assert again.returncode == 2 and orjson.loads(again.stdout)["error"]["message"].startswith("--key")
    assert key.read_text().strip() == secret
    for command in ("checkpoint", "export"):
        done = run(
            "--db",
            handed_over["url"],
            command,
            "--key",
            str(key),
            *(["--checkpoint", str(handed_over["dir"] / "x.txt")] if command == "export" else []),
        )
        assert done.returncode == 0 and secret.split("+", 4)[4].encode() not in done.stdout + done.stderr


def test_checkpoint_prints_a_signed_note_of_the_whole_log(handed_over: dict[str, Any]) -> None:
    note = (handed_over["dir"] / "cp1.txt").read_text()
    lines = note.split("\n")
    assert (
        lines[:2] == ["example.com/ledger", "7"]
        and lines[3] == ""
        and lines[4].startswith("\u2014 example.com/ledger ")
    )
    assert handed_over["first"]["size"] == 7 and handed_over["first"]["note"] == note
    pub = handed_over["pub"].read_text().strip()
    from ledger._checkpoint import parse_verifier_key

    assert open_checkpoint(note, parse_verifier_key(pub)).size == 7


def test_check_proves_an_event_and_the_growth_offline(handed_over: dict[str, Any], tmp_path: Path) -> None:
    """``check`` opens no database: it runs where none is, and makes none."""
    d, url = handed_over["dir"], handed_over["url"]
    assert run("--db", url, "prove", "3", "--size", "7", "--out", str(d / "inclusion.json")).returncode == 0
    assert (
        run("--db", url, "prove", "--from", "7", "--to", "11", "--out", str(d / "growth.json")).returncode
        == 0
    )
    nowhere = tmp_path / "empty"
    nowhere.mkdir()
    absent = f"sqlite:///{nowhere / 'no.db'}"
    pub = str(handed_over["pub"])
    checked = run_json(
        "--db", absent, "check", "--key", pub, "--checkpoint", str(d / "cp1.txt"),
        "--event", str(d / "events.jsonl"), "--proof", str(d / "inclusion.json"),
    )  # fmt: skip
    assert checked["checked"] == "inclusion" and checked["position"] == 3
    grew = run_json(
        "--db", absent, "check", "--key", pub, "--checkpoint", str(d / "cp1.txt"),
        "--newer", str(d / "cp2.txt"), "--proof", str(d / "growth.json"),
    )  # fmt: skip
    assert (grew["from"]["size"], grew["to"]["size"]) == (7, 11)
    assert list(nowhere.iterdir()) == []


def _check(handed_over: dict[str, Any], proof: Any, *, event: str | None = None, key: str | None = None,
           checkpoint: str = "cp1.txt", newer: str | None = None) -> tuple[int, Any]:  # fmt: skip
    d = handed_over["dir"]
    (d / "proof.json").write_bytes(proof if isinstance(proof, bytes) else orjson.dumps(proof))
    args = ["check", "--key", key or str(handed_over["pub"]), "--checkpoint", str(d / checkpoint),
            "--proof", str(d / "proof.json"), "--json"]  # fmt: skip
    if event is not None:
        args += ["--event", event]
    if newer is not None:
        args += ["--newer", str(d / newer)]
    done = run(*args)
    assert b"Traceback" not in done.stderr
    return done.returncode, orjson.loads(done.stdout)


def _flip(hex_hash: str, bit: int) -> str:
    raw = bytearray(bytes.fromhex(hex_hash))
    raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def _golden_cases(handed_over: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """Attacks on an inclusion proof of position 3 in the first checkpoint, by name, with
    the reason each must fail with."""
    with Ledger(handed_over["url"]) as ledger:
        good = ledger.prove_inclusion(3, 7).to_json()
        other = ledger.prove_inclusion(4, 7).to_json()
    path = list(good["path"])
    cases: dict[str, tuple[dict[str, Any], str]] = {}
    for i in range(len(path)):
        cases[f"bit-flipped-in-path-element-{i}"] = (
            {**good, "path": [*path[:i], _flip(path[i], 3 + i), *path[i + 1 :]]},
            "root-mismatch",
        )
    cases["bit-flipped-in-leaf-hash"] = ({**good, "leaf_hash": _flip(good["leaf_hash"], 0)}, "wrong-leaf")
    cases["proof-of-another-leaf"] = (other, "wrong-leaf")
    cases["wrong-index"] = ({**good, "index": 3}, "wrong-leaf")
    cases["trailing-path-element"] = ({**good, "path": [*path, path[0]]}, "malformed-proof")
    cases["path-cut-short"] = ({**good, "path": path[:-1]}, "malformed-proof")
    cases["wrong-tree-size"] = ({**good, "tree_size": 11}, "wrong-size")
    return cases


def test_golden_tamper_cases_named_by_attack(handed_over: dict[str, Any]) -> None:
    """Each attack on a proof of the event at position 3 (the auditor holds that one line)."""
    third = (handed_over["dir"] / "events.jsonl").read_bytes().splitlines()[2]
    (handed_over["dir"] / "third.jsonl").write_bytes(third + b"\n")
    events = str(handed_over["dir"] / "third.jsonl")
    with Ledger(handed_over["url"]) as ledger:
        good = ledger.prove_inclusion(3, 7).to_json()
    assert _check(handed_over, good, event=events)[0] == 0
    for attack, (proof, reason) in _golden_cases(handed_over).items():
        code, answer = _check(handed_over, proof, event=events)
        assert (code, answer.get("error", {}).get("reason")) == (4, reason), (attack, answer)
    # trailing garbage after the proof's JSON
    code, answer = _check(handed_over, orjson.dumps(good) + b" garbage", event=events)
    assert (code, answer["error"]["reason"]) == (4, "malformed-proof")
    # an event altered after export
    d = handed_over["dir"]
    lines = (d / "events.jsonl").read_bytes().splitlines()
    altered = orjson.loads(lines[2])
    altered["data"]["name"] = "Mallory"
    (d / "altered.jsonl").write_bytes(orjson.dumps(altered) + b"\n")
    assert _check(handed_over, good, event=str(d / "altered.jsonl"))[1]["error"]["reason"] == "wrong-leaf"
    # a checkpoint signed by another key with the same name
    impostor = generate_key("example.com/ledger")
    root = open_checkpoint((d / "cp1.txt").read_text(), _pub(handed_over))
    (d / "forged.txt").write_text(sign_checkpoint(root, impostor))
    code, answer = _check(handed_over, good, event=events, checkpoint="forged.txt")
    assert (code, answer["error"]["reason"]) == (4, "unknown-key")
    # a signature line altered
    note = (d / "cp1.txt").read_text()
    (d / "resigned.txt").write_text(note.replace("\n7\n", "\n8\n"))
    assert (
        _check(handed_over, good, event=events, checkpoint="resigned.txt")[1]["error"]["reason"]
        == "bad-signature"
    )


def _pub(handed_over: dict[str, Any]) -> Any:
    from ledger._checkpoint import parse_verifier_key

    return parse_verifier_key(handed_over["pub"].read_text().strip())


def test_a_rolled_back_tree_size_is_caught(handed_over: dict[str, Any]) -> None:
    """The newer checkpoint given as the older: the log would have lost events."""
    with Ledger(handed_over["url"]) as ledger:
        growth = ledger.prove_consistency(7, 11).to_json()
    code, answer = _check(handed_over, growth, checkpoint="cp2.txt", newer="cp1.txt")
    assert (code, answer["error"]["reason"]) == (4, "size-rolled-back")
    d = handed_over["dir"]
    plain = run("check", "--key", str(handed_over["pub"]), "--checkpoint", str(d / "cp2.txt"),
                "--newer", str(d / "cp1.txt"), "--proof", str(d / "proof.json"))  # fmt: skip
    assert plain.returncode == 4 and b"the log lost some" in plain.stderr
    code, answer = _check(handed_over, {**growth, "path": growth["path"][:-1]}, newer="cp2.txt")
    assert (code, answer["error"]["reason"]) == (4, "malformed-proof")
    assert _check(handed_over, growth, newer="cp2.txt")[0] == 0


def test_a_missing_or_wrong_key_file_is_bad_input_naming_the_option(handed_over: dict[str, Any]) -> None:
    d, url = handed_over["dir"], handed_over["url"]
    for args, field in (
        (["checkpoint", "--key", str(d / "missing.key")], "--key"),
        (["checkpoint", "--key", str(handed_over["pub"])], "--key"),
        (["verify", "--checkpoint", str(d / "cp1.txt"), "--key", str(d / "missing.pub")], "--key"),
        (["verify", "--checkpoint", str(d / "cp1.txt"), "--key", str(handed_over["key"])], "--key"),
        (
            ["verify", "--checkpoint", str(d / "missing.txt"), "--key", str(handed_over["pub"])],
            "--checkpoint",
        ),
        (["verify", "--checkpoint", str(d / "cp1.txt")], "--key"),
        (["prove", "999"], None),
        (["prove", "3", "--size", "99"], "--size"),
        (["prove", "--from", "9", "--to", "3"], "--from"),
    ):
        done = run("--db", url, *args, "--json")
        answer = orjson.loads(done.stdout)
        assert done.returncode == (1 if field is None else 2), (args, answer)
        if field is not None:
            assert answer["error"]["message"].startswith(field), args


def test_verify_export_and_restore_take_the_checkpoint(handed_over: dict[str, Any], fresh_url: str) -> None:
    d, url, pub = handed_over["dir"], handed_over["url"], str(handed_over["pub"])
    verified = run_json("--db", url, "verify", "--checkpoint", str(d / "cp1.txt"), "--key", pub)
    assert verified["verified"] == 11 and verified["checkpoint"]["size"] == 7
    exported = run_json(
        "--db",
        url,
        "export",
        str(d / "out.jsonl"),
        "--checkpoint",
        str(d / "out.cp"),
        "--key",
        str(handed_over["key"]),
    )
    assert exported["checkpoint"] == str(d / "out.cp")
    assert open_checkpoint((d / "out.cp").read_text(), _pub(handed_over)).size == 11
    assert len((d / "out.jsonl").read_bytes().splitlines()) == 11
    # a file rewritten whole, every hash recomputed, is refused by the restore given the checkpoint
    rows = [orjson.loads(line) for line in (d / "out.jsonl").read_bytes().splitlines()]
    prev = "0" * 64
    for row in rows:
        body = {k: v for k, v in row.items() if k not in ("position", "recorded_at", "prev_hash", "hash")}
        body["data"]["name"] += " (forged)"
        row.update(body, prev_hash=prev, hash=chain_hash(body, row["position"], row["recorded_at"], prev))
        prev = row["hash"]
    (d / "forged.jsonl").write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    args = ["--db", fresh_url, "import", "--restore"]
    refused = run(*args, str(d / "forged.jsonl"), "--checkpoint", str(d / "cp1.txt"), "--key", pub, "--json")
    assert refused.returncode == 4 and orjson.loads(refused.stdout)["error"]["reason"] == "root-mismatch"
    (d / "short.jsonl").write_bytes(b"".join((d / "out.jsonl").read_bytes().splitlines(keepends=True)[:5]))
    short = run(*args, str(d / "short.jsonl"), "--checkpoint", str(d / "cp1.txt"), "--key", pub, "--json")
    assert short.returncode == 4 and orjson.loads(short.stdout)["error"]["reason"] == "size-rolled-back"
    with Ledger(fresh_url) as fresh:
        assert fresh.head() == 0
    restored = run_json(*args, str(d / "out.jsonl"), "--checkpoint", str(d / "cp1.txt"), "--key", pub)
    assert restored["restored"] == 11 and restored["checkpoint"]["size"] == 7


def test_the_report_shows_the_checkpoint_and_what_it_proves(handed_over: dict[str, Any]) -> None:
    d, url, pub = handed_over["dir"], handed_over["url"], str(handed_over["pub"])
    with Ledger(url) as ledger:
        from builders import customer

        ledger.record(customer("contoso"))
    run_json(
        "--db",
        url,
        "report",
        "contoso",
        "--out",
        str(d / "r.html"),
        "--checkpoint",
        str(d / "cp1.txt"),
        "--key",
        pub,
    )
    page = (d / "r.html").read_text()
    cp = open_checkpoint((d / "cp1.txt").read_text(), _pub(handed_over))
    import base64

    assert 'id="check-checkpoint"' in page and base64.b64encode(cp.root).decode() in page
    assert "Proven: the log still holds that tree" in page and "Not proven" in page
    run_json("--db", url, "report", "contoso", "--out", str(d / "plain.html"))
    assert "no signed checkpoint was checked" in (d / "plain.html").read_text()


@pytest.mark.parametrize("command", ["keygen", "checkpoint", "prove", "check"])
def test_every_evidence_command_has_help(command: str) -> None:
    done = run(command, "--help")
    assert done.returncode == 0 and b"--help" in done.stdout
    assert all(b"--" + option.encode() in done.stdout for option in {
        "keygen": ["key", "name", "pub"], "checkpoint": ["key", "origin", "out"],
        "prove": ["size", "from", "to", "out"], "check": ["key", "checkpoint", "proof", "event", "newer"],
    }[command])  # fmt: skip


def test_the_compact_range_of_an_append_matches_the_stored_nodes(grown: tuple[str, Ledger]) -> None:
    _, ledger = grown
    tree = CompactRange()
    tree.extend(hash_leaf(leaf_bytes(event)) for event in ledger.stored())
    assert tree.root() == ledger.tree_head()[1]
    check_inclusion(
        next(ledger.stored(9, 9)),
        ledger.prove_inclusion(9).to_json(),
        ledger.checkpoint(key := generate_key("log"))[1],
        key.verifier(),
    )
