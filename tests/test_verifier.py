"""The offline verifier (ledger/_verifier.py, issue 17): an exported event's inclusion under a
signed checkpoint, two checkpoints' consistency, the proofs' JSON, and the attacks on each.

The log here is the sample's events chained as export writes them (``chain_hash``), its tree
kept in a dict node store as the ledger's store will keep it in a table.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger._chain import GENESIS, canonical, chain_hash
from ledger._checkpoint import Checkpoint, SignerKey, generate_key, sign_checkpoint
from ledger._merkle import EMPTY_ROOT, CompactRange, consistency_proof, inclusion_proof, root_at
from ledger._proof_errors import (
    BadSignature,
    MalformedProof,
    RootMismatch,
    SizeRolledBack,
    UnknownKey,
    WrongLeaf,
    WrongOrigin,
    WrongSize,
)
from ledger._verifier import (
    ConsistencyProof,
    InclusionProof,
    check_consistency,
    check_inclusion,
    event_leaf_hash,
    leaf_bytes,
    parse_consistency,
    parse_inclusion,
)

ROOT_DIR = Path(__file__).resolve().parent.parent
ORIGIN = "example.com/ledger"
KEY = generate_key(ORIGIN)
OTHER_KEY = generate_key(ORIGIN)
VKEY = KEY.verifier()
EMPTY_PROOF = {"type": "consistency", "from": 0, "to": 0, "path": []}


def exported(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as export writes them: each with its position, recorded_at, prev_hash, hash."""
    out, prev = [], GENESIS
    for position, event in enumerate(events, start=1):
        recorded_at = f"2026-01-01T00:00:{position:02d}.000001Z"
        digest = chain_hash(event, position, recorded_at, prev)
        out.append(
            {**event, "position": position, "recorded_at": recorded_at, "prev_hash": prev, "hash": digest}
        )
        prev = digest
    return out


