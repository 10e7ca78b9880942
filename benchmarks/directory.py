"""Directory lookups, inclusion proofs and log appends of a real broker with a large directory.

Starts ``enlace-broker`` on a temporary SQLite file and fills its directory with
--contact-points contact points, one log entry each. Keys, registration requests
and Secretariat-signed records are built before any clock starts. The script
enrols contact points over HTTP (register, then approve, 16 at a time) for at most
--seconds. Then it stops the broker, appends the remaining records through
TransparencyLog.append on the same database file, and starts the broker again,
which reloads the log.

With the directory full, it times GET /v1/directory/{id} and
GET /v1/log/proof/inclusion with 1 and 16 concurrent clients, the client's check of
one contact point (client.transparency.contact_state), the verification steps of
that check without HTTP, and HTTP enrolment once more. Each timed phase lasts at
most --seconds. CPU figures come from /proc and are percentages of one core. Prints
figures only; nothing here passes or fails.

    .venv/bin/python benchmarks/directory.py [--contact-points 10000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from brokerproc import LOG_KEY_PASSPHRASE, BrokerProcess, new_material  # noqa: E402
from broker.services.log import TransparencyLog  # noqa: E402
from broker.storage import SQLiteStorage  # noqa: E402
from client.api import ApiFailure, BrokerClient, Signer  # noqa: E402
from client.contact import registration_request  # noqa: E402
from client.transparency import TrustContext, contact_state  # noqa: E402
from keys import keystore  # noqa: E402
from keys.directory import Directory  # noqa: E402
from keys.encoding import b64decode  # noqa: E402
from keys.identity import IdentityKey  # noqa: E402
from keys.log import LogEntry, TreeHead, parse_entry, parse_head  # noqa: E402
from keys.merkle import verify_inclusion  # noqa: E402
from keys.records import SignedDocument, make_record, parse_registration  # noqa: E402
from keys.requests import SECRETARIAT  # noqa: E402

CONCURRENCY_LEVELS = (1, 16)
ENROLMENT_CONCURRENCY = 16
# Appends timed at the start and at the end of the direct fill, to show whether the rate drops.
APPEND_WINDOW = 1000
# Directory responses fetched for timing the verification without HTTP, and passes over them.
VERIFICATION_SAMPLES = 2000
VERIFICATION_PASSES = 3
# Operations per phase when --seconds does not end it first.
MAX_OPERATIONS = 200_000
NAME_WIDTH = 56


@dataclass(frozen=True)
class Enrolment:
    """A contact point's self-signed registration request and the record that approves it."""

    cp_id: str
    request: SignedDocument
    record: SignedDocument


class CpuMeter:
    """CPU time over one phase, in % of one core: the broker's, this process's and everything else's.

    Reads /proc, so outside Linux it reports this process only. "Other processes" is
    the machine's busy time minus the broker and this process, and a high value
    means something else competed for the cores during the phase.
    """

    def __init__(self, broker_pid: int | None):
        self.broker_pid = broker_pid
        self._started: tuple[float, float, float | None, float | None] = (0.0, 0.0, None, None)

    @staticmethod
    def _read_line(path: str) -> str | None:
        try:
            with open(path, encoding="ascii") as stat:
                return stat.readline()
        except OSError:
            return None

    def _broker_seconds(self) -> float | None:
        line = None if self.broker_pid is None else self._read_line(f"/proc/{self.broker_pid}/stat")
        if line is None:
            return None
        # Field 2 of proc(5), the command name in brackets, may contain spaces, so the fields
        # are counted from the ")" that ends it. utime and stime are fields 14 and 15, in clock ticks.
        fields = line.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _machine_busy_seconds(self) -> float | None:
        line = self._read_line("/proc/stat")
        if line is None:
            return None
        # "cpu", then the user, nice and system time of all cores, in clock ticks. Interrupt
        # time is left out because no process is charged for it, even for loopback traffic.
        user, nice, system = (int(value) for value in line.split()[1:4])
        return (user + nice + system) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._started = (time.perf_counter(), time.process_time(), self._broker_seconds(),
                         self._machine_busy_seconds())

    def report(self) -> str:
        wall_start, own_start, broker_start, machine_start = self._started
        wall = time.perf_counter() - wall_start
        own = time.process_time() - own_start
        broker_end, machine_end = self._broker_seconds(), self._machine_busy_seconds()
        broker = None if broker_start is None or broker_end is None else broker_end - broker_start

        parts = [] if broker is None else [f"broker CPU {100 * broker / wall:.0f}%"]
        parts.append(f"benchmark CPU {100 * own / wall:.0f}%")
        if machine_start is not None and machine_end is not None:
            other = max(0.0, machine_end - machine_start - own - (broker or 0.0))
            parts.append(f"other processes {100 * other / wall:.0f}%")
        return ", ".join(parts)


