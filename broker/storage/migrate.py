"""Schema migrations for the SQLite backend.

Migrations are SQL files named NNNN_description.sql in broker/migrations/sqlite,
numbered from 0001 without gaps. The table schema_version contains one row per applied
migration, and the database version is the highest of them.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from .base import SchemaTooNew, StorageError

logger = logging.getLogger("enlace.storage")

_FILE_PATTERN = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER NOT NULL PRIMARY KEY,
    applied_at INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file. sql must not contain BEGIN or COMMIT."""

    version: int
    name: str
    sql: str


def sqlite_migrations_dir() -> Path:
    """Return the directory of the SQLite migrations shipped with the broker package."""
    # A path relative to this file works for source trees and for editable and regular
    # installs, where importlib.resources may see "broker" as a namespace package.
    return Path(__file__).resolve().parent.parent / "migrations" / "sqlite"


def load_migrations(directory: Path) -> list[Migration]:
    """Read the migration files of directory, ordered by version.

    Files whose names do not match NNNN_description.sql are ignored. Raises StorageError
    if the versions do not run from 1 without gaps or repeats.
    """
    migrations = []
    for entry in directory.iterdir():
        match = _FILE_PATTERN.fullmatch(entry.name)
        if match is not None:
            migrations.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))

    migrations.sort(key=lambda migration: migration.version)

    versions = [migration.version for migration in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        names = ", ".join(migration.name for migration in migrations)
        raise StorageError(f"invalid migrations in {directory}: expected versions 1..N without gaps, found {names}")
    return migrations


async def current_version(conn: aiosqlite.Connection) -> int:
    """Return the schema version of the database, creating schema_version if it is missing."""
    await conn.execute(_CREATE_VERSION_TABLE)

    rows = await conn.execute_fetchall("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    return int(list(rows)[0][0])


async def apply_migrations(conn: aiosqlite.Connection, migrations: list[Migration]) -> int:
    """Apply the migrations newer than the database, each in its own transaction, and return the new version.

    conn must be in autocommit mode (isolation_level=None). Raises SchemaTooNew if the
    database version is higher than the last migration, and StorageError naming the
    file if a migration fails, after rolling that migration back. Expects one process
    to migrate at a time: a concurrent second runner fails on the version row it
    inserts, and its migration is rolled back.
    """
    known = migrations[-1].version if migrations else 0
    version = await current_version(conn)
    if version > known:
        raise SchemaTooNew(
            f"database schema version {version} is newer than version {known}, the latest this code supports: "
            "run a newer Enlace release or restore a backup taken before the upgrade"
        )

    for migration in migrations:
        if migration.version > version:
            await _apply_one(conn, migration)
            logger.info("applied schema migration %s", migration.name)
    return max(version, known)


async def _apply_one(conn: aiosqlite.Connection, migration: Migration) -> None:
    # executescript commits any open transaction first, so the transaction has to be
    # part of the script itself. The script stops at the first failing statement and
    # leaves the transaction open, which the ROLLBACK below closes.
    script = (
        "BEGIN IMMEDIATE;\n"
        f"{migration.sql}\n;\n"
        f"INSERT INTO schema_version (version, applied_at) VALUES ({migration.version}, {int(time.time())});\n"
        "COMMIT;\n"
    )

    try:
        await conn.executescript(script)
    except sqlite3.Error as exc:
        await _rollback_quietly(conn)
        raise StorageError(f"schema migration {migration.name} failed and was rolled back: {exc}") from exc


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        # SQLite has already rolled back after some errors, and then ROLLBACK fails.
        logger.debug("rollback after failed migration: %s", exc)
