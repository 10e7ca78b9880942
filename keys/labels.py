"""Domain-separation labels.

Every signature and every derived key has its own label, so that bytes signed or
derived for one purpose can never be accepted for another. Signature labels are
prefixed to the signed bytes and end with a NUL so no label is a prefix of another
label's input. BLAKE2b personalisation strings are at most 16 bytes (libsodium's
``crypto_generichash_blake2b_PERSONALBYTES``).
"""

# Ed25519 signature contexts.
SIG_ENVELOPE_HEADER = b"enlace/v1/envelope-header\x00"
SIG_ENCRYPTION_KEY = b"enlace/v1/encryption-key\x00"
SIG_REGISTRATION = b"enlace/v1/registration\x00"
SIG_DIRECTORY_RECORD = b"enlace/v1/directory-record\x00"
SIG_DECISION = b"enlace/v1/decision\x00"
SIG_REQUEST = b"enlace/v1/request\x00"
SIG_TREE_HEAD = b"enlace/v1/tree-head\x00"
SIG_REVOCATION = b"enlace/v1/revocation\x00"
SIG_PROPOSAL = b"enlace/v1/proposal\x00"

# BLAKE2b personalisation, one per derived key or digest.
KDF_WRAP_KEY = b"enlace-wrap-v1"
DIGEST_HEADER_CORE = b"enlace-hcore-v1"
DIGEST_BODY = b"enlace-body-v1"
DIGEST_ENVELOPE = b"enlace-env-v1"
DIGEST_KEY_ID = b"enlace-keyid-v1"
DIGEST_FINGERPRINT = b"enlace-fpr-v1"
DIGEST_REQUEST_BODY = b"enlace-req-v1"
DIGEST_DOCUMENT = b"enlace-doc-v1"

# Associated data prefix for the sealed body.
AD_BODY = b"enlace/v1/body\x00"

for _person in (KDF_WRAP_KEY, DIGEST_HEADER_CORE, DIGEST_BODY, DIGEST_ENVELOPE,
                DIGEST_KEY_ID, DIGEST_FINGERPRINT, DIGEST_REQUEST_BODY, DIGEST_DOCUMENT):
    if len(_person) > 16:
        raise RuntimeError(f"personalisation string too long: {_person!r}")
