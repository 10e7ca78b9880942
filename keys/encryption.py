"""Encryption keys (X25519) and their certificates.

An encryption key is medium-term: its certificate, signed by the owner's identity
key, names the owner, the key and a validity period. Senders wrap content keys only
for a key whose certificate verifies and is valid now; an expired key can still open
mail that was wrapped for it while it was valid.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import nacl.bindings
import nacl.public

from keys import labels
from keys.encoding import b64decode, b64encode, canonical_json, check_fields, is_version_1, parse_canonical
from keys.errors import FormatError, SignatureError
from keys.identity import IdentityKey, key_id, verify

PUBLIC_KEY_SIZE = 32
DEFAULT_VALIDITY = 365 * 24 * 3600


class EncryptionKey:
    """An X25519 private key, kept only in the owner's keystore."""

    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise FormatError(f"encryption key must be exactly 32 bytes, got {len(secret)}")
        self._private = nacl.public.PrivateKey(secret)

    @classmethod
    def generate(cls) -> "EncryptionKey":
        return cls(bytes(nacl.public.PrivateKey.generate()))

    @property
    def secret(self) -> bytes:
        return bytes(self._private)

    @property
    def public_key(self) -> bytes:
        return bytes(self._private.public_key)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def __repr__(self) -> str:
        return f"EncryptionKey(key_id={self.key_id})"


def shared_secret(private: bytes, public: bytes) -> bytes:
    """X25519 Diffie-Hellman; an all-zero result (a low-order public key) is rejected."""
    if len(public) != PUBLIC_KEY_SIZE:
        raise FormatError(f"X25519 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public)}")

    try:
        shared = nacl.bindings.crypto_scalarmult(private, public)
    except RuntimeError:
        # libsodium returns an error for an all-zero output.
        raise FormatError("X25519 public key is of low order (all-zero shared secret)") from None

    if hmac.compare_digest(shared, bytes(32)):
        raise FormatError("X25519 public key is of low order (all-zero shared secret)")
    return shared


@dataclass(frozen=True)
class KeyCertificate:
    """A signed statement: ``owner`` uses ``public_key`` for encryption in [not_before, not_after)."""

    owner: str
    public_key: bytes
    identity_key_id: str
    not_before: int
    not_after: int
    cert: bytes
    signature: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def valid_at(self, when: int) -> bool:
        return self.not_before <= when < self.not_after

    def to_wire(self) -> dict:
        return {"cert": b64encode(self.cert), "signature": b64encode(self.signature)}


def certify(identity: IdentityKey, owner: str, key: EncryptionKey, *,
            not_before: int, not_after: int) -> KeyCertificate:
    """Sign a certificate for ``key`` with the owner's identity key."""
    if not_after <= not_before:
        raise FormatError("encryption key validity must end after it starts")

    body = {
        "v": 1,
        "owner": owner,
        "key_id": key.key_id,
        "public_key": b64encode(key.public_key),
        "identity_key_id": identity.key_id,
        "not_before": not_before,
        "not_after": not_after,
    }
    cert = canonical_json(body)
    signature = identity.sign(labels.SIG_ENCRYPTION_KEY, cert)
    return KeyCertificate(owner, key.public_key, identity.key_id, not_before, not_after, cert, signature)


def _int_field(body: dict, name: str) -> int:
    value = body.get(name)
    if type(value) is not int or value < 0:
        raise FormatError(f"encryption key certificate: {name} must be a non-negative integer")
    return value


def parse_certificate(wire: object, *, identity_public_key: bytes, owner: str) -> KeyCertificate:
    """Parse and verify a certificate against the owner's identity key.

    Raises FormatError for a malformed certificate and SignatureError when it was not
    signed by ``identity_public_key`` or names another owner.
    """
    check_fields(wire, {"cert", "signature"}, what="encryption key certificate")
    return verify_certificate(b64decode(wire["cert"], field="certificate"),
                              b64decode(wire["signature"], field="certificate signature"),
                              identity_public_key=identity_public_key, owner=owner)


def verify_certificate(cert: bytes, signature: bytes, *, identity_public_key: bytes,
                       owner: str) -> KeyCertificate:
    """Verify certificate bytes and their signature; see ``parse_certificate``."""
    verify(identity_public_key, labels.SIG_ENCRYPTION_KEY, cert, signature,
           what="encryption key certificate")

    body = parse_canonical(cert, what="encryption key certificate")
    expected = {"v", "owner", "key_id", "public_key", "identity_key_id", "not_before", "not_after"}
    if set(body) != expected or not is_version_1(body["v"]):
        raise FormatError("encryption key certificate has unknown or missing fields")

    public_key = b64decode(body["public_key"], field="encryption public key", size=PUBLIC_KEY_SIZE)
    if body["key_id"] != key_id(public_key) or body["identity_key_id"] != key_id(identity_public_key):
        raise FormatError("encryption key certificate: key ids do not match the keys")
    if body["owner"] != owner:
        raise SignatureError(f"encryption key certificate names {body['owner']!r}, not {owner!r}")

    return KeyCertificate(owner, public_key, body["identity_key_id"],
                          _int_field(body, "not_before"), _int_field(body, "not_after"),
                          cert, signature)


def current_certificate(certs: list[KeyCertificate], now: int) -> KeyCertificate | None:
    """The valid certificate that started last (the later one in ``certs`` on a tie), or None."""
    valid = [(cert.not_before, position, cert) for position, cert in enumerate(certs) if cert.valid_at(now)]
    return max(valid, key=lambda item: item[:2], default=(0, 0, None))[2]