class Log:
    """An exported log and its tree: the nodes in a dict, as the store will keep them."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = exported(events)
        self.nodes: dict[tuple[int, int], bytes] = {}
        compact = CompactRange()
        for event in self.events:
            for node in compact.append(event_leaf_hash(event)):
                self.nodes[node.level, node.index] = node.hash

    def get_node(self, level: int, index: int) -> bytes:
        return self.nodes[level, index]

    def checkpoint(self, size: int, key: SignerKey = KEY, origin: str = ORIGIN) -> str:
        return sign_checkpoint(Checkpoint(origin, size, root_at(size, self.get_node)), key)

    def inclusion(self, position: int, size: int) -> dict[str, object]:
        index = position - 1
        path = inclusion_proof(index, size, self.get_node)
        return InclusionProof(index, size, self.get_node(0, index), tuple(path)).to_json()

    def consistency(self, old: int, new: int) -> dict[str, object]:
        return ConsistencyProof(old, new, tuple(consistency_proof(old, new, self.get_node))).to_json()


SAMPLE = [json.loads(line) for line in (ROOT_DIR / "samples" / "contoso.jsonl").read_text().splitlines()]
LOG = Log(SAMPLE)
N = len(SAMPLE)
OLD = 9  # an older checkpoint's size


def test_the_leaf_is_what_the_chain_hashes() -> None:
    for event in LOG.events:
        assert hashlib.sha256(leaf_bytes(event)).hexdigest() == event["hash"]
        assert leaf_bytes(event) == canonical({k: v for k, v in event.items() if k != "hash"})
        again = json.loads(json.dumps(event, indent=2, ensure_ascii=True))  # another spelling, same leaf
        assert leaf_bytes(again) == leaf_bytes(event)


def test_every_event_is_proved_in_every_checkpoint_that_holds_it() -> None:
    for size in (OLD, N):
        note = LOG.checkpoint(size)
        for position in range(1, size + 1):
            proof = json.dumps(LOG.inclusion(position, size))  # as `ledger prove` will print it
            head = check_inclusion(LOG.events[position - 1], proof, note, str(VKEY))
            assert (head.origin, head.size) == (ORIGIN, size)


def test_the_log_grew_consistently() -> None:
    for old in range(0, N + 1):
        proof = LOG.consistency(old, N) if old else {**EMPTY_PROOF, "to": N}
        before, after = check_consistency(LOG.checkpoint(old), LOG.checkpoint(N), proof, VKEY)
        assert (before.size, after.size) == (old, N)


def test_the_proof_json_format() -> None:
    proof = LOG.inclusion(5, N)
    assert list(proof) == ["type", "index", "tree_size", "leaf_hash", "path"]
    assert proof["type"] == "inclusion" and proof["index"] == 4 and proof["tree_size"] == N
    assert proof["leaf_hash"] == event_leaf_hash(LOG.events[4]).hex()
    assert parse_inclusion(json.dumps(proof)).to_json() == proof
    consistency = LOG.consistency(OLD, N)
    assert list(consistency) == ["type", "from", "to", "path"]
    assert parse_consistency(json.dumps(consistency).encode()).to_json() == consistency


# -- attacks on an inclusion proof, by name ---------------------------------------------


def _inclusion_attack(name: str) -> tuple[type[Exception], dict[str, Any], Any, str, Any]:
    """(error, event, proof, checkpoint, key) for one attack on the proof of position 7."""
    event, proof = copy.deepcopy(LOG.events[6]), LOG.inclusion(7, N)
    note, key = LOG.checkpoint(N), VKEY
    path: list[str] = proof["path"]  # type: ignore[assignment]
    error: type[Exception]
    if name == "altered-event":  # content changed, its hash kept
        event["data"]["name"] = "Forged"
        error = WrongLeaf
    elif name == "altered-event-rehashed":  # and its hash recomputed: the proof's leaf is another
        event["data"]["name"] = "Forged"
        event["hash"] = hashlib.sha256(leaf_bytes(event)).hexdigest()
        error = WrongLeaf
    elif name == "altered-event-and-proof-leaf":  # and the proof's leaf hash too: another root
        event["data"]["name"] = "Forged"
        del event["hash"]
        proof["leaf_hash"] = event_leaf_hash(event).hex()
        error = RootMismatch
    elif name == "another-events-proof":
        proof = LOG.inclusion(8, N)
        error = WrongLeaf
    elif name == "wrong-index":
        proof["index"] = 7
        error = WrongLeaf
    elif name == "moved-event":  # the event claims another position (its hash no longer holds)
        event["position"] = 8
        error = WrongLeaf
    elif name == "wrong-size":  # a proof for another tree than the checkpoint's
        proof = LOG.inclusion(7, N - 1)
        error = WrongSize
    elif name == "older-checkpoint":
        note = LOG.checkpoint(OLD)
        error = WrongSize
    elif name.startswith("modified-proof["):
        i = int(name.split("[")[1].split("]")[0])
        path[i] = f"{int(path[i][0], 16) ^ 8:x}" + path[i][1:]
        error = RootMismatch
    elif name == "trailing-garbage":
        path.append("00" * 32)
        error = MalformedProof
    elif name == "preceding-garbage":
        path.insert(0, "00" * 32)
        error = MalformedProof
    elif name == "truncated-proof":
        path.pop()
        error = MalformedProof
    elif name == "short-element":
        path[0] = path[0][:-2]
        error = MalformedProof
    elif name == "signed-by-another-key":
        note = LOG.checkpoint(N, key=OTHER_KEY)
        error = UnknownKey
    elif name == "checkpoint-root-edited":
        lines = note.split("\n")
        lines[2] = LOG.checkpoint(OLD).split("\n")[2]
        note = "\n".join(lines)
        error = BadSignature
    elif name == "origin-changed":
        note = LOG.checkpoint(N, origin="example.com/other")
        error = WrongOrigin
    elif name == "event-without-chain-fields":
        del event["prev_hash"]
        error = MalformedProof
    else:  # pragma: no cover
        raise AssertionError(name)
    return error, event, proof, note, key


INCLUSION_ATTACKS = [
    "altered-event",
    "altered-event-rehashed",
    "altered-event-and-proof-leaf",
    "another-events-proof",
    "wrong-index",
    "moved-event",
    "wrong-size",
    "older-checkpoint",
    *(f"modified-proof[{i}]-bit-@0" for i in range(len(LOG.inclusion(7, N)["path"]))),  # type: ignore[arg-type]
    "trailing-garbage",
    "preceding-garbage",
    "truncated-proof",
    "short-element",
    "signed-by-another-key",
    "checkpoint-root-edited",
    "origin-changed",
    "event-without-chain-fields",
]


@pytest.mark.parametrize("attack", INCLUSION_ATTACKS)
def test_inclusion_attack(attack: str) -> None:
    error, event, proof, note, key = _inclusion_attack(attack)
    with pytest.raises(error):
        check_inclusion(event, proof, note, key)


# -- attacks on consistency, by name ----------------------------------------------------


def test_a_rolled_back_tree_size() -> None:
    with pytest.raises(SizeRolledBack):
        check_consistency(LOG.checkpoint(N), LOG.checkpoint(OLD), LOG.consistency(OLD, N), VKEY)


def test_a_log_cut_short_and_regrown() -> None:
    """The last events dropped and others appended in their place, a new checkpoint signed:
    the old checkpoint's tree is not a prefix of the new one."""
    regrown = Log([*SAMPLE[: OLD - 2], *SAMPLE[OLD:]])
    size = len(regrown.events)
    with pytest.raises(RootMismatch):
        check_consistency(LOG.checkpoint(OLD), regrown.checkpoint(size), regrown.consistency(OLD, size), VKEY)


