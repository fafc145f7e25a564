"""The Merkle tree over the log (ledger/_merkle.py, issue 17), against the field's vectors.

- tests/fixtures/merkle/rfc6962_tree.json: the RFC 6962 example tree of 8 leaves as
  transparency-dev/merkle's testonly package has it (node and root hashes, compact ranges,
  reference proofs) and its RFC 6962 hasher vectors;
- tests/fixtures/merkle/{inclusion,consistency}_probes.json: transparency-dev/merkle's
  testdata, the happy paths and the tamper cases named by attack, run through our verifier;
- a reference implementation here, the RFC's recursive definitions word for word, checks
  the generated proofs for every size up to a few hundred; hypothesis flips single bits.

Each fixture names the commit and file it came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger._merkle import (
    EMPTY_ROOT,
    CompactRange,
    Node,
    consistency_proof,
    consistency_proof_length,
    hash_children,
    hash_leaf,
    inclusion_proof,
    range_nodes,
    root_at,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)
from ledger._proof_errors import (
    IndexOutOfRange,
    MalformedProof,
    ProofError,
    RootMismatch,
    WrongSize,
)

FIXTURES = Path(__file__).parent / "fixtures" / "merkle"
TREE = json.loads((FIXTURES / "rfc6962_tree.json").read_text())
INCLUSION_PROBES = json.loads((FIXTURES / "inclusion_probes.json").read_text())["probes"]
CONSISTENCY_PROBES = json.loads((FIXTURES / "consistency_probes.json").read_text())["probes"]
LEAVES = [bytes.fromhex(leaf) for leaf in TREE["leaf_inputs"]]
MAX = 300  # the node store the property tests read: every smaller size is an older tree


# -- the RFC's definitions, recursive, word for word (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) --


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_root(d: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hash_children(ref_root(d[:k]), ref_root(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_root(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_root(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if b else [ref_root(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_root(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_root(d[:k])]


# -- a node store as the ledger's will be: (level, index) -> hash, counting its reads --


class Store:
    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.range = CompactRange()
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.reads = 0
        for leaf_hash in leaf_hashes:
            for node in self.range.append(leaf_hash):
                assert (node.level, node.index) not in self.nodes  # each node completed once
                self.nodes[node.level, node.index] = node.hash

    def get_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.nodes[level, index]


BIG_LEAVES = [hash_leaf(i.to_bytes(4, "big")) for i in range(MAX)]
BIG = Store(BIG_LEAVES)


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


# -- hashing --------------------------------------------------------------------------


def test_hasher_vectors() -> None:
    vectors = TREE["hasher"]
    assert EMPTY_ROOT.hex() == vectors["empty_root"]
    assert hash_leaf(b"").hex() == vectors["empty_leaf"]
    assert hash_leaf(vectors["leaf"]["input"].encode()).hex() == vectors["leaf"]["hash"]
    node = vectors["node"]
    assert hash_children(node["left"].encode(), node["right"].encode()).hex() == node["hash"]


def test_hashing_is_domain_separated() -> None:
    """A leaf can never pass for an inner node (the 0x00 / 0x01 prefixes), nor the order
    of two children be swapped unseen (transparency-dev's TestRFC6962HasherCollisions)."""
    a, b = hash_leaf(b"Hello"), hash_leaf(b"World")
    assert hash_children(a, b) != hash_leaf(a + b)
    assert hash_children(a, b) != hash_children(b, a)


# -- the RFC 6962 example tree: its nodes, roots, compact ranges and reference proofs ---


def test_the_reference_tree_nodes_and_roots() -> None:
    store = Store([hash_leaf(leaf) for leaf in LEAVES])
    want = {
        (level, i): bytes.fromhex(h)
        for level, row in enumerate(TREE["node_hashes"])
        for i, h in enumerate(row)
    }
    assert store.nodes == want  # every perfect subtree, and nothing else
    grown = CompactRange()
    for size, root in enumerate(TREE["root_hashes"]):
        assert grown.root().hex() == root
        assert root_at(size, store.get_node).hex() == root  # an older size, from the store
        assert grown.hashes == tuple(want[level, i] for level, i in TREE["compact_ranges"][size])
        assert [list(node) for node in range_nodes(size)] == TREE["compact_ranges"][size]
        loaded = CompactRange.load(size, store.get_node)
        assert loaded.hashes == grown.hashes and loaded.size == size
        if size < len(LEAVES):
            grown.append(hash_leaf(LEAVES[size]))


def test_append_names_the_nodes_it_completes() -> None:
    compact = CompactRange()
    nodes = compact.extend(hash_leaf(leaf) for leaf in LEAVES[:4])
    assert [(node.level, node.index) for node in nodes] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (0, 2),
        (0, 3),
        (1, 1),
        (2, 0),
    ]
    assert compact.append(hash_leaf(LEAVES[4])) == [Node(0, 4, hash_leaf(LEAVES[4]))]


