"""SQLite backend of Storage, with group commit for submits.

Two aiosqlite connections share the database file. The writer connection runs every
write, serialized by an asyncio lock, because a transaction on a shared connection
would otherwise absorb the statements of other coroutines. The reader connection
runs every read. In WAL mode it reads only committed data, so a fetch never returns
an envelope of a batch that is still open and may yet roll back.

Submits are grouped: submit() queues the envelope, and one writer task commits all
submits queued at that moment in one transaction. Each commit is synced to disk
(synchronous=FULL), so grouping turns one fsync per envelope into one per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import aiosqlite

from .base import (
    REGISTRATION_STATUSES,
    Conflict,
    MailboxItem,
    Storage,
    StorageError,
    StoredEnvelope,
    StoredRecord,
    StoredRegistration,
    SubmitResult,
)
from .migrate import apply_migrations, load_migrations, sqlite_migrations_dir
from .sqlite_log import SQLiteLogMixin

logger = logging.getLogger("enlace.storage")

DEFAULT_MAX_BATCH = 512
DEFAULT_BUSY_TIMEOUT_MS = 5000

# Maximum msg_ids per "IN (...)" lookup. SQLite before 3.32 allowed at most 999
# variables in one statement, later versions 32766.
_IN_CHUNK = 900

_ENVELOPE_COLUMNS = tuple(field.name for field in fields(StoredEnvelope))
_RECORD_COLUMNS = tuple(field.name for field in fields(StoredRecord))
_REGISTRATION_COLUMNS = tuple(field.name for field in fields(StoredRegistration))


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    placeholders = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"


def _upsert_sql(table: str, columns: Sequence[str], key: str) -> str:
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != key)
    return f"{_insert_sql(table, columns)} ON CONFLICT ({key}) DO UPDATE SET {updates}"


def _select_sql(table: str, columns: Sequence[str], where: str = "") -> str:
    return f"SELECT {', '.join(columns)} FROM {table} {where}".strip()


_INSERT_ENVELOPE = _insert_sql("envelopes", _ENVELOPE_COLUMNS)
_INSERT_DELIVERY = "INSERT INTO mailbox (recipient, msg_id, priority, expires_at) VALUES (?, ?, ?, ?)"
_UPSERT_RECORD = _upsert_sql("directory_records", _RECORD_COLUMNS, "cp_id")
_UPSERT_REGISTRATION = _upsert_sql("registrations", _REGISTRATION_COLUMNS, "cp_id")

_FETCH = (
    f"SELECT m.seq, {', '.join('e.' + column for column in _ENVELOPE_COLUMNS)}"
    " FROM mailbox m JOIN envelopes e ON e.msg_id = m.msg_id"
    " WHERE m.recipient = ? AND m.acked_at IS NULL AND m.expires_at > ?"
    " ORDER BY m.priority DESC, m.seq ASC LIMIT ?"
)
_ACK = "UPDATE mailbox SET acked_at = ? WHERE recipient = ? AND msg_id = ? AND acked_at IS NULL"
_REGISTRATION_STATE = (
    "SELECT (SELECT status FROM registrations WHERE cp_id = ?),"
    " (SELECT status FROM directory_records WHERE cp_id = ?)"
)


def _envelope_row(env: StoredEnvelope) -> tuple[Any, ...]:
    values = {column: getattr(env, column) for column in _ENVELOPE_COLUMNS}
    values["recipients"] = json.dumps(list(env.recipients))
    return tuple(values.values())


def _envelope_from_row(row: Sequence[Any]) -> StoredEnvelope:
    values = dict(zip(_ENVELOPE_COLUMNS, row))
    values["recipients"] = tuple(json.loads(values["recipients"]))
    return StoredEnvelope(**values)


def _delivery_rows(env: StoredEnvelope) -> list[tuple[Any, ...]]:
    return [(recipient, env.msg_id, env.priority, env.expires_at) for recipient in env.recipients]


def _column_values(item: object, columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(item, column) for column in columns)


@dataclass(frozen=True)
class _PendingSubmit:
    envelope: StoredEnvelope
    future: asyncio.Future[SubmitResult]


# Queued by close() behind the last submit, so the writer drains the queue before it stops.
_STOP = object()


def _plan_batch(
    batch: Sequence[_PendingSubmit], stored: dict[str, tuple[bytes, int]]
) -> tuple[list[StoredEnvelope], list[SubmitResult]]:
    """Return the envelopes to insert and the result of each submit of batch, in order.

    stored maps msg_ids already in the database to their (digest, received_at). A
    second submit of a msg_id within the batch is compared with the first one.
    """
    first_receipts = dict(stored)
    new_envelopes = []
    results = []
    for item in batch:
        env = item.envelope
        first = first_receipts.get(env.msg_id)
        if first is None:
            first_receipts[env.msg_id] = (env.digest, env.received_at)
            new_envelopes.append(env)
            results.append(SubmitResult("stored", env.msg_id, env.digest, env.received_at))
        else:
            status = "duplicate" if first[0] == env.digest else "conflict"
            results.append(SubmitResult(status, env.msg_id, first[0], first[1]))
    return new_envelopes, results


def _settle(future: asyncio.Future[SubmitResult], result: SubmitResult | BaseException) -> None:
    # A submitter that was cancelled has already cancelled its future.
    if future.done():
        return

    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        # SQLite has already rolled back after some errors, and then ROLLBACK fails.
        logger.debug("rollback after failed transaction: %s", exc)


class SQLiteStorage(SQLiteLogMixin, Storage):
    """Storage in one SQLite database file, which open() creates if it does not exist.

    max_batch is the maximum number of submits per transaction. busy_timeout_ms is the
    maximum time in ms that a statement waits for a lock held by another connection.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"invalid max_batch {max_batch}: expected at least 1")
        if busy_timeout_ms < 0:
            raise ValueError(f"invalid busy_timeout_ms {busy_timeout_ms}: expected 0 or more")

        self._path = os.fspath(path)
        self._max_batch = max_batch
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._lifecycle_lock = asyncio.Lock()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._closing = False

    # Lifecycle

    async def open(self) -> None:
        async with self._lifecycle_lock:
            if self._writer is not None:
                raise StorageError(f"SQLite storage {self._path} is already open: call close() before opening it again")

            try:
                version = await self._connect_and_migrate()
            except BaseException:
                await self._close_connections()
                raise

            self._closing = False
            self._queue = asyncio.Queue()
            self._writer_task = asyncio.create_task(self._run_writer(), name="enlace-storage-writer")
            logger.info("opened SQLite storage %s at schema version %d", self._path, version)

    async def close(self) -> None:
        async with self._lifecycle_lock:
            task = self._writer_task
            if task is not None:
                self._closing = True
                self._queue.put_nowait(_STOP)
                await asyncio.wait([task])
                self._writer_task = None
                if not task.cancelled() and task.exception() is not None:
                    logger.error("writer of SQLite storage %s had failed: %s", self._path, task.exception())

            if self._writer is not None:
                await self._close_connections()
                logger.info("closed SQLite storage %s", self._path)

    async def health(self) -> None:
        if self._writer_task is None or self._closing:
            raise StorageError(f"SQLite storage {self._path} is not open")
        if self._writer_task.done():
            raise StorageError(f"the writer of SQLite storage {self._path} has stopped, so submits fail: reopen the storage")

        await self._query("health check", "SELECT COUNT(*) FROM schema_version")

    async def _connect_and_migrate(self) -> int:
        """Open both connections, migrate the schema and return its version."""
        folder = os.path.dirname(os.path.abspath(self._path))
        if not os.path.isdir(folder):
            raise StorageError(f"cannot open SQLite database {self._path}: folder {folder} does not exist")
        self._writer = await self._connect(read_only=False)
        try:
            version = await apply_migrations(self._writer, load_migrations(sqlite_migrations_dir()))
        except sqlite3.Error as exc:
            raise StorageError(f"reading the schema version of SQLite database {self._path} failed: {exc}") from exc

        self._reader = await self._connect(read_only=True)
        return version

    async def _connect(self, *, read_only: bool) -> aiosqlite.Connection:
        # isolation_level=None turns off the implicit BEGIN of the sqlite3 module,
        # so the code below issues BEGIN IMMEDIATE and COMMIT itself.
        try:
            conn = await aiosqlite.connect(self._path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"opening SQLite database {self._path} failed: {exc}") from exc

        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            if read_only:
                await conn.execute("PRAGMA query_only = ON")
            else:
                await self._configure_writer(conn)
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"configuring SQLite database {self._path} failed: {exc}") from exc
            raise
        return conn

    async def _configure_writer(self, conn: aiosqlite.Connection) -> None:
        rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
        mode = rows[0][0]
        if mode != "wal":
            raise StorageError(
                f"cannot enable WAL journal mode on SQLite database {self._path}: SQLite kept {mode!r}, "
                "so use a database file on a local file system"
            )

        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")

    async def _close_connections(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = None
        self._writer = None

    # Connections and transactions

    def _reader_connection(self, action: str) -> aiosqlite.Connection:
        if self._reader is None:
            raise StorageError(f"{action} failed: SQLite storage {self._path} is not open")
        return self._reader

    async def _query(self, action: str, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        conn = self._reader_connection(action)
        try:
            return list(await conn.execute_fetchall(sql, parameters))
        except (sqlite3.Error, ValueError) as exc:
            # A statement that failed halfway (a damaged value, say) may keep its read
            # transaction open, and the connection would then serve that old snapshot
            # forever; a fresh connection sees every later commit.
            await self._replace_reader()
            raise StorageError(f"{action} failed: {exc}") from exc

    async def _replace_reader(self) -> None:
        old, self._reader = self._reader, await self._connect(read_only=True)
        if old is not None:
            await old.close()

    @contextlib.asynccontextmanager
    async def _write_transaction(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the write lock and run the body in one transaction on the writer connection.

        Any exception rolls the transaction back. sqlite3 errors are raised as
        StorageError naming action, and other exceptions, such as Conflict, unchanged.
        """
        async with self._write_lock:
            conn = self._writer
            if conn is None:
                raise StorageError(f"{action} failed: SQLite storage {self._path} is not open")

            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"{action} failed: cannot start a write transaction: {exc}") from exc

            try:
                yield conn
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await _rollback_quietly(conn)
                raise StorageError(f"{action} failed and was rolled back: {exc}") from exc
            except BaseException:
                await _rollback_quietly(conn)
                raise

    # Directory

    async def get_record(self, cp_id: str) -> StoredRecord | None:
        sql = _select_sql("directory_records", _RECORD_COLUMNS, "WHERE cp_id = ?")
        rows = await self._query(f"reading directory record {cp_id!r}", sql, (cp_id,))
        return StoredRecord(*rows[0]) if rows else None

    async def list_records(self) -> list[StoredRecord]:
        sql = _select_sql("directory_records", _RECORD_COLUMNS, "ORDER BY cp_id")
        rows = await self._query("listing directory records", sql)
        return [StoredRecord(*row) for row in rows]

    # Registrations

    async def add_registration(self, reg: StoredRegistration, *, replacement: bool = False) -> None:
        if reg.status != "pending":
            raise ValueError(f"invalid status {reg.status!r} of new registration {reg.cp_id!r}: expected 'pending'")

        async with self._write_transaction(f"adding registration {reg.cp_id!r}") as conn:
            rows = list(await conn.execute_fetchall(_REGISTRATION_STATE, (reg.cp_id, reg.cp_id)))
            registration_status, record_status = rows[0]
            if registration_status == "pending":
                raise Conflict(f"a registration for {reg.cp_id!r} is already pending a decision")
            if record_status == "active" and not replacement:
                raise Conflict(f"contact point {reg.cp_id!r} already has an active directory record")

            await conn.execute(_UPSERT_REGISTRATION, _column_values(reg, _REGISTRATION_COLUMNS))

    async def get_registration(self, cp_id: str) -> StoredRegistration | None:
        sql = _select_sql("registrations", _REGISTRATION_COLUMNS, "WHERE cp_id = ?")
        rows = await self._query(f"reading registration {cp_id!r}", sql, (cp_id,))
        return StoredRegistration(*rows[0]) if rows else None

    async def list_registrations(self, status: str | None = None) -> list[StoredRegistration]:
        if status is None:
            sql = _select_sql("registrations", _REGISTRATION_COLUMNS, "ORDER BY cp_id")
            rows = await self._query("listing registrations", sql)
        elif status in REGISTRATION_STATUSES:
            sql = _select_sql("registrations", _REGISTRATION_COLUMNS, "WHERE status = ? ORDER BY cp_id")
            rows = await self._query(f"listing {status} registrations", sql, (status,))
        else:
            raise ValueError(f"invalid registration status {status!r}: expected one of {REGISTRATION_STATUSES}")
        return [StoredRegistration(*row) for row in rows]

    # Messages

    async def submit(self, env: StoredEnvelope) -> SubmitResult:
        """Queue env for the writer task and wait until its batch is committed.

        If the caller is cancelled while waiting, the envelope may still be stored.
        """
        if self._writer_task is None or self._closing:
            raise StorageError(f"cannot store envelope {env.msg_id}: SQLite storage {self._path} is not open")
        if self._writer_task.done():
            raise StorageError(f"cannot store envelope {env.msg_id}: the storage writer has stopped, so reopen the storage")

        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_PendingSubmit(env, future))
        return await future

    async def fetch(self, recipient: str, *, limit: int = 100) -> list[MailboxItem]:
        if limit < 1:
            raise ValueError(f"invalid limit {limit}: expected at least 1")

        rows = await self._query(f"fetching mailbox of {recipient!r}", _FETCH, (recipient, int(time.time()), limit))
        return [MailboxItem(row[0], _envelope_from_row(row[1:])) for row in rows]

    async def ack(self, recipient: str, msg_id: str) -> bool:
        # A single UPDATE in autocommit mode is its own transaction, so no BEGIN is
        # needed. The lock keeps it out of an open batch transaction.
        # NOTE: each ack is a separate commit and fsync. Group acks like submits if
        # ack throughput becomes the limit.
        async with self._write_lock:
            if self._writer is None:
                raise StorageError(f"ack of {msg_id} for {recipient!r} failed: SQLite storage {self._path} is not open")
            try:
                cursor = await self._writer.execute(_ACK, (int(time.time()), recipient, msg_id))
            except sqlite3.Error as exc:
                raise StorageError(f"ack of {msg_id} for {recipient!r} failed: {exc}") from exc
        return cursor.rowcount == 1

    async def get_envelope(self, msg_id: str) -> StoredEnvelope | None:
        sql = _select_sql("envelopes", _ENVELOPE_COLUMNS, "WHERE msg_id = ?")
        rows = await self._query(f"reading envelope {msg_id}", sql, (msg_id,))
        return _envelope_from_row(rows[0]) if rows else None

    # Group commit

    async def _run_writer(self) -> None:
        stopping = False
        try:
            while not stopping:
                batch, stopping = await self._next_batch()
                if batch:
                    await self._write_batch(batch)
        finally:
            self._fail_queued(StorageError(f"the writer of SQLite storage {self._path} stopped"))

    async def _next_batch(self) -> tuple[list[_PendingSubmit], bool]:
        """Wait for a submit, then take the submits already queued, up to max_batch.

        Never waits for more submits to arrive. The flag is True when close() queued _STOP.
        """
        item = await self._queue.get()
        batch: list[_PendingSubmit] = []
        while item is not _STOP:
            batch.append(item)
            if len(batch) >= self._max_batch or self._queue.empty():
                return batch, False
            item = self._queue.get_nowait()
        return batch, True

    async def _write_batch(self, batch: list[_PendingSubmit]) -> None:
        """Commit batch and settle each future: with its result, or with StorageError if the commit failed."""
        started = time.perf_counter()
        try:
            results = await self._commit_batch(batch)
        except Exception as exc:
            logger.error("submit batch of %d envelopes failed and was rolled back: %s", len(batch), exc)
            for item in batch:
                _settle(item.future, StorageError(f"envelope {item.envelope.msg_id} was not stored: {exc}"))
            return
        except BaseException:
            for item in batch:
                _settle(item.future, StorageError(f"envelope {item.envelope.msg_id} was not stored: writer cancelled"))
            raise

        for item, result in zip(batch, results):
            _settle(item.future, result)
        stored = sum(result.status == "stored" for result in results)
        logger.debug(
            "committed submit batch of %d envelopes, %d new, in %.2f ms",
            len(batch), stored, (time.perf_counter() - started) * 1000,
        )

    async def _commit_batch(self, batch: list[_PendingSubmit]) -> list[SubmitResult]:
        """Insert the new envelopes of batch and their deliveries in one transaction.

        Round trips to the database thread: BEGIN, one SELECT per 900 distinct msg_ids,
        one executemany per table, and COMMIT.
        """
        async with self._write_transaction(f"submit batch of {len(batch)} envelopes") as conn:
            msg_ids = list(dict.fromkeys(item.envelope.msg_id for item in batch))
            stored = await _select_first_receipts(conn, msg_ids)
            new_envelopes, results = _plan_batch(batch, stored)

            if new_envelopes:
                await conn.executemany(_INSERT_ENVELOPE, [_envelope_row(env) for env in new_envelopes])
                deliveries = [row for env in new_envelopes for row in _delivery_rows(env)]
                await conn.executemany(_INSERT_DELIVERY, deliveries)
        return results

    def _fail_queued(self, error: StorageError) -> None:
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _STOP:
                _settle(item.future, error)


async def _select_first_receipts(conn: aiosqlite.Connection, msg_ids: list[str]) -> dict[str, tuple[bytes, int]]:
    """Return (digest, received_at) of each msg_id that is already stored."""
    receipts: dict[str, tuple[bytes, int]] = {}
    for start in range(0, len(msg_ids), _IN_CHUNK):
        chunk = msg_ids[start : start + _IN_CHUNK]
        placeholders = ", ".join("?" for _ in chunk)
        sql = f"SELECT msg_id, digest, received_at FROM envelopes WHERE msg_id IN ({placeholders})"
        for msg_id, digest, received_at in await conn.execute_fetchall(sql, chunk):
            receipts[msg_id] = (digest, received_at)
    return receipts
