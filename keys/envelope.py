"""Envelope v1: seal, verify and open.

An envelope is three byte strings: the header (canonical JSON, signed), the
signature, and the body (XChaCha20-Poly1305 ciphertext). docs/PROTOCOL.md specifies
each byte; this module is its reference implementation. The broker calls
``parse_wire`` and ``verify``; only a recipient holding the right encryption key can
call ``open_envelope``.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Callable

import nacl.bindings
import nacl.exceptions
import nacl.utils

from keys import labels
from keys.encoding import b64decode, b64encode, canonical_json, check_fields, digest, is_version_1, parse_canonical
from keys.encryption import PUBLIC_KEY_SIZE, EncryptionKey, shared_secret
from keys.errors import DecryptError, FormatError, MismatchError, NotForThisKey, SignatureError
from keys.header import BODY_ENCODING, Header, parse_header
from keys.identity import IdentityKey, key_id, verify as verify_signature

CONTENT_KEY_SIZE = 32
NONCE_SIZE = 24
TAG_SIZE = 16
WRAP_SIZE = CONTENT_KEY_SIZE + TAG_SIZE
DEFAULT_TTL = 30 * 24 * 3600
WRAP_NONCE = bytes(NONCE_SIZE)

_encrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_decrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt


@dataclass(frozen=True)
class RecipientKey:
    """Recipient of a content-key wrap: a contact point and its current encryption key."""

    cp_id: str
    key_id: str
    public_key: bytes


@dataclass(frozen=True)
class Envelope:
    header: bytes
    signature: bytes
    body: bytes

    @property
    def digest(self) -> bytes:
        """Identifies these exact bytes; two envelopes are the same iff digests match."""
        parts = b"".join(len(p).to_bytes(8, "big") + p for p in (self.header, self.signature, self.body))
        return digest(parts, labels.DIGEST_ENVELOPE)

    def to_wire(self) -> dict:
        return {"v": 1, "header": b64encode(self.header),
                "signature": b64encode(self.signature), "body": b64encode(self.body)}


def parse_wire(wire: object) -> Envelope:
    """Decode the JSON form of an envelope; the header is parsed later by ``verify``."""
    check_fields(wire, {"v", "header", "signature", "body"}, what="envelope")
    if not is_version_1(wire["v"]):
        raise FormatError(f"envelope version {wire['v']!r} is not supported (expected 1)",
                          value=wire["v"], code="unsupported_version")

    return Envelope(
        header=b64decode(wire["header"], field="header"),
        signature=b64decode(wire["signature"], field="signature", size=64),
        body=b64decode(wire["body"], field="body"),
    )


def header_core_digest(header: dict) -> bytes:
    """Digest of the header without the wraps: what every wrap is bound to."""
    core = dict(header)
    core["recipients"] = [{k: v for k, v in r.items() if k != "wrap"} for r in header["recipients"]]
    return digest(canonical_json(core), labels.DIGEST_HEADER_CORE)


def _wrap_key(shared: bytes, epk: bytes, recipient_public: bytes) -> bytes:
    return digest(shared + epk + recipient_public, labels.KDF_WRAP_KEY)


def _wrap_ad(core_digest: bytes, recipient_id: str) -> bytes:
    return core_digest + recipient_id.encode("ascii")


def _body_ad(msg_id: str, sender: str) -> bytes:
    return labels.AD_BODY + bytes.fromhex(msg_id) + sender.encode("ascii")


def seal(identity: IdentityKey, sender: str, recipients: list[RecipientKey], *,
         kind: str, priority: str, content: dict, msg_id: str | None = None,
         created: int | None = None, expires: int | None = None,
         random: Callable[[int], bytes] = nacl.utils.random) -> Envelope:
    """Encrypt ``content`` for ``recipients`` and sign the header as ``sender``.

    ``random`` exists so that test vectors can be reproduced; never pass anything but
    a CSPRNG outside tests.
    """
    created = int(time.time()) if created is None else created
    msg_id = random(16).hex() if msg_id is None else msg_id
    content_key = random(CONTENT_KEY_SIZE)
    ephemerals = [EncryptionKey(random(32)) for _ in recipients]

    inner = {"v": 1, "id": msg_id, "sender": sender, "kind": kind,
             "recipients": [r.cp_id for r in recipients], "content": content}
    nonce = random(NONCE_SIZE)
    body = nonce + _encrypt(canonical_json(inner), _body_ad(msg_id, sender), nonce, content_key)

    header = {
        "v": 1, "id": msg_id, "sender": sender, "sender_key": identity.key_id,
        "created": created, "expires": created + DEFAULT_TTL if expires is None else expires,
        "kind": kind, "priority": priority, "body_encoding": BODY_ENCODING,
        "body_size": len(body), "body_digest": b64encode(digest(body, labels.DIGEST_BODY)),
        "recipients": [{"id": r.cp_id, "key_id": r.key_id, "epk": b64encode(e.public_key)}
                       for r, e in zip(recipients, ephemerals)],
    }

    core = header_core_digest(header)
    for entry, recipient, ephemeral in zip(header["recipients"], recipients, ephemerals):
        key = _wrap_key(shared_secret(ephemeral.secret, recipient.public_key),
                        ephemeral.public_key, recipient.public_key)
        entry["wrap"] = b64encode(_encrypt(content_key, _wrap_ad(core, recipient.cp_id), WRAP_NONCE, key))

    header_bytes = canonical_json(header)
    parse_header(header_bytes)
    return Envelope(header_bytes, identity.sign(labels.SIG_ENVELOPE_HEADER, header_bytes), body)


def verify(envelope: Envelope, sender_public_key: bytes, *, header: Header | None = None) -> Header:
    """Check the header's form, the sender's signature and the body digest.

    This is all the broker can check; it never sees the content key. ``header`` may
    be passed when the caller already parsed ``envelope.header``.
    """
    header = parse_header(envelope.header) if header is None else header
    if header.sender_key != key_id(sender_public_key):
        raise SignatureError(f"envelope was signed with key {header.sender_key}, not the sender's "
                             f"registered identity key {key_id(sender_public_key)}",
                             value=header.sender_key)

    verify_signature(sender_public_key, labels.SIG_ENVELOPE_HEADER, envelope.header,
                     envelope.signature, what="envelope header")

    if header.body_size != len(envelope.body):
        raise FormatError(f"body is {len(envelope.body)} bytes but the signed header gives {header.body_size}",
                          code="body_mismatch")
    for entry in header.recipients:
        b64decode(entry.epk, field=f"epk of {entry.id}", size=PUBLIC_KEY_SIZE)
        b64decode(entry.wrap, field=f"wrap of {entry.id}", size=WRAP_SIZE)

    expected = b64decode(header.body_digest, field="body_digest", size=32)
    if not hmac.compare_digest(expected, digest(envelope.body, labels.DIGEST_BODY)):
        raise FormatError("body digest does not match the signed header", code="body_mismatch")
    return header


def _unwrap(header: Header, recipient_id: str, keys: dict[str, EncryptionKey]) -> bytes:
    entry = next((r for r in header.recipients if r.id == recipient_id), None)
    if entry is None:
        raise NotForThisKey(f"{recipient_id} is not a recipient of this envelope", value=recipient_id)
    key = keys.get(entry.key_id)
    if key is None:
        raise NotForThisKey(f"no local encryption key with id {entry.key_id}", value=entry.key_id)

    wrap = b64decode(entry.wrap, field="wrap")
    if len(wrap) != WRAP_SIZE:
        raise DecryptError(f"wrapped key must be {WRAP_SIZE} bytes, got {len(wrap)}")
    epk = b64decode(entry.epk, field="epk", size=PUBLIC_KEY_SIZE)

    wrap_key = _wrap_key(shared_secret(key.secret, epk), epk, key.public_key)
    ad = _wrap_ad(header_core_digest(header.raw), recipient_id)
    try:
        return _decrypt(wrap, ad, WRAP_NONCE, wrap_key)
    except nacl.exceptions.CryptoError:
        raise DecryptError("wrapped content key does not open for this recipient") from None


def open_envelope(envelope: Envelope, header: Header, recipient_id: str,
                  keys: dict[str, EncryptionKey]) -> dict:
    """Decrypt a verified envelope for ``recipient_id``; return the inner body.

    ``header`` must come from ``verify`` on the same envelope. Rejects an inner body
    whose id, sender, kind or recipient list differs from the signed header.
    """
    content_key = _unwrap(header, recipient_id, keys)

    if len(envelope.body) < NONCE_SIZE + TAG_SIZE:
        raise DecryptError("body is too short to hold a nonce and a tag")
    nonce, ciphertext = envelope.body[:NONCE_SIZE], envelope.body[NONCE_SIZE:]
    try:
        plaintext = _decrypt(ciphertext, _body_ad(header.id, header.sender), nonce, content_key)
    except nacl.exceptions.CryptoError:
        raise DecryptError("body does not open with the content key") from None

    inner = parse_canonical(plaintext, what="sealed body")
    _check_inner(inner, header)
    return inner


def _check_inner(inner: dict, header: Header) -> None:
    if set(inner) != {"v", "id", "sender", "kind", "recipients", "content"} or not is_version_1(inner["v"]):
        raise FormatError("sealed body has unknown or missing fields")

    outer_recipients = [r.id for r in header.recipients]
    for field, outer in (("id", header.id), ("sender", header.sender), ("kind", header.kind),
                         ("recipients", outer_recipients)):
        if inner[field] != outer:
            raise MismatchError(
                f"sealed body {field} {inner[field]!r} differs from the signed header {outer!r}",
                value=field)
    if not isinstance(inner["content"], dict):
        raise FormatError("sealed body content must be a JSON object")
