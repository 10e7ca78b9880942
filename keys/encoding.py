"""Byte encodings: base64url, canonical JSON and BLAKE2b digests.

Canonical JSON is what every signer produces and every reader demands: keys sorted,
no insignificant white space, UTF-8, no floats, no duplicate keys. A reader parses
the exact signed bytes and then checks that re-encoding them gives the same bytes,
so one message has exactly one valid encoding.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import nacl.encoding
import nacl.hash

from keys.errors import CanonicalError, FormatError


def b64encode(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str, *, field: str = "value", size: int | None = None) -> bytes:
    """Decode unpadded base64url, rejecting any other spelling of the same bytes.

    Raises FormatError naming ``field`` when the text is not base64url, is padded, has
    stray bits, or (when ``size`` is given) decodes to another length.
    """
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise FormatError(f"{field} is not unpadded base64url", value=field)

    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{field} is not base64url: {exc}", value=field) from None

    if b64encode(data) != text:
        raise FormatError(f"{field} is not canonical base64url", value=field)
    if size is not None and len(data) != size:
        raise FormatError(f"{field} must be exactly {size} bytes, got {len(data)}", value=field)
    return data


# Integers beyond 2^53 - 1 lose precision in many JSON readers, so none may travel.
MAX_SAFE_INTEGER = 2**53 - 1


def _check_value(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FormatError(f"JSON object key {key!r} is not a string", code="invalid_field")
            _check_value(item)
    elif isinstance(value, list):
        for item in value:
            _check_value(item)
    elif isinstance(value, float):
        raise FormatError(f"floating-point number {value} is not allowed", value=str(value))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise FormatError(f"integer {value} is outside ±(2^53 - 1)", value=str(value))


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` as canonical JSON bytes (sorted keys, compact, UTF-8).

    Raises FormatError for what a reader would reject: floats, integers beyond
    ±(2^53 - 1), non-string keys and strings that are not valid Unicode.
    """
    try:
        _check_value(obj)
    except RecursionError:
        raise FormatError("value nests too deeply to be encoded") from None
    return _dumps(obj)


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError(f"string is not valid Unicode: {exc.reason}") from None
    except RecursionError:
        raise FormatError("value nests too deeply to be encoded") from None


def is_version_1(value: object) -> bool:
    """True only for the JSON integer 1 (``true`` compares equal to 1 in Python)."""
    return type(value) is int and value == 1


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"duplicate key {key!r} in JSON object", value=key)
        result[key] = value
    return result


def _reject_float(text: str) -> Any:
    raise FormatError(f"floating-point number {text} is not allowed", value=text)


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise FormatError(f"integer {text[:20]} is outside ±(2^53 - 1)", value=text[:20])
    return value


def _reject_constant(text: str) -> Any:
    raise FormatError(f"{text} is not allowed in JSON", value=text)


def parse_json(data: bytes, *, what: str = "document") -> Any:
    """Parse UTF-8 JSON strictly: no duplicate keys, no floats, no NaN."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{what} is not UTF-8: {exc.reason} at byte {exc.start}") from None

    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_float=_reject_float,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise FormatError(f"{what} is not valid JSON: {exc.msg} at offset {exc.pos}") from None
    except (RecursionError, ValueError) as exc:
        raise FormatError(f"{what} is not acceptable JSON: {exc}") from None


def parse_canonical(data: bytes, *, what: str = "document") -> dict[str, Any]:
    """Parse canonical JSON bytes into an object, rejecting any other encoding."""
    obj = parse_json(data, what=what)
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be a JSON object")
    try:
        # parse_json already rejected floats and out-of-range integers.
        encoded = _dumps(obj)
    except FormatError as exc:
        raise FormatError(f"{what}: {exc.message}") from None
    if encoded != data:
        raise CanonicalError(f"{what} is not canonical JSON (sorted keys, no spaces, UTF-8)")
    return obj


def digest(data: bytes, person: bytes, size: int = 32) -> bytes:
    """BLAKE2b of ``data`` under the personalisation ``person``."""
    return nacl.hash.blake2b(
        data, digest_size=size, person=person, encoder=nacl.encoding.RawEncoder
    )


def check_fields(obj: object, expected: set[str], *, what: str) -> dict:
    """Return ``obj`` if it is a JSON object with exactly the ``expected`` keys."""
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be a JSON object, got {type(obj).__name__}", value=what,
                          code="invalid_field")

    missing = sorted(expected - set(obj))
    if missing:
        raise FormatError(f"{what} is missing field {', '.join(missing)}", value=missing[0],
                          code="missing_field")
    unknown = sorted(set(obj) - expected)
    if unknown:
        raise FormatError(f"{what} has unknown field {', '.join(unknown)}", value=unknown[0],
                          code="unknown_field")
    return obj