def contact_point_id(number: int) -> str:
    return f"mx.bench.c{number:06d}"


def build_enrolments(root: IdentityKey, first: int, count: int) -> list[Enrolment]:
    """Create keys, a registration request and the approving record for each contact point."""
    now = int(time.time())
    enrolments = []
    for number in range(first, first + count):
        cp_id = contact_point_id(number)
        request = registration_request(new_material(cp_id), agency="Benchmark agency", agency_type="customs",
                                       unit="Benchmark unit", languages=["es"], topics=["firearms"])
        record = make_record(root, parse_registration(request), now=now)
        enrolments.append(Enrolment(cp_id, request, record))
    return enrolments


def print_rate(name: str, count: int, seconds: float, unit: str, details: str = "") -> None:
    line = f"{name:<{NAME_WIDTH}} {count / seconds:>9,.0f} {unit}/s  ({count:,} in {seconds:.1f} s)"
    print(line + (f"  {details}" if details else ""), flush=True)


def print_micros(name: str, seconds_per_item: float, unit: str, details: str) -> None:
    print(f"{name:<{NAME_WIDTH}} {seconds_per_item * 1e6:>9,.0f} us/{unit}  ({details})", flush=True)


def percentiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"


# ---------------------------------------------------------------------------
# Populating the directory.
# ---------------------------------------------------------------------------


@dataclass
class HttpEnrolment:
    """The outcome of one HTTP enrolment phase."""

    approved: set[str]
    failures: Counter[str]
    seconds: float

    def describe_failures(self) -> str:
        """Return the failed requests by broker error code, or "" when none failed."""
        if not self.failures:
            return ""
        counts = ", ".join(f"{count} {code}" for code, count in sorted(self.failures.items()))
        return f"failed requests: {counts}"


async def enrol_over_http(url: str, root: IdentityKey, enrolments: list[Enrolment], seconds: float,
                          meter: CpuMeter) -> HttpEnrolment:
    """Register and approve contact points in order, 16 at a time, for at most ``seconds``.

    A request that the broker rejects is counted under its error code and leaves that
    contact point out, so the phase goes on and the failure shows in the output.
    """
    pending = iter(enrolments)
    approved: set[str] = set()
    failures: Counter[str] = Counter()

    async def worker() -> None:
        async with BrokerClient(url) as applicant, BrokerClient(url, Signer(SECRETARIAT, root)) as secretariat:
            while time.perf_counter() < deadline:
                enrolment = next(pending, None)
                if enrolment is None:
                    return
                try:
                    await applicant.register(enrolment.request)
                    await secretariat.approve(enrolment.cp_id, enrolment.record)
                except ApiFailure as exc:
                    failures[exc.code] += 1
                    continue
                approved.add(enrolment.cp_id)

    meter.start()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker() for _ in range(ENROLMENT_CONCURRENCY)))
    return HttpEnrolment(approved, failures, time.perf_counter() - started)


def print_enrolment(name: str, result: HttpEnrolment, meter: CpuMeter) -> None:
    details = ", ".join(part for part in (meter.report(), result.describe_failures()) if part)
    print_rate(name, len(result.approved), result.seconds, "appends", details)


async def append_directly(broker: BrokerProcess, root: IdentityKey, enrolments: list[Enrolment],
                          meter: CpuMeter) -> tuple[float, list[float]]:
    """Append one record entry per enrolment through TransparencyLog.append, with the broker stopped.

    Returns the time that TransparencyLog.load took for the existing entries, and the
    duration of each append.
    """
    log_key = keystore.load(broker.log_key_path, LOG_KEY_PASSPHRASE).identity
    storage = SQLiteStorage(broker.db)
    await storage.open()
    try:
        transparency = TransparencyLog(storage, root.public_key, log_key)
        started = time.perf_counter()
        await transparency.load()
        load_seconds = time.perf_counter() - started

        durations = []
        meter.start()
        for enrolment in enrolments:
            started = time.perf_counter()
            await transparency.append("record", enrolment.cp_id, enrolment.record)
            durations.append(time.perf_counter() - started)
    finally:
        await storage.close()
    return load_seconds, durations


