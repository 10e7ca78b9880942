"""What travels inside the sealed body: plain messages, trafficking alerts, receipts.

The broker never sees any of these fields. Models are strict so that a recipient
reads exactly what the sender validated.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keys.errors import FormatError
from keys.header import describe_validation_error

TLP = Literal["RED", "AMBER+STRICT", "AMBER", "GREEN", "CLEAR"]
TLP_LEVELS = ("RED", "AMBER+STRICT", "AMBER", "GREEN", "CLEAR")
ITEM_KINDS = ("firearm", "part", "ammunition", "explosive")
ITEM_STATUSES = ("seized", "lost", "stolen", "trafficked")

Short = Annotated[str, Field(min_length=1, max_length=200)]
Iso2 = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FirearmsAlert(_Strict):
    """The fields of a firearms tracing request, as customs and police exchange them."""

    item_kind: Literal["firearm", "part", "ammunition", "explosive"]
    status: Literal["seized", "lost", "stolen", "trafficked"]
    make: Short | None = None
    model: Short | None = None
    type: Short | None = None
    calibre: Short | None = None
    serial_number: Short | None = None
    serial_obliterated: bool = False
    country_of_manufacture: Iso2 | None = None
    import_marking: Short | None = None
    quantity: int = Field(default=1, ge=1, le=10_000_000)
    ammunition_lot: Short | None = None
    seizure_place: Short | None = None
    seizure_date: datetime.date | None = None
    route: Annotated[str, Field(max_length=1000)] | None = None
    case_reference: Short | None = None

    @field_validator("seizure_date")
    @classmethod
    def _not_future(cls, value: datetime.date | None) -> datetime.date | None:
        if value is not None and value > datetime.date.today() + datetime.timedelta(days=1):
            raise ValueError("seizure date is in the future")
        if value is not None and value.year < 1900:
            raise ValueError("seizure date is before 1900")
        return value


class TreeHeadWire(_Strict):
    """The sender's last accepted tree head, as keys.log.TreeHead.to_wire() writes it."""

    head: Annotated[str, Field(max_length=2000)]
    signature: Annotated[str, Field(max_length=200)]


class MessageContent(_Strict):
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    text: Annotated[str, Field(max_length=100_000)] = ""
    tlp: TLP = "AMBER"
    # Carried sealed so the recipient can compare the sender's view of the directory
    # log with its own: a broker showing them two different logs is caught.
    log_head: TreeHeadWire | None = None


class AlertContent(MessageContent):
    alert: FirearmsAlert


class ReceiptContent(_Strict):
    receipt_for: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    read_at: int = Field(ge=0)


MODELS = {"message": MessageContent, "alert": AlertContent, "receipt": ReceiptContent}


def validate_content(kind: str, content: dict) -> BaseModel:
    """Validate sealed content of ``kind``; FormatError names each invalid field."""
    model = MODELS.get(kind)
    if model is None:
        raise FormatError(f"no content model for kind {kind!r}", value=kind)
    try:
        return model.model_validate(content)
    except ValidationError as exc:
        error = FormatError(describe_validation_error(exc, f"{kind} content"), code="invalid_content")
        # Each failed field as pydantic reports it, so a user interface can explain it in its language.
        error.details = [{"loc": tuple(e["loc"]), "type": e["type"], "input": e.get("input"), "ctx": e.get("ctx", {})}
                         for e in exc.errors(include_url=False)]
        raise error from None


def to_sealable(kind: str, content: dict) -> dict:
    """Validate ``content`` and return the JSON object to seal (no nulls, dates as ISO)."""
    return validate_content(kind, content).model_dump(mode="json", exclude_none=True)
