"""Persistent storage of the broker: directory records, registrations, envelopes and mailboxes."""

from __future__ import annotations

from .base import (
    Conflict,
    MailboxItem,
    NotFound,
    SchemaTooNew,
    Storage,
    StorageError,
    StoredEnvelope,
    StoredRecord,
    StoredRegistration,
    SubmitResult,
)
from .log_base import ProposalDecision, RegistrationDecision, StoredLogEntry, StoredProposal
from .sqlite import SQLiteStorage

__all__ = [
    "Conflict",
    "MailboxItem",
    "NotFound",
    "ProposalDecision",
    "RegistrationDecision",
    "StoredLogEntry",
    "StoredProposal",
    "SQLiteStorage",
    "SchemaTooNew",
    "Storage",
    "StorageError",
    "StoredEnvelope",
    "StoredRecord",
    "StoredRegistration",
    "SubmitResult",
    "open_storage",
]

_SQLITE_PREFIX = "sqlite:///"
_POSTGRESQL_PREFIXES = ("postgresql://", "postgres://")


def open_storage(url: str) -> Storage:
    """Return an unopened Storage for url. Call its open() before use.

    "sqlite:///PATH" and a bare path select SQLite. As in SQLAlchemy, the path after
    the three slashes is relative unless it starts with a fourth slash, so
    "sqlite:////var/lib/enlace/broker.db" is absolute. Raises StorageError for
    PostgreSQL URLs, which have no backend yet, and for any other URL scheme.
    """
    if url.startswith(_SQLITE_PREFIX):
        path = url[len(_SQLITE_PREFIX) :]
        if not path:
            raise StorageError(f"invalid storage URL {url!r}: the SQLite URL has no file path")
        return SQLiteStorage(path)

    if url.startswith(_POSTGRESQL_PREFIXES):
        raise StorageError("PostgreSQL backend not available yet")
    if "://" in url or url.startswith("sqlite:"):
        raise StorageError(f"unsupported storage URL {url!r}: expected sqlite:///PATH or a file path")
    if not url:
        raise StorageError("invalid storage URL '': expected sqlite:///PATH or a file path")
    return SQLiteStorage(url)