def test_a_compact_range_refuses_what_it_cannot_be() -> None:
    with pytest.raises(ValueError, match="3 leaves has 2 hashes"):
        CompactRange(3, [EMPTY_ROOT])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"short")


@pytest.mark.parametrize("case", TREE["inclusion_paths"], ids=lambda c: f"{c['index']}:{c['size']}")
def test_reference_inclusion_paths(case: dict[str, Any]) -> None:
    store = Store([hash_leaf(leaf) for leaf in LEAVES])
    assert [h.hex() for h in inclusion_proof(case["index"], case["size"], store.get_node)] == case["path"]


@pytest.mark.parametrize("case", TREE["consistency_paths"], ids=lambda c: f"{c['size1']}:{c['size2']}")
def test_reference_consistency_paths(case: dict[str, Any]) -> None:
    store = Store([hash_leaf(leaf) for leaf in LEAVES])
    path = consistency_proof(case["size1"], case["size2"], store.get_node)
    assert [h.hex() for h in path] == case["path"]


# -- transparency-dev/merkle's probes: happy paths and named attacks -------------------

# The one probe our verifier answers otherwise, by design: its two "roots" are the 12 bytes
# "don't care 1" twice; transparency-dev/merkle accepts equal roots of any length for equal
# sizes, ours refuses a root that is not a 32-byte SHA-256 hash (MalformedProof).
STRICTER = {"testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def _b(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


@pytest.mark.parametrize(
    "probe", INCLUSION_PROBES, ids=lambda p: p["source"].removeprefix("testdata/inclusion/")
)
def test_inclusion_probes(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_inclusion(
            probe["leaf_index"],
            probe["tree_size"],
            bytes.fromhex(probe["leaf_hash"]),
            _b(probe["proof"]),
            bytes.fromhex(probe["root"]),
        )

    if probe["want_error"]:
        with pytest.raises(ProofError):
            run()
    else:
        run()


@pytest.mark.parametrize(
    "probe", CONSISTENCY_PROBES, ids=lambda p: p["source"].removeprefix("testdata/consistency/")
)
def test_consistency_probes(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            bytes.fromhex(probe["root1"]),
            bytes.fromhex(probe["root2"]),
            _b(probe["proof"]),
        )

    if probe["want_error"] or probe["source"] in STRICTER:
        with pytest.raises(MalformedProof if probe["source"] in STRICTER else ProofError):
            run()
    else:
        run()


def test_the_probes_cover_the_attacks() -> None:
    """The attacks the probes name, so that a fixture cut short is seen."""
    names = {
        p["source"].rsplit("/", 1)[1].removesuffix(".json") for p in INCLUSION_PROBES + CONSISTENCY_PROBES
    }
    for attack in (
        "happy-path",
        "wrong-leaf",
        "leafIdx-plus-@1",
        "treeSize-mul-@2",
        "trailing-garbage",
        "preceding-garbage",
        "truncated-proof",
        "inserted-component",
        "removed-component",
        "modified-proof[0]-bit-@3",
        "modified-proof@1-bit-@4",
        "swapped-roots",
        "wrong-root1",
        "size1-plus-@1",
    ):
        assert attack in names, attack
    assert len(INCLUSION_PROBES) == len(CONSISTENCY_PROBES) == 98


# -- golden tamper cases on our own tree, named by attack, with the error each must be --

N, LEAF, M = 277, 130, 100  # a tree of 277 leaves (not a power of two), leaf 130, an older size 100


def _inclusion_cases() -> dict[str, tuple[type[ProofError], Callable[[], None]]]:
    path = inclusion_proof(LEAF, N, BIG.get_node)
    leaf, root = BIG_LEAVES[LEAF], root_at(N, BIG.get_node)
    cases: dict[str, tuple[type[ProofError], Callable[[], None]]] = {}

    def case(
        name: str, error: type[ProofError], index: int, size: int, lh: bytes, p: list[bytes], r: bytes
    ) -> None:
        cases[name] = (error, lambda: verify_inclusion(index, size, lh, p, r))

    for i in range(len(path)):
        case(
            f"modified-proof[{i}]-bit-@3",
            RootMismatch,
            LEAF,
            N,
            leaf,
            [*path[:i], flip(path[i], 3), *path[i + 1 :]],
            root,
        )
    case("wrong-leaf", RootMismatch, LEAF, N, BIG_LEAVES[LEAF + 1], path, root)
    case("flipped-leaf-bit", RootMismatch, LEAF, N, flip(leaf, 255), path, root)
    case("leafIdx-plus-@1", RootMismatch, LEAF + 1, N, leaf, path, root)
    case("leafIdx-sub-@1", RootMismatch, LEAF - 1, N, leaf, path, root)
    case("leafIdx-beyond-size", IndexOutOfRange, N, N, leaf, path, root)
    case("treeSize-mul-@2", MalformedProof, LEAF, 2 * N, leaf, path, root)
    case("treeSize-div-@2", MalformedProof, LEAF, N // 2 + 1, leaf, path, root)
    case("random-root", RootMismatch, LEAF, N, leaf, path, hash_leaf(b"random"))
    case("empty-root", RootMismatch, LEAF, N, leaf, path, EMPTY_ROOT)
    case("trailing-garbage", MalformedProof, LEAF, N, leaf, [*path, hash_leaf(b"garbage")], root)
    case("preceding-garbage", MalformedProof, LEAF, N, leaf, [hash_leaf(b"garbage"), *path], root)
    case("trailing-root", MalformedProof, LEAF, N, leaf, [*path, root], root)
    case("truncated-proof", MalformedProof, LEAF, N, leaf, path[:-1], root)
    case("removed-component", MalformedProof, LEAF, N, leaf, path[1:], root)
    case("short-proof-element", MalformedProof, LEAF, N, leaf, [*path[:-1], path[-1][:31]], root)
    case("long-proof-element", MalformedProof, LEAF, N, leaf, [*path[:-1], path[-1] + b"\x00"], root)
    return cases


def _consistency_cases() -> dict[str, tuple[type[ProofError], Callable[[], None]]]:
    path = consistency_proof(M, N, BIG.get_node)
    root1, root2 = root_at(M, BIG.get_node), root_at(N, BIG.get_node)
    cases: dict[str, tuple[type[ProofError], Callable[[], None]]] = {}

    def case(
        name: str, error: type[ProofError], m: int, n: int, r1: bytes, r2: bytes, p: list[bytes]
    ) -> None:
        cases[name] = (error, lambda: verify_consistency(m, n, r1, r2, p))

    for i in range(len(path)):
        case(
            f"modified-proof@{i}-bit-@4",
            RootMismatch,
            M,
            N,
            root1,
            root2,
            [*path[:i], flip(path[i], 4), *path[i + 1 :]],
        )
    case("wrong-root1", RootMismatch, M, N, hash_leaf(b"other"), root2, path)
    case("wrong-root2", RootMismatch, M, N, root1, hash_leaf(b"other"), path)
    case("swapped-roots", RootMismatch, M, N, root2, root1, path)
    case("size1-plus-@1", MalformedProof, M + 1, N, root1, root2, path)  # another shape of proof
    case("size1-sub-@1", MalformedProof, M - 1, N, root1, root2, path)
    case("size2-mul-@2", MalformedProof, M, 2 * N, root1, root2, path)
    case("size1-greater-than-size2", WrongSize, N, M, root1, root2, path)
    case("rolled-back-to-an-older-size", WrongSize, N, M, root2, root1, consistency_proof(M, N, BIG.get_node))
    case("size1-zero", WrongSize, 0, N, EMPTY_ROOT, root2, path)
    case("trailing-garbage", MalformedProof, M, N, root1, root2, [*path, hash_leaf(b"garbage")])
    case("preceding-garbage", MalformedProof, M, N, root1, root2, [hash_leaf(b"garbage"), *path])
    case("truncated-proof", MalformedProof, M, N, root1, root2, path[:-1])
    case("empty-proof", MalformedProof, M, N, root1, root2, [])
    case("equal-sizes-other-root", RootMismatch, N, N, root1, root2, [])
    case("equal-sizes-proof-not-empty", MalformedProof, N, N, root2, root2, path[:1])
    return cases


INCLUSION_CASES = _inclusion_cases()
CONSISTENCY_CASES = _consistency_cases()


def test_the_golden_proofs_verify() -> None:
    verify_inclusion(
        LEAF, N, BIG_LEAVES[LEAF], inclusion_proof(LEAF, N, BIG.get_node), root_at(N, BIG.get_node)
    )
    verify_consistency(
        M, N, root_at(M, BIG.get_node), root_at(N, BIG.get_node), consistency_proof(M, N, BIG.get_node)
    )


@pytest.mark.parametrize("attack", INCLUSION_CASES)
def test_inclusion_attack(attack: str) -> None:
    error, run = INCLUSION_CASES[attack]
    with pytest.raises(error):
        run()


@pytest.mark.parametrize("attack", CONSISTENCY_CASES)
def test_consistency_attack(attack: str) -> None:
    error, run = CONSISTENCY_CASES[attack]
    with pytest.raises(error):
        run()


def test_an_inclusion_proof_alone_does_not_bind_the_tree_size() -> None:
    """Leaf 130's path in the tree of 277 leaves is also its path in the tree of 278 (the
    same siblings: the 256 on the left, then the right part, a single node either way), so
    a verifier told the wrong size computes the same root; so with a consistency proof's
    newer size. The size is bound by the signed tree head: the offline verifier checks a
    proof's sizes against the checkpoints' (test_verifier: the wrong-size attacks)."""
    path = inclusion_proof(LEAF, N, BIG.get_node)
    verify_inclusion(LEAF, N + 1, BIG_LEAVES[LEAF], path, root_at(N, BIG.get_node))
    path = consistency_proof(M, N, BIG.get_node)
    verify_consistency(M, N + 1, root_at(M, BIG.get_node), root_at(N, BIG.get_node), path)


def test_a_rewritten_log_is_caught_by_a_checkpoint_taken_before() -> None:
    """Every leaf from 60 on rewritten and every node recomputed: the rewritten tree's
    consistency proof from the old size does not lead to the root taken before."""
    rewritten = Store([*BIG_LEAVES[:60], *(hash_leaf(b"forged %d" % i) for i in range(60, N))])
    old_root = root_at(M, BIG.get_node)
    path = consistency_proof(M, N, rewritten.get_node)
    with pytest.raises(RootMismatch, match="old root"):
        verify_consistency(M, N, old_root, root_at(N, rewritten.get_node), path)


# -- every proof for every size up to MAX, against the RFC's definitions -----------------


def test_every_root_at_every_size() -> None:
    grown = CompactRange()
    for size in range(MAX + 1):
        assert root_at(size, BIG.get_node) == grown.root() == ref_root(BIG_LEAVES[:size])
        if size < MAX:
            grown.append(BIG_LEAVES[size])


def test_every_proof_of_small_trees_is_the_rfcs() -> None:
    for n in range(1, 65):
        d = BIG_LEAVES[:n]
        for m in range(n):
            assert inclusion_proof(m, n, BIG.get_node) == ref_path(m, d)
        for m in range(1, n + 1):
            assert consistency_proof(m, n, BIG.get_node) == ref_subproof(m, d, True)


def test_every_proof_up_to_max_verifies() -> None:
    """Every inclusion proof and every consistency proof of every tree size up to MAX,
    generated from the store of MAX leaves (older sizes recomputed from stored nodes),
    verifies, in a handful of reads each."""
    roots = [root_at(n, BIG.get_node) for n in range(MAX + 1)]
    for n in range(1, MAX + 1):
        budget = 2 * n.bit_length() + 2
        for m in range(n):
            BIG.reads = 0
            path = inclusion_proof(m, n, BIG.get_node)
            assert BIG.reads <= budget, (m, n, BIG.reads)
            verify_inclusion(m, n, BIG_LEAVES[m], path, roots[n])
        for m in range(1, n + 1):
            BIG.reads = 0
            path = consistency_proof(m, n, BIG.get_node)
            assert BIG.reads <= budget, (m, n, BIG.reads)
            assert len(path) == consistency_proof_length(m, n)
            verify_consistency(m, n, roots[m], roots[n], path)


def test_proof_errors_for_sizes_out_of_range() -> None:
    with pytest.raises(IndexOutOfRange):
        inclusion_proof(0, 0, BIG.get_node)
    with pytest.raises(IndexOutOfRange):
        inclusion_proof(-1, 5, BIG.get_node)
    with pytest.raises(WrongSize):
        consistency_proof(6, 5, BIG.get_node)
    with pytest.raises(WrongSize):
        consistency_proof(0, 5, BIG.get_node)
    assert consistency_proof(0, 0, BIG.get_node) == []
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(WrongSize):
        root_at(-1, BIG.get_node)


def test_every_single_bit_of_small_proofs() -> None:
    """Exhaustively for trees up to 9 leaves: any one bit changed in any proof element,
    the leaf hash or a root fails."""
    for n in range(1, 10):
        root = root_at(n, BIG.get_node)
        for m in range(n):
            path = inclusion_proof(m, n, BIG.get_node)
            for i in range(len(path)):
                for bit in range(256):
                    bad = [*path[:i], flip(path[i], bit), *path[i + 1 :]]
                    with pytest.raises(RootMismatch):
                        verify_inclusion(m, n, BIG_LEAVES[m], bad, root)
            for bit in range(256):
                assert root_from_inclusion(m, n, flip(BIG_LEAVES[m], bit), path) != root
                with pytest.raises(RootMismatch):
                    verify_inclusion(m, n, BIG_LEAVES[m], path, flip(root, bit))


@st.composite
def _inclusion_flip(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n = draw(st.integers(2, MAX))
    m = draw(st.integers(0, n - 1))
    length = len(inclusion_proof(m, n, BIG.get_node))
    return n, m, draw(st.integers(-1, length)), draw(st.integers(0, 255))


@st.composite
def _consistency_flip(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n = draw(st.integers(2, MAX))
    m = draw(st.integers(1, n - 1))
    length = consistency_proof_length(m, n)
    return m, n, draw(st.integers(-2, length - 1)), draw(st.integers(0, 255))


@settings(max_examples=400, deadline=None)
@given(_inclusion_flip())
def test_any_bit_flipped_in_an_inclusion_proof_fails(case: tuple[int, int, int, int]) -> None:
    """Element -1 is the root, ``len(path)`` the leaf hash, any other a path element."""
    n, m, target, bit = case
    path, leaf, root = inclusion_proof(m, n, BIG.get_node), BIG_LEAVES[m], root_at(n, BIG.get_node)
    if target == -1:
        root = flip(root, bit)
    elif target == len(path):
        leaf = flip(leaf, bit)
    else:
        path[target] = flip(path[target], bit)
    with pytest.raises(RootMismatch):
        verify_inclusion(m, n, leaf, path, root)


@settings(max_examples=400, deadline=None)
@given(_consistency_flip())
def test_any_bit_flipped_in_a_consistency_proof_fails(case: tuple[int, int, int, int]) -> None:
    """Element -2 is the old root, -1 the new root, any other a path element."""
    m, n, target, bit = case
    path = consistency_proof(m, n, BIG.get_node)
    old, new = root_at(m, BIG.get_node), root_at(n, BIG.get_node)
    if target == -2:
        old = flip(old, bit)
    elif target == -1:
        new = flip(new, bit)
    else:
        path[target] = flip(path[target], bit)
    with pytest.raises(RootMismatch):
        verify_consistency(m, n, old, new, path)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, MAX), st.data())
def test_a_proof_for_another_leaf_index_fails(n: int, data: st.DataObject) -> None:
    """A valid proof checked for any other leaf index fails: each index of a tree has its
    own sequence of left and right turns, which the path's hashing follows."""
    m = data.draw(st.integers(0, n - 1))
    path, root = inclusion_proof(m, n, BIG.get_node), root_at(n, BIG.get_node)
    other = data.draw(st.integers(0, 2 * MAX).filter(lambda x: x != m))
    with pytest.raises(ProofError):
        verify_inclusion(other, n, BIG_LEAVES[m], path, root)
