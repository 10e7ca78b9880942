"""Behaviour of envelope v1: seal, verify and open, against real keys."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import labels
from keys.content import to_sealable, validate_content
from keys.encoding import b64decode, b64encode, canonical_json, digest, parse_canonical
from keys.encryption import EncryptionKey, shared_secret
from keys.envelope import (DEFAULT_TTL, WRAP_SIZE, Envelope, RecipientKey, header_core_digest,
                           open_envelope, parse_wire, seal, verify)
from keys.errors import DecryptError, FormatError, NotForThisKey, SignatureError
from keys.header import MAX_HEADER_SIZE, MAX_RECIPIENTS, parse_header
from keys.identity import IdentityKey
from keys.ids import sample_contact_points

SENDER = "mx.anam.inteligencia"
IDENTITY = IdentityKey(bytes([0x11]) * 32)
OTHER_IDENTITY = IdentityKey(bytes([0x1F]) * 32)
CREATED = 1767225600
MESSAGE = {"subject": "Incautación", "text": "14 pistolas", "tlp": "AMBER"}

RECIPIENT_IDS = [cp["id"] for cp in sample_contact_points() if cp["id"] != SENDER]
KEYS = {cp_id: EncryptionKey(bytes([0x40 + i]) * 32) for i, cp_id in enumerate(RECIPIENT_IDS)}

LOW_ORDER_POINTS = [
    "00" * 32,
    "01" + "00" * 31,
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ec" + "ff" * 30 + "7f",
    "ed" + "ff" * 30 + "7f",
    "ee" + "ff" * 30 + "7f",
]

SAFE_INT = 2 ** 53 - 1
json_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=16)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-SAFE_INT, SAFE_INT) | json_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3),
    max_leaves=12)
content_objects = st.dictionaries(json_text, json_values, max_size=5)


def recipient(cp_id: str) -> RecipientKey:
    return RecipientKey(cp_id, KEYS[cp_id].key_id, KEYS[cp_id].public_key)


def sealed(count: int = 1, *, content: dict = MESSAGE, kind: str = "message", **options) -> Envelope:
    recipients = [recipient(cp_id) for cp_id in RECIPIENT_IDS[:count]]
    return seal(IDENTITY, SENDER, recipients, kind=kind, priority="normal", content=content,
                created=CREATED, **options)


def opened(envelope: Envelope, cp_id: str) -> dict:
    header = verify(envelope, IDENTITY.public_key)
    return open_envelope(envelope, header, cp_id, {KEYS[cp_id].key_id: KEYS[cp_id]})


def resigned(header: dict, body: bytes, identity: IdentityKey = IDENTITY) -> Envelope:
    data = canonical_json(header)
    return Envelope(data, identity.sign(labels.SIG_ENVELOPE_HEADER, data), body)


# Round trips

def test_open_one_recipient():
    inner = opened(sealed(), RECIPIENT_IDS[0])
    assert inner["content"] == MESSAGE


def test_open_inner_repeats_header():
    envelope = sealed(2)
    header = parse_header(envelope.header)
    inner = opened(envelope, RECIPIENT_IDS[1])
    assert inner == {"v": 1, "id": header.id, "sender": SENDER, "kind": "message",
                     "recipients": RECIPIENT_IDS[:2], "content": MESSAGE}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=content_objects, count=st.integers(1, 6))
def test_open_round_trip_any_content(content: dict, count: int):
    envelope = sealed(count, content=content)
    for cp_id in RECIPIENT_IDS[:count]:
        assert opened(envelope, cp_id)["content"] == content, cp_id


@settings(max_examples=10, deadline=None)
@given(count=st.integers(1, 6))
def test_open_round_trip_wire(count: int):
    envelope = sealed(count)
    again = parse_wire(json.loads(json.dumps(envelope.to_wire())))
    assert again == envelope


def test_open_alert_content_validates():
    alert = to_sealable("alert", {"subject": "Serial obliterated", "tlp": "RED",
                                  "alert": {"item_kind": "firearm", "status": "seized", "quantity": 3}})
    inner = opened(sealed(kind="alert", content=alert), RECIPIENT_IDS[0])
    assert validate_content("alert", inner["content"]).alert.quantity == 3


# What seal writes

def test_seal_header_fields():
    header = parse_canonical(sealed().header)
    assert sorted(header) == ["body_digest", "body_encoding", "body_size", "created", "expires", "id",
                              "kind", "priority", "recipients", "sender", "sender_key", "v"]


def test_seal_recipient_fields():
    entry = parse_canonical(sealed().header)["recipients"][0]
    assert sorted(entry) == ["epk", "id", "key_id", "wrap"]


def test_seal_body_encoding():
    assert parse_header(sealed().header).body_encoding == "xchacha20poly1305-single"


def test_seal_body_size():
    envelope = sealed()
    assert parse_header(envelope.header).body_size == len(envelope.body)


def test_seal_body_digest():
    envelope = sealed()
    expected = b64encode(digest(envelope.body, labels.DIGEST_BODY))
    assert parse_header(envelope.header).body_digest == expected


def test_seal_body_is_nonce_ciphertext_tag():
    envelope = sealed()
    inner = opened(envelope, RECIPIENT_IDS[0])
    assert len(envelope.body) == 24 + len(canonical_json(inner)) + 16


def test_seal_default_expiry():
    header = parse_header(sealed().header)
    assert header.expires == CREATED + DEFAULT_TTL


def test_seal_explicit_expiry():
    assert parse_header(sealed(expires=CREATED + 60).header).expires == CREATED + 60


def test_seal_sender_key_id():
    assert parse_header(sealed().header).sender_key == IDENTITY.key_id


def test_seal_fresh_ephemeral_per_recipient():
    epks = [r.epk for r in parse_header(sealed(5).header).recipients]
    assert len(set(epks)) == 5


def test_seal_wrap_size():
    for entry in parse_header(sealed(3).header).recipients:
        assert len(b64decode(entry.wrap)) == WRAP_SIZE, entry.id


def test_seal_epk_size():
    for entry in parse_header(sealed(3).header).recipients:
        assert len(b64decode(entry.epk)) == 32, entry.id


def test_seal_random_message_id():
    assert parse_header(sealed().header).id != parse_header(sealed().header).id


def test_seal_given_message_id():
    assert parse_header(sealed(msg_id="ab" * 16).header).id == "ab" * 16


def test_seal_reproducible_with_fixed_random():
    def fixed_random(size: int) -> bytes:
        return bytes([7]) * size
    assert sealed(random=fixed_random) == sealed(random=fixed_random)


def test_seal_keeps_recipient_order():
    assert parse_header(sealed(4).header).recipient_ids == tuple(RECIPIENT_IDS[:4])


def test_seal_max_recipients():
    ids = [f"us.test.unit-{i}" for i in range(MAX_RECIPIENTS)]
    key = KEYS[RECIPIENT_IDS[0]]
    envelope = seal(IDENTITY, SENDER, [RecipientKey(i, key.key_id, key.public_key) for i in ids],
                    kind="message", priority="low", content=MESSAGE, created=CREATED)
    assert len(parse_header(envelope.header).recipients) == MAX_RECIPIENTS


# What seal refuses

def test_seal_rejects_too_many_recipients():
    ids = [f"us.test.unit-{i}" for i in range(MAX_RECIPIENTS + 1)]
    key = KEYS[RECIPIENT_IDS[0]]
    with pytest.raises(FormatError, match="recipients"):
        seal(IDENTITY, SENDER, [RecipientKey(i, key.key_id, key.public_key) for i in ids],
             kind="message", priority="low", content=MESSAGE, created=CREATED)


def test_seal_rejects_no_recipient():
    with pytest.raises(FormatError, match="recipients"):
        seal(IDENTITY, SENDER, [], kind="message", priority="low", content=MESSAGE, created=CREATED)


def test_seal_rejects_duplicate_recipient():
    twice = [recipient(RECIPIENT_IDS[0])] * 2
    with pytest.raises(FormatError, match="more than once"):
        seal(IDENTITY, SENDER, twice, kind="message", priority="low", content=MESSAGE, created=CREATED)


def test_seal_rejects_low_order_recipient_key():
    bad = RecipientKey(RECIPIENT_IDS[0], "0" * 32, bytes(32))
    with pytest.raises(FormatError, match="low order"):
        seal(IDENTITY, SENDER, [bad], kind="message", priority="low", content=MESSAGE, created=CREATED)


def test_seal_rejects_unknown_kind():
    with pytest.raises(FormatError, match="kind"):
        sealed(kind="memo")


def test_seal_rejects_expiry_at_creation():
    with pytest.raises(FormatError, match="expires"):
        sealed(expires=CREATED)


def test_seal_rejects_bad_sender_id():
    with pytest.raises(FormatError) as caught:
        seal(IDENTITY, "MX.Anam", [recipient(RECIPIENT_IDS[0])], kind="message", priority="low",
             content=MESSAGE, created=CREATED)
    assert caught.value.code == "bad_cp_id"


def test_seal_rejects_float_content():
    with pytest.raises(FormatError, match="floating-point"):
        sealed(content={"quantity": 1.5})


def test_seal_rejects_integer_beyond_2_53_in_content():
    with pytest.raises(FormatError, match="outside"):
        sealed(content={"quantity": 2 ** 53})


def test_seal_rejects_expiry_beyond_2_53():
    with pytest.raises(FormatError, match="outside"):
        sealed(expires=2 ** 53)


# verify (the broker's checks)

def test_verify_returns_header():
    envelope = sealed(2)
    assert verify(envelope, IDENTITY.public_key).recipient_ids == tuple(RECIPIENT_IDS[:2])


def test_verify_rejects_other_identity():
    with pytest.raises(SignatureError):
        verify(sealed(), OTHER_IDENTITY.public_key)


def test_verify_rejects_changed_header():
    envelope = sealed()
    changed = envelope.header.replace(b'"priority":"normal"', b'"priority":"urgent"')
    with pytest.raises(SignatureError, match="does not verify"):
        verify(Envelope(changed, envelope.signature, envelope.body), IDENTITY.public_key)


def test_verify_rejects_changed_signature():
    envelope = sealed()
    signature = bytes([envelope.signature[0] ^ 1]) + envelope.signature[1:]
    with pytest.raises(SignatureError):
        verify(Envelope(envelope.header, signature, envelope.body), IDENTITY.public_key)


def test_verify_rejects_changed_body():
    envelope = sealed()
    body = envelope.body[:-1] + bytes([envelope.body[-1] ^ 1])
    with pytest.raises(FormatError) as caught:
        verify(Envelope(envelope.header, envelope.signature, body), IDENTITY.public_key)
    assert caught.value.code == "body_mismatch"


def test_verify_rejects_longer_body():
    envelope = sealed()
    with pytest.raises(FormatError) as caught:
        verify(Envelope(envelope.header, envelope.signature, envelope.body + b"\x00"), IDENTITY.public_key)
    assert caught.value.code == "body_mismatch"


def test_verify_rejects_oversized_header():
    envelope = sealed()
    header = b" " * (MAX_HEADER_SIZE + 1)
    with pytest.raises(FormatError, match="more than"):
        verify(Envelope(header, envelope.signature, envelope.body), IDENTITY.public_key)


def test_verify_rejects_key_of_other_sender():
    header = parse_canonical(sealed().header)
    envelope = resigned(header, sealed().body, OTHER_IDENTITY)
    with pytest.raises(SignatureError):
        verify(envelope, IDENTITY.public_key)


def test_verify_needs_no_recipient_key():
    envelope = sealed(3)
    assert verify(envelope, IDENTITY.public_key).id == parse_header(envelope.header).id


def test_verify_rejects_version_true():
    envelope = sealed()
    header = parse_canonical(envelope.header) | {"v": True}
    with pytest.raises(FormatError) as caught:
        verify(resigned(header, envelope.body), IDENTITY.public_key)
    assert caught.value.code == "unsupported_version"


def resigned_with_expiry(envelope: Envelope, expires: bytes) -> Envelope:
    """``envelope`` with the expires text replaced by ``expires``, signed again.

    canonical_json refuses integers beyond 2^53 - 1, so the bytes are edited by hand.
    """
    old = b'"expires":%d' % (CREATED + DEFAULT_TTL)
    assert envelope.header.count(old) == 1
    data = envelope.header.replace(old, b'"expires":' + expires)
    return Envelope(data, IDENTITY.sign(labels.SIG_ENVELOPE_HEADER, data), envelope.body)


@pytest.mark.parametrize("expires", [b"9007199254740992", b"9223372036854775808", b"1" + b"0" * 30])
def test_verify_rejects_expiry_beyond_2_53(expires: bytes):
    with pytest.raises(FormatError, match="outside"):
        verify(resigned_with_expiry(sealed(), expires), IDENTITY.public_key)


def test_verify_accepts_expiry_at_2_53_minus_1():
    envelope = resigned_with_expiry(sealed(), b"9007199254740991")
    assert verify(envelope, IDENTITY.public_key).expires == 2 ** 53 - 1


@pytest.mark.parametrize("size", [0, 47, 49, 64])
def test_verify_rejects_wrap_wrong_length(size: int):
    envelope = sealed(2)
    header = parse_canonical(envelope.header)
    header["recipients"][1]["wrap"] = b64encode(bytes(size))
    with pytest.raises(FormatError, match=f"wrap of {RECIPIENT_IDS[1]} must be exactly 48 bytes") as caught:
        verify(resigned(header, envelope.body), IDENTITY.public_key)
    assert caught.value.code == "bad_format"


@pytest.mark.parametrize("size", [0, 31, 33])
def test_verify_rejects_epk_wrong_length(size: int):
    envelope = sealed(2)
    header = parse_canonical(envelope.header)
    header["recipients"][1]["epk"] = b64encode(bytes(size))
    with pytest.raises(FormatError, match=f"epk of {RECIPIENT_IDS[1]} must be exactly 32 bytes"):
        verify(resigned(header, envelope.body), IDENTITY.public_key)


def test_verify_rejects_wrap_not_base64():
    envelope = sealed()
    header = parse_canonical(envelope.header)
    header["recipients"][0]["wrap"] = "not base64!"
    with pytest.raises(FormatError, match="wrap of"):
        verify(resigned(header, envelope.body), IDENTITY.public_key)


# open_envelope (the recipient's checks)

def test_open_rejects_non_recipient():
    envelope = sealed(1)
    with pytest.raises(NotForThisKey):
        opened(envelope, RECIPIENT_IDS[1])


def test_open_rejects_missing_key():
    envelope = sealed()
    header = verify(envelope, IDENTITY.public_key)
    with pytest.raises(NotForThisKey):
        open_envelope(envelope, header, RECIPIENT_IDS[0], {})


def test_open_rejects_wrong_secret():
    envelope = sealed()
    header = verify(envelope, IDENTITY.public_key)
    wrong = {KEYS[RECIPIENT_IDS[0]].key_id: KEYS[RECIPIENT_IDS[1]]}
    with pytest.raises(DecryptError):
        open_envelope(envelope, header, RECIPIENT_IDS[0], wrong)


def test_open_rejects_header_of_other_envelope():
    first, second = sealed(), sealed()
    header = verify(second, IDENTITY.public_key)
    with pytest.raises(DecryptError):
        open_envelope(first, header, RECIPIENT_IDS[0], {KEYS[RECIPIENT_IDS[0]].key_id: KEYS[RECIPIENT_IDS[0]]})


@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_open_rejects_low_order_epk(point: str):
    envelope = sealed()
    header = parse_canonical(envelope.header)
    header["recipients"][0]["epk"] = b64encode(bytes.fromhex(point))
    with pytest.raises(FormatError, match="low order"):
        opened(resigned(header, envelope.body), RECIPIENT_IDS[0])


# open_envelope repeats the length checks of verify, for a header that skipped it.

def opened_unverified(envelope: Envelope, cp_id: str) -> dict:
    header = parse_header(envelope.header)
    return open_envelope(envelope, header, cp_id, {KEYS[cp_id].key_id: KEYS[cp_id]})


def test_open_unverified_rejects_epk_wrong_size():
    envelope = sealed()
    header = parse_canonical(envelope.header)
    header["recipients"][0]["epk"] = b64encode(bytes(31))
    with pytest.raises(FormatError, match="32 bytes"):
        opened_unverified(resigned(header, envelope.body), RECIPIENT_IDS[0])


@pytest.mark.parametrize("size", [47, 49])
def test_open_unverified_rejects_wrap_wrong_size(size: int):
    envelope = sealed()
    header = parse_canonical(envelope.header)
    header["recipients"][0]["wrap"] = b64encode(bytes(size))
    with pytest.raises(DecryptError, match="48 bytes"):
        opened_unverified(resigned(header, envelope.body), RECIPIENT_IDS[0])


def test_open_unverified_rejects_wrap_not_base64():
    envelope = sealed()
    header = parse_canonical(envelope.header)
    header["recipients"][0]["wrap"] = "not base64!"
    with pytest.raises(FormatError):
        opened_unverified(resigned(header, envelope.body), RECIPIENT_IDS[0])


# Key agreement and digests

@pytest.mark.parametrize("point", LOW_ORDER_POINTS)
def test_shared_secret_rejects_low_order(point: str):
    with pytest.raises(FormatError, match="low order"):
        shared_secret(bytes([7]) * 32, bytes.fromhex(point))


def test_shared_secret_rejects_short_key():
    with pytest.raises(FormatError, match="32 bytes"):
        shared_secret(bytes([7]) * 32, bytes(31))


def test_shared_secret_symmetric():
    a, b = KEYS[RECIPIENT_IDS[0]], KEYS[RECIPIENT_IDS[1]]
    assert shared_secret(a.secret, b.public_key) == shared_secret(b.secret, a.public_key)


def test_core_digest_ignores_wraps():
    header = parse_canonical(sealed(2).header)
    other = json.loads(json.dumps(header))
    other["recipients"][0]["wrap"] = "AAAA"
    assert header_core_digest(header) == header_core_digest(other)


@pytest.mark.parametrize("field, value", [("priority", "urgent"), ("expires", CREATED + 1),
                                          ("kind", "alert"), ("body_size", 1)])
def test_core_digest_covers_field(field: str, value: object):
    header = parse_canonical(sealed().header)
    assert header_core_digest(header) != header_core_digest(header | {field: value})


def test_core_digest_covers_epk():
    header = parse_canonical(sealed().header)
    other = json.loads(json.dumps(header))
    other["recipients"][0]["epk"] = b64encode(bytes(32))
    assert header_core_digest(header) != header_core_digest(other)


def test_envelope_digest_same_bytes():
    envelope = sealed()
    again = Envelope(bytes(envelope.header), bytes(envelope.signature), bytes(envelope.body))
    assert envelope.digest == again.digest


def test_envelope_digest_length_prefixed():
    envelope = sealed()
    moved = Envelope(envelope.header + envelope.signature[:1], envelope.signature[1:], envelope.body)
    assert envelope.digest != moved.digest


def test_envelope_digest_covers_signature():
    envelope = sealed()
    other = Envelope(envelope.header, bytes(64), envelope.body)
    assert envelope.digest != other.digest


# The wire form

def test_wire_fields():
    assert sorted(sealed().to_wire()) == ["body", "header", "signature", "v"]


def test_wire_version():
    assert sealed().to_wire()["v"] == 1


def test_parse_wire_rejects_missing_body():
    wire = sealed().to_wire()
    del wire["body"]
    with pytest.raises(FormatError) as caught:
        parse_wire(wire)
    assert caught.value.code == "missing_field"


def test_parse_wire_rejects_other_version():
    with pytest.raises(FormatError) as caught:
        parse_wire(sealed().to_wire() | {"v": 2})
    assert caught.value.code == "unsupported_version"


def test_parse_wire_rejects_short_signature():
    wire = sealed().to_wire()
    wire["signature"] = b64encode(bytes(63))
    with pytest.raises(FormatError, match="64 bytes"):
        parse_wire(wire)


def test_parse_wire_rejects_list():
    with pytest.raises(FormatError) as caught:
        parse_wire([])
    assert caught.value.code == "invalid_field"