def test_a_full_rewrite_is_caught_by_a_checkpoint_taken_before() -> None:
    """Every event from position 3 altered and every hash recomputed: the chain verifies on
    its own and the rewritten log can sign a checkpoint of its own, but the checkpoint an
    auditor kept from before does not lead to it."""
    forged = copy.deepcopy(SAMPLE)
    for event in forged[2:]:
        event["effective_at"] = event["effective_at"].replace("20", "19", 1)
    rewritten = Log(forged)
    for e in rewritten.events:  # the chain itself holds
        body = {k: v for k, v in e.items() if k not in ("position", "recorded_at", "prev_hash", "hash")}
        assert chain_hash(body, e["position"], e["recorded_at"], e["prev_hash"]) == e["hash"]
    kept = LOG.checkpoint(OLD)
    with pytest.raises(RootMismatch, match="old root"):
        check_consistency(kept, rewritten.checkpoint(N), rewritten.consistency(OLD, N), VKEY)
    with pytest.raises(RootMismatch):  # nor does any forged event's proof under the kept checkpoint
        check_inclusion(rewritten.events[4], rewritten.inclusion(5, OLD), kept, VKEY)


def test_a_fork_at_the_same_size() -> None:
    forked = Log([*SAMPLE[:-1], {**SAMPLE[-1], "effective_at": "2030-01-01T00:00:00Z"}])
    same_size = {**EMPTY_PROOF, "from": N, "to": N}
    with pytest.raises(RootMismatch, match="different roots"):
        check_consistency(LOG.checkpoint(N), forked.checkpoint(N), same_size, VKEY)


@pytest.mark.parametrize(
    "proof",
    [
        {"from": OLD + 1},
        {"to": N - 1},
        {"path": ["00" * 32]},
    ],
    ids=["proof-from-another-size", "proof-to-another-size", "proof-from-empty-with-a-hash"],
)
def test_consistency_proofs_for_other_sizes(proof: dict[str, Any]) -> None:
    old = 0 if "path" in proof else OLD
    base = LOG.consistency(OLD, N) if old else {**EMPTY_PROOF, "to": N}
    with pytest.raises((WrongSize, MalformedProof)):
        check_consistency(LOG.checkpoint(old), LOG.checkpoint(N), {**base, **proof}, VKEY)


def test_an_empty_checkpoint_whose_root_is_not_the_empty_trees() -> None:
    bad = sign_checkpoint(Checkpoint(ORIGIN, 0, LOG.get_node(0, 0)), KEY)
    with pytest.raises(RootMismatch):
        check_consistency(bad, LOG.checkpoint(N), {**EMPTY_PROOF, "to": N}, VKEY)
    assert root_at(0, LOG.get_node) == EMPTY_ROOT


def test_consistency_checkpoints_by_another_key() -> None:
    with pytest.raises(UnknownKey):
        check_consistency(
            LOG.checkpoint(OLD), LOG.checkpoint(N, key=OTHER_KEY), LOG.consistency(OLD, N), VKEY
        )


# -- the proof JSON, strictly ------------------------------------------------------------

GOOD = LOG.inclusion(3, N)


@pytest.mark.parametrize(
    "proof",
    [
        "not json",
        "[]",
        {**GOOD, "type": "consistency"},
        {**GOOD, "extra": 1},
        {k: v for k, v in GOOD.items() if k != "leaf_hash"},
        {**GOOD, "index": True},
        {**GOOD, "index": -1},
        {**GOOD, "index": 2.0},
        {**GOOD, "tree_size": "23"},
        {**GOOD, "leaf_hash": str(GOOD["leaf_hash"]).upper()},
        {**GOOD, "leaf_hash": str(GOOD["leaf_hash"])[:-2]},
        {**GOOD, "path": "00" * 32},
        {**GOOD, "path": [None]},
        '{"type": "inclusion", "type": "inclusion", "index": 2, "tree_size": 23, "path": [], "leaf_hash": '
        + json.dumps(GOOD["leaf_hash"])
        + "}",
    ],
    ids=[
        "not-json",
        "not-an-object",
        "wrong-type",
        "extra-field",
        "missing-field",
        "bool-index",
        "negative-index",
        "float-index",
        "string-size",
        "upper-case-hex",
        "short-hash",
        "path-not-a-list",
        "path-element-not-a-hash",
        "duplicate-field",
    ],
)
def test_malformed_inclusion_proofs(proof: Any) -> None:
    with pytest.raises(MalformedProof):
        parse_inclusion(proof)


def test_malformed_consistency_proofs() -> None:
    with pytest.raises(MalformedProof):
        parse_consistency({"type": "consistency", "from": 1, "path": []})
    with pytest.raises(MalformedProof):
        parse_consistency({"type": "consistency", "from": 1, "to": 2, "path": [], "root": ""})
    with pytest.raises(MalformedProof):
        parse_consistency(json.dumps(GOOD))


def test_the_verifier_imports_nothing_of_the_store() -> None:
    code = (
        "import sys, ledger._verifier\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'eventsourcing', 'psycopg', 'psycopg_pool', 'sqlite3', '_sqlite3', 'projections', 'cli'} "
        "or m in {'ledger._store', 'ledger._sqlite_recorder', 'ledger._postgres_recorder', "
        "'ledger._sqlite', 'ledger._postgres', 'ledger._append', 'ledger._verify', "
        "'ledger._events', 'ledger._rules'})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
