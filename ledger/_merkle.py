"""The Merkle tree over the log (RFC 9162 §2.1): hashing, a compact range, proofs.

Hashing: a leaf is ``SHA-256(0x00 || leaf)``, an inner node ``SHA-256(0x01 || left ||
right)``; the root of an empty tree is ``SHA-256("")``. The tree of ``n`` leaves splits at
the largest power of two smaller than ``n`` (§2.1.1).

Nodes are named as transparency-dev/merkle and Tessera name them: ``(level, index)`` is the
root of the perfect subtree over the leaves ``[index << level, (index + 1) << level)``;
level 0 holds the leaf hashes. Only perfect subtrees are ever stored.

**Appending.** A ``CompactRange`` holds the roots of the perfect subtrees that make up the
leaves ``[0, size)``, largest first: one per set bit of ``size``, so at most 64. Appending
a leaf merges equal-sized neighbours (O(log n) hashes) and returns the nodes it completed:
the leaf itself and each new perfect subtree. A store that saves those nodes (a table keyed
by ``(level, index)``, about 2n rows in all) can serve every root and proof below, and can
rebuild the range after a restart (``CompactRange.load``) with O(log n) reads.

**Proofs.** ``inclusion_proof`` and ``consistency_proof`` (RFC 9162 §2.1.3.1, §2.1.4.1)
take a tree size at or below the stored one and ``get_node(level, index)``, which returns a
stored node (and may raise for one that is missing). A subtree that an older tree size cut
short is not stored; its hash is recomputed from the perfect subtrees inside it, and a
proof needs at most one such subtree, so a proof is O(log n) reads.

**Verification.** ``verify_inclusion`` and ``verify_consistency`` follow RFC 9162
§2.1.3.2 and §2.1.4.2 step by step and raise a ``ProofError`` (``_proof_errors``) saying
why a proof fails. They import nothing but ``hashlib``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ._proof_errors import IndexOutOfRange, MalformedProof, RootMismatch, WrongSize

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

GetNode = Callable[[int, int], bytes]
"""``get_node(level, index)``: the stored hash of a perfect subtree (level 0: a leaf hash)."""


@dataclass(frozen=True, slots=True)
class Node:
    """A perfect subtree's root: ``(level, index)`` and its hash."""

    level: int
    index: int
    hash: bytes


def hash_leaf(leaf: bytes) -> bytes:
    """The hash of a leaf: ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` >= 2): where a tree of ``n`` splits."""
    return 1 << ((n - 1).bit_length() - 1)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees given largest first (the right-most merged first)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = hash_children(left, root)
    return root


def range_nodes(size: int) -> list[tuple[int, int]]:
    """The ``(level, index)`` of the perfect subtrees that make up the leaves ``[0, size)``,
    largest first: one per set bit of ``size``."""
    return _cover(0, size)


def _cover(begin: int, end: int) -> list[tuple[int, int]]:
    """The perfect subtrees covering ``[begin, end)``, left to right; ``begin`` is 0 or a
    multiple of a power of two at least ``end - begin`` (as in every subtree of a tree),
    so they come largest first."""
    nodes = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def _subtree_hash(begin: int, end: int, get_node: GetNode) -> bytes:
    """The hash of the subtree over ``[begin, end)``: a stored node when it is perfect, else
    recomputed from the stored perfect subtrees inside it (O(log n) reads)."""
    return _fold([get_node(level, index) for level, index in _cover(begin, end)])


class CompactRange:
    """The roots of the perfect subtrees over the leaves ``[0, size)``, largest first."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self._size = size
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise ValueError(f"a compact range of {size} leaves has {size.bit_count()} hashes")

    @classmethod
    def load(cls, size: int, get_node: GetNode) -> CompactRange:
        """The range of a tree of ``size`` leaves, read from a node store (O(log n) reads)."""
        return cls(size, [get_node(level, index) for level, index in range_nodes(size)])

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Add a leaf (its hash, ``hash_leaf(leaf)``) at index ``size``; the nodes it
        completes, lowest first: the leaf itself, then each perfect subtree it closes. A
        store saves them, in the same transaction as the leaf, to serve proofs later."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf_hash)}")
        index, node = self._size, leaf_hash
        completed = [Node(0, index, node)]
        level = 0
        while index & 1:  # a right child: merge with the left sibling, the last root
            node = hash_children(self._hashes.pop(), node)
            index >>= 1
            level += 1
            completed.append(Node(level, index, node))
        self._hashes.append(node)
        self._size += 1
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Append each leaf hash in turn; every node completed."""
        return [node for leaf_hash in leaf_hashes for node in self.append(leaf_hash)]

    def root(self) -> bytes:
        """The root of the tree of ``size`` leaves (``EMPTY_ROOT`` for none)."""
        return _fold(self._hashes)


