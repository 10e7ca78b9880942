"""Transparency-log entries and signed tree heads (keys.log)."""

from __future__ import annotations

import hashlib

import pytest

from keys import labels
from keys.encoding import b64encode, canonical_json, parse_canonical
from keys.errors import CanonicalError, FormatError, SignatureError
from keys.identity import IdentityKey
from keys.log import ENTRY_TYPES, make_entry, parse_entry, parse_head, sign_head
from keys.merkle import EMPTY_ROOT

CP_ID = "mx.anam.inteligencia"
NOW = 1767225600
LOG_KEY = IdentityKey(bytes([0x4C]) * 32)
OTHER = IdentityKey(bytes([0x1F]) * 32)
DOCUMENT = b'{"v":1}'
SIGNATURE = bytes(range(64))
ROOT = hashlib.sha256(b"root").digest()


def entry_bytes(**changes: object) -> bytes:
    """Canonical entry bytes with ``changes`` applied to the fields of a valid entry."""
    body = parse_canonical(make_entry("record", CP_ID, DOCUMENT, SIGNATURE, NOW).raw)
    return canonical_json(body | changes)


def head_wire(document: bytes, signer: IdentityKey = LOG_KEY, label: bytes = labels.SIG_TREE_HEAD) -> dict:
    return {"head": b64encode(document), "signature": b64encode(signer.sign(label, document))}


def head_document(**changes: object) -> bytes:
    body = parse_canonical(sign_head(LOG_KEY, 5, ROOT, NOW).document)
    return canonical_json(body | changes)


# Log entries

def test_entry_round_trip():
    entry = parse_entry(make_entry("encryption-key", CP_ID, DOCUMENT, SIGNATURE, NOW).raw)
    assert (entry.type, entry.cp_id, entry.document, entry.signature, entry.appended_at) == \
        ("encryption-key", CP_ID, DOCUMENT, SIGNATURE, NOW)


def test_entry_fields():
    body = parse_canonical(make_entry("record", CP_ID, DOCUMENT, SIGNATURE, NOW).raw)
    assert sorted(body) == ["appended_at", "cp_id", "document", "signature", "type", "v"]


def test_entry_document_base64url():
    body = parse_canonical(make_entry("record", CP_ID, DOCUMENT, SIGNATURE, NOW).raw)
    assert body["document"] == b64encode(DOCUMENT)


def test_entry_leaf_hash_rfc_9162():
    entry = make_entry("record", CP_ID, DOCUMENT, SIGNATURE, NOW)
    assert entry.leaf_hash == hashlib.sha256(b"\x00" + entry.raw).digest()


def test_entry_types():
    assert ENTRY_TYPES == ("record", "encryption-key", "revocation")


@pytest.mark.parametrize("entry_type", ENTRY_TYPES)
def test_entry_accepts_each_type(entry_type: str):
    assert parse_entry(entry_bytes(type=entry_type)).type == entry_type


@pytest.mark.parametrize("entry_type", ["suspension", "Record", "", None, 1])
def test_entry_rejects_unknown_type(entry_type: object):
    with pytest.raises(FormatError, match="is not supported"):
        parse_entry(entry_bytes(type=entry_type))


def test_make_entry_rejects_unknown_type():
    with pytest.raises(FormatError):
        make_entry("suspension", CP_ID, DOCUMENT, SIGNATURE, NOW)


@pytest.mark.parametrize("version", [2, 0, True, "1", None])
def test_entry_rejects_other_version(version: object):
    with pytest.raises(FormatError):
        parse_entry(entry_bytes(v=version))


def test_entry_rejects_missing_field():
    body = parse_canonical(entry_bytes())
    del body["appended_at"]
    with pytest.raises(FormatError) as caught:
        parse_entry(canonical_json(body))
    assert caught.value.code == "missing_field"


def test_entry_rejects_unknown_field():
    with pytest.raises(FormatError) as caught:
        parse_entry(entry_bytes(index=0))
    assert caught.value.code == "unknown_field"


@pytest.mark.parametrize("appended_at", ["1767225600", None, True, [NOW]])
def test_entry_rejects_non_integer_time(appended_at: object):
    with pytest.raises(FormatError, match="appended_at"):
        parse_entry(entry_bytes(appended_at=appended_at))


@pytest.mark.parametrize("cp_id", [CP_ID + "\n", "MX.anam.inteligencia", "de.bka.waffen"])
def test_entry_rejects_bad_cp_id(cp_id: str):
    with pytest.raises(FormatError) as caught:
        parse_entry(entry_bytes(cp_id=cp_id))
    assert caught.value.code in ("bad_cp_id", "unknown_country")


def test_entry_rejects_short_signature():
    with pytest.raises(FormatError, match="64 bytes"):
        parse_entry(entry_bytes(signature=b64encode(bytes(63))))


