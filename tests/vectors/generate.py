"""Create the test vectors in this folder from fixed inputs.

    .venv/bin/python tests/vectors/generate.py

Every input is fixed: key seeds, times, and the ``random`` callable passed to
``keys.envelope.seal``. Running the script again gives byte-identical files, and
tests/keys/test_vectors.py checks that the files on disk are exactly what this
script builds.

Valid envelopes come from ``seal`` itself. Each defective envelope is built step
by step here (see ``Draft``), from the labels in keys.labels and the nacl.bindings
calls that docs/PROTOCOL.md names, so that it differs from a valid envelope by the
one defect its file name gives. Every key here is a test key: never use one for
anything else.

Valid documents of the transparency log (entries, tree heads, revocations, records)
come from keys.log, keys.changes and keys.records. Each defective one is a valid one
edited by hand and signed again where the defect is not in the signature. Merkle
roots and leaf hashes are computed here with hashlib, apart from keys.merkle, so
that the vectors also check it.

File format: ``key: value`` header lines, one blank line, the payload, a newline.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nacl.bindings
import nacl.encoding
import nacl.hash

from keys import labels
from keys.changes import make_revocation
from keys.content import to_sealable
from keys.encoding import b64decode, b64encode, canonical_json, digest, parse_canonical
from keys.encryption import DEFAULT_VALIDITY, EncryptionKey, certify
from keys.envelope import DEFAULT_TTL, RecipientKey, seal
from keys.header import BODY_ENCODING
from keys.identity import IdentityKey, fingerprint, key_id
from keys.log import make_entry, sign_head
from keys.records import (Registration, SignedDocument, make_record, make_registration, make_rejection,
                          parse_registration)

VECTOR_DIR = Path(__file__).parent

# 2026-01-01T00:00:00Z. Opening an envelope does not look at the clock, so fixed
# times keep the vectors valid forever.
CREATED = 1767225600

SENDER = "mx.anam.inteligencia"
RECIPIENTS = ("us.atf.tracing", "gt.sat.aduanas", "co.dian.fiscalizacion")
OTHER_CP = "mx.fgr.armas"

SENDER_SEED = bytes([0x11]) * 32
OTHER_SEED = bytes([0x1F]) * 32
SECRETARIAT_SEED = bytes([0x5E]) * 32
SENDER_ENCRYPTION_SECRET = bytes([0x12]) * 32
RECIPIENT_SECRETS = {cp_id: bytes([0x21 + i]) * 32 for i, cp_id in enumerate(RECIPIENTS)}

# A point of order 8 on Curve25519: X25519 with it gives 32 zero bytes for every
# private key.
LOW_ORDER_POINT = bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")

MESSAGE = {"subject": "Incautación en Manzanillo",
           "text": "Contenedor MSKU 123456-7: 14 pistolas, números de serie limados.",
           "tlp": "AMBER"}
ALERT = {"subject": "Serial obliterated, tracing request", "tlp": "AMBER+STRICT",
         "alert": {"item_kind": "firearm", "status": "seized", "make": "Glock", "model": "19",
                   "calibre": "9 mm", "serial_obliterated": True, "quantity": 14,
                   "seizure_place": "Manzanillo", "seizure_date": "2025-12-30"}}

SENDER_IDENTITY = IdentityKey(SENDER_SEED)
OTHER_IDENTITY = IdentityKey(OTHER_SEED)
SECRETARIAT = IdentityKey(SECRETARIAT_SEED)
RECIPIENT_KEYS = {cp_id: EncryptionKey(secret) for cp_id, secret in RECIPIENT_SECRETS.items()}

_encrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt


class DeterministicRandom:
    """A reproducible stand-in for nacl.utils.random, for test vectors only.

    Call number i returns libsodium's randombytes_buf_deterministic(size, seed_i),
    where seed_i is BLAKE2b-256 of the name followed by i as 4 big-endian bytes.
    """

    def __init__(self, name: str):
        self.name = name.encode("utf-8")
        self.calls = 0

    def __call__(self, size: int) -> bytes:
        self.calls += 1
        seed = nacl.hash.blake2b(self.name + self.calls.to_bytes(4, "big"), digest_size=32,
                                 encoder=nacl.encoding.RawEncoder)
        return nacl.bindings.randombytes_buf_deterministic(size, seed)


# Envelopes built step by step.

@dataclass
class Draft:
    """Every input and intermediate value of one envelope, open to change between steps.

    The steps are those of docs/PROTOCOL.md and draw random bytes in the same order
    as ``seal``, so an unchanged draft gives the same bytes as ``seal``.
    """

    header: dict
    inner: dict
    content_key: bytes
    body_nonce: bytes
    ephemeral_secrets: list[bytes]
    recipient_publics: list[bytes]
    inner_bytes: bytes | None = None
    body: bytes = b""
    core_digest: bytes = b""
    wrap_keys: list[bytes] = field(default_factory=list)
    header_bytes: bytes = b""
    signature: bytes = b""
    splices: dict[str, bytes] = field(default_factory=dict)

    def wire(self) -> dict:
        return {"v": 1, "header": b64encode(self.header_bytes),
                "signature": b64encode(self.signature), "body": b64encode(self.body)}


def start(name: str, recipients: tuple[str, ...] = RECIPIENTS[:1], *, kind: str = "message",
          content: dict = MESSAGE, priority: str = "normal") -> Draft:
    """Draw the random values and lay out the inner body and the header, without wraps."""
    random = DeterministicRandom(name)
    msg_id = random(16).hex()
    content_key = random(32)
    ephemerals = [random(32) for _ in recipients]
    nonce = random(24)

    inner = {"v": 1, "id": msg_id, "sender": SENDER, "kind": kind,
             "recipients": list(recipients), "content": content}
    header = {"v": 1, "id": msg_id, "sender": SENDER, "sender_key": SENDER_IDENTITY.key_id,
              "created": CREATED, "expires": CREATED + DEFAULT_TTL, "kind": kind,
              "priority": priority, "body_encoding": BODY_ENCODING,
              "recipients": [{"id": cp_id, "key_id": RECIPIENT_KEYS[cp_id].key_id,
                              "epk": b64encode(nacl.bindings.crypto_scalarmult_base(secret))}
                             for cp_id, secret in zip(recipients, ephemerals)]}
    publics = [RECIPIENT_KEYS[cp_id].public_key for cp_id in recipients]
    return Draft(header, inner, content_key, nonce, ephemerals, publics)


def body_ad(msg_id: str, sender: str) -> bytes:
    return labels.AD_BODY + bytes.fromhex(msg_id) + sender.encode("utf-8")


def encrypt_body(draft: Draft, *, ad_sender: str | None = None) -> None:
    """Encrypt the inner body; ``ad_sender`` binds it to another sender than the header's."""
    plaintext = canonical_json(draft.inner) if draft.inner_bytes is None else draft.inner_bytes
    sender = draft.header["sender"] if ad_sender is None else ad_sender
    ad = body_ad(draft.header["id"], sender)
    draft.body = draft.body_nonce + _encrypt(plaintext, ad, draft.body_nonce, draft.content_key)
    describe_body(draft)


