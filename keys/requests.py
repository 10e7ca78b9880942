"""Signed HTTP requests: the bytes a caller signs and the broker checks.

Every authenticated request carries five headers:

    Enlace-Caller     contact point id, or "secretariat"
    Enlace-Key        key id of the identity key that signed
    Enlace-Timestamp  unix seconds when the request was signed
    Enlace-Nonce      32 random hex characters, never reused
    Enlace-Signature  base64url Ed25519 signature

The signature covers SIG_REQUEST || canonical JSON of the method, the path with
its query string, those header values and the BLAKE2b digest of the body, so that
nothing about the request can change without breaking it.
"""

from __future__ import annotations

import re
import time

import nacl.utils

from keys import labels
from keys.encoding import b64encode, canonical_json, digest
from keys.identity import IdentityKey

HEADER_CALLER = "Enlace-Caller"
HEADER_KEY = "Enlace-Key"
HEADER_TIMESTAMP = "Enlace-Timestamp"
HEADER_NONCE = "Enlace-Nonce"
HEADER_SIGNATURE = "Enlace-Signature"
SECRETARIAT = "secretariat"
NONCE_PATTERN = re.compile(r"^[0-9a-f]{32}$")


def signed_bytes(*, method: str, path: str, caller: str, key_id: str, timestamp: int,
                 nonce: str, body: bytes) -> bytes:
    """The exact bytes (after the label) that a request signature covers."""
    return canonical_json({
        "method": method.upper(), "path": path, "caller": caller, "key_id": key_id,
        "timestamp": timestamp, "nonce": nonce,
        "body_digest": b64encode(digest(body, labels.DIGEST_REQUEST_BODY)),
    })


def sign_request(identity: IdentityKey, caller: str, method: str, path: str, body: bytes,
                 *, now: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """Return the authentication headers for one request; never reuse them."""
    timestamp = int(time.time()) if now is None else now
    nonce = nacl.utils.random(16).hex() if nonce is None else nonce
    data = signed_bytes(method=method, path=path, caller=caller, key_id=identity.key_id,
                        timestamp=timestamp, nonce=nonce, body=body)
    return {
        HEADER_CALLER: caller, HEADER_KEY: identity.key_id, HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce, HEADER_SIGNATURE: b64encode(identity.sign(labels.SIG_REQUEST, data)),
    }
