"""Storage interface of the broker: record types, errors and the abstract Storage class.

Every backend (SQLite now, PostgreSQL later) implements Storage with the same
contracts, so the HTTP layer never depends on a particular database.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

RECORD_STATUSES = ("active", "revoked")
REGISTRATION_STATUSES = ("pending", "approved", "rejected")
DECISION_STATUSES = ("approved", "rejected")
SUBMIT_STATUSES = ("stored", "duplicate", "conflict")
MIN_PRIORITY = 0
MAX_PRIORITY = 3
IDENTITY_KEY_SIZE = 32
DIGEST_SIZE = 32

_MSG_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


class StorageError(Exception):
    """Root of the storage errors. The message names what failed and the value involved."""


class NotFound(StorageError):
    """The requested row does not exist."""


class Conflict(StorageError):
    """The write contradicts the stored state, for example a second pending registration."""


class SchemaTooNew(StorageError):
    """The database schema version is newer than the latest migration this code ships."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, f"invalid {name} {value!r}: expected one of {', '.join(choices)}")


def _require_size(name: str, value: bytes, size: int) -> None:
    if isinstance(value, bytes) and len(value) == size:
        return

    found = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
    raise ValueError(f"invalid {name}: expected {size} bytes, got {found}")


def _require_bytes(owner: object, *names: str, optional: bool = False) -> None:
    for name in names:
        value = getattr(owner, name)
        if value is None and optional:
            continue
        _require(isinstance(value, bytes), f"invalid {name}: expected bytes, got {type(value).__name__}")


def validate_msg_id(msg_id: str) -> None:
    """Raise ValueError unless msg_id is exactly 32 lowercase hex characters."""
    _require(
        isinstance(msg_id, str) and _MSG_ID_PATTERN.fullmatch(msg_id) is not None,
        f"invalid msg_id {msg_id!r}: expected 32 lowercase hex characters",
    )


@dataclass(frozen=True)
class StoredRecord:
    """Directory record of a contact point, signed by the Secretariat.

    Raises ValueError when status is not "active" or "revoked", when identity_key is
    not a 32-byte Ed25519 public key, or when record or signature is not bytes.
    """

    cp_id: str
    country: str
    status: str
    identity_key: bytes
    record: bytes
    signature: bytes
    updated_at: int

    def __post_init__(self) -> None:
        _require_choice("record status", self.status, RECORD_STATUSES)
        _require_size("identity_key", self.identity_key, IDENTITY_KEY_SIZE)
        _require_bytes(self, "record", "signature")


@dataclass(frozen=True)
class StoredRegistration:
    """Registration request of a contact point and, once decided, the Secretariat's decision.

    request and signature are the exact request bytes and the applicant's self-signature.
    reason is the rejection reason shown to the applicant. decision, decision_signature
    and decided_at stay None while status is "pending".
    Raises ValueError on an unknown status, an identity_key that is not 32 bytes, or
    a byte field that is not bytes.
    """

    cp_id: str
    country: str
    identity_key: bytes
    request: bytes
    signature: bytes
    status: str
    reason: str | None
    decision: bytes | None
    decision_signature: bytes | None
    created_at: int
    decided_at: int | None

    def __post_init__(self) -> None:
        _require_choice("registration status", self.status, REGISTRATION_STATUSES)
        _require_size("identity_key", self.identity_key, IDENTITY_KEY_SIZE)
        _require_bytes(self, "request", "signature")
        _require_bytes(self, "decision", "decision_signature", optional=True)


@dataclass(frozen=True)
class StoredEnvelope:
    """Opaque envelope as the broker stores it. Times are unix seconds.

    digest (32 bytes) identifies the exact envelope bytes, so two submits with the same
    digest are the same envelope. Priority runs from 0 to 3, and higher is fetched first.
    Raises ValueError on a malformed msg_id, an empty or repeated recipient, a priority
    outside 0..3, a digest that is not 32 bytes, or a byte field that is not bytes.
    """

    msg_id: str
    sender: str
    recipients: tuple[str, ...]
    kind: str
    priority: int
    created_at: int
    expires_at: int
    header: bytes
    signature: bytes
    body: bytes
    digest: bytes
    received_at: int

    def __post_init__(self) -> None:
        validate_msg_id(self.msg_id)
        _require(isinstance(self.recipients, tuple), "invalid recipients: expected a tuple of contact point ids")
        _require(len(self.recipients) > 0, f"invalid recipients of {self.msg_id}: at least one is required")
        _require(all(isinstance(r, str) and r for r in self.recipients), f"invalid recipients of {self.msg_id}: empty id")
        _require(
            len(set(self.recipients)) == len(self.recipients),
            f"invalid recipients of {self.msg_id}: {self.recipients!r} repeats a contact point",
        )
        _require(
            isinstance(self.priority, int) and MIN_PRIORITY <= self.priority <= MAX_PRIORITY,
            f"invalid priority {self.priority!r} of {self.msg_id}: expected {MIN_PRIORITY}..{MAX_PRIORITY}",
        )
        _require_size("digest", self.digest, DIGEST_SIZE)
        _require_bytes(self, "header", "signature", "body")