def test_entry_rejects_padded_document():
    with pytest.raises(FormatError):
        parse_entry(entry_bytes(document=b64encode(DOCUMENT) + "="))


def test_entry_rejects_not_canonical():
    raw = make_entry("record", CP_ID, DOCUMENT, SIGNATURE, NOW).raw
    with pytest.raises(CanonicalError):
        parse_entry(raw.replace(b'"v":1', b'"v": 1'))


def test_entry_rejects_duplicate_key():
    raw = make_entry("record", CP_ID, DOCUMENT, SIGNATURE, NOW).raw
    with pytest.raises(FormatError, match="duplicate key 'type'"):
        parse_entry(raw.replace(b'"type":"record"', b'"type":"record","type":"revocation"'))


# Signed tree heads

def test_head_round_trip():
    head = parse_head(sign_head(LOG_KEY, 5, ROOT, NOW).to_wire(), LOG_KEY.public_key)
    assert (head.tree_size, head.root_hash, head.timestamp, head.log_key_id) == (5, ROOT, NOW, LOG_KEY.key_id)


def test_head_fields():
    body = parse_canonical(sign_head(LOG_KEY, 5, ROOT, NOW).document)
    assert sorted(body) == ["log_key_id", "root_hash", "timestamp", "tree_size", "v"]


def test_head_wire_fields():
    assert sorted(sign_head(LOG_KEY, 5, ROOT, NOW).to_wire()) == ["head", "signature"]


def test_head_of_empty_tree():
    head = parse_head(sign_head(LOG_KEY, 0, EMPTY_ROOT, NOW).to_wire(), LOG_KEY.public_key)
    assert (head.tree_size, head.root_hash) == (0, EMPTY_ROOT)


def test_head_rejects_other_key():
    with pytest.raises(SignatureError):
        parse_head(head_wire(head_document(), OTHER), LOG_KEY.public_key)


def test_head_rejects_other_pinned_key():
    with pytest.raises(SignatureError):
        parse_head(sign_head(LOG_KEY, 5, ROOT, NOW).to_wire(), OTHER.public_key)


def test_head_rejects_record_label():
    with pytest.raises(SignatureError):
        parse_head(head_wire(head_document(), label=labels.SIG_DIRECTORY_RECORD), LOG_KEY.public_key)


def test_head_rejects_changed_size():
    wire = sign_head(LOG_KEY, 5, ROOT, NOW).to_wire()
    wire["head"] = b64encode(head_document(tree_size=6))
    with pytest.raises(SignatureError):
        parse_head(wire, LOG_KEY.public_key)


def test_head_rejects_other_log_key_id():
    with pytest.raises(FormatError, match="another log key"):
        parse_head(head_wire(head_document(log_key_id=OTHER.key_id)), LOG_KEY.public_key)


@pytest.mark.parametrize("version", [2, True, "1"])
def test_head_rejects_other_version(version: object):
    with pytest.raises(FormatError):
        parse_head(head_wire(head_document(v=version)), LOG_KEY.public_key)


@pytest.mark.parametrize("field", ["tree_size", "timestamp"])
@pytest.mark.parametrize("value", [-1, "5", True, None])
def test_head_rejects_bad_count(field: str, value: object):
    with pytest.raises(FormatError, match=f"{field} must be a non-negative integer"):
        parse_head(head_wire(head_document(**{field: value})), LOG_KEY.public_key)


@pytest.mark.parametrize("size", [31, 33])
def test_head_rejects_root_wrong_length(size: int):
    with pytest.raises(FormatError, match="root_hash must be exactly 32 bytes"):
        parse_head(head_wire(head_document(root_hash=b64encode(bytes(size)))), LOG_KEY.public_key)


def test_head_rejects_missing_field():
    body = parse_canonical(head_document())
    del body["timestamp"]
    with pytest.raises(FormatError) as caught:
        parse_head(head_wire(canonical_json(body)), LOG_KEY.public_key)
    assert caught.value.code == "missing_field"


def test_head_rejects_document_field_name():
    wire = sign_head(LOG_KEY, 5, ROOT, NOW).to_wire()
    wire["document"] = wire.pop("head")
    with pytest.raises(FormatError) as caught:
        parse_head(wire, LOG_KEY.public_key)
    assert caught.value.code == "missing_field"


def test_head_rejects_short_signature():
    wire = sign_head(LOG_KEY, 5, ROOT, NOW).to_wire() | {"signature": b64encode(bytes(63))}
    with pytest.raises(FormatError, match="64 bytes"):
        parse_head(wire, LOG_KEY.public_key)


def test_head_rejects_not_canonical():
    spaced = head_document().replace(b'"v":1', b'"v": 1')
    with pytest.raises(CanonicalError):
        parse_head(head_wire(spaced), LOG_KEY.public_key)
