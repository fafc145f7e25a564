"""The offline verifier (issue 17): evidence an auditor checks without the database.

Given a public verifier key, it checks

(a) that an exported event is in the log a signed checkpoint describes
    (``check_inclusion(event, proof, checkpoint, key)``), and
(b) that the log of a later checkpoint extends the log of an earlier one, every event of
    the first still in place (``check_consistency(old, new, proof, key)``).

Each returns the checkpoint(s) it checked, or raises a ``ProofError`` naming what failed
(``_proof_errors``). Nothing here reads a store: this module imports only ``json``,
``hashlib`` (through ``_merkle``), ``cryptography`` (through ``_checkpoint``) and
``orjson`` (through ``_chain``, for the canonical bytes below).

**The leaf.** Leaf ``position - 1`` of the tree is an event's canonical bytes with its
chain fields, exactly the bytes its chain hash covers (``_chain.chain_hash``): the event's
JSON object as ``export`` writes it, with ``position``, ``recorded_at`` and ``prev_hash``,
without ``hash``, serialised by orjson with sorted keys (compact, UTF-8). So an event's
``hash`` is ``SHA-256(leaf)`` and its leaf hash ``SHA-256(0x00 || leaf)``.

**Proofs** are JSON objects, hashes in lower-case hex::

    {"type": "inclusion", "index": 41, "tree_size": 1000,
     "leaf_hash": "6e34…", "path": ["96a2…", …]}           index: the event's position - 1
    {"type": "consistency", "from": 1000, "to": 1250,
     "path": ["5f08…", …]}

``path`` is the RFC 9162 audit path (§2.1.3) or consistency proof (§2.1.4), in the RFC's
order. A **checkpoint** is the text of its signed note (``_checkpoint``), as
``ledger checkpoint`` prints it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ._chain import canonical
from ._checkpoint import Checkpoint, VerifierKey, open_checkpoint, parse_verifier_key
from ._merkle import EMPTY_ROOT, hash_leaf, verify_consistency, verify_inclusion
from ._proof_errors import MalformedProof, RootMismatch, SizeRolledBack, WrongLeaf, WrongSize

_HEX = re.compile(r"[0-9a-f]{64}")
_CHAIN_FIELDS = ("position", "recorded_at", "prev_hash")


def leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """The leaf of a stored event: its canonical JSON with ``position``, ``recorded_at``
    and ``prev_hash`` (its ``hash``, if any, left out), the bytes ``chain_hash`` hashes."""
    missing = [field for field in _CHAIN_FIELDS if field not in event]
    if missing:
        raise MalformedProof(f"the event has no {', '.join(missing)}: check an event as export writes it")
    try:
        return canonical(event)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise MalformedProof(f"the event is not JSON the ledger writes: {exc}") from None


def event_leaf_hash(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of a stored event: ``SHA-256(0x00 || leaf_bytes(event))``."""
    return hash_leaf(leaf_bytes(event))


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "type": "inclusion",
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [node.hex() for node in self.path],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "type": "consistency",
            "from": self.old_size,
            "to": self.new_size,
            "path": [node.hex() for node in self.path],
        }


def _object(proof: str | bytes | Mapping[str, Any], kind: str, fields: Sequence[str]) -> Mapping[str, Any]:
    """A proof's JSON object, its ``type`` ``kind`` and exactly ``fields`` besides."""
    if isinstance(proof, str | bytes):

        def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [key for key, _ in pairs]
            if len(set(keys)) != len(keys):
                raise MalformedProof("the proof names a field twice")
            return dict(pairs)

        try:
            proof = json.loads(proof, object_pairs_hook=unique)
        except ValueError as exc:
            raise MalformedProof(f"the proof is not JSON: {exc}") from None
    if not isinstance(proof, Mapping) or proof.get("type") != kind:
        raise MalformedProof(f'not an {kind} proof: a JSON object with "type": "{kind}"')
    if set(proof) != {"type", *fields}:
        raise MalformedProof(
            f"an {kind} proof has the fields type, {', '.join(fields)}; this one has {sorted(proof)}"
        )
    return proof


def _size(value: object, field: str) -> int:
    if type(value) is not int or value < 0:
        raise MalformedProof(f"the proof's {field} is not a whole number")
    return value


