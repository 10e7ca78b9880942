"""Errors raised by the shared core.

    KeyError_ is not used: every failure here derives from EnlaceError.

    EnlaceError
    ├── FormatError          bytes or fields that do not follow the format
    │   └── CanonicalError   valid JSON that is not in canonical form
    ├── SignatureError       a signature that does not verify
    ├── DecryptError         a wrap or body that does not open
    │   └── NotForThisKey    no wrap in the envelope is for the caller's keys
    ├── MismatchError        the sealed body disagrees with the signed header
    └── KeystoreError        the keystore file cannot be created, read or unlocked
        └── WrongPassphrase

Each error carries a stable ``code`` (snake_case, used on the wire and by the CLI
to pick a translated message) and the offending ``value`` when there is one.
"""

from __future__ import annotations

class EnlaceError(Exception):
    """Root of every error the shared core raises."""

    code = "invalid"

    def __init__(self, message: str, *, value: object = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.value = value
        if code is not None:
            self.code = code

class FormatError(EnlaceError):
    code = "bad_format"

class CanonicalError(FormatError):
    code = "not_canonical"

class SignatureError(EnlaceError):
    code = "bad_signature"

class DecryptError(EnlaceError):
    code = "decrypt_failed"

class NotForThisKey(DecryptError):
    code = "not_for_this_key"

class MismatchError(EnlaceError):
    code = "inner_outer_mismatch"

class KeystoreError(EnlaceError):
    code = "keystore"

class WrongPassphrase(KeystoreError):
    code = "wrong_passphrase"
