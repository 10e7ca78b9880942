"""Storage interface of the transparency log, proposals and member states.

Kept beside base.Storage so that each file stays readable; every backend implements
both. Every directory change is committed by ``commit_change`` in one transaction:
the log entry, the current-record row, and the registration or proposal decision
that caused it, so no change is ever half-written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from .base import DECISION_STATUSES, StoredRecord

PROPOSAL_STATUSES = ("pending", "approved", "rejected")


@dataclass(frozen=True)
class StoredLogEntry:
    """One leaf of the log: ``seq`` is its 0-based index."""

    seq: int
    cp_id: str
    type: str
    entry: bytes
    leaf_hash: bytes
    appended_at: int


@dataclass(frozen=True)
class StoredProposal:
    proposal_id: int | None
    cp_id: str
    action: str
    proposer: str
    document: bytes
    signature: bytes
    status: str
    reason: str | None
    flags: str
    created_at: int
    decided_at: int | None


@dataclass(frozen=True)
class RegistrationDecision:
    cp_id: str
    status: str
    reason: str | None
    decision: bytes
    decision_signature: bytes
    decided_at: int


@dataclass(frozen=True)
class ProposalDecision:
    proposal_id: int
    status: str
    reason: str | None
    decided_at: int


class LogStorage(ABC):
    @abstractmethod
    async def log_size(self) -> int:
        """Number of entries in the log."""

    @abstractmethod
    async def read_log(self, start: int, end: int) -> list[StoredLogEntry]:
        """Entries with start <= seq < end, in order."""

    @abstractmethod
    async def read_log_seqs(self, seqs: list[int]) -> list[StoredLogEntry]:
        """The entries with these seqs, in seq order."""

    @abstractmethod
    async def commit_change(self, *, log_entry: StoredLogEntry | None = None,
                            record: StoredRecord | None = None,
                            registration: RegistrationDecision | None = None,
                            proposal: ProposalDecision | None = None) -> None:
        """Apply one directory change atomically.

        Raises Conflict when ``log_entry.seq`` is not the next index (another writer
        appended first), or when the registration or proposal is no longer pending, and
        NotFound when either does not exist. Nothing is written then.
        """

    async def decide_registration(
        self,
        cp_id: str,
        *,
        status: str,
        reason: str | None,
        decision: bytes,
        decision_signature: bytes,
        decided_at: int,
        record: StoredRecord | None,
    ) -> None:
        """Record the Secretariat's decision on a pending registration in one transaction.

        status is "approved" or "rejected". When record is given, the same transaction
        inserts it into the directory or replaces the record of that cp_id.
        Raises NotFound if cp_id has no registration, Conflict if it is not pending, and
        ValueError on another status or a record for another cp_id.
        """
        if status not in DECISION_STATUSES:
            raise ValueError(f"invalid decision {status!r} for {cp_id!r}: expected one of {DECISION_STATUSES}")
        if record is not None and record.cp_id != cp_id:
            raise ValueError(f"directory record for {record.cp_id!r} given with the decision on {cp_id!r}")

        await self.commit_change(
            record=record,
            registration=RegistrationDecision(cp_id, status, reason, decision, decision_signature, decided_at))

    @abstractmethod
    async def add_proposal(self, proposal: StoredProposal) -> int:
        """Store a pending proposal and return its id."""

    @abstractmethod
    async def get_proposal(self, proposal_id: int) -> StoredProposal | None: ...

    @abstractmethod
    async def list_proposals(self, status: str | None = None,
                             cp_id: str | None = None) -> list[StoredProposal]:
        """Proposals, optionally of one status or one contact point, oldest first."""

    @abstractmethod
    async def seed_member_states(self, states: list[dict]) -> None:
        """Insert or update the member states from the shipped data file."""

    @abstractmethod
    async def member_states(self) -> list[dict]: ...