def describe_body(draft: Draft) -> None:
    """Write the body's size and digest into the header."""
    draft.header["body_size"] = len(draft.body)
    draft.header["body_digest"] = b64encode(digest(draft.body, labels.DIGEST_BODY))


def spliced_json(obj: dict, splices: dict[str, bytes]) -> bytes:
    """Canonical JSON of ``obj`` with each placeholder string replaced by raw JSON text.

    canonical_json raises FormatError for values that no reader accepts, such as an
    integer beyond 2^53 - 1. A vector that needs one sets the field to a placeholder
    string and splices the raw text in here.
    """
    data = canonical_json(obj)
    for placeholder, raw in splices.items():
        quoted = canonical_json({"": placeholder})[4:-1]
        if data.count(quoted) != 1:
            raise AssertionError(f"expected exactly one {quoted!r} to splice")
        data = data.replace(quoted, raw)
    return data


def core_digest(header: dict, splices: dict[str, bytes]) -> bytes:
    core = copy.deepcopy(header)
    for entry in core["recipients"]:
        entry.pop("wrap", None)
    return digest(spliced_json(core, splices), labels.DIGEST_HEADER_CORE)


def wrap_content_key(draft: Draft, *, bound_to: dict | None = None) -> None:
    """Add each recipient's wrap; ``bound_to`` is another header to bind the wraps to."""
    draft.core_digest = core_digest(draft.header if bound_to is None else bound_to, draft.splices)
    draft.wrap_keys = []
    for entry, secret, public in zip(draft.header["recipients"], draft.ephemeral_secrets,
                                     draft.recipient_publics):
        epk = nacl.bindings.crypto_scalarmult_base(secret)
        shared = nacl.bindings.crypto_scalarmult(secret, public)
        wrap_key = digest(shared + epk + public, labels.KDF_WRAP_KEY)
        ad = draft.core_digest + entry["id"].encode("utf-8")
        entry["wrap"] = b64encode(_encrypt(draft.content_key, ad, bytes(24), wrap_key))
        draft.wrap_keys.append(wrap_key)


def sign(draft: Draft, *, identity: IdentityKey = SENDER_IDENTITY,
         label: bytes = labels.SIG_ENVELOPE_HEADER, header_bytes: bytes | None = None) -> Draft:
    """Sign the header, or ``header_bytes`` given instead of its canonical encoding."""
    draft.header_bytes = spliced_json(draft.header, draft.splices) if header_bytes is None else header_bytes
    draft.signature = identity.sign(label, draft.header_bytes)
    return draft


def finish(draft: Draft) -> Draft:
    encrypt_body(draft)
    wrap_content_key(draft)
    return sign(draft)


def sealed(name: str, recipients: tuple[str, ...], *, kind: str, content: dict):
    """The reference ``seal`` run on the same deterministic inputs as ``start``."""
    keys = [RecipientKey(cp_id, RECIPIENT_KEYS[cp_id].key_id, RECIPIENT_KEYS[cp_id].public_key)
            for cp_id in recipients]
    return seal(SENDER_IDENTITY, SENDER, keys, kind=kind, priority="normal", content=content,
                created=CREATED, random=DeterministicRandom(name))


# Rendering.

def render(headers: dict[str, str], payload: str) -> str:
    for key, value in headers.items():
        if "\n" in value:
            raise ValueError(f"vector header {key} must be one line")
    lines = [f"{key}: {value}" for key, value in headers.items()]
    return "\n".join(lines) + "\n\n" + payload + "\n"


def outcome(error: str | None, code: str | None) -> dict[str, str]:
    """The expect, error and code headers: ``error`` None means the vector is valid."""
    headers = {"expect": "ok"} if error is None else {"expect": "reject", "error": error}
    if code is not None:
        headers["code"] = code
    return headers


def envelope_headers(description: str, opened_by: tuple[str, ...], *, error: str | None = None,
                     code: str | None = None) -> dict[str, str]:
    headers = {"type": "envelope", "description": description} | outcome(error, code)
    headers["sender-public-key"] = b64encode(SENDER_IDENTITY.public_key)
    headers["recipient-id"] = " ".join(opened_by)
    headers["recipient-secret-key"] = " ".join(RECIPIENT_SECRETS[cp_id].hex() for cp_id in opened_by)
    return headers


def wire_json(wire: dict) -> str:
    return canonical_json(wire).decode("utf-8")


