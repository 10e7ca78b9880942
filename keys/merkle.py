"""Merkle tree hashes and proofs of RFC 9162 (Certificate Transparency 2.0), section 2.1.

The directory's transparency log is a Merkle tree over its entries. All sizes are
counts of leaves and all indexes are 0-based. Hashes are 32-byte SHA-256 digests
computed by libsodium through PyNaCl.

Hashing (2.1.1):
    ``leaf_hash(entry)`` is SHA-256(0x00 || entry) and ``node_hash(left, right)`` is
    SHA-256(0x01 || left || right). ``EMPTY_ROOT`` is the hash of a tree with no
    leaves, SHA-256 of the empty string.

Reference functions, O(n) per call, over a sequence of leaf hashes:
    ``root_hash`` returns MTH (2.1.1), ``inclusion_proof`` returns PATH (2.1.3.1)
    and ``consistency_proof`` returns PROOF (2.1.4.1).

Verification (2.1.3.2 and 2.1.4.2), for clients that hold a signed tree head:
    ``verify_inclusion`` and ``verify_consistency`` return None on success and raise
    ``ProofError`` on any failure. Take the tree size from the signed tree head.
    An inclusion or consistency proof alone does not always fix the size: the
    proof for leaf 0 in a tree of 3 leaves also verifies as a proof for a tree of
    4 leaves with the same root.

Broker side:
    ``MerkleTree`` appends leaf hashes and returns the root, inclusion proofs and
    consistency proofs for any size up to its current size, in O(log n) hashing.

Functions that build a tree or a proof raise ValueError for sizes or indexes out
of range, because that is a bug in the caller. The verifiers raise ProofError,
because their inputs come from the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import nacl.encoding
import nacl.hash

from keys.errors import FormatError

HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# A function from a leaf range [start, end) of one tree to the MTH of that range.
SubtreeHash = Callable[[int, int], bytes]


class ProofError(FormatError):
    """An inclusion or consistency proof that does not verify, or has invalid inputs."""

    code = "bad_proof"


def _sha256(data: bytes) -> bytes:
    return nacl.hash.sha256(data, encoder=nacl.encoding.RawEncoder)


EMPTY_ROOT = _sha256(b"")


def leaf_hash(entry: bytes) -> bytes:
    """Hash a log entry as a leaf: SHA-256(0x00 || entry)."""
    return _sha256(_LEAF_PREFIX + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right)


# ---------------------------------------------------------------------------
# Tree shape and the recursive definitions of RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1.
# Every subtree they visit is a leaf range [start, end). Hashing is left to a
# SubtreeHash, so the reference functions and MerkleTree share these definitions.
# ---------------------------------------------------------------------------


def _split_point(size: int) -> int:
    """Return k, the largest power of two smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _is_power_of_two(size: int) -> bool:
    return size > 0 and size & (size - 1) == 0


def _path(subtree_hash: SubtreeHash, index: int, start: int, end: int) -> list[bytes]:
    """Return PATH(index, D[start:end]), with ``index`` counted from leaf 0 of the tree."""
    if end - start == 1:
        return []

    split = start + _split_point(end - start)
    if index < split:
        return _path(subtree_hash, index, start, split) + [subtree_hash(split, end)]
    return _path(subtree_hash, index, split, end) + [subtree_hash(start, split)]


def _subproof(subtree_hash: SubtreeHash, old_end: int, start: int, end: int,
              old_root_known: bool) -> list[bytes]:
    """Return SUBPROOF(old_end - start, D[start:end], old_root_known) of RFC 9162 2.1.4.1."""
    if old_end == end:
        return [] if old_root_known else [subtree_hash(start, end)]

    split = start + _split_point(end - start)
    if old_end <= split:
        return _subproof(subtree_hash, old_end, start, split, old_root_known) + [subtree_hash(split, end)]
    return _subproof(subtree_hash, old_end, split, end, False) + [subtree_hash(start, split)]


