"""Identity keys (Ed25519), key ids and fingerprints.

An identity key signs envelopes, encryption-key certificates and requests. It is
never converted to X25519: encryption uses separate keys (keys.encryption).
"""

from __future__ import annotations

import functools

import nacl.exceptions
import nacl.signing

from keys import labels
from keys.encoding import digest
from keys.errors import FormatError, SignatureError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
FINGERPRINT_GROUPS = 8


@functools.lru_cache(maxsize=4096)
def key_id(public_key: bytes) -> str:
    """Short stable id of a public key: 32 lowercase hex characters."""
    return digest(public_key, labels.DIGEST_KEY_ID, 16).hex()


def fingerprint(public_key: bytes) -> str:
    """Fingerprint to read aloud: eight groups of five digits (about 132 bits).

    Each group is a 5-byte slice of a BLAKE2b digest taken modulo 100000, so two
    people can compare it digit by digit over the phone.
    """
    data = digest(public_key, labels.DIGEST_FINGERPRINT, 5 * FINGERPRINT_GROUPS)
    groups = []
    for i in range(FINGERPRINT_GROUPS):
        chunk = int.from_bytes(data[5 * i: 5 * i + 5], "big") % 100000
        groups.append(f"{chunk:05d}")
    return " ".join(groups)


class IdentityKey:
    """An Ed25519 signing key. Holding one means being able to speak for its owner."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise FormatError(f"identity key seed must be exactly 32 bytes, got {len(seed)}")
        self._signing = nacl.signing.SigningKey(seed)

    @classmethod
    def generate(cls) -> "IdentityKey":
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed; store only inside an encrypted keystore."""
        return bytes(self._signing)

    @property
    def public_key(self) -> bytes:
        return bytes(self._signing.verify_key)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, label: bytes, data: bytes) -> bytes:
        """Sign ``label || data``; ``label`` is one of keys.labels.SIG_*."""
        return self._signing.sign(label + data).signature

    def __repr__(self) -> str:
        return f"IdentityKey(key_id={self.key_id})"


def verify(public_key: bytes, label: bytes, data: bytes, signature: bytes, *, what: str) -> None:
    """Check an Ed25519 signature over ``label || data``; raise SignatureError naming ``what``."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise FormatError(f"{what}: public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public_key)}")
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"{what}: signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}")

    try:
        nacl.signing.VerifyKey(public_key).verify(label + data, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        raise SignatureError(f"{what}: signature does not verify", value=what) from None
