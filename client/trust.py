"""Checking what the broker serves against the pinned Secretariat key.

Nothing from the broker is used before it verifies: a directory record must carry
the Secretariat's signature, and an envelope must carry the signature of the
identity key in the sender's verified record.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.api import ApiFailure, BrokerClient
from client.errors import TrustError
from i18n import _
from keys.envelope import Envelope, open_envelope, parse_wire, verify
from keys.errors import EnlaceError
from keys.header import Header, parse_header
from keys.identity import fingerprint
from keys.keystore import KeyMaterial
from keys.records import DirectoryRecord, SignedDocument, parse_record


async def verified_record(api: BrokerClient, root_public_key: bytes, cp_id: str) -> DirectoryRecord:
    """Fetch ``cp_id``'s record and verify it against the pinned Secretariat key."""
    answer = await api.directory_entry(cp_id)
    return check_record(answer, root_public_key, cp_id)


def check_record(answer: dict, root_public_key: bytes, cp_id: str) -> DirectoryRecord:
    try:
        record = parse_record(SignedDocument.from_wire(answer.get("record"), what="record"),
                              root_public_key)
    except EnlaceError as exc:
        raise TrustError(_("the directory record of {cp_id} does not verify against the pinned "
                           "Secretariat key ({reason}); do not use it").format(cp_id=cp_id,
                                                                               reason=exc.message),
                         hint=_("report this to the Secretariat")) from None
    if record.cp_id != cp_id:
        raise TrustError(_("the broker served the record of {other} when asked for {cp_id}").format(
            other=record.cp_id, cp_id=cp_id))
    return record


@dataclass(frozen=True)
class OpenedMessage:
    header: Header
    inner: dict
    sender_record: DirectoryRecord
    sender_fingerprint: str


async def open_received(api: BrokerClient, root_public_key: bytes, material: KeyMaterial,
                        wire: dict) -> OpenedMessage:
    """Verify and decrypt an envelope addressed to ``material.owner``.

    Raises TrustError, saying why, when the sender's record, the signature, the
    encryption or the inner copy of the header does not check out.
    """
    try:
        envelope: Envelope = parse_wire(wire)
        sender = parse_header(envelope.header).sender
    except EnlaceError as exc:
        raise TrustError(_("the envelope is malformed: {reason}").format(reason=exc.message)) from None

    try:
        record = await verified_record(api, root_public_key, sender)
    except ApiFailure as exc:
        if exc.code != "not_found":
            raise
        raise TrustError(_("the sender {cp_id} is not in the directory; the message cannot be "
                           "verified").format(cp_id=sender)) from None

    try:
        header = verify(envelope, record.identity_key)
        inner = open_envelope(envelope, header, material.owner, material.by_key_id())
    except EnlaceError as exc:
        raise TrustError(_("message rejected: {reason}").format(reason=exc.message)) from None
    return OpenedMessage(header, inner, record, fingerprint(record.identity_key))