def _hash(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise MalformedProof(f"{what} is not a hash: 64 lower-case hex digits")
    return bytes.fromhex(value)


def _path(value: object) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise MalformedProof("the proof's path is not a list of hashes")
    return tuple(_hash(node, f"path element {i}") for i, node in enumerate(value))


def parse_inclusion(proof: str | bytes | Mapping[str, Any]) -> InclusionProof:
    """An inclusion proof from its JSON text or object, strictly; ``MalformedProof`` if not one."""
    obj = _object(proof, "inclusion", ("index", "tree_size", "leaf_hash", "path"))
    return InclusionProof(
        _size(obj["index"], "index"),
        _size(obj["tree_size"], "tree_size"),
        _hash(obj["leaf_hash"], "the leaf_hash"),
        _path(obj["path"]),
    )


def parse_consistency(proof: str | bytes | Mapping[str, Any]) -> ConsistencyProof:
    """A consistency proof from its JSON text or object, strictly; ``MalformedProof`` if not one."""
    obj = _object(proof, "consistency", ("from", "to", "path"))
    return ConsistencyProof(_size(obj["from"], "from"), _size(obj["to"], "to"), _path(obj["path"]))


def _key(key: VerifierKey | str) -> VerifierKey:
    return key if isinstance(key, VerifierKey) else parse_verifier_key(key)


def check_inclusion(
    event: Mapping[str, Any],
    proof: InclusionProof | str | bytes | Mapping[str, Any],
    checkpoint: str | bytes,
    key: VerifierKey | str,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Check that ``event`` (as ``export`` writes it) is leaf ``position - 1`` of the tree
    that ``checkpoint`` (a signed note, verified with ``key``; its origin ``origin``, by
    default the key's name) commits to; the checkpoint if so, a ``ProofError`` if not."""
    head = open_checkpoint(checkpoint, _key(key), origin=origin)
    proof = proof if isinstance(proof, InclusionProof) else parse_inclusion(proof)
    if proof.tree_size != head.size:
        raise WrongSize(
            f"the proof is for a tree of {proof.tree_size} events, the checkpoint's has {head.size}"
        )
    leaf = leaf_bytes(event)
    position = event["position"]
    if type(position) is not int or position - 1 != proof.index:
        raise WrongLeaf(
            f"the proof is of leaf {proof.index} (position {proof.index + 1}), the event is at {position!r}"
        )
    if "hash" in event and hashlib.sha256(leaf).hexdigest() != event["hash"]:
        raise WrongLeaf(f"the event at position {position} is not what its hash covers: it was altered")
    if hash_leaf(leaf) != proof.leaf_hash:
        raise WrongLeaf(f"the proof is of another leaf than the event at position {position}")
    verify_inclusion(proof.index, proof.tree_size, proof.leaf_hash, proof.path, head.root)
    return head


def check_consistency(
    old: str | bytes,
    new: str | bytes,
    proof: ConsistencyProof | str | bytes | Mapping[str, Any],
    key: VerifierKey | str,
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, Checkpoint]:
    """Check that the log of checkpoint ``new`` holds the log of checkpoint ``old`` as its
    prefix (both signed notes, verified with ``key``; origin as for ``check_inclusion``);
    the two checkpoints if so, a ``ProofError`` if not: ``SizeRolledBack`` for a newer
    checkpoint of fewer events, ``RootMismatch`` for a log rewritten or forked."""
    verifier = _key(key)
    before = open_checkpoint(old, verifier, origin=origin)
    after = open_checkpoint(new, verifier, origin=origin)
    proof = proof if isinstance(proof, ConsistencyProof) else parse_consistency(proof)
    if after.size < before.size:
        raise SizeRolledBack(
            f"the newer checkpoint has {after.size} events, the older {before.size}: the log lost some"
        )
    if (proof.old_size, proof.new_size) != (before.size, after.size):
        raise WrongSize(
            f"the proof is from {proof.old_size} to {proof.new_size} events, "
            f"the checkpoints are of {before.size} and {after.size}"
        )
    if before.size == 0:  # every log extends the empty one: nothing to prove
        if before.root != EMPTY_ROOT:
            raise RootMismatch("a checkpoint of no events whose root is not the empty tree's")
        if proof.path:
            raise MalformedProof("a proof from the empty tree has no hashes")
        return before, after
    verify_consistency(before.size, after.size, before.root, after.root, proof.path)
    return before, after
