"""Tests of keys.encoding, keys.labels and the signed bytes of keys.requests."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import nacl.bindings
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keys import labels
from keys.encoding import (MAX_SAFE_INTEGER, b64decode, b64encode, canonical_json, check_fields, digest,
                           is_version_1, parse_canonical, parse_json)
from keys.errors import CanonicalError, FormatError
from keys.requests import sign_request, signed_bytes
from keys.identity import IdentityKey, verify

PROTOCOL = Path(__file__).parents[2] / "docs" / "PROTOCOL.md"
B64URL_ALPHABET = string.ascii_letters + string.digits + "-_"

# JSON values that canonical JSON can carry: no floats, no lone surrogates, and
# integers inside the interoperable range -(2^53-1) .. 2^53-1.
SAFE_INT = 2 ** 53 - 1
json_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
json_scalars = st.none() | st.booleans() | st.integers(-SAFE_INT, SAFE_INT) | json_text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20)
json_objects = st.dictionaries(json_text, json_values, max_size=6)


# base64url

def test_b64encode_no_padding():
    assert b64encode(b"\xff") == "_w"


def test_b64encode_url_alphabet():
    assert b64encode(b"\xfb\xff") == "-_8"


def test_b64encode_empty():
    assert b64encode(b"") == ""


@given(st.binary(max_size=100))
def test_b64decode_round_trip(data: bytes):
    assert b64decode(b64encode(data)) == data


@pytest.mark.parametrize("text", ["_w==", "_w=", "AAAA=", "=AAA"])
def test_b64decode_rejects_padding(text: str):
    with pytest.raises(FormatError, match="unpadded"):
        b64decode(text)


@pytest.mark.parametrize("text", ["+/8", "//8"])
def test_b64decode_rejects_standard_alphabet(text: str):
    with pytest.raises(FormatError, match="not canonical"):
        b64decode(text)


@pytest.mark.parametrize("text", ["_x", "AB", "AAB"])
def test_b64decode_rejects_stray_bits(text: str):
    with pytest.raises(FormatError, match="not canonical"):
        b64decode(text)


@pytest.mark.parametrize("text", ["AA AA", "AAAA\n", "\tAAAA", "AA.A"])
def test_b64decode_rejects_other_characters(text: str):
    with pytest.raises(FormatError):
        b64decode(text)


def test_b64decode_rejects_impossible_length():
    with pytest.raises(FormatError, match="not base64url"):
        b64decode("AAAAA")


def test_b64decode_rejects_non_ascii():
    with pytest.raises(FormatError, match="unpadded"):
        b64decode("AAAé")


def test_b64decode_rejects_bytes_input():
    with pytest.raises(FormatError):
        b64decode(b"AAAA")


def test_b64decode_rejects_wrong_size():
    with pytest.raises(FormatError, match="exactly 32 bytes, got 3"):
        b64decode("AAAA", size=32)


def test_b64decode_names_field():
    with pytest.raises(FormatError, match="^epk is not"):
        b64decode("AA==", field="epk")


@given(st.text(alphabet=B64URL_ALPHABET + "=+/ ", max_size=12))
def test_b64decode_accepts_only_canonical(text: str):
    try:
        data = b64decode(text)
    except FormatError:
        return
    assert b64encode(data) == text


@given(st.binary(min_size=1, max_size=40).filter(lambda data: len(data) % 3 != 0))
def test_b64decode_rejects_any_stray_bit(data: bytes):
    text = b64encode(data)
    index = B64URL_ALPHABET.index(text[-1])
    with pytest.raises(FormatError):
        b64decode(text[:-1] + B64URL_ALPHABET[index | 1])


# Canonical JSON

def test_canonical_sorts_keys():
    assert canonical_json({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_canonical_sorts_by_code_point():
    assert canonical_json({"é": 1, "z": 2, "Z": 3}) == '{"Z":3,"z":2,"é":1}'.encode()


def test_canonical_sorts_nested_objects():
    assert canonical_json({"a": [{"d": 1, "c": 2}]}) == b'{"a":[{"c":2,"d":1}]}'


def test_canonical_no_whitespace():
    assert canonical_json({"a": [1, 2], "b": {"c": None}}) == b'{"a":[1,2],"b":{"c":null}}'


def test_canonical_utf8_not_escaped():
    assert canonical_json({"s": "Incautación 🔫"}) == '{"s":"Incautación 🔫"}'.encode("utf-8")


def test_canonical_escapes_quote_and_backslash():
    assert canonical_json({"s": 'a"b\\c'}) == b'{"s":"a\\"b\\\\c"}'


def test_canonical_short_control_escapes():
    assert canonical_json({"s": "\b\f\n\r\t"}) == b'{"s":"\\b\\f\\n\\r\\t"}'


def test_canonical_other_controls_lowercase_hex():
    assert canonical_json({"s": "\x00\x1f"}) == b'{"s":"\\u0000\\u001f"}'


def test_canonical_del_and_separators_raw():
    assert canonical_json({"s": "\x7f\u2028/"}) == '{"s":"\x7f\u2028/"}'.encode("utf-8")


def test_canonical_literals():
    assert canonical_json({"f": False, "n": None, "t": True}) == b'{"f":false,"n":null,"t":true}'


@given(json_objects)
def test_canonical_round_trip(obj: dict):
    data = canonical_json(obj)
    assert parse_canonical(data) == obj


@given(json_objects)
def test_canonical_reencode_identical(obj: dict):
    data = canonical_json(obj)
    assert canonical_json(parse_canonical(data)) == data


@given(json_objects.filter(lambda obj: len(obj) > 0))
def test_canonical_rejects_indented(obj: dict):
    indented = json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")
    with pytest.raises(CanonicalError):
        parse_canonical(indented)


@given(json_objects.filter(lambda obj: any(ord(ch) > 127 for ch in json.dumps(obj, ensure_ascii=False))))
def test_canonical_rejects_ascii_escapes(obj: dict):
    escaped = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    with pytest.raises(CanonicalError):
        parse_canonical(escaped)


@pytest.mark.parametrize("data", [
    b'{"b":1,"a":2}',
    b'{"a": 1}',
    b'{"a":1}\n',
    b' {"a":1}',
    b'{"a":"\\u00e9"}',
    b'{"a":"\\/"}',
    b'{"a":"\\u0041"}',
    b'{"a":-0}',
    b'{"a":"\\u001F"}',
])
def test_parse_canonical_rejects_other_spelling(data: bytes):
    with pytest.raises(CanonicalError):
        parse_canonical(data)


@pytest.mark.parametrize("data", [b'{"a":1.0}', b'{"a":1e3}', b'{"a":1E3}', b'{"a":-0.0}'])
def test_parse_json_rejects_float(data: bytes):
    with pytest.raises(FormatError, match="floating-point"):
        parse_json(data)


@pytest.mark.parametrize("data", [b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}'])
def test_parse_json_rejects_constants(data: bytes):
    with pytest.raises(FormatError, match="not allowed"):
        parse_json(data)


def test_parse_json_rejects_duplicate_key():
    with pytest.raises(FormatError, match="duplicate key 'a'"):
        parse_json(b'{"a":1,"a":1}')


def test_parse_json_rejects_nested_duplicate_key():
    with pytest.raises(FormatError, match="duplicate key 'b'"):
        parse_json(b'{"a":{"b":1,"b":2}}')


def test_parse_json_rejects_invalid_utf8():
    with pytest.raises(FormatError, match="not UTF-8"):
        parse_json(b'{"a":"\xff"}')


def test_parse_json_rejects_byte_order_mark():
    with pytest.raises(FormatError):
        parse_json(b'\xef\xbb\xbf{"a":1}')


def test_parse_json_rejects_leading_zero():
    with pytest.raises(FormatError):
        parse_json(b'{"a":01}')


def test_parse_json_rejects_trailing_comma():
    with pytest.raises(FormatError):
        parse_json(b'{"a":1,}')


def test_parse_canonical_rejects_array():
    with pytest.raises(FormatError, match="must be a JSON object"):
        parse_canonical(b"[1]")


def test_parse_canonical_names_document():
    with pytest.raises(CanonicalError, match="^header is not canonical"):
        parse_canonical(b'{"a": 1}', what="header")


@pytest.mark.parametrize("data", [b'{"a":"\\ud800"}', b'{"a":"\\udfff"}', b'{"\\ud800":1}',
                                  b'{"a":"x\\ud800y"}'])
def test_parse_canonical_rejects_lone_surrogate(data: bytes):
    with pytest.raises(FormatError, match="not valid Unicode"):
        parse_canonical(data)


def test_parse_canonical_accepts_surrogate_pair_as_utf8():
    assert parse_canonical('{"a":"🔫"}'.encode("utf-8")) == {"a": "🔫"}


def test_parse_canonical_rejects_escaped_surrogate_pair():
    with pytest.raises(CanonicalError):
        parse_canonical(b'{"a":"\\ud83d\\udd2b"}')


@pytest.mark.parametrize("data", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000])
def test_parse_json_rejects_deep_nesting(data: bytes):
    with pytest.raises(FormatError, match="not acceptable JSON"):
        parse_json(data)


def test_parse_canonical_rejects_deep_nesting():
    with pytest.raises(FormatError):
        parse_canonical(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_parse_json_rejects_huge_integer():
    with pytest.raises(FormatError):
        parse_json(b"9" * 5000)


@pytest.mark.parametrize("text", [b"9007199254740992", b"-9007199254740992", b"18446744073709551616",
                                  b"9" * 4000])
def test_parse_json_rejects_integer_beyond_2_53(text: bytes):
    with pytest.raises(FormatError, match="outside"):
        parse_json(b'{"a":' + text + b"}")


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0])
def test_parse_canonical_accepts_integer_at_limit(value: int):
    assert parse_canonical(b'{"a":%d}' % value) == {"a": value}


def test_max_safe_integer_is_2_53_minus_1():
    assert MAX_SAFE_INTEGER == 9007199254740991


@pytest.mark.parametrize("value", [1.5, 1.0, -0.0, float("nan"), float("inf")])
def test_canonical_json_rejects_float(value: float):
    with pytest.raises(FormatError, match="floating-point"):
        canonical_json({"a": value})


def test_canonical_json_rejects_nested_float():
    with pytest.raises(FormatError, match="floating-point"):
        canonical_json({"a": [{"b": 0.5}]})


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 2 ** 64])
def test_canonical_json_rejects_integer_beyond_2_53(value: int):
    with pytest.raises(FormatError, match="outside"):
        canonical_json({"a": [value]})


@pytest.mark.parametrize("value", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER])
def test_canonical_json_accepts_integer_at_limit(value: int):
    assert canonical_json({"a": value}) == b'{"a":%d}' % value


@pytest.mark.parametrize("key", [1, None, True, (1, 2)])
def test_canonical_json_rejects_non_string_key(key: object):
    with pytest.raises(FormatError) as caught:
        canonical_json({"a": {key: "x"}})
    assert caught.value.code == "invalid_field"


@pytest.mark.parametrize("obj", [{"a": "\ud800"}, {"\udfff": 1}, {"a": ["x\udc00"]}])
def test_canonical_json_rejects_lone_surrogate(obj: dict):
    with pytest.raises(FormatError, match="not valid Unicode"):
        canonical_json(obj)


def test_canonical_json_rejects_deep_nesting():
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(FormatError):
        canonical_json({"a": nested})


# Version checks

@pytest.mark.parametrize("value, expected", [(1, True), (True, False), (2, False), (0, False), ("1", False),
                                             (None, False), (1.0, False), ([1], False)])
def test_is_version_1(value: object, expected: bool):
    assert is_version_1(value) is expected


# check_fields

def test_check_fields_accepts_exact():
    assert check_fields({"a": 1, "b": 2}, {"a", "b"}, what="thing") == {"a": 1, "b": 2}


def test_check_fields_missing_code():
    with pytest.raises(FormatError) as caught:
        check_fields({"a": 1}, {"a", "b"}, what="thing")
    assert caught.value.code == "missing_field"
    assert caught.value.value == "b"


def test_check_fields_unknown_code():
    with pytest.raises(FormatError) as caught:
        check_fields({"a": 1, "z": 2}, {"a"}, what="thing")
    assert caught.value.code == "unknown_field"
    assert caught.value.value == "z"


def test_check_fields_not_object_code():
    with pytest.raises(FormatError) as caught:
        check_fields([1], {"a"}, what="thing")
    assert caught.value.code == "invalid_field"


# BLAKE2b digests

def test_digest_is_blake2b_with_padded_person():
    expected = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        b"data", digest_size=32, person=labels.DIGEST_BODY.ljust(16, b"\x00"), salt=bytes(16))
    assert digest(b"data", labels.DIGEST_BODY) == expected


def test_digest_default_size():
    assert len(digest(b"data", labels.DIGEST_BODY)) == 32


def test_digest_other_size():
    assert len(digest(b"data", labels.DIGEST_KEY_ID, 16)) == 16


def test_digest_depends_on_person():
    assert digest(b"data", labels.DIGEST_BODY) != digest(b"data", labels.DIGEST_HEADER_CORE)


# Labels

def _labels(*prefixes: str) -> list[bytes]:
    """Every constant of keys.labels whose name starts with one of ``prefixes``."""
    return [value for name, value in vars(labels).items() if name.startswith(prefixes)]


SIGNATURE_LABELS = _labels("SIG_")
PERSONALISATIONS = _labels("KDF_", "DIGEST_")


def test_labels_found():
    assert len(SIGNATURE_LABELS) >= 6
    assert len(PERSONALISATIONS) >= 8


@pytest.mark.parametrize("label", SIGNATURE_LABELS + [labels.AD_BODY])
def test_label_ends_with_nul(label: bytes):
    assert label.endswith(b"\x00")


@pytest.mark.parametrize("label", SIGNATURE_LABELS + [labels.AD_BODY])
def test_label_single_nul(label: bytes):
    assert label.count(b"\x00") == 1


def test_labels_distinct():
    assert len(set(SIGNATURE_LABELS + [labels.AD_BODY])) == len(SIGNATURE_LABELS) + 1


def test_labels_none_prefix_of_another():
    pairs = [(a, b) for a in SIGNATURE_LABELS for b in SIGNATURE_LABELS if a != b and b.startswith(a)]
    assert pairs == []


@pytest.mark.parametrize("person", PERSONALISATIONS)
def test_personalisation_fits_16_bytes(person: bytes):
    assert len(person) <= 16


def test_personalisations_distinct():
    assert len(set(PERSONALISATIONS)) == len(PERSONALISATIONS)


def _protocol_literals() -> set[bytes]:
    """Every byte string written as b"..." in docs/PROTOCOL.md."""
    text = PROTOCOL.read_text(encoding="utf-8")
    return {ast.literal_eval(match) for match in re.findall(r'b"[^"\n]*"', text)}


@pytest.mark.parametrize("label", SIGNATURE_LABELS + PERSONALISATIONS + [labels.AD_BODY])
def test_label_written_in_protocol(label: bytes):
    assert label in _protocol_literals()


# Signed requests

REQUEST = dict(method="post", path="/v1/messages", caller="mx.anam.inteligencia",
               key_id="f730dfa448f8a118bb1d49ac65f1a40a", timestamp=1767225600,
               nonce="00112233445566778899aabbccddeeff", body=b'{"v":1}')


def test_signed_bytes_canonical():
    data = signed_bytes(**REQUEST)
    assert parse_canonical(data) is not None


def test_signed_bytes_fields():
    fields = parse_canonical(signed_bytes(**REQUEST))
    assert sorted(fields) == ["body_digest", "caller", "key_id", "method", "nonce", "path", "timestamp"]


def test_signed_bytes_method_uppercase():
    assert parse_canonical(signed_bytes(**REQUEST))["method"] == "POST"


def test_signed_bytes_body_digest():
    expected = b64encode(digest(b'{"v":1}', labels.DIGEST_REQUEST_BODY))
    assert parse_canonical(signed_bytes(**REQUEST))["body_digest"] == expected


def test_signed_bytes_empty_body_digest():
    fields = parse_canonical(signed_bytes(**(REQUEST | {"body": b""})))
    assert fields["body_digest"] == b64encode(digest(b"", labels.DIGEST_REQUEST_BODY))


def test_sign_request_headers():
    identity = IdentityKey(bytes([0x11]) * 32)
    headers = sign_request(identity, "mx.anam.inteligencia", "POST", "/v1/messages", b"{}",
                           now=1767225600, nonce="00" * 16)
    assert sorted(headers) == ["Enlace-Caller", "Enlace-Key", "Enlace-Nonce", "Enlace-Signature",
                               "Enlace-Timestamp"]


def test_sign_request_signature_verifies():
    identity = IdentityKey(bytes([0x11]) * 32)
    headers = sign_request(identity, "mx.anam.inteligencia", "POST", "/v1/messages", b"{}",
                           now=1767225600, nonce="00" * 16)
    data = signed_bytes(method="POST", path="/v1/messages", caller="mx.anam.inteligencia",
                        key_id=identity.key_id, timestamp=1767225600, nonce="00" * 16, body=b"{}")
    verify(identity.public_key, labels.SIG_REQUEST, data, b64decode(headers["Enlace-Signature"]),
           what="request")


def test_sign_request_fresh_nonce():
    identity = IdentityKey(bytes([0x11]) * 32)
    first = sign_request(identity, "x", "GET", "/v1/mailbox", b"")
    second = sign_request(identity, "x", "GET", "/v1/mailbox", b"")
    assert first["Enlace-Nonce"] != second["Enlace-Nonce"]


def test_sign_request_nonce_format():
    identity = IdentityKey(bytes([0x11]) * 32)
    nonce = sign_request(identity, "x", "GET", "/v1/mailbox", b"")["Enlace-Nonce"]
    assert re.fullmatch(r"[0-9a-f]{32}", nonce)