def reject(description: str, draft_or_wire: Draft | dict, error: str, code: str | None = None,
           opened_by: tuple[str, ...] = RECIPIENTS[:1]) -> str:
    wire = draft_or_wire.wire() if isinstance(draft_or_wire, Draft) else draft_or_wire
    return render(envelope_headers(description, opened_by, error=error, code=code), wire_json(wire))


# Valid envelopes, with their intermediate values for the worked example.

def valid_envelope(name: str, description: str, recipients: tuple[str, ...], *, kind: str,
                   content: dict) -> str:
    envelope = sealed(name, recipients, kind=kind, content=content)
    draft = finish(start(name, recipients, kind=kind, content=content))
    if draft.header_bytes != envelope.header or draft.body != envelope.body:
        raise AssertionError(f"{name}: the step-by-step build differs from keys.envelope.seal")

    headers = envelope_headers(description, recipients)
    headers["inner"] = canonical_json(draft.inner).decode("utf-8")
    headers["content-key"] = draft.content_key.hex()
    headers["body-nonce"] = draft.body_nonce.hex()
    headers["ephemeral-secret-key"] = " ".join(s.hex() for s in draft.ephemeral_secrets)
    headers["header-core-digest"] = draft.core_digest.hex()
    headers["wrap-key"] = " ".join(k.hex() for k in draft.wrap_keys)
    return render(headers, wire_json(envelope.to_wire()))


def valid_envelopes() -> dict[str, str]:
    alert = to_sealable("alert", ALERT)
    return {
        "envelope-ok-one-recipient": valid_envelope(
            "envelope-ok-one-recipient", "a message to one recipient, with non-ASCII text",
            RECIPIENTS[:1], kind="message", content=MESSAGE),
        "envelope-ok-three-recipients": valid_envelope(
            "envelope-ok-three-recipients",
            "an alert to three recipients; each opens it to the same inner body",
            RECIPIENTS, kind="alert", content=alert),
    }


# Envelopes with one defect in the header text.

def edited_header(name: str, edit: Callable[[bytes], bytes]) -> Draft:
    """A valid draft whose header bytes are edited, then signed as they are."""
    draft = finish(start(name))
    edited = edit(canonical_json(draft.header))
    if edited == canonical_json(draft.header):
        raise AssertionError(f"{name}: the edit changed nothing")
    return sign(draft, header_bytes=edited)


