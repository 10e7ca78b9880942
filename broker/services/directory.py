"""The directory: registrations, the Secretariat's decisions and record look-ups.

The broker never holds the Secretariat root key. It checks that every approval and
rejection it stores verifies against the configured Secretariat public key, and it
serves records exactly as signed, so a client can verify them independently.
"""

from __future__ import annotations

import logging
import time

from broker.errors import ConflictError, Forbidden, NotFoundError, Unprocessable, from_core
from broker.storage import Conflict, NotFound, Storage, StoredRecord, StoredRegistration
from keys.encoding import b64encode
from keys.errors import EnlaceError
from keys.records import (DirectoryRecord, SignedDocument, parse_record, parse_registration,
                          parse_rejection)

log = logging.getLogger("enlace.directory")


class DirectoryService:
    def __init__(self, storage: Storage, root_public_key: bytes):
        self.storage = storage
        self.root_public_key = root_public_key
        # NOTE: a per-process cache of parsed records; with several broker nodes an
        # approval on one node must invalidate the others (not needed for SQLite).
        self._records: dict[str, DirectoryRecord] = {}

    async def record(self, cp_id: str) -> DirectoryRecord | None:
        """The verified record of ``cp_id``, or None when the directory has none."""
        cached = self._records.get(cp_id)
        if cached is not None:
            return cached

        stored = await self.storage.get_record(cp_id)
        if stored is None:
            return None
        try:
            record = parse_record(SignedDocument(stored.record, stored.signature), self.root_public_key)
        except EnlaceError as exc:
            log.error("stored record does not verify", extra={"cp_id": cp_id, "error": exc.message})
            return None
        self._records[cp_id] = record
        return record

    async def list_records(self) -> list[StoredRecord]:
        return await self.storage.list_records()

    async def submit_registration(self, signed: SignedDocument) -> StoredRegistration:
        """Store a self-signed registration request as pending."""
        try:
            registration = parse_registration(signed)
        except EnlaceError as exc:
            raise from_core(exc) from None

        profile = registration.profile
        stored = StoredRegistration(
            cp_id=profile.id, country=profile.country, identity_key=registration.identity_key,
            request=signed.document, signature=signed.signature, status="pending", reason=None,
            decision=None, decision_signature=None, created_at=int(time.time()), decided_at=None)
        try:
            await self.storage.add_registration(stored)
        except Conflict as exc:
            raise ConflictError("registration_exists", str(exc), value=profile.id) from None

        log.info("registration received", extra={"cp_id": profile.id})
        return stored

    async def registration(self, cp_id: str) -> StoredRegistration:
        stored = await self.storage.get_registration(cp_id)
        if stored is None:
            raise NotFoundError("registration_not_found",
                                f"no registration request for {cp_id}", value=cp_id)
        return stored

    async def pending(self) -> list[StoredRegistration]:
        return await self.storage.list_registrations("pending")

    async def approve(self, cp_id: str, signed: SignedDocument) -> StoredRecord:
        """Store the Secretariat-signed record that approves the pending request of ``cp_id``."""
        stored = await self._pending(cp_id)
        registration = parse_registration(SignedDocument(stored.request, stored.signature))
        record = self._verified_record(signed)
        _check_record_matches(record, registration.profile.id, stored, registration.signed.digest)

        now = int(time.time())
        row = StoredRecord(cp_id=cp_id, country=record.profile.country, status=record.status,
                           identity_key=record.identity_key, record=signed.document,
                           signature=signed.signature, updated_at=now)
        await self._decide(cp_id, "approved", None, signed, now, row)
        self._records.pop(cp_id, None)
        log.info("registration approved", extra={"cp_id": cp_id})
        return row

    async def reject(self, cp_id: str, signed: SignedDocument) -> StoredRegistration:
        """Store the Secretariat-signed rejection of the pending request of ``cp_id``."""
        stored = await self._pending(cp_id)
        try:
            body = parse_rejection(signed, self.root_public_key)
        except EnlaceError as exc:
            raise Unprocessable("bad_signature" if exc.code == "bad_signature" else exc.code,
                                "rejection is not signed by the Secretariat key: " + exc.message,
                                value=cp_id) from None
        registration_digest = SignedDocument(stored.request, stored.signature).digest
        if body["id"] != cp_id or body["request_digest"] != b64encode(registration_digest):
            raise Unprocessable("decision_mismatch",
                                f"rejection does not refer to the pending request of {cp_id}",
                                value=cp_id)

        await self._decide(cp_id, "rejected", body["reason"], signed, int(time.time()), None)
        log.info("registration rejected", extra={"cp_id": cp_id})
        return await self.registration(cp_id)

    async def _pending(self, cp_id: str) -> StoredRegistration:
        stored = await self.registration(cp_id)
        if stored.status != "pending":
            raise ConflictError("registration_not_pending",
                                f"the registration of {cp_id} is already {stored.status}",
                                value=cp_id)
        return stored

    def _verified_record(self, signed: SignedDocument) -> DirectoryRecord:
        try:
            return parse_record(signed, self.root_public_key)
        except EnlaceError as exc:
            if exc.code == "bad_signature":
                raise Unprocessable("bad_signature",
                                    "approval is not signed by the Secretariat key", value=None) from None
            raise from_core(exc) from None

    async def _decide(self, cp_id, status, reason, signed, now, row) -> None:
        try:
            await self.storage.decide_registration(
                cp_id, status=status, reason=reason, decision=signed.document,
                decision_signature=signed.signature, decided_at=now, record=row)
        except NotFound:
            raise NotFoundError("registration_not_found",
                                f"no registration request for {cp_id}", value=cp_id) from None
        except Conflict as exc:
            raise ConflictError("registration_not_pending", str(exc), value=cp_id) from None

    async def require_usable(self, cp_id: str, *, role: str) -> DirectoryRecord:
        """The record of an active contact point, or an error that says which role failed."""
        record = await self.record(cp_id)
        if record is not None and record.usable_at(int(time.time())):
            return record

        registration = await self.storage.get_registration(cp_id)
        if record is None and registration is None:
            code = "unknown_sender" if role == "sender" else "unknown_recipient"
            raise Unprocessable(code, f"{role} {cp_id} is not in the directory", value=cp_id)
        raise Forbidden(f"{role}_not_approved",
                        f"{role} {cp_id} is not an approved, active contact point", value=cp_id)


def _check_record_matches(record: DirectoryRecord, cp_id: str, stored: StoredRegistration,
                          request_digest: bytes) -> None:
    """An approval must sign exactly the identity key and request that are pending."""
    if record.cp_id != cp_id:
        raise Unprocessable("decision_mismatch",
                            f"approval is for {record.cp_id}, not {cp_id}", value=record.cp_id)
    if record.identity_key != stored.identity_key or record.request_digest != request_digest:
        raise Unprocessable("decision_mismatch",
                            f"approval does not match the pending request of {cp_id}", value=cp_id)
    if record.status != "active":
        raise Unprocessable("decision_mismatch", "an approval must be an active record", value=cp_id)
