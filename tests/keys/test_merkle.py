"""Tests of keys.merkle against published vectors and an independent RFC 9162 oracle.

The oracle below uses hashlib, which the project allows in tests only: it is a
second, deliberately naive implementation of the recursive definitions in RFC 9162
section 2.1, slicing lists exactly as the RFC text does.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import merkle
from keys.errors import FormatError
from keys.merkle import EMPTY_ROOT, MerkleTree, ProofError

# The Certificate Transparency reference leaves and their roots for sizes 0 to 8,
# proofs as published in transparency-dev/merkle (testonly/constants.go and
# proof/verify_test.go; RFC 6962 hashing, which RFC 9162 keeps).
CT_ENTRIES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
CT_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (0-based leaf index, tree size, PATH)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
# (old size, new size, PROOF)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
CT_LEAVES = [merkle.leaf_hash(entry) for entry in CT_ENTRIES]

MAX_LEAVES = 70


# ---------------------------------------------------------------------------
# Oracle: RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 over entries, with hashlib.
# ---------------------------------------------------------------------------

def oracle_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def oracle_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = oracle_split(n)
    return hashlib.sha256(b"\x01" + oracle_mth(entries[:k]) + oracle_mth(entries[k:])).digest()


def oracle_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = oracle_split(n)
    if m < k:
        return oracle_path(m, entries[:k]) + [oracle_mth(entries[k:])]
    return oracle_path(m - k, entries[k:]) + [oracle_mth(entries[:k])]


def oracle_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [oracle_mth(entries)]
    k = oracle_split(n)
    if m <= k:
        return oracle_subproof(m, entries[:k], b) + [oracle_mth(entries[k:])]
    return oracle_subproof(m - k, entries[k:], False) + [oracle_mth(entries[:k])]


def oracle_proof(m: int, entries: list[bytes]) -> list[bytes]:
    if m == 0 or m == len(entries):
        return []
    return oracle_subproof(m, entries, True)


def path_shape(m: int, n: int) -> list[str]:
    """Side of each sibling in PATH(m, D[n]), from the leaf up."""
    if n == 1:
        return []
    k = oracle_split(n)
    if m < k:
        return path_shape(m, k) + ["right"]
    return path_shape(m - k, n - k) + ["left"]


def subproof_shape(m: int, n: int, b: bool) -> list[str]:
    """Side of each hash in SUBPROOF(m, D[n], b), and whether the old subtree is included."""
    if m == n:
        return [] if b else ["old subtree"]
    k = oracle_split(n)
    if m <= k:
        return subproof_shape(m, k, b) + ["right"]
    return subproof_shape(m - k, n - k, False) + ["left"]


def flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def entries_of(count: int) -> list[bytes]:
    return [b"entry %d" % i for i in range(count)]


def distinct_leaves(min_size: int = 1):
    """Leaf hashes of distinct entries, because a proof for one copy of a repeated
    entry also proves the other copy."""
    entries = st.lists(st.binary(max_size=16), min_size=min_size, max_size=MAX_LEAVES, unique=True)
    return entries.map(lambda values: [merkle.leaf_hash(e) for e in values])


@st.composite
def inclusion_cases(draw):
    """(leaf hashes, index)"""
    leaves = draw(distinct_leaves())
    return leaves, draw(st.integers(0, len(leaves) - 1))


@st.composite
def consistency_cases(draw, strict: bool = False):
    """(leaf hashes, old size), with 0 < old size < len(leaf hashes) when ``strict``."""
    if strict:
        leaves = draw(distinct_leaves(min_size=2))
        return leaves, draw(st.integers(1, len(leaves) - 1))
    leaves = draw(distinct_leaves())
    return leaves, draw(st.integers(0, len(leaves)))


# ---------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------

def test_empty_root_is_sha256_of_empty():
    assert EMPTY_ROOT == CT_ROOTS[0]
    assert merkle.root_hash([]) == CT_ROOTS[0]
    assert MerkleTree().root() == CT_ROOTS[0]


def test_leaf_and_node_hash_known_answers():
    assert merkle.leaf_hash(b"") == CT_ROOTS[1]
    assert merkle.node_hash(CT_LEAVES[0], CT_LEAVES[1]) == CT_ROOTS[2]


def test_roots_match_ct_reference():
    tree = MerkleTree(CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS):
        assert merkle.root_hash(CT_LEAVES[:size]) == expected, f"root_hash, size {size}"
        assert tree.root(size) == expected, f"MerkleTree.root, size {size}"


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_matches_ct_reference(index, size, path):
    expected = [bytes.fromhex(h) for h in path]

    assert merkle.inclusion_proof(CT_LEAVES[:size], index) == expected
    assert MerkleTree(CT_LEAVES).inclusion_proof(index, size) == expected
    merkle.verify_inclusion(CT_LEAVES[index], index, size, expected, CT_ROOTS[size])


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_CONSISTENCY)
def test_consistency_matches_ct_reference(old_size, new_size, proof):
    expected = [bytes.fromhex(h) for h in proof]

    assert merkle.consistency_proof(CT_LEAVES[:new_size], old_size) == expected
    assert MerkleTree(CT_LEAVES).consistency_proof(old_size, new_size) == expected
    merkle.verify_consistency(old_size, new_size, CT_ROOTS[old_size], CT_ROOTS[new_size], expected)


# ---------------------------------------------------------------------------
# Reference functions and MerkleTree against the oracle
# ---------------------------------------------------------------------------

def test_reference_matches_oracle():
    entries = entries_of(MAX_LEAVES)
    leaves = [merkle.leaf_hash(e) for e in entries]
    for size in range(MAX_LEAVES + 1):
        assert merkle.root_hash(leaves[:size]) == oracle_mth(entries[:size]), f"size {size}"
        for index in range(size):
            expected = oracle_path(index, entries[:size])
            assert merkle.inclusion_proof(leaves[:size], index) == expected, f"PATH({index}, D[{size}])"
        for old_size in range(size + 1):
            expected = oracle_proof(old_size, entries[:size])
            assert merkle.consistency_proof(leaves[:size], old_size) == expected, \
                f"PROOF({old_size}, D[{size}])"


def test_tree_matches_reference_every_size():
    leaves = [merkle.leaf_hash(e) for e in entries_of(MAX_LEAVES)]
    tree = MerkleTree(leaves)
    for size in range(MAX_LEAVES + 1):
        assert tree.root(size) == merkle.root_hash(leaves[:size]), f"size {size}"
        for index in range(size):
            assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(leaves[:size], index), \
                f"index {index}, size {size}"
        for old_size in range(size + 1):
            expected = merkle.consistency_proof(leaves[:size], old_size)
            assert tree.consistency_proof(old_size, size) == expected, f"old size {old_size}, size {size}"


def test_tree_defaults_to_current_size():
    leaves = [merkle.leaf_hash(e) for e in entries_of(MAX_LEAVES)]
    tree = MerkleTree()
    for index, leaf in enumerate(leaves):
        assert tree.append(leaf) == index
        assert tree.size == index + 1
        assert len(tree) == index + 1
        assert tree.root() == merkle.root_hash(leaves[:index + 1])
        assert tree.inclusion_proof(index) == merkle.inclusion_proof(leaves[:index + 1], index)
        assert tree.consistency_proof(index // 2) == merkle.consistency_proof(leaves[:index + 1], index // 2)


def test_every_proof_verifies_exhaustively():
    leaves = [merkle.leaf_hash(e) for e in entries_of(MAX_LEAVES)]
    tree = MerkleTree(leaves)
    for size in range(MAX_LEAVES + 1):
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            merkle.verify_inclusion(leaves[index], index, size, proof, tree.root(size))
        for old_size in range(size + 1):
            merkle.verify_consistency(old_size, size, tree.root(old_size), tree.root(size),
                                      tree.consistency_proof(old_size, size))


# ---------------------------------------------------------------------------
# Properties: valid proofs verify, altered ones do not
# ---------------------------------------------------------------------------

@given(inclusion_cases())
def test_inclusion_proof_verifies(case):
    leaves, index = case
    root = merkle.root_hash(leaves)

    for proof in (merkle.inclusion_proof(leaves, index), MerkleTree(leaves).inclusion_proof(index)):
        merkle.verify_inclusion(leaves[index], index, len(leaves), proof, root)


@given(consistency_cases(), st.data())
def test_consistency_proof_verifies(case, data):
    leaves, old_size = case
    new_size = data.draw(st.integers(old_size, len(leaves)))
    old_root = merkle.root_hash(leaves[:old_size])
    new_root = merkle.root_hash(leaves[:new_size])

    proof = merkle.consistency_proof(leaves[:new_size], old_size)
    merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    assert MerkleTree(leaves).consistency_proof(old_size, new_size) == proof


@given(inclusion_cases(), st.data())
def test_inclusion_rejects_flipped_proof_bit(case, data):
    leaves, index = case
    proof = merkle.inclusion_proof(leaves, index)
    if not proof:
        return
    position = data.draw(st.integers(0, len(proof) - 1))
    proof[position] = flip_bit(proof[position], data.draw(st.integers(0, 255)))

    with pytest.raises(ProofError, match="does not lead to the expected root"):
        merkle.verify_inclusion(leaves[index], index, len(leaves), proof, merkle.root_hash(leaves))


@given(inclusion_cases(), st.integers(0, 255))
def test_inclusion_rejects_flipped_root_bit(case, bit):
    leaves, index = case
    proof = merkle.inclusion_proof(leaves, index)
    root = flip_bit(merkle.root_hash(leaves), bit)

    with pytest.raises(ProofError, match="does not lead to the expected root"):
        merkle.verify_inclusion(leaves[index], index, len(leaves), proof, root)


@given(inclusion_cases(), st.integers(0, 255))
def test_inclusion_rejects_flipped_leaf_bit(case, bit):
    leaves, index = case
    leaf = flip_bit(leaves[index], bit)

    with pytest.raises(ProofError, match="does not lead to the expected root"):
        merkle.verify_inclusion(leaf, index, len(leaves), merkle.inclusion_proof(leaves, index),
                                merkle.root_hash(leaves))


@given(inclusion_cases(), st.integers(0, 63))
def test_inclusion_rejects_flipped_index_bit(case, bit):
    leaves, index = case

    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaves[index], index ^ (1 << bit), len(leaves),
                                merkle.inclusion_proof(leaves, index), merkle.root_hash(leaves))


def verifies_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        merkle.verify_inclusion(leaf, index, size, proof, root)
    except ProofError:
        return False
    return True


def verifies_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                         proof: list[bytes]) -> bool:
    try:
        merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    except ProofError:
        return False
    return True


# A root does not commit to the tree size: the same hashes can form trees of two
# sizes. A proof verifies under a wrong size exactly when that size gives the
# path the same shape, which the oracle computes independently of keys.merkle.

@given(inclusion_cases(), st.integers(0, 63))
def test_inclusion_flipped_size_needs_same_shape(case, bit):
    leaves, index = case
    size = len(leaves)
    flipped = size ^ (1 << bit)
    same_shape = index < flipped and path_shape(index, flipped) == path_shape(index, size)

    verified = verifies_inclusion(leaves[index], index, flipped, merkle.inclusion_proof(leaves, index),
                                  merkle.root_hash(leaves))
    assert verified == same_shape, f"index {index}, size {size} verified as size {flipped}: {verified}"


def test_inclusion_other_sizes_need_same_shape():
    leaves = [merkle.leaf_hash(e) for e in entries_of(24)]
    for size in range(1, 25):
        root = merkle.root_hash(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(leaves[:size], index)
            for other in range(50):
                same_shape = index < other and path_shape(index, other) == path_shape(index, size)
                assert verifies_inclusion(leaves[index], index, other, proof, root) == same_shape, \
                    f"index {index}, size {size} checked as size {other}"


def test_inclusion_proof_does_not_fix_size():
    leaves = CT_LEAVES[:3]
    proof = merkle.inclusion_proof(leaves, 0)

    merkle.verify_inclusion(leaves[0], 0, 4, proof, CT_ROOTS[3])


@given(consistency_cases(strict=True), st.data())
def test_consistency_rejects_flipped_proof_bit(case, data):
    leaves, old_size = case
    proof = merkle.consistency_proof(leaves, old_size)
    position = data.draw(st.integers(0, len(proof) - 1))
    proof[position] = flip_bit(proof[position], data.draw(st.integers(0, 255)))

    with pytest.raises(ProofError, match="does not lead to the expected"):
        merkle.verify_consistency(old_size, len(leaves), merkle.root_hash(leaves[:old_size]),
                                  merkle.root_hash(leaves), proof)


@given(consistency_cases(), st.integers(0, 255), st.booleans())
def test_consistency_rejects_flipped_root_bit(case, bit, flip_old):
    leaves, old_size = case
    if old_size == 0 and not flip_old:
        return  # every tree extends the empty tree, so no new root is wrong
    old_root = merkle.root_hash(leaves[:old_size])
    new_root = merkle.root_hash(leaves)
    if flip_old:
        old_root = flip_bit(old_root, bit)
    else:
        new_root = flip_bit(new_root, bit)

    with pytest.raises(ProofError):
        merkle.verify_consistency(old_size, len(leaves), old_root, new_root,
                                  merkle.consistency_proof(leaves, old_size))


@given(consistency_cases(strict=True), st.integers(0, 63), st.booleans())
def test_consistency_flipped_size_needs_same_shape(case, bit, flip_old):
    leaves, old_size = case
    new_size = len(leaves)
    old_checked, new_checked = old_size, new_size
    if flip_old:
        old_checked ^= 1 << bit
    else:
        new_checked ^= 1 << bit
    shape = subproof_shape(old_size, new_size, True)
    same_shape = 0 < old_checked < new_checked and subproof_shape(old_checked, new_checked, True) == shape

    verified = verifies_consistency(old_checked, new_checked, merkle.root_hash(leaves[:old_size]),
                                    merkle.root_hash(leaves), merkle.consistency_proof(leaves, old_size))
    assert verified == same_shape, f"{old_size} -> {new_size} checked as {old_checked} -> {new_checked}"


def test_consistency_other_sizes_need_same_shape():
    leaves = [merkle.leaf_hash(e) for e in entries_of(20)]
    for new_size in range(2, 21):
        for old_size in range(1, new_size):
            roots = merkle.root_hash(leaves[:old_size]), merkle.root_hash(leaves[:new_size])
            proof = merkle.consistency_proof(leaves[:new_size], old_size)
            shape = subproof_shape(old_size, new_size, True)
            for other in range(45):
                for old_checked, new_checked in ((other, new_size), (old_size, other)):
                    same_shape = (0 < old_checked < new_checked
                                  and subproof_shape(old_checked, new_checked, True) == shape)
                    assert verifies_consistency(old_checked, new_checked, *roots, proof) == same_shape, \
                        f"{old_size} -> {new_size} checked as {old_checked} -> {new_checked}"


@pytest.mark.parametrize("alter", ["append zero hash", "append root", "prepend root", "drop last",
                                   "repeat first"])
def test_consistency_rejects_altered_proof(alter):
    old_root, new_root = CT_ROOTS[6], CT_ROOTS[8]
    proof = merkle.consistency_proof(CT_LEAVES, 6)
    altered = {
        "append zero hash": proof + [bytes(32)],
        "append root": proof + [new_root],
        "prepend root": [old_root] + proof,
        "drop last": proof[:-1],
        "repeat first": proof[:1] + proof,
    }[alter]

    with pytest.raises(ProofError, match=r"proof from size 6 to size 8 has \d hashes, expected 3"):
        merkle.verify_consistency(6, 8, old_root, new_root, altered)


def test_consistency_rejects_swapped_roots():
    proof = merkle.consistency_proof(CT_LEAVES, 6)

    with pytest.raises(ProofError, match="expected old root"):
        merkle.verify_consistency(6, 8, CT_ROOTS[8], CT_ROOTS[6], proof)


# ---------------------------------------------------------------------------
# Edge cases and error messages
# ---------------------------------------------------------------------------

def test_proof_error_is_format_error():
    error = ProofError("x")

    assert isinstance(error, FormatError)
    assert error.code == "bad_proof"


def test_size_zero_tree():
    tree = MerkleTree()

    assert tree.size == 0
    assert tree.consistency_proof(0) == []
    with pytest.raises(ValueError, match="leaf index 0 is out of range"):
        tree.inclusion_proof(0)
    with pytest.raises(ValueError, match="leaf index 0 is out of range"):
        merkle.inclusion_proof([], 0)
    with pytest.raises(ProofError, match="leaf index 0 is out of range for a tree of 0 leaves"):
        merkle.verify_inclusion(CT_LEAVES[0], 0, 0, [], EMPTY_ROOT)


def test_size_one_tree():
    leaf = CT_LEAVES[0]

    assert merkle.root_hash([leaf]) == leaf
    assert merkle.inclusion_proof([leaf], 0) == []
    merkle.verify_inclusion(leaf, 0, 1, [], leaf)
    with pytest.raises(ProofError, match="has 1 hashes, expected 0"):
        merkle.verify_inclusion(leaf, 0, 1, [leaf], leaf)
    with pytest.raises(ProofError, match="does not lead to the expected root"):
        merkle.verify_inclusion(leaf, 0, 1, [], CT_LEAVES[1])


def test_last_index_every_size():
    leaves = [merkle.leaf_hash(e) for e in entries_of(MAX_LEAVES)]
    tree = MerkleTree(leaves)
    for size in range(1, MAX_LEAVES + 1):
        proof = tree.inclusion_proof(size - 1, size)
        merkle.verify_inclusion(leaves[size - 1], size - 1, size, proof, tree.root(size))
        message = f"leaf index {size} is out of range for a tree of {size} leaves"
        with pytest.raises(ProofError, match=message):
            merkle.verify_inclusion(leaves[size - 1], size, size, proof, tree.root(size))


def test_consistency_equal_sizes():
    for size in range(9):
        assert merkle.consistency_proof(CT_LEAVES[:size], size) == []
        merkle.verify_consistency(size, size, CT_ROOTS[size], CT_ROOTS[size], [])
    with pytest.raises(ProofError, match="old and new roots differ, but both trees have 5 leaves"):
        merkle.verify_consistency(5, 5, CT_ROOTS[5], CT_ROOTS[6], [])
    with pytest.raises(ProofError, match="from size 5 to size 5 has 1 hashes, expected 0"):
        merkle.verify_consistency(5, 5, CT_ROOTS[5], CT_ROOTS[5], [CT_ROOTS[5]])


def test_consistency_from_empty_tree():
    for size in range(9):
        assert merkle.consistency_proof(CT_LEAVES[:size], 0) == []
        merkle.verify_consistency(0, size, EMPTY_ROOT, CT_ROOTS[size], [])
    with pytest.raises(ProofError, match="not the hash of the empty tree"):
        merkle.verify_consistency(0, 3, CT_ROOTS[1], CT_ROOTS[3], [])
    with pytest.raises(ProofError, match="from size 0 to size 3 has 1 hashes, expected 0"):
        merkle.verify_consistency(0, 3, EMPTY_ROOT, CT_ROOTS[3], [EMPTY_ROOT])


def test_consistency_old_larger_than_new():
    with pytest.raises(ProofError, match="old tree size 8 is larger than new tree size 6"):
        merkle.verify_consistency(8, 6, CT_ROOTS[8], CT_ROOTS[6], [])
    with pytest.raises(ValueError, match="old tree size 9 is out of range"):
        merkle.consistency_proof(CT_LEAVES, 9)
    with pytest.raises(ValueError, match="old tree size 7 is out of range"):
        MerkleTree(CT_LEAVES).consistency_proof(7, 6)


def test_inclusion_wrong_length_message():
    proof = merkle.inclusion_proof(CT_LEAVES, 5)

    message = "inclusion proof for leaf 5 in a tree of 8 leaves has 2 hashes, expected 3"
    with pytest.raises(ProofError, match=message):
        merkle.verify_inclusion(CT_LEAVES[5], 5, 8, proof[:2], CT_ROOTS[8])
    with pytest.raises(ProofError, match="has 4 hashes, expected 3"):
        merkle.verify_inclusion(CT_LEAVES[5], 5, 8, [CT_ROOTS[8]] + proof, CT_ROOTS[8])


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32, None])
def test_verifiers_reject_bad_hash(bad):
    proof = merkle.inclusion_proof(CT_LEAVES, 5)

    with pytest.raises(ProofError, match="leaf hash must be 32 bytes"):
        merkle.verify_inclusion(bad, 5, 8, proof, CT_ROOTS[8])
    with pytest.raises(ProofError, match="root must be 32 bytes"):
        merkle.verify_inclusion(CT_LEAVES[5], 5, 8, proof, bad)
    with pytest.raises(ProofError, match="proof hash 1 must be 32 bytes"):
        merkle.verify_inclusion(CT_LEAVES[5], 5, 8, [proof[0], bad, proof[2]], CT_ROOTS[8])
    with pytest.raises(ProofError, match="old root must be 32 bytes"):
        merkle.verify_consistency(6, 8, bad, CT_ROOTS[8], [])
    with pytest.raises(ProofError, match="new root must be 32 bytes"):
        merkle.verify_consistency(6, 8, CT_ROOTS[6], bad, [])


@pytest.mark.parametrize("bad", [-1, True, "3", 2.0, None])
def test_verifiers_reject_bad_counts(bad):
    with pytest.raises(ProofError, match="leaf index must be a non-negative integer"):
        merkle.verify_inclusion(CT_LEAVES[0], bad, 8, [], CT_ROOTS[8])
    with pytest.raises(ProofError, match="tree size must be a non-negative integer"):
        merkle.verify_inclusion(CT_LEAVES[0], 0, bad, [], CT_ROOTS[8])
    with pytest.raises(ProofError, match="old tree size must be a non-negative integer"):
        merkle.verify_consistency(bad, 8, CT_ROOTS[1], CT_ROOTS[8], [])
    with pytest.raises(ProofError, match="new tree size must be a non-negative integer"):
        merkle.verify_consistency(1, bad, CT_ROOTS[1], CT_ROOTS[8], [])


def test_tree_rejects_bad_arguments():
    tree = MerkleTree(CT_LEAVES)

    with pytest.raises(ValueError, match="a leaf hash must be 32 bytes"):
        tree.append(b"short")
    with pytest.raises(ValueError, match="a leaf hash must be 32 bytes"):
        tree.append(CT_LEAVES[0].hex())
    with pytest.raises(ValueError, match="tree size 9 is out of range: it must be from 0 to 8"):
        tree.root(9)
    with pytest.raises(ValueError, match="leaf index 4 is out of range: it must be from 0 to 3"):
        tree.inclusion_proof(4, 4)
    with pytest.raises(ValueError, match="leaf index -1 is out of range"):
        tree.inclusion_proof(-1)
    with pytest.raises(ValueError, match="new tree size 9 is out of range"):
        tree.consistency_proof(1, 9)
    assert tree.size == 8
