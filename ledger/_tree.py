"""The Merkle tree over the log in the store (issue 17): its nodes, kept beside the chain.

Every perfect subtree's root is a row of ``ledger_nodes`` (``_sql.NODES``), keyed by
``(level, idx)`` as ``_merkle`` names them; level 0 holds the leaf hashes, leaf ``i`` being
the event at position ``i + 1``, its bytes those its chain hash covers (``_chain.chain_leaf``,
``_verifier.leaf_bytes``). The table is append-only, guarded as the chain is.

- An append (``_append``) loads the tree's compact range at the head under the write lock
  (``open_tree``: one query), appends each new event's leaf, and inserts the nodes that
  completes with the batch's chain rows: about two rows and O(log n) hashes per event.
- A ledger with events but no tree (made before it) gets one the first time it is needed,
  under the write lock, once (``open_tree`` from an append, ``ensure_tree`` otherwise); a
  long one is said on standard error.
- Roots and proofs read O(log n) nodes (``_merkle``): never a scan.
- ``verify`` recomputes every node from the stored events and compares (``TreeCheck``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ._chain import chain_leaf
from ._errors import BadInput, IntegrityFailure, StoreError
from ._merkle import (
    EMPTY_ROOT,
    CompactRange,
    GetNode,
    Node,
    _consistency_ranges,
    _cover,
    _inclusion_ranges,
    consistency_proof,
    hash_leaf,
    inclusion_proof,
    range_nodes,
    root_at,
    verify_consistency,
)
from ._proof_errors import RootMismatch, SizeRolledBack
from ._sql import NODE_COLUMNS, NODES, Db
from ._stored import Store, checked, head, stored_rows

if TYPE_CHECKING:  # _verifier loads cryptography: only a proof needs it, never an append
    from ._verifier import ConsistencyProof, InclusionProof

BACKFILL_NOTICE = 10_000  # a backfill of at least this many events is said on standard error
_BACKFILL_BATCH = 2000


def node_rows(nodes: Iterable[Node]) -> list[tuple[int, int, str]]:
    """The rows of ``NODES`` for ``nodes``."""
    return [(node.level, node.index, node.hash.hex()) for node in nodes]


def _hash(value: object, level: int, idx: int) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise IntegrityFailure(
            f"the Merkle tree's node ({level}, {idx}) is not a hash", position=_leaf(level, idx)
        )
    return raw


def _leaf(level: int, idx: int) -> int:
    """The position of the event whose append completed node ``(level, idx)``."""
    return (idx + 1) << level


def read_nodes(db: Db, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored nodes among ``keys`` (one query)."""
    if not keys:
        return {}
    where = " OR ".join("(level = ? AND idx = ?)" for _ in keys)
    db.execute(f"SELECT level, idx, hash FROM {NODES} WHERE {where}", [v for key in keys for v in key])
    return {(int(r["level"]), int(r["idx"])): _hash(r["hash"], r["level"], r["idx"]) for r in db.fetchall()}


def node_reader(db: Db) -> Callable[[int, int], bytes]:
    """``get_node(level, idx)`` on ``db`` (``_merkle.GetNode``): one indexed read each."""

    def get_node(level: int, idx: int) -> bytes:
        db.execute(f"SELECT hash FROM {NODES} WHERE level = ? AND idx = ?", [level, idx])
        row = db.fetchone()
        if row is None:
            raise IntegrityFailure(
                f"the Merkle tree has no node ({level}, {idx})", position=_leaf(level, idx)
            )
        return _hash(row["hash"], level, idx)

    return get_node


def _prefetched(db: Db, ranges: Iterable[tuple[int, int]], *extra: tuple[int, int]) -> GetNode:
    """``get_node`` over the nodes that the subtrees ``ranges`` are made of (and ``extra``),
    read in one query: a proof costs one round trip, not one per node."""
    keys = sorted({key for begin, end in ranges for key in _cover(begin, end)} | set(extra))
    found = read_nodes(db, keys)

    def get_node(level: int, idx: int) -> bytes:
        node = found.get((level, idx))
        if node is None:
            raise IntegrityFailure(
                f"the Merkle tree has no node ({level}, {idx})", position=_leaf(level, idx)
            )
        return node

    return get_node


