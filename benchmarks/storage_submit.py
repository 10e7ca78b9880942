"""Measure durable submits per second through Storage.submit.

Each run opens a fresh SQLite database in a temporary directory and starts N
submitters that each submit ~1 KB envelopes to one recipient until the time or
count limit is reached. Every submit returns only after its batch is committed and
synced, so the figures include the fsync cost of the disk under the temporary
directory. Prints figures only.

Usage: python benchmarks/storage_submit.py [--seconds 3] [--max-submits 20000] [--dir PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from broker.storage import SQLiteStorage, StoredEnvelope  # noqa: E402

CONCURRENCY_LEVELS = (1, 16, 64)
BODY_SIZE = 1024 - 128 - 64
HEADER = b"h" * 128
SIGNATURE = b"s" * 64


def make_envelope(now: int) -> StoredEnvelope:
    body = os.urandom(BODY_SIZE)
    return StoredEnvelope(
        msg_id=os.urandom(16).hex(),
        sender="bench.sender",
        recipients=("bench.recipient",),
        kind="message",
        priority=1,
        created_at=now,
        expires_at=now + 3600,
        header=HEADER,
        signature=SIGNATURE,
        body=body,
        digest=hashlib.sha256(HEADER + SIGNATURE + body).digest(),
        received_at=now,
    )


async def submitter(storage: SQLiteStorage, deadline: float, quota: int, latencies: list[float]) -> None:
    """Submit envelopes one after another until deadline or until quota submits are done."""
    now = int(time.time())
    for _ in range(quota):
        if time.perf_counter() >= deadline:
            return

        started = time.perf_counter()
        await storage.submit(make_envelope(now))
        latencies.append(time.perf_counter() - started)


async def measure(directory: Path, concurrency: int, seconds: float, max_submits: int) -> tuple[int, float, list[float]]:
    """Return (submits, elapsed seconds, latencies) of one run with concurrency submitters."""
    latencies: list[float] = []
    quota = max(1, max_submits // concurrency)

    async with SQLiteStorage(directory / f"bench-{concurrency}.db") as storage:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(submitter(storage, deadline, quota, latencies) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="maximum duration of each run, in seconds")
    parser.add_argument("--max-submits", type=int, default=20000, help="maximum submits of each run, over all submitters")
    parser.add_argument("--dir", type=Path, default=None, help="directory for the database files (default: a new temporary directory)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        print(f"database directory: {directory}, envelope size: {len(HEADER) + len(SIGNATURE) + BODY_SIZE} bytes")
        print(f"{'submitters':>10} {'submits':>8} {'seconds':>8} {'submits/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
        for concurrency in CONCURRENCY_LEVELS:
            count, elapsed, latencies = await measure(Path(directory), concurrency, args.seconds, args.max_submits)
            percentiles = statistics.quantiles(latencies, n=100)
            print(
                f"{concurrency:>10} {count:>8} {elapsed:>8.2f} {count / elapsed:>10.0f}"
                f" {percentiles[49] * 1000:>8.2f} {percentiles[98] * 1000:>8.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
