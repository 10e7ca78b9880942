"""The transparency log as the broker keeps it: entries on disk, tree and state in memory.

At start the broker reads every entry, rebuilds the Merkle tree and folds the
entries into the directory state (keys.directory), so that the state it enforces is
exactly what the log says. Appends are serialised by a lock; each one is checked by
folding it into the state before it is committed, and rolled back from memory if the
commit fails.

NOTE: the in-memory tree and state assume one broker process per database. Several
nodes on one PostgreSQL database would each have to read new entries before serving.
"""

from __future__ import annotations

import asyncio
import logging
import time

from broker.storage import Storage, StoredLogEntry, StoredRecord
from keys.directory import ContactState, Directory
from keys.errors import EnlaceError
from keys.identity import IdentityKey
from keys.log import LogEntry, TreeHead, make_entry, parse_entry, sign_head
from keys.merkle import MerkleTree, leaf_hash
from keys.records import SignedDocument

log = logging.getLogger("enlace.log")


class WrongRootKey(Exception):
    """The stored log does not verify at all with the configured Secretariat key."""


class TransparencyLog:
    def __init__(self, storage: Storage, root_public_key: bytes, log_key: IdentityKey):
        self.storage = storage
        self.log_key = log_key
        self.directory = Directory(root_public_key)
        self.tree = MerkleTree()
        # Ids of every contact point whose record ever had the national administrator
        # role, so the rules need not scan the whole directory for them.
        self.admin_ids: set[str] = set()
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Rebuild tree and state from the stored entries; report entries that do not verify."""
        size = await self.storage.log_size()
        for start in range(0, size, 1000):
            for row in await self.storage.read_log(start, min(size, start + 1000)):
                self.tree.append(row.leaf_hash)
                self._fold_stored(row)
        log.info("log loaded", extra={"tree_size": self.tree.size, "contacts": len(self.directory.contacts)})
        if self.tree.size and not self.directory.contacts:
            raise WrongRootKey(f"none of the {self.tree.size} log entries verifies with the configured "
                               "Secretariat key")

    def _fold_stored(self, row: StoredLogEntry) -> None:
        """Fold one stored entry; an entry edited behind the broker's back is left out and logged."""
        if leaf_hash(row.entry) != row.leaf_hash:
            log.error("stored log entry does not match its leaf hash; the database was modified",
                      extra={"seq": row.seq, "cp_id": row.cp_id})
            return
        try:
            self._note_role(self.directory.apply(row.seq, parse_entry(row.entry)))
        except EnlaceError as exc:
            log.error("stored log entry does not verify", extra={"seq": row.seq, "cp_id": row.cp_id,
                                                                 "error": exc.message})

    def head(self) -> TreeHead:
        return sign_head(self.log_key, self.tree.size, self.tree.root(), int(time.time()))

    def state(self, cp_id: str) -> ContactState | None:
        return self.directory.contacts.get(cp_id)

    async def append(self, entry_type: str, cp_id: str, signed: SignedDocument, **decisions) -> ContactState:
        """Check one change against the state, then commit it with its decisions.

        Raises the shared core's errors when the change does not verify, and storage
        errors when the commit fails; in both cases nothing changes.
        """
        async with self._lock:
            entry = make_entry(entry_type, cp_id, signed.document, signed.signature, int(time.time()))
            previous = self.directory.contacts.get(cp_id)
            seq = self.tree.size
            state = self.directory.apply(seq, entry)
            self._note_role(state)
            try:
                await self.storage.commit_change(log_entry=_stored(seq, entry), record=_record_row(state),
                                                 **decisions)
            except BaseException:
                self._restore(cp_id, previous)
                raise
            self.tree.append(entry.leaf_hash)
        log.info("log entry appended", extra={"seq": seq, "type": entry_type, "cp_id": cp_id})
        return state

    def _note_role(self, state: ContactState) -> None:
        if state.record.profile.role == "national-admin":
            self.admin_ids.add(state.cp_id)

    def _restore(self, cp_id: str, previous: ContactState | None) -> None:
        if previous is None:
            self.directory.contacts.pop(cp_id, None)
        else:
            self.directory.contacts[cp_id] = previous

    def supporting_indexes(self, state: ContactState) -> list[int]:
        """Indexes a client needs to check ``state``: its own entries and those of every
        national administrator who ever signed one of its revocations, transitively."""
        indexes: set[int] = set()
        pending, seen = [state.cp_id], set()
        while pending:
            cp_id = pending.pop()
            current = self.directory.contacts.get(cp_id)
            if cp_id in seen or current is None:
                continue
            seen.add(cp_id)
            indexes |= set(current.indexes)
            pending += [signer for signer in current.revokers if signer != cp_id]
        return sorted(indexes)


def _stored(seq: int, entry: LogEntry) -> StoredLogEntry:
    return StoredLogEntry(seq, entry.cp_id, entry.type, entry.raw, entry.leaf_hash, entry.appended_at)


def _record_row(state: ContactState) -> StoredRecord:
    record = state.record
    return StoredRecord(cp_id=state.cp_id, country=record.profile.country, status=state.status,
                        identity_key=record.identity_key, record=record.signed.document,
                        signature=record.signed.signature, updated_at=int(time.time()))

