"""The directory as the transparency log defines it.

``Directory.apply`` folds log entries, in log order, into the state of every
contact point, checking each entry's signature against keys that earlier entries
established: records against the Secretariat root key, encryption-key certificates
against the contact point's identity key, revocations against the key of whoever
had the right (the contact point itself, a national administrator of its state, or
the Secretariat). The broker, a client checking one contact point, and an auditor
replaying the whole log all run this same code, so they agree on what the log means.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from keys import labels
from keys.changes import Revocation, parse_revocation
from keys.encryption import KeyCertificate, current_certificate, verify_certificate
from keys.errors import FormatError, SignatureError
from keys.identity import key_id, verify
from keys.ids import country_of
from keys.log import LogEntry
from keys.records import DirectoryRecord, SignedDocument, parse_record
from keys.requests import SECRETARIAT

EXPIRY_WARNING = 30 * 24 * 3600


@dataclass(frozen=True)
class ContactState:
    """The state of one contact point that the log defines now."""

    record: DirectoryRecord
    keys: tuple[KeyCertificate, ...]
    revocation: Revocation | None = None
    indexes: tuple[int, ...] = field(default=())
    revokers: tuple[str, ...] = field(default=())
    # Identity keys this contact point had before, each with the time it was replaced.
    previous_identities: tuple[tuple[bytes, int], ...] = field(default=())

    @property
    def cp_id(self) -> str:
        return self.record.cp_id

    @property
    def identity_key(self) -> bytes:
        return self.record.identity_key

    @property
    def status(self) -> str:
        return "revoked" if self.revocation is not None or self.record.status == "revoked" else "active"

    def usable_at(self, when: int) -> bool:
        return self.revocation is None and self.record.usable_at(when)

    def current_key(self, when: int) -> KeyCertificate | None:
        return current_certificate(list(self.keys), when)

    def identity_key_for(self, key_id_: str, created: int) -> bytes | None:
        """The identity key with ``key_id_`` that was current at ``created``, or None.

        A message signed by a replaced key opens only if it was created no later than the
        replacement.
        """
        if key_id(self.identity_key) == key_id_:
            return self.identity_key
        for key, replaced_at in self.previous_identities:
            if key_id(key) == key_id_ and created <= replaced_at:
                return key
        return None

    def revoked_before(self, when: int) -> bool:
        """True when a message created at ``when`` was signed after the key was revoked."""
        return self.revocation is not None and when >= self.revocation.revoked_at


class Directory:
    def __init__(self, root_public_key: bytes):
        self.root_public_key = root_public_key
        self.contacts: dict[str, ContactState] = {}

    def apply(self, index: int, entry: LogEntry) -> ContactState:
        """Fold one entry in; raise FormatError or SignatureError if it is not valid here."""
        signed = SignedDocument(entry.document, entry.signature)
        handler = {"record": self._record, "encryption-key": self._key,
                   "revocation": self._revocation}[entry.type]
        state = handler(entry.cp_id, signed)
        state = replace(state, indexes=(*state.indexes, index))
        self.contacts[entry.cp_id] = state
        return state

    def _existing(self, cp_id: str, what: str) -> ContactState:
        state = self.contacts.get(cp_id)
        if state is None:
            raise FormatError(f"{what} for {cp_id}, which has no record earlier in the log", value=cp_id)
        return state

    def _record(self, cp_id: str, signed: SignedDocument) -> ContactState:
        record = parse_record(signed, self.root_public_key)
        if record.cp_id != cp_id:
            raise FormatError(f"log entry for {cp_id} contains the record of {record.cp_id}", value=cp_id)

        previous = self.contacts.get(cp_id)
        if previous is None:
            return ContactState(record, record.certificates)
        if record.serial <= previous.record.serial:
            raise FormatError(f"record serial {record.serial} of {cp_id} does not increase "
                              f"(previous {previous.record.serial})", value=cp_id)
        if record.identity_key != previous.identity_key:
            history = (*previous.previous_identities, (previous.identity_key, record.approved_at))
            return ContactState(record, record.certificates, None, previous.indexes, previous.revokers, history)
        listed = {c.key_id for c in record.certificates}
        rotated = tuple(c for c in previous.keys if c.key_id not in listed)
        return replace(previous, record=record, keys=record.certificates + rotated)

    def _key(self, cp_id: str, signed: SignedDocument) -> ContactState:
        state = self._existing(cp_id, "encryption key")
        if state.status != "active":
            raise FormatError(f"encryption key for {cp_id}, which is revoked", value=cp_id)
        certificate = verify_certificate(signed.document, signed.signature,
                                         identity_public_key=state.identity_key, owner=cp_id)
        if any(c.key_id == certificate.key_id for c in state.keys):
            raise FormatError(f"encryption key {certificate.key_id} of {cp_id} is already listed", value=cp_id)
        return replace(state, keys=(*state.keys, certificate))

    def _revocation(self, cp_id: str, signed: SignedDocument) -> ContactState:
        state = self._existing(cp_id, "revocation")
        revocation = parse_revocation(signed)
        if revocation.cp_id != cp_id or revocation.identity_key_id != key_id(state.identity_key):
            raise FormatError(f"revocation does not name the current identity key of {cp_id}", value=cp_id)
        if state.revocation is not None:
            raise FormatError(f"{cp_id} is already revoked", value=cp_id, code="already_revoked")

        verify(self.signer_key(revocation.signer, cp_id), labels.SIG_REVOCATION, signed.document,
               signed.signature, what="revocation")
        return replace(state, revocation=revocation, revokers=(*state.revokers, revocation.signer))

    def signer_key(self, signer: str, cp_id: str) -> bytes:
        """Return the key that may sign a change of ``cp_id`` as ``signer``; raise SignatureError otherwise."""
        if signer == SECRETARIAT:
            return self.root_public_key
        if signer == cp_id:
            return self._existing(cp_id, "change").identity_key

        admin = self.contacts.get(signer)
        if (admin is None or admin.record.profile.role != "national-admin" or admin.status != "active"
                or country_of(signer) != country_of(cp_id)):
            raise SignatureError(f"{signer} is not a national administrator of {country_of(cp_id)}",
                                 value=signer, code="not_authorized")
        return admin.identity_key
