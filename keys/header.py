"""The signed envelope header: its fields and the rules a reader applies to them."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keys.encoding import is_version_1, parse_canonical
from keys.errors import FormatError
from keys.ids import check_cp_id

BODY_ENCODING = "xchacha20poly1305-single"
KINDS = ("message", "alert", "receipt", "document")
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_RECIPIENTS = 500
MAX_HEADER_SIZE = 256 * 1024

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
Hex32 = Annotated[str, Field(pattern=_HEX32.pattern)]
NonNegative = Annotated[int, Field(ge=0)]


class RecipientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str
    key_id: Hex32
    epk: str
    wrap: str

    @field_validator("id")
    @classmethod
    def _cp_id(cls, value: str) -> str:
        return check_cp_id(value)


class Header(BaseModel):
    """Envelope header v1, as parsed from the exact signed bytes."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    v: Literal[1]
    id: Hex32
    sender: str
    sender_key: Hex32
    created: NonNegative
    expires: NonNegative
    kind: Literal["message", "alert", "receipt", "document"]
    priority: Literal["low", "normal", "high", "urgent"]
    body_encoding: Literal["xchacha20poly1305-single"]
    body_size: NonNegative
    body_digest: str
    recipients: list[RecipientEntry] = Field(min_length=1, max_length=MAX_RECIPIENTS)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return check_cp_id(value)

    @model_validator(mode="after")
    def _consistent(self) -> "Header":
        if self.expires <= self.created:
            raise ValueError("expires must be later than created")
        ids = [r.id for r in self.recipients]
        if len(set(ids)) != len(ids):
            raise ValueError("a recipient appears more than once")
        return self

    @property
    def raw(self) -> dict:
        """The header as a plain JSON object (what was signed, re-read)."""
        return self.model_dump(mode="json")

    @property
    def priority_rank(self) -> int:
        return PRIORITIES.index(self.priority)

    @property
    def recipient_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.recipients)


# Fields whose value is sealed message text: an error must never repeat it.
SECRET_FIELDS = {"subject", "text", "route", "seizure_place", "case_reference", "serial_number",
                 "make", "model", "calibre", "import_marking", "ammunition_lot"}


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """One line naming each invalid field and why, for an error message.

    The rejected value is shown, except for the fields of sealed content.
    """
    parts = []
    for error in exc.errors()[:5]:
        location = ".".join(str(p) for p in error["loc"]) or what
        value = error.get("input")
        secret = bool(set(str(p) for p in error["loc"]) & SECRET_FIELDS)
        shown = "" if secret or not isinstance(value, (str, int)) or isinstance(value, bool) else f" (got {value!r:.60})"
        parts.append(f"{location}: {error['msg']}{shown}")
    return f"{what} is invalid: " + "; ".join(parts)


def parse_header(data: bytes) -> Header:
    """Parse the exact header bytes; raise FormatError on any deviation from v1."""
    if len(data) > MAX_HEADER_SIZE:
        raise FormatError(f"header is {len(data)} bytes, more than {MAX_HEADER_SIZE}")

    obj = parse_canonical(data, what="header")
    if not is_version_1(obj.get("v")):
        raise FormatError(f"header version {obj.get('v')!r} is not supported (expected 1)",
                          value=obj.get("v"), code="unsupported_version")

    try:
        return Header.model_validate(obj)
    except ValidationError as exc:
        raise FormatError(describe_validation_error(exc, "header")) from None
