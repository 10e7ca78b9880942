"""Reference figure: RabbitMQ durable publishes with publisher confirms, same machine.

The broker's submit benchmark (benchmarks/submit.py) is aimed at this rate. This
publishes 1 KB persistent messages to a durable queue on the local RabbitMQ
(amqp://guest:guest@127.0.0.1:5672, override with --url), waits for each confirm,
with 1, 16 and 64 concurrent publishers, and deletes its queue afterwards. It
needs the optional "bench" dependencies (``pip install -e '.[bench]'``). Figures
only; nothing here passes or fails.

    .venv/bin/python benchmarks/rabbitmq_reference.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import aio_pika

BODY = b"x" * 1024


async def _publisher(channel, queue_name, count, latencies):
    exchange = channel.default_exchange
    for _ in range(count):
        started = time.perf_counter()
        await exchange.publish(aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                               routing_key=queue_name)
        latencies.append(time.perf_counter() - started)


async def run_level(connection, queue_name: str, publishers: int, total: int) -> dict:
    channels = [await connection.channel(publisher_confirms=True) for _ in range(publishers)]
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_publisher(c, queue_name, total // publishers, latencies) for c in channels))
    elapsed = time.perf_counter() - started
    for channel in channels:
        await channel.close()
    ordered = sorted(latencies)
    return {"count": len(ordered), "per_second": len(ordered) / elapsed,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000}


async def main_async(url: str, levels: list[int], total: int) -> None:
    connection = await aio_pika.connect_robust(url)
    queue_name = f"enlace-bench-{uuid.uuid4().hex[:8]}"
    channel = await connection.channel()
    queue = await channel.declare_queue(queue_name, durable=True)
    try:
        print(f"{'publishers':>10} {'messages':>8} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for level in levels:
            figures = await run_level(connection, queue_name, level, total)
            print(f"{level:>10} {figures['count']:>8} {figures['per_second']:>9.0f} "
                  f"{figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f}", flush=True)
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--messages", type=int, default=5000, help="messages per level")
    args = parser.parse_args()
    asyncio.run(main_async(args.url, [int(x) for x in args.levels.split(",")], args.messages))


if __name__ == "__main__":
    main()