def replace_once(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(data: bytes) -> bytes:
        if data.count(old) != 1:
            raise AssertionError(f"expected exactly one {old!r} in the header")
        return data.replace(old, new)
    return edit


def header_text_defects() -> dict[str, str]:
    expires = str(CREATED + DEFAULT_TTL).encode()
    spaced = lambda data: json.dumps(json.loads(data), sort_keys=True, ensure_ascii=False,
                                     separators=(", ", ": ")).encode()
    unsorted = lambda data: json.dumps(dict(reversed(json.loads(data).items())),
                                       separators=(",", ":"), ensure_ascii=False).encode()
    nested = lambda data: b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"," + data[1:]
    cases = {
        "header-not-canonical": ("header with spaces after ',' and ':', signed as sent",
                                 spaced, "CanonicalError", "not_canonical"),
        "header-keys-not-sorted": ("header keys in reverse order, signed as sent",
                                   unsorted, "CanonicalError", "not_canonical"),
        "header-escaped-character": (r"header spells an 'a' of the sender as \u0061",
                                     replace_once(b'"sender":"mx.anam.inteligencia"',
                                                  b'"sender":"mx.anam.inteligenci\\u0061"'),
                                     "CanonicalError", "not_canonical"),
        "header-duplicate-key": ("header has the key priority twice",
                                 replace_once(b'"priority":"normal"',
                                              b'"priority":"normal","priority":"urgent"'),
                                 "FormatError", None),
        "header-float": ("header gives created as 1767225600.0",
                         replace_once(f'"created":{CREATED}'.encode(), f'"created":{CREATED}.0'.encode()),
                         "FormatError", None),
        "header-exponent": ("header gives created as 1.7672256e9",
                            replace_once(f'"created":{CREATED}'.encode(), b'"created":1.7672256e9'),
                            "FormatError", None),
        "header-lone-surrogate": (r"header has a lone UTF-16 surrogate escape \ud800 in kind",
                                  replace_once(b'"kind":"message"', b'"kind":"message\\ud800"'),
                                  "FormatError", None),
        "header-integer-too-many-digits": ("header gives expires as a 5000-digit integer",
                                           replace_once(b'"expires":' + expires,
                                                        b'"expires":' + b"9" * 5000),
                                           "FormatError", None),
        "header-nesting-too-deep": ("header starts with a field nested 2000 arrays deep",
                                    nested, "FormatError", None),
    }
    return {name: reject(description, edited_header(name, edit), error, code)
            for name, (description, edit, error, code) in cases.items()}


# Envelopes whose header fields break a rule, correctly signed.

def patched_header(name: str, patch: dict, recipients: tuple[str, ...] = RECIPIENTS[:1]) -> Draft:
    draft = start(name, recipients)
    draft.header |= patch
    return finish(draft)


def spliced_header(name: str, field: str, raw: bytes) -> Draft:
    """A draft whose header ``field`` is the raw JSON text ``raw``, wrapped and signed."""
    draft = start(name)
    placeholder = f"<{field}>"
    draft.header[field] = placeholder
    draft.splices[placeholder] = raw
    return finish(draft)


def header_field_defects() -> dict[str, str]:
    sender = SENDER + "\n"
    newline = start("sender-id-trailing-newline")
    newline.header["sender"] = newline.inner["sender"] = sender
    twice = start("duplicate-recipient", (RECIPIENTS[0], RECIPIENTS[0]))
    return {
        "unknown-header-field": reject(
            "header has a field 'zone' that v1 does not define",
            patched_header("unknown-header-field", {"zone": "pacific"}), "FormatError"),
        "unsupported-version": reject(
            "header v is 2", patched_header("unsupported-version", {"v": 2}),
            "FormatError", "unsupported_version"),
        "header-version-true": reject(
            "header v is the JSON literal true, not the integer 1",
            patched_header("header-version-true", {"v": True}), "FormatError", "unsupported_version"),
        "unknown-body-encoding": reject(
            "header body_encoding names a chunked encoding that v1 does not define",
            patched_header("unknown-body-encoding", {"body_encoding": "xchacha20poly1305-secretstream"}),
            "FormatError"),
        "expires-before-created": reject(
            "header expires one second before created",
            patched_header("expires-before-created", {"expires": CREATED - 1}), "FormatError"),
        "expires-equals-created": reject(
            "header expires at the second it was created",
            patched_header("expires-equals-created", {"expires": CREATED}), "FormatError"),
        "created-negative": reject(
            "header created is -1", patched_header("created-negative", {"created": -1}), "FormatError"),
        "header-integer-too-large": reject(
            "header expires is 2^64, beyond the interoperable range 0 to 2^53-1",
            spliced_header("header-integer-too-large", "expires", str(2 ** 64).encode()), "FormatError"),
        "unknown-kind": reject(
            "header kind is 'memo'", patched_header("unknown-kind", {"kind": "memo"}), "FormatError"),
        "unknown-priority": reject(
            "header priority is 'critical'",
            patched_header("unknown-priority", {"priority": "critical"}), "FormatError"),
        "message-id-uppercase": reject(
            "header id is upper-case hex",
            patched_header("message-id-uppercase", {"id": "0123456789ABCDEF0123456789ABCDEF"}),
            "FormatError"),
        "sender-id-trailing-newline": reject(
            "sender id ends with a newline; inner body and signature agree with it",
            finish(newline), "FormatError", "bad_cp_id"),
        "duplicate-recipient": reject(
            "the same recipient is listed twice, each with a valid wrap", finish(twice), "FormatError"),
    }


# Envelopes with a bad signature.

def signature_defects() -> dict[str, str]:
    by_other = sign(finish(start("signature-by-other-key")), identity=OTHER_IDENTITY)
    other_key = start("sender-key-not-registered")
    other_key.header["sender_key"] = OTHER_IDENTITY.key_id
    other_key = sign(finish(other_key), identity=OTHER_IDENTITY)
    other_label = sign(finish(start("signature-over-other-label")), label=labels.SIG_REQUEST)
    changed = finish(start("header-changed-after-signing"))
    changed.header_bytes = changed.header_bytes.replace(b'"priority":"normal"', b'"priority":"urgent"')
    return {
        "signature-by-other-key": reject(
            "header names the sender's key id but is signed by another identity key",
            by_other, "SignatureError", "bad_signature"),
        "sender-key-not-registered": reject(
            "header names and is signed by a key that is not the sender's registered key",
            other_key, "SignatureError", "bad_signature"),
        "signature-over-other-label": reject(
            "the sender signed the header bytes under the request label",
            other_label, "SignatureError", "bad_signature"),
        "header-changed-after-signing": reject(
            "priority changed from normal to urgent after signing",
            changed, "SignatureError", "bad_signature"),
    }


# Envelopes whose body does not match the header.

def body_defects() -> dict[str, str]:
    flipped = finish(start("body-digest-mismatch"))
    flipped.body = flipped.body[:-1] + bytes([flipped.body[-1] ^ 1])
    truncated = finish(start("body-truncated"))
    truncated.body = truncated.body[:-1]

    forged = start("body-ciphertext-altered")
    encrypt_body(forged)
    forged.body = forged.body[:30] + bytes([forged.body[30] ^ 1]) + forged.body[31:]
    describe_body(forged)
    wrap_content_key(forged)

    short = start("body-too-short")
    short.body = short.body_nonce + bytes(15)
    describe_body(short)
    wrap_content_key(short)

    other_sender = start("body-bound-to-other-sender")
    encrypt_body(other_sender, ad_sender=OTHER_CP)
    wrap_content_key(other_sender)
    return {
        "body-digest-mismatch": reject("last body byte flipped after signing", flipped,
                                       "FormatError", "body_mismatch"),
        "body-truncated": reject("last body byte removed after signing", truncated,
                                 "FormatError", "body_mismatch"),
        "body-ciphertext-altered": reject(
            "a ciphertext byte flipped before signing, so size and digest match",
            sign(forged), "DecryptError", "decrypt_failed"),
        "body-too-short": reject("body is a nonce and 15 bytes, too short for a tag",
                                 sign(short), "DecryptError", "decrypt_failed"),
        "body-bound-to-other-sender": reject(
            "body encrypted with the associated data of another sender",
            sign(other_sender), "DecryptError", "decrypt_failed"),
    }


# Envelopes with a bad wrap.

def resigned_after(name: str, change: Callable[[Draft], None],
                   recipients: tuple[str, ...] = RECIPIENTS[:1]) -> Draft:
    draft = finish(start(name, recipients))
    change(draft)
    return sign(draft)


def set_wrap(index: int, resize: Callable[[bytes], bytes]) -> Callable[[Draft], None]:
    def change(draft: Draft) -> None:
        entry = draft.header["recipients"][index]
        entry["wrap"] = b64encode(resize(_b64(entry["wrap"])))
    return change


def swap_wraps(draft: Draft) -> None:
    first, second = draft.header["recipients"][:2]
    first["wrap"], second["wrap"] = second["wrap"], first["wrap"]


def low_order_epk(draft: Draft) -> None:
    draft.header["recipients"][0]["epk"] = b64encode(LOW_ORDER_POINT)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def wrap_defects() -> dict[str, str]:
    other_header = start("wrap-bound-to-other-header")
    encrypt_body(other_header)
    bound_to = copy.deepcopy(other_header.header) | {"priority": "urgent"}
    wrap_content_key(other_header, bound_to=bound_to)
    two = RECIPIENTS[:2]
    return {
        "wrap-wrong-length": reject(
            "the wrap has 49 bytes, not 48; verify rejects it, so the broker does too",
            resigned_after("wrap-wrong-length", set_wrap(0, lambda w: w + b"\x00")),
            "FormatError", "bad_format"),
        "wrap-wrong-length-short": reject(
            "the wrap has 47 bytes, not 48; verify rejects it, so the broker does too",
            resigned_after("wrap-wrong-length-short", set_wrap(0, lambda w: w[:-1])),
            "FormatError", "bad_format"),
        "wrap-for-other-recipient": reject(
            "the wraps of the two recipients swapped before signing",
            resigned_after("wrap-for-other-recipient", swap_wraps, two),
            "DecryptError", "decrypt_failed", two[:1]),
        "wrap-bound-to-other-header": reject(
            "the wrap was made for the same header with priority urgent",
            sign(other_header), "DecryptError", "decrypt_failed"),
        "low-order-epk": reject(
            "the ephemeral key is a point of order 8: the shared secret is all zero",
            resigned_after("low-order-epk", low_order_epk), "FormatError"),
        "not-a-recipient": reject(
            "opened by a contact point that is not among the recipients",
            finish(start("not-a-recipient")), "NotForThisKey", "not_for_this_key", RECIPIENTS[1:2]),
    }


# Envelopes whose sealed inner body disagrees with the signed header.

def inner_defects() -> dict[str, str]:
    def with_inner(name: str, patch: dict | None = None,
                   spell: Callable[[dict], bytes] | None = None) -> Draft:
        draft = start(name)
        draft.inner |= patch or {}
        if spell is not None:
            draft.inner_bytes = spell(draft.inner)
        return finish(draft)

    spaced = lambda inner: json.dumps(inner, sort_keys=True, ensure_ascii=False,
                                      separators=(", ", ": ")).encode("utf-8")
    return {
        "inner-id-differs": reject("the inner body names another message id",
                                   with_inner("inner-id-differs", {"id": "0" * 32}),
                                   "MismatchError", "inner_outer_mismatch"),
        "inner-sender-differs": reject("the inner body names another sender",
                                       with_inner("inner-sender-differs", {"sender": OTHER_CP}),
                                       "MismatchError", "inner_outer_mismatch"),
        "inner-kind-differs": reject("the inner body says alert, the header message",
                                     with_inner("inner-kind-differs", {"kind": "alert"}),
                                     "MismatchError", "inner_outer_mismatch"),
        "inner-recipients-differ": reject(
            "the inner body adds a second recipient",
            with_inner("inner-recipients-differ", {"recipients": list(RECIPIENTS[:2])}),
            "MismatchError", "inner_outer_mismatch"),
        "inner-unknown-field": reject("the inner body has a field 'note'",
                                      with_inner("inner-unknown-field", {"note": "x"}), "FormatError"),
        "inner-content-not-object": reject("the inner body's content is a string",
                                           with_inner("inner-content-not-object", {"content": "hola"}),
                                           "FormatError"),
        "inner-not-canonical": reject("the inner body has spaces after ',' and ':'",
                                      with_inner("inner-not-canonical", spell=spaced),
                                      "CanonicalError", "not_canonical"),
    }


# Wire form defects.

def wire_defects() -> dict[str, str]:
    wire = finish(start("wire")).wire()
    padded = wire | {"signature": wire["signature"] + "=="}
    stray = wire | {"signature": wire["signature"][:-1] + _with_low_bits(wire["signature"][-1])}
    standard = wire | {"body": wire["body"].replace("-", "+").replace("_", "/")}
    spaced = wire | {"body": wire["body"][:40] + "\n" + wire["body"][40:]}
    if standard == wire:
        raise AssertionError("the body has no '-' or '_' to respell")
    return {
        "bad-base64-padding": reject("the signature is base64url with '==' padding", padded,
                                     "FormatError"),
        "base64-stray-bits": reject("the signature's last character has non-zero unused bits",
                                    stray, "FormatError"),
        "base64-standard-alphabet": reject("the body uses '+' and '/' instead of '-' and '_'",
                                           standard, "FormatError"),
        "base64-line-break": reject("the body has a line break after 40 characters", spaced,
                                    "FormatError"),
        "wire-unsupported-version": reject("the wire object has v 2", wire | {"v": 2},
                                           "FormatError", "unsupported_version"),
        "wire-unknown-field": reject("the wire object has a field 'priority'",
                                     wire | {"priority": "urgent"}, "FormatError", "unknown_field"),
        "signature-too-short": reject("the signature has 63 bytes",
                                      wire | {"signature": b64encode(_b64(wire["signature"])[:63])},
                                      "FormatError"),
    }


def _with_low_bits(char: str) -> str:
    """The character whose 6 bits are those of ``char`` with the lowest bit set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(char)
    if index & 1:
        raise AssertionError(f"{char!r} already has its lowest bit set")
    return alphabet[index | 1]


# Registrations, records and rejections.

def certificate(owner: str, signer: IdentityKey = SENDER_IDENTITY):
    key = EncryptionKey(SENDER_ENCRYPTION_SECRET)
    return certify(signer, owner, key, not_before=CREATED, not_after=CREATED + DEFAULT_VALIDITY)


def registration(*, cert_signer: IdentityKey = SENDER_IDENTITY, cert_owner: str = SENDER) -> SignedDocument:
    profile = {"id": SENDER, "country": "MX", "agency": "Agencia Nacional de Aduanas de México",
               "agency_type": "customs", "unit": "Unidad de inteligencia aduanera",
               "languages": ["es", "en"], "topics": ["firearms"]}
    return make_registration(SENDER_IDENTITY, profile, [certificate(cert_owner, cert_signer)], CREATED)


def resigned(document: bytes, identity: IdentityKey, label: bytes) -> SignedDocument:
    return SignedDocument(document, identity.sign(label, document))


def document_vector(kind: str, description: str, signed: SignedDocument, *,
                    error: str | None = None, code: str | None = None) -> str:
    headers = {"type": kind, "description": description} | outcome(error, code)
    if kind != "registration":
        headers["secretariat-public-key"] = b64encode(SECRETARIAT.public_key)
    return render(headers, wire_json(signed.to_wire()))


def registration_vectors() -> dict[str, str]:
    valid = registration()
    newline_owner = SENDER + "\n"
    body = parse_canonical(valid.document) | {
        "id": newline_owner, "encryption_keys": [certificate(newline_owner).to_wire()]}
    newline = resigned(canonical_json(body), SENDER_IDENTITY, labels.SIG_REGISTRATION)
    return {
        "registration-ok": document_vector("registration", "a registration request, self-signed", valid),
        "registration-signed-by-other-key": document_vector(
            "registration", "the request is signed by a key other than the one it registers",
            resigned(valid.document, OTHER_IDENTITY, labels.SIG_REGISTRATION),
            error="SignatureError", code="bad_signature"),
        "registration-certificate-by-other-key": document_vector(
            "registration", "the encryption key certificate is signed by another identity key",
            registration(cert_signer=OTHER_IDENTITY), error="SignatureError", code="bad_signature"),
        "registration-certificate-other-owner": document_vector(
            "registration", "the encryption key certificate names another contact point",
            registration(cert_owner=OTHER_CP), error="SignatureError", code="bad_signature"),
        "registration-id-trailing-newline": document_vector(
            "registration", "the contact point id ends with a newline", newline,
            error="FormatError", code="bad_cp_id"),
    }


def approved() -> Registration:
    return parse_registration(registration())


def record_vectors() -> dict[str, str]:
    record = make_record(SECRETARIAT, approved(), now=CREATED)
    spaced = json.dumps(json.loads(record.document), sort_keys=True, ensure_ascii=False,
                        separators=(", ", ": ")).encode("utf-8")
    unknown = canonical_json(parse_canonical(record.document) | {"note": "x"})
    return {
        "record-ok": document_vector("record", "a directory record signed by the Secretariat", record),
        "record-signed-by-applicant": document_vector(
            "record", "the record is signed by the applicant's identity key, not the Secretariat's",
            resigned(record.document, SENDER_IDENTITY, labels.SIG_DIRECTORY_RECORD),
            error="SignatureError", code="bad_signature"),
        "record-signed-by-other-key": document_vector(
            "record", "the record is signed by an identity key that is not the Secretariat's",
            resigned(record.document, OTHER_IDENTITY, labels.SIG_DIRECTORY_RECORD),
            error="SignatureError", code="bad_signature"),
        "record-signed-under-registration-label": document_vector(
            "record", "the Secretariat signed the record bytes under the registration label",
            resigned(record.document, SECRETARIAT, labels.SIG_REGISTRATION),
            error="SignatureError", code="bad_signature"),
        "record-not-canonical": document_vector(
            "record", "the record has spaces after ',' and ':', signed as sent",
            resigned(spaced, SECRETARIAT, labels.SIG_DIRECTORY_RECORD),
            error="CanonicalError", code="not_canonical"),
        "record-unknown-field": document_vector(
            "record", "the record has a field 'note'",
            resigned(unknown, SECRETARIAT, labels.SIG_DIRECTORY_RECORD), error="FormatError"),
    }


def rejection_vectors() -> dict[str, str]:
    rejection = make_rejection(SECRETARIAT, approved(), "Unidad no reconocida por la ANAM.", CREATED)
    version_2 = canonical_json(parse_canonical(rejection.document) | {"v": 2})
    return {
        "rejection-ok": document_vector("rejection", "a rejection signed by the Secretariat", rejection),
        "rejection-signed-by-other-key": document_vector(
            "rejection", "the rejection is signed by a key that is not the Secretariat's",
            resigned(rejection.document, OTHER_IDENTITY, labels.SIG_DECISION),
            error="SignatureError", code="bad_signature"),
        "rejection-signed-under-record-label": document_vector(
            "rejection", "the Secretariat signed the rejection bytes under the record label",
            resigned(rejection.document, SECRETARIAT, labels.SIG_DIRECTORY_RECORD),
            error="SignatureError", code="bad_signature"),
        "rejection-version-2": document_vector(
            "rejection", "the rejection has v 2", resigned(version_2, SECRETARIAT, labels.SIG_DECISION),
            error="FormatError"),
    }


# The transparency log: entries, signed tree heads, revocations, and small logs
# folded into a directory.

LOG_KEY = IdentityKey(bytes([0x4C]) * 32)
ROTATED_SECRET = bytes([0x13]) * 32
MX_ADMIN = "mx.anam.coordinacion"
GT_ADMIN = "gt.sat.coordinacion"
ADMINS = {MX_ADMIN: (IdentityKey(bytes([0x31]) * 32), EncryptionKey(bytes([0x33]) * 32),
                     "Agencia Nacional de Aduanas de México"),
          GT_ADMIN: (IdentityKey(bytes([0x32]) * 32), EncryptionKey(bytes([0x34]) * 32),
                     "Superintendencia de Administración Tributaria")}

# Entry i of a log is appended at LOG_START + 60 i; the tree head is signed later.
LOG_START = CREATED + 3600
HEAD_TIME = CREATED + 7200
ROTATED_FROM = CREATED + 86400


def merkle_root(entries: list[bytes]) -> bytes:
    """MTH of RFC 9162, section 2.1.1, written out with hashlib to check keys.merkle."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    split = 1 << ((len(entries) - 1).bit_length() - 1)  # the largest power of two below len
    return hashlib.sha256(b"\x01" + merkle_root(entries[:split]) + merkle_root(entries[split:])).digest()


def mx_record(*, now: int = CREATED, serial: int = 1) -> SignedDocument:
    return make_record(SECRETARIAT, approved(), now=now, serial=serial)


def admin_record(cp_id: str) -> SignedDocument:
    """The record of a national administrator (profile role national-admin)."""
    identity, encryption_key, agency = ADMINS[cp_id]
    profile = {"id": cp_id, "country": cp_id[:2].upper(), "agency": agency, "agency_type": "customs",
               "unit": "Coordinación nacional de enlace", "languages": ["es"], "topics": ["firearms"],
               "role": "national-admin"}
    cert = certify(identity, cp_id, encryption_key, not_before=CREATED, not_after=CREATED + DEFAULT_VALIDITY)
    request = parse_registration(make_registration(identity, profile, [cert], CREATED))
    return make_record(SECRETARIAT, request, now=CREATED)


def rotated_key(signer: IdentityKey = SENDER_IDENTITY) -> SignedDocument:
    """A second encryption key certificate for SENDER, signed by ``signer``."""
    cert = certify(signer, SENDER, EncryptionKey(ROTATED_SECRET), not_before=ROTATED_FROM,
                   not_after=ROTATED_FROM + DEFAULT_VALIDITY)
    return SignedDocument(cert.cert, cert.signature)


def revocation_of_sender(signer_key: IdentityKey, signer: str, reason: str) -> SignedDocument:
    return make_revocation(signer_key, signer, SENDER, SENDER_IDENTITY.key_id, reason, LOG_START + 120)


def log_entries(changes: list[tuple[str, str, SignedDocument]]) -> list[bytes]:
    """The entry bytes of each (type, contact point id, signed change), in log order."""
    return [make_entry(entry_type, cp_id, signed.document, signed.signature, LOG_START + 60 * index).raw
            for index, (entry_type, cp_id, signed) in enumerate(changes)]


def tree_head_vector(description: str, document: bytes, signature: bytes, *, error: str | None = None,
                     code: str | None = None) -> str:
    headers = {"type": "tree-head", "description": description} | outcome(error, code)
    headers["log-public-key"] = b64encode(LOG_KEY.public_key)
    if error is None:
        body = parse_canonical(document)
        headers["tree-size"] = str(body["tree_size"])
        headers["root-hash"] = b64decode(body["root_hash"], size=32).hex()
    return render(headers, wire_json({"head": b64encode(document), "signature": b64encode(signature)}))


def tree_head_vectors() -> dict[str, str]:
    entries = log_entries(valid_log())
    head = sign_head(LOG_KEY, len(entries), merkle_root(entries), HEAD_TIME)
    body = parse_canonical(head.document)
    other_key_id = canonical_json(body | {"log_key_id": OTHER_IDENTITY.key_id})
    version_true = canonical_json(body | {"v": True})
    return {
        "tree-head-ok": tree_head_vector(
            "a tree head over the two entries of directory-log-ok, signed by the log key",
            head.document, head.signature),
        "tree-head-signed-by-other-key": tree_head_vector(
            "the same head signed by an identity key that is not the pinned log key",
            head.document, OTHER_IDENTITY.sign(labels.SIG_TREE_HEAD, head.document),
            error="SignatureError", code="bad_signature"),
        "tree-head-wrong-log-key-id": tree_head_vector(
            "log_key_id names another key; the pinned log key signed it",
            other_key_id, LOG_KEY.sign(labels.SIG_TREE_HEAD, other_key_id), error="FormatError"),
        "tree-head-version-true": tree_head_vector(
            "the head has v true, not the integer 1; the pinned log key signed it",
            version_true, LOG_KEY.sign(labels.SIG_TREE_HEAD, version_true), error="FormatError"),
    }


def log_entry_vector(description: str, entry: bytes, *, error: str | None = None,
                     code: str | None = None) -> str:
    headers = {"type": "log-entry", "description": description} | outcome(error, code)
    if error is None:
        headers["leaf-hash"] = hashlib.sha256(b"\x00" + entry).hexdigest()
    return render(headers, entry.decode("utf-8"))


def log_entry_vectors() -> dict[str, str]:
    entry = log_entries(valid_log())[0]
    unknown_type = canonical_json(parse_canonical(entry) | {"type": "suspension"})
    twice = replace_once(f'"cp_id":"{SENDER}"'.encode(), f'"cp_id":"{SENDER}","cp_id":"{OTHER_CP}"'.encode())
    return {
        "log-entry-ok": log_entry_vector("the log entry of a directory record", entry),
        "log-entry-unknown-type": log_entry_vector(
            "the entry type is 'suspension', which v1 does not define", unknown_type, error="FormatError"),
        "log-entry-duplicate-key": log_entry_vector(
            "the entry has the key cp_id twice, naming two contact points", twice(entry),
            error="FormatError"),
    }


def revocation_vector(description: str, signed: SignedDocument, signer_key: IdentityKey, *,
                      error: str | None = None, code: str | None = None) -> str:
    headers = {"type": "revocation", "description": description} | outcome(error, code)
    headers["signer-public-key"] = b64encode(signer_key.public_key)
    return render(headers, wire_json(signed.to_wire()))


def revocation_vectors() -> dict[str, str]:
    valid = revocation_of_sender(SENDER_IDENTITY, SENDER, "key-compromised")
    unknown = canonical_json(parse_canonical(valid.document) | {"reason": "lost-laptop"})
    return {
        "revocation-ok": revocation_vector(
            "a contact point revokes its own identity key", valid, SENDER_IDENTITY),
        "revocation-unknown-reason": revocation_vector(
            "the reason is 'lost-laptop', which v1 does not define",
            resigned(unknown, SENDER_IDENTITY, labels.SIG_REVOCATION), SENDER_IDENTITY,
            error="FormatError", code="bad_reason"),
    }


def valid_log() -> list[tuple[str, str, SignedDocument]]:
    return [("record", SENDER, mx_record()), ("encryption-key", SENDER, rotated_key())]


def directory_log_vector(description: str, changes: list[tuple[str, str, SignedDocument]], *,
                         status: str | None = None, encryption_keys: tuple[bytes, ...] = (),
                         error: str | None = None, code: str | None = None) -> str:
    """A log of one entry per payload line; a reject vector's last entry is the one rejected."""
    entries = log_entries(changes)
    headers = {"type": "directory-log", "description": description} | outcome(error, code)
    headers["secretariat-public-key"] = b64encode(SECRETARIAT.public_key)
    headers["root-hash"] = merkle_root(entries).hex()
    if error is None:
        headers["contact-point"] = SENDER
        headers["status"] = status
        headers["identity-key-id"] = SENDER_IDENTITY.key_id
        headers["encryption-key-ids"] = " ".join(key_id(public) for public in encryption_keys)
    else:
        headers["rejected-index"] = str(len(entries) - 1)
    return render(headers, "\n".join(entry.decode("utf-8") for entry in entries))


def directory_log_vectors() -> dict[str, str]:
    first_key = EncryptionKey(SENDER_ENCRYPTION_SECRET).public_key
    rotated = EncryptionKey(ROTATED_SECRET).public_key
    mx_admin, gt_admin = ADMINS[MX_ADMIN][0], ADMINS[GT_ADMIN][0]
    return {
        "directory-log-ok": directory_log_vector(
            "a record, then a second encryption key certified by the record's identity key",
            valid_log(), status="active", encryption_keys=(first_key, rotated)),
        "directory-log-key-by-other-identity": directory_log_vector(
            "the second encryption key is certified by an identity key that is not the record's",
            [("record", SENDER, mx_record()), ("encryption-key", SENDER, rotated_key(OTHER_IDENTITY))],
            error="SignatureError", code="bad_signature"),
        "directory-log-serial-not-increasing": directory_log_vector(
            "a second record with the same serial 1, approved a minute later",
            [("record", SENDER, mx_record()), ("record", SENDER, mx_record(now=CREATED + 60))],
            error="FormatError", code="bad_format"),
        "directory-log-revocation-by-national-admin": directory_log_vector(
            "a national administrator of the same state revokes the contact point",
            [("record", SENDER, mx_record()), ("record", MX_ADMIN, admin_record(MX_ADMIN)),
             ("revocation", SENDER, revocation_of_sender(mx_admin, MX_ADMIN, "left-post"))],
            status="revoked", encryption_keys=(first_key,)),
        "directory-log-revocation-by-other-state": directory_log_vector(
            "a national administrator of Guatemala revokes a Mexican contact point",
            [("record", SENDER, mx_record()), ("record", GT_ADMIN, admin_record(GT_ADMIN)),
             ("revocation", SENDER, revocation_of_sender(gt_admin, GT_ADMIN, "left-post"))],
            error="SignatureError", code="not_authorized"),
        "directory-log-key-after-revocation": directory_log_vector(
            "a new encryption key after the contact point revoked its identity key",
            [("record", SENDER, mx_record()),
             ("revocation", SENDER, revocation_of_sender(SENDER_IDENTITY, SENDER, "key-compromised")),
             ("encryption-key", SENDER, rotated_key())],
            error="FormatError", code="bad_format"),
    }


# Key ids and fingerprints.

def key_vector(description: str, public_key: bytes) -> str:
    headers = {"type": "key", "description": description, "expect": "ok",
               "key-id": key_id(public_key), "fingerprint": fingerprint(public_key)}
    return render(headers, b64encode(public_key))


def key_vectors() -> dict[str, str]:
    return {
        "key-identity-sender": key_vector(
            "Ed25519 public key of the seed 32 bytes 0x11: key id and fingerprint",
            SENDER_IDENTITY.public_key),
        "key-identity-secretariat": key_vector(
            "Ed25519 public key of the seed 32 bytes 0x5e: key id and fingerprint",
            SECRETARIAT.public_key),
        "key-encryption-recipient": key_vector(
            "X25519 public key of the secret 32 bytes 0x21: key id and fingerprint",
            RECIPIENT_KEYS[RECIPIENTS[0]].public_key),
    }


def build_vectors() -> dict[str, str]:
    """Every vector: file name without .vec mapped to the file's text."""
    vectors: dict[str, str] = {}
    for group in (valid_envelopes, header_text_defects, header_field_defects, signature_defects,
                  body_defects, wrap_defects, inner_defects, wire_defects, registration_vectors,
                  record_vectors, rejection_vectors, tree_head_vectors, log_entry_vectors,
                  revocation_vectors, directory_log_vectors, key_vectors):
        for name, text in group().items():
            if name in vectors:
                raise AssertionError(f"two vectors are named {name}")
            vectors[name] = text
    return vectors


def main() -> int:
    vectors = build_vectors()
    for stale in VECTOR_DIR.glob("*.vec"):
        if stale.stem not in vectors:
            stale.unlink()
    for name, text in vectors.items():
        (VECTOR_DIR / f"{name}.vec").write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {len(vectors)} vectors to {VECTOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
