"""Throughput of the transparency log's Merkle tree (keys.merkle).

For each tree size, the script appends that many leaf hashes to an empty
MerkleTree. Then it times roots of random past sizes, inclusion proofs of random
leaves and consistency proofs from random past sizes to the full tree, and the
verification of those proofs. Leaf hashes and the proofs to verify are computed
before the clock starts. Indexes and old sizes are random, reproducible with
--seed. The script prints figures only, and nothing here passes or fails.

    .venv/bin/python benchmarks/merkle.py [--sizes 10000 100000] [--operations 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections.abc import Callable, Sequence

from keys import merkle
from keys.merkle import MerkleTree


def measure(operation: Callable[..., object], calls: Sequence[tuple]) -> float:
    """Call ``operation`` once per argument tuple and return the calls per second."""
    started = time.perf_counter()
    for arguments in calls:
        operation(*arguments)
    return len(calls) / (time.perf_counter() - started)


def measure_appends(leaf_hashes: list[bytes]) -> tuple[MerkleTree, float]:
    """Append every leaf hash to a new tree and return the tree and the appends per second."""
    tree = MerkleTree()
    rate = measure(tree.append, [(leaf,) for leaf in leaf_hashes])
    return tree, rate


def measure_tree(size: int, operations: int, rng: random.Random) -> dict[str, float]:
    """Build a tree of ``size`` leaves, time each operation on it and return the rates by name."""
    leaf_hashes = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(size)]
    tree, append_rate = measure_appends(leaf_hashes)
    root = tree.root()

    indexes = [rng.randrange(size) for _ in range(operations)]
    old_sizes = [rng.randrange(1, size) for _ in range(operations)]
    inclusion = [(leaf_hashes[i], i, size, tree.inclusion_proof(i), root) for i in indexes]
    consistency = [(old, size, tree.root(old), root, tree.consistency_proof(old)) for old in old_sizes]

    return {
        "appends/s": append_rate,
        "roots/s": measure(tree.root, [(old,) for old in old_sizes]),
        "inclusion proofs/s": measure(tree.inclusion_proof, [(i,) for i in indexes]),
        "consistency proofs/s": measure(tree.consistency_proof, [(old,) for old in old_sizes]),
        "inclusion verifications/s": measure(merkle.verify_inclusion, inclusion),
        "consistency verifications/s": measure(merkle.verify_consistency, consistency),
    }


def print_table(results: dict[int, dict[str, float]]) -> None:
    sizes = list(results)
    print(f"{'operation':<30}" + "".join(f"{f'{size:,} leaves':>18}" for size in sizes))
    for name in results[sizes[0]]:
        print(f"{name:<30}" + "".join(f"{results[size][name]:>18,.0f}" for size in sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="tree sizes in leaves, each at least 2 (default: 10000 100000)")
    parser.add_argument("--operations", type=int, default=20_000,
                        help="timed calls of each proof and verification operation (default: 20000)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the random indexes and sizes")
    args = parser.parse_args()
    if min(args.sizes) < 2:
        parser.error("every tree size must be at least 2, so that a consistency proof is not empty")

    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or 'unknown processor'}")
    rng = random.Random(args.seed)
    print_table({size: measure_tree(size, args.operations, rng) for size in args.sizes})


if __name__ == "__main__":
    main()