def root_at(size: int, get_node: GetNode) -> bytes:
    """The root of the tree of the first ``size`` leaves, from a node store (O(log n) reads)."""
    if size < 0:
        raise WrongSize(f"a tree size is not negative: {size}")
    return _subtree_hash(0, size, get_node)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes make the audit path of leaf ``index`` in a tree of ``size``
    (RFC 9162 §2.1.3.1), in the proof's order: the leaf's sibling first, the root's child last."""
    if not 0 <= index < size:
        raise IndexOutOfRange(f"leaf index {index} is not in a tree of {size} leaves")
    ranges = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((begin + k, end))
            end = begin + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((begin, begin + k))
            begin += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees whose hashes make the consistency proof from ``old_size`` to
    ``new_size`` (RFC 9162 §2.1.4.1), in the proof's order."""
    if old_size > new_size or old_size < 0:
        raise WrongSize(f"no consistency proof from a tree of {old_size} leaves to one of {new_size}")
    if old_size == 0 and new_size > 0:
        raise WrongSize("a consistency proof from the empty tree proves nothing: every tree extends it")
    ranges = []
    begin, end, known = 0, new_size, True  # SUBPROOF(m, D[n], true)
    while old_size != end:  # m < n within the subtree [begin, end)
        k = _split(end - begin)
        if old_size <= begin + k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((begin + k, end))
            end = begin + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((begin, begin + k))
            begin += k
            known = False
    if not known and begin < end:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 9162
    §2.1.3.1), from a node store: O(log n) reads."""
    return [_subtree_hash(begin, end, get_node) for begin, end in _inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the tree of
    ``new_size`` (RFC 9162 §2.1.4.1), from a node store: O(log n) reads. Empty for equal
    sizes; ``WrongSize`` from the empty tree (nothing to prove) or to a smaller one."""
    return [_subtree_hash(begin, end, get_node) for begin, end in _consistency_ranges(old_size, new_size)]


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes the audit path of leaf ``index`` in a tree of ``size`` has."""
    return len(_inclusion_ranges(index, size))


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """How many hashes the consistency proof from ``old_size`` to ``new_size`` has."""
    return len(_consistency_ranges(old_size, new_size))


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise MalformedProof(f"{what} is {len(value)} bytes, not the {HASH_SIZE} of a SHA-256 hash")


def _check_path(path: Sequence[bytes], want: int, what: str) -> None:
    for i, element in enumerate(path):
        _check_hash(element, f"proof element {i}")
    if len(path) != want:
        raise MalformedProof(f"the proof has {len(path)} hashes; {what} has {want}")


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, path: Sequence[bytes]) -> bytes:
    """The root that ``path`` proves leaf ``index`` (hash ``leaf_hash``) is under, in a tree
    of ``size`` leaves (RFC 9162 §2.1.3.2 steps 1 to 4)."""
    if not 0 <= index < size:  # step 1
        raise IndexOutOfRange(f"leaf index {index} is not in a tree of {size} leaves")
    _check_hash(leaf_hash, "the leaf hash")
    _check_path(path, inclusion_proof_length(index, size), f"the audit path of leaf {index} of {size}")
    fn, sn, r = index, size - 1, leaf_hash  # steps 2, 3
    for p in path:  # step 4
        if sn == 0:  # (a); unreachable once the length is checked, kept as the RFC has it
            raise MalformedProof("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:  # (b)
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1  # (c)
        sn >>= 1
    if sn != 0:  # step 5, the size half
        raise MalformedProof("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, path: Sequence[bytes], root: bytes) -> None:
    """Check that ``path`` proves the leaf ``leaf_hash`` at ``index`` in the tree of ``size``
    leaves whose root is ``root`` (RFC 9162 §2.1.3.2); a ``ProofError`` if not."""
    _check_hash(root, "the root")
    computed = root_from_inclusion(index, size, leaf_hash, path)
    if computed != root:
        raise RootMismatch(
            f"the audit path of leaf {index} leads to the root {computed.hex()}, not {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """Check that ``path`` proves the tree of ``old_size`` leaves with root ``old_root`` a
    prefix of the tree of ``new_size`` with root ``new_root`` (RFC 9162 §2.1.4.2); a
    ``ProofError`` if not. Equal sizes need equal roots and an empty proof; a proof from
    the empty tree is ``WrongSize`` (it proves nothing), as transparency-dev/merkle has it."""
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    if old_size == new_size and old_size >= 0:
        _check_path(path, 0, "a proof between equal sizes")
        if old_root != new_root:
            raise RootMismatch(
                f"two trees of {old_size} leaves with different roots: {old_root.hex()} and {new_root.hex()}"
            )
        return
    want = consistency_proof_length(old_size, new_size)  # WrongSize for 0 or a larger old size
    _check_path(path, want, f"the consistency proof from {old_size} to {new_size}")
    proof = list(path)
    if old_size & (old_size - 1) == 0:  # step 2: a power of two is its own first node
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]  # step 5
    for c in proof[1:]:  # step 6
        if sn == 0:  # (a); unreachable once the length is checked
            raise MalformedProof("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:  # (b)
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1  # (c)
        sn >>= 1
    if sn != 0:  # step 7
        raise MalformedProof("the proof is shorter than the tree is deep")
    if fr != old_root:
        raise RootMismatch(
            f"the consistency proof leads to the old root {fr.hex()}, not {old_root.hex()}: "
            f"the tree of {old_size} leaves is not a prefix of this one"
        )
    if sr != new_root:
        raise RootMismatch(f"the consistency proof leads to the new root {sr.hex()}, not {new_root.hex()}")