async def populate(broker: BrokerProcess, root: IdentityKey, enrolments: list[Enrolment],
                   seconds: float) -> float:
    """Fill the directory over HTTP for at most ``seconds``, then write the rest into the log directly.

    Returns the HTTP enrolment rate, in contact points per second.
    """
    meter = CpuMeter(broker.process.pid)
    result = await enrol_over_http(broker.url, root, enrolments, seconds, meter)
    approved = len(result.approved)
    print_enrolment(f"populate over HTTP (register + approve), log 0 to {approved:,}", result, meter)
    rest = [enrolment for enrolment in enrolments if enrolment.cp_id not in result.approved]
    if not rest:
        print("populate method: HTTP only", flush=True)
        return approved / result.seconds

    print(f"populate method: HTTP for {approved:,}, then TransparencyLog.append for {len(rest):,}", flush=True)
    broker.stop()
    meter = CpuMeter(None)
    load_seconds, durations = await append_directly(broker, root, rest, meter)
    print_rate("populate: TransparencyLog.load of the HTTP entries", approved, load_seconds, "entries")
    print_rate(f"populate: TransparencyLog.append, log {approved:,} to {len(enrolments):,}",
               len(durations), sum(durations), "appends", meter.report())
    if len(durations) >= 2 * APPEND_WINDOW:
        for where, window in (("first", durations[:APPEND_WINDOW]), ("last", durations[-APPEND_WINDOW:])):
            print_rate(f"populate: TransparencyLog.append, {where} {APPEND_WINDOW:,}",
                       APPEND_WINDOW, sum(window), "appends")

    started = time.perf_counter()
    broker.start()
    print(f"{'broker start, reloading the log':<{NAME_WIDTH}} {time.perf_counter() - started:>9.2f} s  "
          f"({len(enrolments):,} entries)", flush=True)
    return approved / result.seconds


# ---------------------------------------------------------------------------
# Reads and the client's check.
# ---------------------------------------------------------------------------


async def run_clients(url: str, clients: int, seconds: float, meter: CpuMeter,
                      operation: Callable[[BrokerClient], Awaitable[object]]) -> tuple[list[float], float]:
    """Call ``operation`` in a loop on ``clients`` sessions for ``seconds``.

    Returns the latency of each call and the elapsed time.
    """
    latencies: list[float] = []
    start = asyncio.Event()
    deadline = 0.0

    async def client() -> None:
        async with BrokerClient(url) as api:
            await operation(api)  # opens the connection before the clock starts
            await start.wait()
            while time.perf_counter() < deadline and len(latencies) < MAX_OPERATIONS:
                started = time.perf_counter()
                await operation(api)
                latencies.append(time.perf_counter() - started)

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(0.5)
    meter.start()
    started = time.perf_counter()
    deadline = started + seconds
    start.set()
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - started


async def measure_reads(broker: BrokerProcess, ids: list[str], tree_size: int, seconds: float,
                        rng: random.Random) -> None:
    async def lookup(api: BrokerClient) -> object:
        return await api.directory_entry(rng.choice(ids))

    async def inclusion(api: BrokerClient) -> object:
        path = f"/v1/log/proof/inclusion?index={rng.randrange(tree_size)}&size={tree_size}"
        return await api.call("GET", path, signed=False)

    for name, operation, unit in (("GET /v1/directory/{id}", lookup, "lookups"),
                                  ("GET /v1/log/proof/inclusion", inclusion, "proofs")):
        for clients in CONCURRENCY_LEVELS:
            meter = CpuMeter(broker.process.pid)
            latencies, elapsed = await run_clients(broker.url, clients, seconds, meter, operation)
            print_rate(f"{name}, {clients} concurrent", len(latencies), elapsed, unit,
                       f"{percentiles(latencies)}, {meter.report()}")


class CountingClient(BrokerClient):
    """A BrokerClient that counts its HTTP requests."""

    requests = 0

    async def call(self, *args, **kwargs) -> dict:
        self.requests += 1
        return await super().call(*args, **kwargs)


async def measure_client_check(broker: BrokerProcess, trust_keys: tuple[bytes, bytes], ids: list[str],
                               seconds: float, rng: random.Random) -> None:
    """Time contact_state end to end, once keeping the accepted tree head and once starting fresh each time.

    A kept head is what a running client has. A fresh TrustContext has no head yet,
    so contact_state skips the consistency check.
    """
    for label, keep_head in (("kept tree head", True), ("new TrustContext each", False)):
        async with CountingClient(broker.url) as api:
            trust = TrustContext(*trust_keys)
            await contact_state(api, trust, ids[0])
            api.requests = 0
            durations = []
            meter = CpuMeter(broker.process.pid)
            meter.start()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline and len(durations) < MAX_OPERATIONS:
                if not keep_head:
                    trust = TrustContext(*trust_keys)
                started = time.perf_counter()
                await contact_state(api, trust, rng.choice(ids))
                durations.append(time.perf_counter() - started)
        print_micros(f"client: contact_state end to end, {label}", statistics.mean(durations), "lookup",
                     f"{len(durations):,} lookups, {api.requests / len(durations):.1f} HTTP requests each, "
                     f"{percentiles(durations)}, {meter.report()}")


def _proof(hashes: list[str]) -> list[bytes]:
    return [b64decode(h, field="proof hash", size=32) for h in hashes]


