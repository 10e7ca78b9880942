"""SQLite implementation of LogStorage, mixed into SQLiteStorage."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields

from .base import Conflict, NotFound, StoredRecord
from .log_base import (PROPOSAL_STATUSES, LogStorage, ProposalDecision, RegistrationDecision,
                       StoredLogEntry, StoredProposal)

_LOG_COLUMNS = tuple(f.name for f in fields(StoredLogEntry))
_PROPOSAL_COLUMNS = tuple(f.name for f in fields(StoredProposal))
_RECORD_COLUMNS = tuple(f.name for f in fields(StoredRecord))
_STATE_COLUMNS = ("iso2", "iso3", "name_en", "name_es", "subregion", "languages")

_SELECT_LOG = f"SELECT {', '.join(_LOG_COLUMNS)} FROM log_entries"
_SELECT_PROPOSAL = f"SELECT {', '.join(_PROPOSAL_COLUMNS)} FROM proposals"
_UPSERT_RECORD = (
    f"INSERT INTO directory_records ({', '.join(_RECORD_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _RECORD_COLUMNS)}) ON CONFLICT (cp_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_COLUMNS if c != "cp_id"))
_UPSERT_STATE = (
    f"INSERT INTO member_states ({', '.join(_STATE_COLUMNS)}) VALUES ({', '.join('?' for _ in _STATE_COLUMNS)}) "
    "ON CONFLICT (iso2) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _STATE_COLUMNS[1:]))


class SQLiteLogMixin(LogStorage):
    """Needs ``_query`` and ``_write_transaction`` from SQLiteStorage."""

    async def log_size(self) -> int:
        rows = await self._query("counting log entries", "SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries")
        return rows[0][0]

    async def read_log(self, start: int, end: int) -> list[StoredLogEntry]:
        rows = await self._query(f"reading log entries {start} to {end}",
                                 _SELECT_LOG + " WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end))
        return [StoredLogEntry(*row) for row in rows]

    async def read_log_seqs(self, seqs: list[int]) -> list[StoredLogEntry]:
        if not seqs:
            return []
        placeholders = ", ".join("?" for _ in seqs)
        rows = await self._query("reading log entries",
                                 _SELECT_LOG + f" WHERE seq IN ({placeholders}) ORDER BY seq", tuple(seqs))
        return [StoredLogEntry(*row) for row in rows]

    async def commit_change(self, *, log_entry=None, record=None, registration=None, proposal=None) -> None:
        async with self._write_transaction("committing a directory change") as conn:
            if registration is not None:
                await _decide_registration(conn, registration)
            if proposal is not None:
                await _decide_proposal(conn, proposal)
            if log_entry is not None:
                await _append(conn, log_entry)
            if record is not None:
                await conn.execute(_UPSERT_RECORD, tuple(getattr(record, c) for c in _RECORD_COLUMNS))

    async def add_proposal(self, proposal: StoredProposal) -> int:
        columns = _PROPOSAL_COLUMNS[1:]
        sql = f"INSERT INTO proposals ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        async with self._write_transaction(f"adding a proposal for {proposal.cp_id!r}") as conn:
            cursor = await conn.execute(sql, tuple(getattr(proposal, c) for c in columns))
            return cursor.lastrowid

    async def get_proposal(self, proposal_id: int) -> StoredProposal | None:
        rows = await self._query(f"reading proposal {proposal_id}",
                                 _SELECT_PROPOSAL + " WHERE proposal_id = ?", (proposal_id,))
        return StoredProposal(*rows[0]) if rows else None

    async def list_proposals(self, status: str | None = None, cp_id: str | None = None) -> list[StoredProposal]:
        if status is not None and status not in PROPOSAL_STATUSES:
            raise ValueError(f"invalid proposal status {status!r}: expected one of {PROPOSAL_STATUSES}")
        where, parameters = [], []
        for column, value in (("status", status), ("cp_id", cp_id)):
            if value is not None:
                where.append(f"{column} = ?")
                parameters.append(value)
        sql = _SELECT_PROPOSAL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY proposal_id"
        rows = await self._query("listing proposals", sql, tuple(parameters))
        return [StoredProposal(*row) for row in rows]

    async def seed_member_states(self, states: list[dict]) -> None:
        rows = [(s["iso2"], s["iso3"], s["name_en"], s["name_es"], s["subregion"], json.dumps(s["languages"]))
                for s in states]
        async with self._write_transaction("seeding member states") as conn:
            await conn.executemany(_UPSERT_STATE, rows)

    async def member_states(self) -> list[dict]:
        rows = await self._query("listing member states",
                                 f"SELECT {', '.join(_STATE_COLUMNS)} FROM member_states ORDER BY iso2")
        return [dict(zip(_STATE_COLUMNS, row[:5]), languages=json.loads(row[5])) for row in rows]


async def _decide_registration(conn, decision: RegistrationDecision) -> None:
    rows = list(await conn.execute_fetchall("SELECT status FROM registrations WHERE cp_id = ?", (decision.cp_id,)))
    if not rows:
        raise NotFound(f"no registration for {decision.cp_id!r}")
    if rows[0][0] != "pending":
        raise Conflict(f"registration {decision.cp_id!r} is already {rows[0][0]}")
    await conn.execute(
        "UPDATE registrations SET status = ?, reason = ?, decision = ?, decision_signature = ?, decided_at = ? "
        "WHERE cp_id = ?", (decision.status, decision.reason, decision.decision, decision.decision_signature,
                            decision.decided_at, decision.cp_id))


async def _decide_proposal(conn, decision: ProposalDecision) -> None:
    rows = list(await conn.execute_fetchall("SELECT status FROM proposals WHERE proposal_id = ?",
                                            (decision.proposal_id,)))
    if not rows:
        raise NotFound(f"no proposal {decision.proposal_id}")
    if rows[0][0] != "pending":
        raise Conflict(f"proposal {decision.proposal_id} is already {rows[0][0]}")
    await conn.execute("UPDATE proposals SET status = ?, reason = ?, decided_at = ? WHERE proposal_id = ?",
                       (decision.status, decision.reason, decision.decided_at, decision.proposal_id))


async def _append(conn, entry: StoredLogEntry) -> None:
    # MAX(seq) reads one end of the primary key index; COUNT(*) would scan the whole log.
    rows = list(await conn.execute_fetchall("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries"))
    if rows[0][0] != entry.seq:
        raise Conflict(f"log entry {entry.seq} is not next: the log has {rows[0][0]} entries")
    try:
        await conn.execute(f"INSERT INTO log_entries ({', '.join(_LOG_COLUMNS)}) "
                           f"VALUES ({', '.join('?' for _ in _LOG_COLUMNS)})",
                           tuple(getattr(entry, c) for c in _LOG_COLUMNS))
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"log entry {entry.seq} already exists: {exc}") from None
