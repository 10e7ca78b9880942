"""Durable submit throughput and latency of a real broker process.

Starts ``enlace-broker`` on a temporary SQLite file, enrols senders and one
recipient, pre-seals 1 KB alerts (sealing is the client's cost, not the broker's),
then submits them over loopback with 1, 16 and 64 concurrent senders. Every submit
is signed and verified, and a 201 means the envelope is committed to disk. Prints
figures only; nothing here passes or fails.

    .venv/bin/python benchmarks/submit.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from brokerproc import BrokerProcess, enrol, signer  # noqa: E402
from client.api import BrokerClient  # noqa: E402
from client.contact import recipient_keys  # noqa: E402
from client.transparency import TrustContext  # noqa: E402
from keys.envelope import seal  # noqa: E402
from keys.identity import IdentityKey  # noqa: E402

RECIPIENT = "us.atf.tracing"
TEXT = "x" * 700  # with the alert fields, the sealed body is about 1 KB


def _content() -> dict:
    return {"subject": "Benchmark alert", "tlp": "GREEN", "text": TEXT,
            "alert": {"item_kind": "firearm", "status": "seized", "serial_number": "BENCH-1"}}


async def _sender(url, trust, material, target, count, latencies):
    async with BrokerClient(url, signer(material)) as api:
        keys = await recipient_keys(api, trust, [RECIPIENT])
        envelopes = [seal(material.identity, material.owner, keys, kind="alert", priority="normal",
                          content=_content()).to_wire() for _ in range(count)]
        await target.wait()
        for wire in envelopes:
            started = time.perf_counter()
            await api.submit(wire)
            latencies.append(time.perf_counter() - started)


async def run_level(url: str, trust: TrustContext, senders: list, total: int) -> dict:
    latencies: list[float] = []
    go = asyncio.Event()
    per_sender = max(1, total // len(senders))
    tasks = [asyncio.create_task(_sender(url, trust, m, go, per_sender, latencies)) for m in senders]
    await asyncio.sleep(0.5 + 0.02 * per_sender * len(senders) / 50)
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"submits": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000}


async def main_async(levels: list[int], total: int) -> None:
    root = IdentityKey.generate()
    with tempfile.TemporaryDirectory(prefix="enlace-bench-") as work:
        broker = BrokerProcess(Path(work), root, extra_args=["--log-level", "WARNING"]).start()
        try:
            await enrol(broker.url, root, RECIPIENT)
            senders = [await enrol(broker.url, root, f"mx.bench.s{i}") for i in range(max(levels))]
            print(f"{'senders':>8} {'submits':>8} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8}")
            for level in levels:
                trust = TrustContext(root.public_key, broker.log_public_key)
                figures = await run_level(broker.url, trust, senders[:level], total)
                print(f"{level:>8} {figures['submits']:>8} {figures['per_second']:>9.0f} "
                      f"{figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f}", flush=True)
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,16,64", help="concurrent senders, comma-separated")
    parser.add_argument("--submits", type=int, default=3000, help="submits per level")
    args = parser.parse_args()
    asyncio.run(main_async([int(x) for x in args.levels.split(",")], args.submits))


if __name__ == "__main__":
    main()