def tree_size(db: Db) -> int:
    """How many leaves the stored tree has (one read through the primary key)."""
    db.execute(f"SELECT MAX(idx) AS last FROM {NODES} WHERE level = 0")
    row = db.fetchone()
    return 0 if row is None or row["last"] is None else int(row["last"]) + 1


def open_tree(db: Db, events_table: str, size: int) -> CompactRange:
    """The compact range of the tree over the first ``size`` events, under the write lock
    (``size``: the chain's head): one query where the tree is there; built from the stored
    events where it is not (a ledger made before it), its nodes inserted."""
    keys = [*range_nodes(size), *([(0, size - 1)] if size else []), (0, size)]
    found = read_nodes(db, keys)
    if (0, size) not in found and all(key in found for key in keys[:-1]):
        return CompactRange(size, [found[key] for key in range_nodes(size)])
    leaves = tree_size(db)
    if leaves > size:
        raise IntegrityFailure(
            f"the Merkle tree has {leaves} leaves, the chain {size} events: it has leaves past the log",
            position=size + 1,
        )
    tree = CompactRange.load(leaves, node_reader(db))
    _backfill(db, events_table, tree, size)
    return tree


def _backfill(db: Db, events_table: str, tree: CompactRange, size: int) -> None:
    """Append the leaves of the stored events after ``tree.size`` up to ``size``, each
    checked against its chain hash, and insert their nodes."""
    todo = size - tree.size
    if todo >= BACKFILL_NOTICE:
        sys.stderr.write(
            f"building the Merkle tree over the {todo} events stored before it (once; appends wait)…\n"
        )
        sys.stderr.flush()
    while tree.size < size:
        rows = stored_rows(db, events_table, tree.size, size, _BACKFILL_BATCH)
        nodes: list[Node] = []
        for row in rows:
            position = int(row["position"])
            if position != tree.size + 1:
                raise IntegrityFailure(
                    f"position {tree.size + 1} is missing from the log", position=tree.size + 1
                )
            event = checked(row, exact=False)
            leaf = chain_leaf(event, position, event["recorded_at"], event["prev_hash"])
            if hashlib.sha256(leaf).hexdigest() != event["hash"]:
                raise IntegrityFailure(f"the chain breaks at position {position}", position=position)
            nodes += tree.append(hash_leaf(leaf))
        if not rows:
            raise IntegrityFailure(
                f"position {tree.size + 1} is missing from the log", position=tree.size + 1
            )
        db.insert_rows(NODES, NODE_COLUMNS, node_rows(nodes))


def ensure_tree(
    store: Store, recorder: Any, waiting: Callable[[], AbstractContextManager[Any]], read_only: bool
) -> None:
    """Build the tree over the stored events where it is short of the chain (a ledger made
    before it): once, under the write lock. A read: nothing to do (the usual case)."""
    with store.read() as db:
        if tree_size(db) >= head(db):
            return
    if read_only:
        raise StoreError(
            "the ledger's Merkle tree is not built yet, and this store is read-only: run any "
            "write (or `ledger checkpoint`) on a writable copy first"
        )
    with store.translated(), recorder.ledger_transaction(small=False) as tx:
        with waiting():
            tx.lock()
        store.check_guards(tx.db, writing=True)
        open_tree(tx.db, store.events_table, head(tx.db))


def tree_root(db: Db, size: int) -> bytes:
    """The root of the stored tree of ``size`` events: one query of O(log n) nodes."""
    return root_at(size, _prefetched(db, [(0, size)]))


def _size(size: int | None, have: int, option: str) -> int:
    if size is None:
        return have
    if not 0 <= size <= have:
        raise BadInput(option, f"must be a tree size from 0 to {have}, the events the ledger holds")
    return size


def prove_inclusion(db: Db, have: int, position: int, size: int | None) -> InclusionProof:
    """The inclusion proof of the event at ``position`` in the tree of ``size`` events (by
    default the whole stored tree's, of ``have``): one query of O(log n) nodes."""
    from ._verifier import InclusionProof

    size = _size(size, have, "--size")
    if not 1 <= position <= size:
        raise BadInput("--size", f"position {position} is not in a tree of {size} events")
    index = position - 1
    get_node = _prefetched(db, _inclusion_ranges(index, size), (0, index))
    return InclusionProof(index, size, get_node(0, index), tuple(inclusion_proof(index, size, get_node)))