@dataclass(frozen=True)
class SubmitResult:
    """Outcome of one submit.

    status is "stored" for a new envelope, "duplicate" when an envelope with the same
    msg_id and digest was already stored, and "conflict" when the stored envelope with
    that msg_id has a different digest. For "duplicate" and "conflict", digest and
    received_at are those of the stored envelope, that is the first receipt.
    """

    status: str
    msg_id: str
    digest: bytes
    received_at: int


@dataclass(frozen=True)
class MailboxItem:
    """Delivery of an envelope to one recipient. seq orders deliveries of equal priority."""

    seq: int
    envelope: StoredEnvelope


class Storage(ABC):
    """Persistent state of the broker: directory, registrations, envelopes and mailboxes.

    Call open() before any other method and close() at the end, or use the object as an
    async context manager. Methods raise StorageError when the database fails, and
    ValueError when an argument is malformed.
    """

    async def __aenter__(self) -> Storage:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations, creating the database on first start.

        Raises SchemaTooNew when the database was migrated by newer code.
        """

    @abstractmethod
    async def close(self) -> None:
        """Write every submit already accepted, then stop the writer and disconnect.

        Submits made after close() started raise StorageError. Calling close() twice is harmless.
        """

    @abstractmethod
    async def health(self) -> None:
        """Raise StorageError if the database cannot be read or the writer has stopped."""

    @abstractmethod
    async def get_record(self, cp_id: str) -> StoredRecord | None:
        """Return the directory record of cp_id, or None if there is none."""

    @abstractmethod
    async def list_records(self) -> list[StoredRecord]:
        """Return every directory record, ordered by cp_id."""

    @abstractmethod
    async def add_registration(self, reg: StoredRegistration, *, replacement: bool = False) -> None:
        """Store a new pending registration.

        A rejected registration, or an approved one whose record is no longer active,
        is replaced. Raises Conflict if a registration for reg.cp_id is pending or if
        reg.cp_id has an active directory record (unless ``replacement``, a request for a
        new identity key), and ValueError if reg is not pending.
        """

    @abstractmethod
    async def get_registration(self, cp_id: str) -> StoredRegistration | None:
        """Return the registration of cp_id, or None if there is none."""

    @abstractmethod
    async def list_registrations(self, status: str | None = None) -> list[StoredRegistration]:
        """Return the registrations with the given status, or all when status is None, ordered by cp_id."""

    @abstractmethod
    async def submit(self, env: StoredEnvelope) -> SubmitResult:
        """Store an envelope and one mailbox delivery per recipient.

        Returns only after the rows are committed and synced to disk. A duplicate or
        conflicting msg_id stores nothing. Raises StorageError if the write failed, in
        which case nothing of the envelope was stored.
        """

    @abstractmethod
    async def fetch(self, recipient: str, *, limit: int = 100) -> list[MailboxItem]:
        """Return up to limit un-acknowledged deliveries to recipient that have not expired.

        An envelope has expired when its expires_at is not after the current time.
        Items are ordered by priority, highest first, then by seq. Raises ValueError if
        limit is below 1.
        """

    @abstractmethod
    async def ack(self, recipient: str, msg_id: str) -> bool:
        """Mark the delivery of msg_id to recipient as acknowledged.

        Returns True if an un-acknowledged delivery was acknowledged by this call, and
        False if the delivery is unknown or was already acknowledged.
        """

    @abstractmethod
    async def get_envelope(self, msg_id: str) -> StoredEnvelope | None:
        """Return the stored envelope with msg_id, or None if there is none."""