def _consistency_path(subtree_hash: SubtreeHash, old_size: int, new_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[0:new_size]), which is empty when old_size is 0 or new_size."""
    if old_size == 0 or old_size == new_size:
        return []
    return _subproof(subtree_hash, old_size, 0, new_size, True)


# ---------------------------------------------------------------------------
# Reference functions over a list of leaf hashes.
# ---------------------------------------------------------------------------


def _check_range(name: str, value: int, low: int, high: int) -> None:
    """Raise ValueError unless low <= value <= high."""
    if not low <= value <= high:
        raise ValueError(f"{name} {value} is out of range: it must be from {low} to {high}")


def _recursive_subtree_hash(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    def subtree_hash(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaf_hashes[start]
        split = start + _split_point(end - start)
        return node_hash(subtree_hash(start, split), subtree_hash(split, end))

    return subtree_hash


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute MTH, the root hash of a tree with these leaf hashes (RFC 9162 2.1.1)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _recursive_subtree_hash(leaf_hashes)(0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Compute PATH, the proof that leaf ``index`` is in the tree (RFC 9162 2.1.3.1).

    The tree size is ``len(leaf_hashes)``. Raises ValueError unless 0 <= index < size.
    """
    _check_range("leaf index", index, 0, len(leaf_hashes) - 1)
    return _path(_recursive_subtree_hash(leaf_hashes), index, 0, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Compute PROOF, the proof that the tree of ``old_size`` leaves is a prefix of this one.

    The new size is ``len(leaf_hashes)`` (RFC 9162 2.1.4.1). The proof is empty when
    ``old_size`` is 0 or equals the new size. Raises ValueError unless
    0 <= old_size <= new size.
    """
    _check_range("old tree size", old_size, 0, len(leaf_hashes))
    return _consistency_path(_recursive_subtree_hash(leaf_hashes), old_size, len(leaf_hashes))


# ---------------------------------------------------------------------------
# Verification (RFC 9162 2.1.3.2 and 2.1.4.2).
# ---------------------------------------------------------------------------


def _describe_length_or_type(value: object) -> str:
    """Describe a value that should be a hash: its length in bytes, or its type."""
    if isinstance(value, bytes):
        return f"{len(value)} bytes"
    return f"a {type(value).__name__}"


def _check_hash(name: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, got {_describe_length_or_type(value)}", value=value)


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _check_hash(f"proof hash {position}", value)


def _check_count(name: str, value: object) -> None:
    """Raise ProofError unless ``value`` is a non-negative int (not a bool)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}", value=value)


def _check_proof_length(proof: Sequence[bytes], expected: int, description: str) -> None:
    if len(proof) != expected:
        raise ProofError(f"{description} has {len(proof)} hashes, expected {expected}", value=len(proof))


def _inclusion_path_length(index: int, size: int) -> int:
    """Return len(PATH(index, D[0:size])) for 0 <= index < size.

    ``inner`` counts the bits up to the highest one where ``index`` differs from
    ``size - 1``. On those lowest levels the leaf lies in a complete subtree, and
    each level adds one hash. Above them the path follows the right edge of the
    tree, and only a 1 bit of ``index`` (a left sibling) adds a hash.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_path_length(old_size: int, new_size: int) -> int:
    """Return len(PROOF(old_size, D[0:new_size])) for 0 < old_size < new_size.

    The proof is the inclusion path of the largest complete subtree that ends at
    ``old_size``, plus the hash of that subtree unless it is the whole old tree.
    """
    shift = (old_size & -old_size).bit_length() - 1
    length = _inclusion_path_length(old_size - 1, new_size) - shift
    return length if _is_power_of_two(old_size) else length + 1


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift fn and sn equally until fn is odd or 0."""
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _root_from_inclusion_path(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Run steps 2 to 4 of RFC 9162 2.1.3.2 and return r, the root the proof leads to.

    The caller has checked the proof length, so sn reaches 0 exactly at the last
    hash, which replaces the RFC's checks of sn in steps 4a and 5.
    """
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Check that ``proof`` proves leaf ``index`` of the tree with ``root`` is ``leaf_hash``.

    Follows RFC 9162 2.1.3.2. Raises ProofError when a hash is not 32 bytes, when
    index >= tree_size, when the proof has the wrong number of hashes for the index
    and size, or when the proof leads to a different root.
    """
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root", root)
    _check_proof_hashes(proof)
    _check_count("leaf index", index)
    _check_count("tree size", tree_size)
    if index >= tree_size:
        raise ProofError(f"leaf index {index} is out of range for a tree of {tree_size} leaves", value=index)

    where = f"inclusion proof for leaf {index} in a tree of {tree_size} leaves"
    _check_proof_length(proof, _inclusion_path_length(index, tree_size), where)
    if _root_from_inclusion_path(leaf_hash, index, tree_size, proof) != root:
        raise ProofError(f"{where} does not lead to the expected root")


def _roots_from_consistency_path(old_size: int, new_size: int, old_root: bytes,
                                 proof: Sequence[bytes]) -> tuple[bytes, bytes]:
    """Run steps 2 to 6 of RFC 9162 2.1.4.2 and return (fr, sr), the old and new roots.

    The caller has checked 0 < old_size < new_size and the proof length, so sn
    reaches 0 exactly at the last hash, which replaces the RFC's checks of sn in
    steps 6a and 7.
    """
    path = [old_root, *proof] if _is_power_of_two(old_size) else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1

    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr, sr


def _verify_trivial_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                                proof: Sequence[bytes]) -> None:
    """Verify the cases outside the RFC algorithm: old_size is 0 or equals new_size.

    Both need an empty proof. Equal sizes need equal roots. An old size of 0 needs
    the empty tree's hash as the old root, and every new root is consistent with it.
    """
    _check_proof_length(proof, 0, f"consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError("old root of a tree of 0 leaves is not the hash of the empty tree")
    if old_size == new_size and old_root != new_root:
        raise ProofError(f"old and new roots differ, but both trees have {old_size} leaves")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> None:
    """Check that ``proof`` proves the tree of ``old_size`` leaves is a prefix of the new tree.

    Follows RFC 9162 2.1.4.2 for 0 < old_size < new_size. Outside that range the
    proof must be empty. Equal sizes need equal roots, and an old size of 0 needs
    ``EMPTY_ROOT`` as the old root but accepts any new root. Raises ProofError when
    a hash is not 32 bytes, when old_size > new_size, when the proof has the wrong
    number of hashes for the sizes, or when it leads to a different old or new root.
    """
    for name, value in (("old root", old_root), ("new root", new_root)):
        _check_hash(name, value)
    _check_proof_hashes(proof)
    _check_count("old tree size", old_size)
    _check_count("new tree size", new_size)
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}", value=old_size)
    if old_size == 0 or old_size == new_size:
        _verify_trivial_consistency(old_size, new_size, old_root, new_root, proof)
        return

    where = f"consistency proof from size {old_size} to size {new_size}"
    _check_proof_length(proof, _consistency_path_length(old_size, new_size), where)
    computed_old, computed_new = _roots_from_consistency_path(old_size, new_size, old_root, proof)
    if computed_old != old_root:
        raise ProofError(f"{where} does not lead to the expected old root")
    if computed_new != new_root:
        raise ProofError(f"{where} does not lead to the expected new root")