def prove_consistency(db: Db, have: int, old: int, new: int | None) -> ConsistencyProof:
    """The consistency proof from the tree of ``old`` events to that of ``new`` (by default
    the whole stored tree's, of ``have``): one query of O(log n) nodes."""
    from ._verifier import ConsistencyProof

    new = _size(new, have, "--to")
    if not 1 <= old <= new:
        raise BadInput("--from", f"must be a tree size from 1 to {new} (the --to size)")
    get_node = _prefetched(db, _consistency_ranges(old, new))
    return ConsistencyProof(old, new, tuple(consistency_proof(old, new, get_node)))


def check_contains(db: Db, old_size: int, old_root: bytes, size: int) -> None:
    """Prove, from the stored nodes, that the tree of ``size`` events holds the tree of
    ``old_size`` whose root was ``old_root`` (a checkpoint's): a ``ProofError`` if not."""
    if size < old_size:
        raise SizeRolledBack(
            f"the ledger holds {size} events, the checkpoint's tree {old_size}: the log lost events"
        )
    if old_size == 0:
        if old_root != EMPTY_ROOT:
            raise RootMismatch("a checkpoint of no events whose root is not the empty tree's")
        return
    get_node = _prefetched(db, [*_consistency_ranges(old_size, size), (0, size)])
    verify_consistency(
        old_size, size, old_root, root_at(size, get_node), consistency_proof(old_size, size, get_node)
    )


class TreeCheck:
    """A verification's check of the stored tree: every node recomputed from the stored
    events (``leaf``: each event's chain bytes in turn) compared, batch by batch, with the
    stored one (``compare``), and no node past the last (``finish``)."""

    def __init__(self) -> None:
        self.tree = CompactRange()
        self.pending: list[Node] = []

    def leaf(self, leaf: bytes) -> None:
        self.pending += self.tree.append(hash_leaf(leaf))

    def compare(self, db: Db) -> None:
        if not self.pending:
            return
        want = {(node.level, node.index): node.hash for node in self.pending}
        self.pending = []
        stored = _stored_nodes(db, want)
        for key in sorted(want, key=lambda k: (_leaf(*k), k[0])):
            level, idx = key
            if key not in stored:
                raise IntegrityFailure(
                    f"the Merkle tree has no node ({level}, {idx}) over the events to position {_leaf(*key)}",
                    position=_leaf(*key),
                )
            if stored[key] != want[key]:
                raise IntegrityFailure(
                    f"the Merkle tree's node ({level}, {idx}) is not the hash of the events under it "
                    f"(positions {(idx << level) + 1} to {_leaf(*key)})",
                    position=_leaf(*key),
                )

    def finish(self, db: Db) -> None:
        size = self.tree.size
        db.execute(f"SELECT COUNT(*) AS n FROM {NODES}")
        row = db.fetchone()
        count = int(row["n"]) if row else 0
        if count != 2 * size - size.bit_count():
            raise IntegrityFailure(
                f"the Merkle tree has {count} nodes, a tree of {size} events "
                f"{2 * size - size.bit_count()}: it has nodes past the log",
                position=size + 1,
            )


def _stored_nodes(db: Db, want: dict[tuple[int, int], bytes]) -> dict[tuple[int, int], bytes]:
    """The stored nodes with the keys of ``want`` (one range per level: one query)."""
    spans: dict[int, tuple[int, int]] = {}
    for level, idx in want:
        low, high = spans.get(level, (idx, idx))
        spans[level] = (min(low, idx), max(high, idx))
    where = " OR ".join("(level = ? AND idx BETWEEN ? AND ?)" for _ in spans)
    db.execute(
        f"SELECT level, idx, hash FROM {NODES} WHERE {where}",
        [v for level, (low, high) in sorted(spans.items()) for v in (level, low, high)],
    )
    return {(int(r["level"]), int(r["idx"])): _hash(r["hash"], r["level"], r["idx"]) for r in db.fetchall()}