def _verify_response(response: dict, root_public_key: bytes, log_public_key: bytes) -> None:
    """Run the checks of contact_state on one GET /v1/directory/{id} response, without HTTP."""
    head = parse_head(response["head"], log_public_key)
    directory = Directory(root_public_key)
    for item in sorted(response["entries"], key=lambda i: i["index"]):
        entry = parse_entry(b64decode(item["entry"], field="entry"))
        verify_inclusion(entry.leaf_hash, item["index"], head.tree_size, _proof(item["proof"]), head.root_hash)
        directory.apply(item["index"], entry)


def _verify_inclusions(response: dict, head: TreeHead) -> None:
    for item in response["entries"]:
        entry = parse_entry(b64decode(item["entry"], field="entry"))
        verify_inclusion(entry.leaf_hash, item["index"], head.tree_size, _proof(item["proof"]), head.root_hash)


def _fold(root_public_key: bytes, entries: list[tuple[int, LogEntry]]) -> None:
    directory = Directory(root_public_key)
    for index, entry in entries:
        directory.apply(index, entry)


def measure_verification(responses: list[dict], root_public_key: bytes, log_public_key: bytes) -> None:
    """Time contact_state's checks on already-fetched responses, whole and step by step, in us per lookup."""
    heads = [parse_head(response["head"], log_public_key) for response in responses]
    entries = [[(item["index"], parse_entry(b64decode(item["entry"], field="entry")))
                for item in response["entries"]] for response in responses]
    steps = (
        ("all: parse_head, inclusion, Directory.apply",
         _verify_response, [(response, root_public_key, log_public_key) for response in responses]),
        ("parse_head (tree head signature)",
         parse_head, [(response["head"], log_public_key) for response in responses]),
        ("parse_entry and verify_inclusion", _verify_inclusions, list(zip(responses, heads))),
        ("Directory.apply (record and key signatures)", _fold, [(root_public_key, e) for e in entries]),
    )
    for name, step, calls in steps:
        passes = []
        meter = CpuMeter(None)
        meter.start()
        for _ in range(VERIFICATION_PASSES):
            started = time.perf_counter()
            for arguments in calls:
                step(*arguments)
            passes.append((time.perf_counter() - started) / len(calls))
        print_micros(f"client: without HTTP, {name}", statistics.median(passes), "lookup",
                     f"median of {VERIFICATION_PASSES} passes over {len(calls):,} responses, {meter.report()}")


async def fetch_responses(url: str, ids: list[str], rng: random.Random) -> list[dict]:
    async with BrokerClient(url) as api:
        return [await api.directory_entry(rng.choice(ids)) for _ in range(min(VERIFICATION_SAMPLES, len(ids)))]


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------


async def main_async(contact_points: int, seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    root = IdentityKey.generate()
    print(f"Directory benchmark: {contact_points:,} contact points, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.machine()}, at most {seconds:g} s per phase", flush=True)

    started = time.perf_counter()
    enrolments = build_enrolments(root, 0, contact_points)
    print_rate("prepare keys, requests and records (client side)", contact_points,
               time.perf_counter() - started, "contact points")

    with tempfile.TemporaryDirectory(prefix="enlace-bench-") as work:
        broker = BrokerProcess(Path(work), root, extra_args=["--log-level", "WARNING"]).start()
        try:
            http_rate = await populate(broker, root, enrolments, seconds)
            ids = [e.cp_id for e in enrolments]
            trust_keys = (root.public_key, broker.log_public_key)

            await measure_reads(broker, ids, contact_points, seconds, rng)
            await measure_client_check(broker, trust_keys, ids, seconds, rng)
            measure_verification(await fetch_responses(broker.url, ids, rng), *trust_keys)

            # Last, because it grows the directory beyond --contact-points. Twice the
            # enrolments that the first HTTP phase managed, so that the clock ends this one.
            extra = build_enrolments(root, contact_points, int(2 * http_rate * seconds) + ENROLMENT_CONCURRENCY)
            meter = CpuMeter(broker.process.pid)
            result = await enrol_over_http(broker.url, root, extra, seconds, meter)
            print_enrolment(f"HTTP (register + approve), log {contact_points:,} to "
                            f"{contact_points + len(result.approved):,}", result, meter)
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact-points", type=int, default=10_000,
                        help="contact points in the directory, one log entry each (default: 10000)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="maximum duration of each timed phase, in seconds. The direct fill of the log "
                             "is bounded by --contact-points instead (default: 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the random ids and indexes (default: 1)")
    args = parser.parse_args()
    if args.contact_points < 1:
        parser.error("--contact-points must be at least 1")
    if args.seconds <= 0:
        parser.error("--seconds must be greater than 0")
    asyncio.run(main_async(args.contact_points, args.seconds, args.seed))


if __name__ == "__main__":
    main()
