"""Tests of the SQLite storage against real database files in tmp_path."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import sqlite3
import time
import uuid
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.storage import (
    Conflict,
    NotFound,
    SchemaTooNew,
    SQLiteStorage,
    StorageError,
    StoredEnvelope,
    StoredRecord,
    StoredRegistration,
    open_storage,
)
from broker.storage.migrate import apply_migrations, load_migrations, sqlite_migrations_dir

SENDER = "ca.cbsa.pacific-ports"
RECIPIENT = "mx.sat.aduanas"
OTHER_RECIPIENT = "us.atf.tracing"
KEY = bytes(range(32))

LATEST_VERSIONS = [m.version for m in load_migrations(sqlite_migrations_dir())]


def make_envelope(
    msg_id: str | None = None,
    *,
    recipients: tuple[str, ...] = (RECIPIENT,),
    priority: int = 1,
    body: bytes = b"ciphertext",
    header: bytes = b"header",
    expires_at: int | None = None,
    received_at: int = 1_700_000_000,
    sender: str = SENDER,
    kind: str = "message",
) -> StoredEnvelope:
    now = int(time.time())
    signature = b"sig:" + body[:8]
    return StoredEnvelope(
        msg_id=msg_id or uuid.uuid4().hex,
        sender=sender,
        recipients=recipients,
        kind=kind,
        priority=priority,
        created_at=now,
        expires_at=now + 3600 if expires_at is None else expires_at,
        header=header,
        signature=signature,
        body=body,
        digest=hashlib.sha256(header + signature + body).digest(),
        received_at=received_at,
    )


def make_registration(cp_id: str = "pe.sunat.callao", created_at: int = 1_700_000_000) -> StoredRegistration:
    return StoredRegistration(
        cp_id=cp_id,
        country=cp_id[:2].upper(),
        identity_key=KEY,
        request=b"request of " + cp_id.encode(),
        signature=b"self-signature",
        status="pending",
        reason=None,
        decision=None,
        decision_signature=None,
        created_at=created_at,
        decided_at=None,
    )


def make_record(cp_id: str = "pe.sunat.callao", status: str = "active") -> StoredRecord:
    return StoredRecord(
        cp_id=cp_id,
        country=cp_id[:2].upper(),
        status=status,
        identity_key=KEY,
        record=b"record of " + cp_id.encode(),
        signature=b"secretariat-signature",
        updated_at=1_700_000_100,
    )


def raw_connection(path: Path) -> sqlite3.Connection:
    """Open a second, plain sqlite3 connection to inspect or disturb the database."""
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "broker.db"


@pytest.fixture
async def storage(db_path: Path):
    store = SQLiteStorage(db_path)
    await store.open()
    yield store
    await store.close()


# Migrations


async def test_migrations_create_schema(storage: SQLiteStorage, db_path: Path) -> None:
    conn = raw_connection(db_path)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
    journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()

    assert {"schema_version", "directory_records", "registrations", "envelopes", "mailbox",
            "log_entries", "proposals", "member_states"} <= tables
    assert versions == LATEST_VERSIONS
    assert journal_mode == "wal"


async def test_migrations_idempotent_on_reopen(db_path: Path) -> None:
    for _ in range(3):
        store = SQLiteStorage(db_path)
        await store.open()
        await store.health()
        await store.close()

    conn = raw_connection(db_path)
    versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
    conn.close()
    assert versions == LATEST_VERSIONS


async def test_schema_too_new_raises(db_path: Path) -> None:
    store = SQLiteStorage(db_path)
    await store.open()
    await store.close()
    conn = raw_connection(db_path)
    conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (7, 0)")
    conn.close()

    with pytest.raises(SchemaTooNew) as caught:
        await SQLiteStorage(db_path).open()

    message = str(caught.value)
    assert "version 7" in message
    assert f"version {LATEST_VERSIONS[-1]}" in message


async def test_migration_runner_applies_in_order(tmp_path: Path) -> None:
    migrations_dir = tmp_path / "migrations"
    migrations_dir.mkdir()
    (migrations_dir / "0002_add_column.sql").write_text("ALTER TABLE t ADD COLUMN b TEXT;")
    (migrations_dir / "0001_create.sql").write_text("CREATE TABLE t (a INTEGER);")
    (migrations_dir / "README.txt").write_text("not a migration")

    migrations = load_migrations(migrations_dir)
    async with aiosqlite.connect(tmp_path / "m.db", isolation_level=None) as conn:
        first = await apply_migrations(conn, migrations)
        second = await apply_migrations(conn, migrations)
        columns = [row[1] for row in await conn.execute_fetchall("PRAGMA table_info(t)")]

    assert [migration.version for migration in migrations] == [1, 2]
    assert first == 2
    assert second == 2
    assert columns == ["a", "b"]


async def test_migration_runner_rejects_gap(tmp_path: Path) -> None:
    (tmp_path / "0001_create.sql").write_text("CREATE TABLE t (a INTEGER);")
    (tmp_path / "0003_later.sql").write_text("CREATE TABLE u (a INTEGER);")

    with pytest.raises(StorageError, match="0003_later.sql"):
        load_migrations(tmp_path)


async def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    (tmp_path / "0001_create.sql").write_text("CREATE TABLE t (a INTEGER);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE u (a INTEGER);\nINSERT INTO missing VALUES (1);")
    migrations = load_migrations(tmp_path)

    async with aiosqlite.connect(tmp_path / "m.db", isolation_level=None) as conn:
        with pytest.raises(StorageError, match="0002_broken.sql"):
            await apply_migrations(conn, migrations)
        versions = [row[0] for row in await conn.execute_fetchall("SELECT version FROM schema_version")]
        tables = {row[0] for row in await conn.execute_fetchall("SELECT name FROM sqlite_master")}

    assert versions == [1]
    assert "t" in tables
    assert "u" not in tables


# open_storage


async def test_open_storage_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    for url in ("sqlite:///relative.db", f"sqlite:///{tmp_path}/absolute.db", str(tmp_path / "bare.db")):
        store = open_storage(url)
        assert isinstance(store, SQLiteStorage)
        async with store:
            await store.health()

    assert (tmp_path / "relative.db").exists()
    assert (tmp_path / "absolute.db").exists()
    assert (tmp_path / "bare.db").exists()


def test_open_storage_rejects_other_urls() -> None:
    with pytest.raises(StorageError, match="PostgreSQL backend not available yet"):
        open_storage("postgresql://enlace@localhost/enlace")
    with pytest.raises(StorageError, match="unsupported storage URL"):
        open_storage("mysql://localhost/enlace")
    with pytest.raises(StorageError, match="no file path"):
        open_storage("sqlite:///")


async def test_corrupt_file_raises_storage_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite database" * 100)

    with pytest.raises(StorageError, match="broker.db"):
        await SQLiteStorage(db_path).open()


async def test_in_memory_database_rejected() -> None:
    with pytest.raises(StorageError, match="WAL"):
        await SQLiteStorage(":memory:").open()


# Submit and fetch


async def test_fetch_orders_priority_then_seq(storage: SQLiteStorage) -> None:
    envelopes = [make_envelope(priority=priority) for priority in (0, 2, 3, 2, 0, 3)]
    for env in envelopes:
        assert (await storage.submit(env)).status == "stored"

    items = await storage.fetch(RECIPIENT)

    expected = [envelopes[i].msg_id for i in (2, 5, 1, 3, 0, 4)]
    assert [item.envelope.msg_id for item in items] == expected
    assert items[0].seq < items[1].seq
    assert items[0].envelope == envelopes[2]


async def test_fetch_respects_limit_and_recipient(storage: SQLiteStorage) -> None:
    for _ in range(5):
        await storage.submit(make_envelope(recipients=(RECIPIENT, OTHER_RECIPIENT)))
    await storage.submit(make_envelope(recipients=(OTHER_RECIPIENT,)))

    assert len(await storage.fetch(RECIPIENT, limit=3)) == 3
    assert len(await storage.fetch(RECIPIENT)) == 5
    assert len(await storage.fetch(OTHER_RECIPIENT)) == 6
    assert await storage.fetch("nobody") == []
    with pytest.raises(ValueError, match="limit"):
        await storage.fetch(RECIPIENT, limit=0)


async def test_duplicate_returns_first_receipt(storage: SQLiteStorage) -> None:
    first = make_envelope(received_at=100)
    again = make_envelope(first.msg_id, received_at=200)

    stored = await storage.submit(first)
    duplicate = await storage.submit(again)

    assert stored.status == "stored"
    assert duplicate.status == "duplicate"
    assert duplicate.received_at == 100
    assert duplicate.digest == first.digest
    assert len(await storage.fetch(RECIPIENT)) == 1


async def test_conflict_stores_nothing_new(storage: SQLiteStorage) -> None:
    first = make_envelope(body=b"original", received_at=100)
    other = make_envelope(first.msg_id, body=b"different", recipients=(OTHER_RECIPIENT,), received_at=200)

    await storage.submit(first)
    result = await storage.submit(other)

    assert result.status == "conflict"
    assert result.digest == first.digest
    assert result.received_at == 100
    assert await storage.get_envelope(first.msg_id) == first
    assert await storage.fetch(OTHER_RECIPIENT) == []


async def test_same_id_twice_in_one_batch(storage: SQLiteStorage) -> None:
    first = make_envelope(received_at=100)
    same = make_envelope(first.msg_id, received_at=200)
    different = make_envelope(first.msg_id, body=b"different", received_at=300)

    results = await asyncio.gather(storage.submit(first), storage.submit(same), storage.submit(different))

    assert [result.status for result in results] == ["stored", "duplicate", "conflict"]
    assert results[1].received_at == 100
    assert results[2].digest == first.digest
    assert len(await storage.fetch(RECIPIENT)) == 1


async def test_concurrent_submits_all_land(storage: SQLiteStorage) -> None:
    recipients = [f"cp.{index}" for index in range(5)]
    envelopes = [
        make_envelope(recipients=(recipients[i % 5], recipients[(i + 1) % 5]) if i % 3 == 0 else (recipients[i % 5],))
        for i in range(200)
    ]

    results = await asyncio.gather(*(storage.submit(env) for env in envelopes))

    assert all(result.status == "stored" for result in results)
    for recipient in recipients:
        expected = {env.msg_id for env in envelopes if recipient in env.recipients}
        fetched = {item.envelope.msg_id for item in await storage.fetch(recipient, limit=1000)}
        assert fetched == expected
    for env in envelopes:
        assert await storage.get_envelope(env.msg_id) == env


async def test_concurrent_submits_share_commits(storage: SQLiteStorage, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="enlace.storage")

    await asyncio.gather(*(storage.submit(make_envelope()) for _ in range(200)))

    batches = [record for record in caplog.records if record.msg.startswith("committed submit batch")]
    assert 1 <= len(batches) < 200
    assert sum(record.args[0] for record in batches) == 200


async def test_batch_size_capped(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="enlace.storage")

    async with SQLiteStorage(db_path, max_batch=16) as store:
        results = await asyncio.gather(*(store.submit(make_envelope()) for _ in range(100)))

    batch_sizes = [record.args[0] for record in caplog.records if record.msg.startswith("committed submit batch")]
    assert all(result.status == "stored" for result in results)
    assert max(batch_sizes) == 16
    assert sum(batch_sizes) == 100


async def test_data_persists_across_reopen(db_path: Path) -> None:
    envelopes = [make_envelope(priority=index % 4) for index in range(10)]
    async with SQLiteStorage(db_path) as store:
        for env in envelopes:
            await store.submit(env)
        await store.ack(RECIPIENT, envelopes[0].msg_id)
        await store.add_registration(make_registration())
        before = await store.fetch(RECIPIENT)

    async with SQLiteStorage(db_path) as store:
        after = await store.fetch(RECIPIENT)
        registration = await store.get_registration("pe.sunat.callao")

    assert after == before
    assert len(after) == 9
    assert registration == make_registration()


async def test_ack_true_then_false(storage: SQLiteStorage) -> None:
    env = make_envelope(recipients=(RECIPIENT, OTHER_RECIPIENT))
    await storage.submit(env)

    assert await storage.ack(RECIPIENT, env.msg_id) is True
    assert await storage.ack(RECIPIENT, env.msg_id) is False
    assert await storage.ack(RECIPIENT, uuid.uuid4().hex) is False
    assert await storage.fetch(RECIPIENT) == []
    assert [item.envelope.msg_id for item in await storage.fetch(OTHER_RECIPIENT)] == [env.msg_id]


async def test_expired_envelopes_not_fetched(storage: SQLiteStorage) -> None:
    now = int(time.time())
    expired = make_envelope(expires_at=now - 1)
    expiring_now = make_envelope(expires_at=now)
    live = make_envelope(expires_at=now + 60)
    for env in (expired, expiring_now, live):
        await storage.submit(env)

    items = await storage.fetch(RECIPIENT)

    assert [item.envelope.msg_id for item in items] == [live.msg_id]
    assert await storage.get_envelope(expired.msg_id) == expired


async def test_get_envelope_unknown_is_none(storage: SQLiteStorage) -> None:
    assert await storage.get_envelope(uuid.uuid4().hex) is None


def test_invalid_envelopes_rejected() -> None:
    with pytest.raises(ValueError, match="msg_id"):
        make_envelope("ABC")
    with pytest.raises(ValueError, match="repeats"):
        make_envelope(recipients=(RECIPIENT, RECIPIENT))
    with pytest.raises(ValueError, match="at least one"):
        make_envelope(recipients=())
    with pytest.raises(ValueError, match="priority"):
        make_envelope(priority=4)
    with pytest.raises(ValueError, match="header"):
        dataclasses.replace(make_envelope(), header="text")


# Failures of the writer


async def test_failing_batch_fails_all_futures(storage: SQLiteStorage, db_path: Path) -> None:
    conn = raw_connection(db_path)
    conn.execute(
        "CREATE TRIGGER reject_poison BEFORE INSERT ON mailbox WHEN NEW.recipient = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    envelopes = [make_envelope() for _ in range(4)] + [make_envelope(recipients=("poison",))]

    results = await asyncio.gather(*(storage.submit(env) for env in envelopes), return_exceptions=True)

    assert all(isinstance(result, StorageError) for result in results)
    assert "injected failure" in str(results[0])
    assert envelopes[0].msg_id in str(results[0])
    for env in envelopes:
        assert await storage.get_envelope(env.msg_id) is None
    assert await storage.fetch(RECIPIENT) == []

    conn.execute("DROP TRIGGER reject_poison")
    conn.close()
    later = make_envelope()
    assert (await storage.submit(later)).status == "stored"
    assert [item.envelope.msg_id for item in await storage.fetch(RECIPIENT)] == [later.msg_id]


async def test_locked_database_fails_batch(db_path: Path) -> None:
    async with SQLiteStorage(db_path, busy_timeout_ms=50) as store:
        conn = raw_connection(db_path)
        conn.execute("BEGIN IMMEDIATE")
        envelopes = [make_envelope() for _ in range(3)]

        results = await asyncio.gather(*(store.submit(env) for env in envelopes), return_exceptions=True)
        conn.execute("ROLLBACK")
        conn.close()
        later = await store.submit(make_envelope())

    assert all(isinstance(result, StorageError) for result in results)
    assert "locked" in str(results[0])
    assert later.status == "stored"


async def test_close_drains_queued_submits(db_path: Path) -> None:
    store = SQLiteStorage(db_path)
    await store.open()
    envelopes = [make_envelope() for _ in range(50)]
    tasks = [asyncio.create_task(store.submit(env)) for env in envelopes]
    await asyncio.sleep(0)

    await store.close()

    assert all(task.result().status == "stored" for task in tasks)
    async with SQLiteStorage(db_path) as reopened:
        assert len(await reopened.fetch(RECIPIENT, limit=100)) == 50


async def test_submit_after_close_raises(db_path: Path) -> None:
    store = SQLiteStorage(db_path)
    await store.open()
    await store.close()
    await store.close()

    with pytest.raises(StorageError, match="not open"):
        await store.submit(make_envelope())
    with pytest.raises(StorageError, match="not open"):
        await store.health()


# Directory and registrations


async def test_registration_add_and_conflict(storage: SQLiteStorage) -> None:
    registration = make_registration()
    await storage.add_registration(registration)

    with pytest.raises(Conflict, match="pending"):
        await storage.add_registration(make_registration(created_at=1_700_000_500))

    assert await storage.get_registration(registration.cp_id) == registration
    assert await storage.get_registration("xx.unknown") is None
    with pytest.raises(ValueError, match="pending"):
        await storage.add_registration(dataclasses.replace(make_registration("co.dian.bogota"), status="approved"))


async def test_approve_writes_record(storage: SQLiteStorage) -> None:
    await storage.add_registration(make_registration())
    record = make_record()

    await storage.decide_registration(
        "pe.sunat.callao", status="approved", reason=None, decision=b"decision",
        decision_signature=b"decision-signature", decided_at=1_700_000_100, record=record,
    )

    registration = await storage.get_registration("pe.sunat.callao")
    assert registration is not None
    assert registration.status == "approved"
    assert registration.decision == b"decision"
    assert registration.decision_signature == b"decision-signature"
    assert registration.decided_at == 1_700_000_100
    assert await storage.get_record("pe.sunat.callao") == record
    with pytest.raises(Conflict, match="active directory record"):
        await storage.add_registration(make_registration())


async def test_decide_non_pending_raises_conflict(storage: SQLiteStorage) -> None:
    await storage.add_registration(make_registration())
    decide = dict(reason="unknown agency", decision=b"no", decision_signature=b"sig", decided_at=1, record=None)
    await storage.decide_registration("pe.sunat.callao", status="rejected", **decide)

    with pytest.raises(Conflict, match="already rejected"):
        await storage.decide_registration("pe.sunat.callao", status="approved", **decide)
    with pytest.raises(NotFound, match="xx.unknown"):
        await storage.decide_registration("xx.unknown", status="approved", **decide)
    with pytest.raises(ValueError, match="decision"):
        await storage.decide_registration("pe.sunat.callao", status="pending", **decide)

    rejected = await storage.get_registration("pe.sunat.callao")
    assert rejected is not None
    assert rejected.status == "rejected"
    assert rejected.reason == "unknown agency"
    assert await storage.get_record("pe.sunat.callao") is None


async def test_rejected_registration_replaced(storage: SQLiteStorage) -> None:
    await storage.add_registration(make_registration())
    await storage.decide_registration(
        "pe.sunat.callao", status="rejected", reason="wrong unit", decision=b"no",
        decision_signature=b"sig", decided_at=2, record=None,
    )
    renewed = make_registration(created_at=1_700_009_999)

    await storage.add_registration(renewed)

    assert await storage.get_registration("pe.sunat.callao") == renewed


async def test_decide_is_one_transaction(storage: SQLiteStorage, db_path: Path) -> None:
    await storage.add_registration(make_registration())
    conn = raw_connection(db_path)
    conn.execute(
        "CREATE TRIGGER reject_record BEFORE INSERT ON directory_records"
        " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    conn.close()

    with pytest.raises(StorageError, match="injected failure"):
        await storage.decide_registration(
            "pe.sunat.callao", status="approved", reason=None, decision=b"yes",
            decision_signature=b"sig", decided_at=3, record=make_record(),
        )

    registration = await storage.get_registration("pe.sunat.callao")
    assert registration is not None
    assert registration.status == "pending"
    assert await storage.get_record("pe.sunat.callao") is None


async def test_list_records_and_registrations(storage: SQLiteStorage) -> None:
    for cp_id in ("us.atf.tracing", "ca.rcmp.firearms", "mx.sat.aduanas"):
        await storage.add_registration(make_registration(cp_id))
    await storage.decide_registration(
        "mx.sat.aduanas", status="approved", reason=None, decision=b"yes",
        decision_signature=b"sig", decided_at=4, record=make_record("mx.sat.aduanas"),
    )
    await storage.decide_registration(
        "ca.rcmp.firearms", status="approved", reason=None, decision=b"yes",
        decision_signature=b"sig", decided_at=4, record=make_record("ca.rcmp.firearms", status="revoked"),
    )

    records = await storage.list_records()
    pending = await storage.list_registrations("pending")
    everything = await storage.list_registrations()

    assert [record.cp_id for record in records] == ["ca.rcmp.firearms", "mx.sat.aduanas"]
    assert [registration.cp_id for registration in pending] == ["us.atf.tracing"]
    assert [registration.cp_id for registration in everything] == ["ca.rcmp.firearms", "mx.sat.aduanas", "us.atf.tracing"]
    with pytest.raises(ValueError, match="status"):
        await storage.list_registrations("unknown")


# Property-based round trip


def test_envelope_bytes_round_trip(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        store = SQLiteStorage(tmp_path / "hypothesis.db")
        runner.run(store.open())

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            header=st.binary(max_size=2048),
            body=st.binary(max_size=8192),
            priority=st.integers(min_value=0, max_value=3),
            recipients=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4, unique=True),
            kind=st.text(max_size=20),
        )
        def round_trip(header: bytes, body: bytes, priority: int, recipients: list[str], kind: str) -> None:
            env = make_envelope(header=header, body=body, priority=priority, recipients=tuple(recipients), kind=kind)

            result = runner.run(store.submit(env))
            fetched = [runner.run(store.fetch(recipient, limit=1000)) for recipient in recipients]
            for recipient in recipients:
                runner.run(store.ack(recipient, env.msg_id))

            assert result.status == "stored"
            for items in fetched:
                assert [item.envelope for item in items if item.envelope.msg_id == env.msg_id] == [env]

        try:
            round_trip()
        finally:
            runner.run(store.close())


async def test_failed_read_leaves_no_stale_snapshot(storage: SQLiteStorage, db_path: Path) -> None:
    damaged = make_envelope()
    await storage.submit(damaged)
    conn = raw_connection(db_path)
    conn.execute("UPDATE envelopes SET sender = CAST(X'ff' AS TEXT) WHERE msg_id = ?", (damaged.msg_id,))

    with pytest.raises(StorageError):
        await storage.fetch(RECIPIENT)
    conn.execute("DELETE FROM mailbox WHERE msg_id = ?", (damaged.msg_id,))
    conn.close()
    later = make_envelope()
    await storage.submit(later)
    items = await storage.fetch(RECIPIENT)

    assert [item.envelope.msg_id for item in items] == [later.msg_id]


async def test_open_missing_folder_raises(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "missing" / "broker.db")

    with pytest.raises(StorageError, match="does not exist"):
        await store.open()


async def test_reads_see_writes_under_concurrency(storage: SQLiteStorage) -> None:
    async def add_then_read(number: int) -> StoredRegistration | None:
        cp_id = f"pe.sunat.unit{number}"
        await storage.add_registration(make_registration(cp_id))
        await asyncio.gather(*(storage.list_registrations() for _ in range(3)))
        return await storage.get_registration(cp_id)

    found = await asyncio.gather(*(add_then_read(n) for n in range(40)))

    assert all(row is not None for row in found)
