"""Delivery: accept signed envelopes, queue them per recipient, hand them out, purge on ack."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from broker.errors import (BadRequest, ConflictError, Forbidden, NotFoundError, TooLarge,
                           Unprocessable, from_core)
from broker.services.directory import DirectoryService
from broker.storage import MailboxItem, Storage, StoredEnvelope
from keys.envelope import Envelope, parse_wire, verify
from keys.errors import EnlaceError
from keys.header import Header, parse_header

log = logging.getLogger("enlace.delivery")

MAX_CLOCK_SKEW = 300


@dataclass(frozen=True)
class Receipt:
    msg_id: str
    digest: bytes
    received_at: int
    duplicate: bool


class DeliveryService:
    def __init__(self, storage: Storage, directory: DirectoryService, *, max_envelope_bytes: int):
        self.storage = storage
        self.directory = directory
        self.max_envelope_bytes = max_envelope_bytes

    async def submit(self, caller: str, wire: object) -> Receipt:
        """Check an envelope end to end and store it durably for every recipient.

        Returns only once the envelope is committed; the same bytes submitted again
        return the first receipt.
        """
        envelope = self._parse(wire)
        header = await self._verify(caller, envelope)
        await self._check_recipients(header)

        now = int(time.time())
        if header.expires <= now:
            raise Unprocessable("expired", f"envelope expired at {header.expires}", value=header.expires)
        if header.created > now + MAX_CLOCK_SKEW:
            raise Unprocessable("created_in_future",
                                f"envelope creation time {header.created} is in the future; check the clock",
                                value=header.created)

        result = await self.storage.submit(_stored(envelope, header, now))
        if result.status == "conflict":
            raise ConflictError("message_id_conflict",
                                f"message id {header.id} was already used for a different envelope",
                                value=header.id)
        log.debug("envelope stored", extra={"msg_id": header.id, "sender": header.sender,
                                           "recipients": len(header.recipients),
                                           "duplicate": result.status == "duplicate"})
        return Receipt(result.msg_id, result.digest, result.received_at, result.status == "duplicate")

    def _parse(self, wire: object) -> Envelope:
        try:
            envelope = parse_wire(wire)
        except EnlaceError as exc:
            raise from_core(exc) from None

        size = len(envelope.header) + len(envelope.body)
        if size > self.max_envelope_bytes:
            raise TooLarge("too_large",
                           f"envelope is {size} bytes, more than the limit of {self.max_envelope_bytes}",
                           value=size)
        return envelope

    async def _verify(self, caller: str, envelope: Envelope) -> Header:
        try:
            header = parse_header(envelope.header)
        except EnlaceError as exc:
            raise from_core(exc) from None
        sender = header.sender
        if sender != caller:
            raise Forbidden("sender_mismatch",
                            f"envelope sender {sender} is not the authenticated caller {caller}",
                            value=sender)

        state = await self.directory.require_usable(sender, role="sender")
        try:
            return verify(envelope, state.identity_key, header=header)
        except EnlaceError as exc:
            raise from_core(exc) from None

    async def _check_recipients(self, header: Header) -> None:
        now = int(time.time())
        for entry in header.recipients:
            state = await self.directory.require_usable(entry.id, role="recipient")
            valid = {c.key_id for c in state.keys if c.valid_at(now)}
            if entry.key_id not in valid:
                raise Unprocessable("unknown_recipient_key",
                                    f"key {entry.key_id} is not a current encryption key of {entry.id}",
                                    value=entry.key_id)

    async def fetch(self, caller: str, limit: int) -> list[MailboxItem]:
        if not 1 <= limit <= 1000:
            raise BadRequest("bad_limit", f"limit must be between 1 and 1000, got {limit}", value=limit)
        return await self.storage.fetch(caller, limit=limit)

    async def ack(self, caller: str, msg_id: str) -> None:
        if not await self.storage.ack(caller, msg_id):
            raise NotFoundError("not_in_mailbox",
                                f"message {msg_id} is not waiting in the mailbox of {caller}",
                                value=msg_id)


def _stored(envelope: Envelope, header: Header, now: int) -> StoredEnvelope:
    return StoredEnvelope(
        msg_id=header.id, sender=header.sender, recipients=header.recipient_ids, kind=header.kind,
        priority=header.priority_rank, created_at=header.created, expires_at=header.expires,
        header=envelope.header, signature=envelope.signature, body=envelope.body,
        digest=envelope.digest, received_at=now)