# ---------------------------------------------------------------------------
# Incremental tree for the broker.
# ---------------------------------------------------------------------------


class MerkleTree:
    """An append-only Merkle tree that can prove any of its past sizes.

    It stores every leaf hash and every complete subtree: ``_levels[k][i]`` is the
    hash of leaves [i * 2**k, (i + 1) * 2**k). Such a subtree never changes once
    complete, so appends cost O(1) hashing on average. Every subtree that MTH, PATH
    and PROOF visit is complete, and so stored, or ends at the last leaf. A root or
    a proof therefore costs O(log n) lookups and O(log n) hashing. The results
    equal those of ``root_hash``, ``inclusion_proof`` and ``consistency_proof``.

    Memory is about two hashes per leaf. The tree is not thread-safe.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()):
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_hash: bytes) -> int:
        """Append a leaf hash, store the subtrees it completes and return its index.

        Raises ValueError unless ``leaf_hash`` is 32 bytes. Hash entries with
        ``leaf_hash()`` before appending them.
        """
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes, got {_describe_length_or_type(leaf_hash)}")

        index = self.size
        self._levels[0].append(leaf_hash)
        self._store_completed_subtrees()
        return index

    def _store_completed_subtrees(self) -> None:
        """Hash the pairs that the last append completed, one level after another."""
        level = 0
        while len(self._levels[level]) % 2 == 0:
            if level + 1 == len(self._levels):
                self._levels.append([])
            left, right = self._levels[level][-2:]
            self._levels[level + 1].append(node_hash(left, right))
            level += 1

    def root(self, size: int | None = None) -> bytes:
        """Return MTH of the first ``size`` leaves, by default all of them.

        Raises ValueError unless 0 <= size <= self.size.
        """
        size = self._resolve_size("tree size", size)
        return self._subtree_hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return PATH for leaf ``index`` in the tree of the first ``size`` leaves.

        ``size`` defaults to the current size. Raises ValueError unless
        0 <= index < size <= self.size.
        """
        size = self._resolve_size("tree size", size)
        _check_range("leaf index", index, 0, size - 1)
        return _path(self._subtree_hash, index, 0, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Return PROOF that the first ``old_size`` leaves are a prefix of the first ``new_size``.

        ``new_size`` defaults to the current size. Raises ValueError unless
        0 <= old_size <= new_size <= self.size.
        """
        new_size = self._resolve_size("new tree size", new_size)
        _check_range("old tree size", old_size, 0, new_size)
        return _consistency_path(self._subtree_hash, old_size, new_size)

    def _resolve_size(self, name: str, size: int | None) -> int:
        if size is None:
            return self.size
        _check_range(name, size, 0, self.size)
        return size

    def _subtree_hash(self, start: int, end: int) -> bytes:
        """Return MTH of leaves [start, end), a range that MTH, PATH or PROOF visits.

        Such a range of width 2**k starts at a multiple of 2**k, so it is stored.
        Other ranges are split as MTH splits them: a stored left part and a smaller
        right part.
        """
        width = end - start
        if _is_power_of_two(width):
            level = width.bit_length() - 1
            return self._levels[level][start >> level]

        split = start + _split_point(width)
        return node_hash(self._subtree_hash(start, split), self._subtree_hash(split, end))
