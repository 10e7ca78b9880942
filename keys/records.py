"""Registration requests, directory records and the Secretariat's decisions.

All three are canonical JSON documents travelling with a detached signature:

- a registration request is signed by the applicant's own identity key, which proves
  the applicant holds the key it asks to register;
- a directory record is signed by the Secretariat root key; a record that does not
  verify against the pinned root is never used;
- a rejection is signed by the Secretariat root key and carries the reason the
  applicant sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keys import labels
from keys.encoding import b64decode, b64encode, canonical_json, check_fields, digest, is_version_1, parse_canonical
from keys.encryption import KeyCertificate, current_certificate, parse_certificate
from keys.errors import FormatError
from keys.header import describe_validation_error
from keys.identity import IdentityKey, key_id, verify
from keys.ids import check_cp_id, country_of, normalize_text

LANGUAGES = ("en", "es", "pt", "fr")
DEFAULT_RECORD_VALIDITY = 2 * 365 * 24 * 3600
Token = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


@dataclass(frozen=True)
class SignedDocument:
    document: bytes
    signature: bytes

    @property
    def digest(self) -> bytes:
        return digest(self.document, labels.DIGEST_DOCUMENT)

    def to_wire(self) -> dict:
        return {"document": b64encode(self.document), "signature": b64encode(self.signature)}

    @classmethod
    def from_wire(cls, wire: object, *, what: str) -> "SignedDocument":
        check_fields(wire, {"document", "signature"}, what=what)
        return cls(b64decode(wire["document"], field=f"{what} document"),
                   b64decode(wire["signature"], field=f"{what} signature", size=64))


class Profile(BaseModel):
    """Descriptive fields of a contact point in the directory, besides its keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str
    country: str
    agency: str
    agency_type: Token
    unit: str
    languages: list[Literal["en", "es", "pt", "fr"]] = Field(min_length=1, max_length=4)
    topics: list[Token] = Field(default_factory=list, max_length=20)
    role: Literal["contact-point", "national-admin"] = "contact-point"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_cp_id(value)

    @field_validator("agency", "unit")
    @classmethod
    def _text(cls, value: str, info) -> str:
        return normalize_text(value, field=info.field_name)

    @model_validator(mode="after")
    def _country_matches(self) -> "Profile":
        if self.country != country_of(self.id):
            raise ValueError(f"country {self.country!r} does not match the id's {country_of(self.id)!r}")
        return self


def _validate_profile(fields: dict, what: str) -> Profile:
    try:
        return Profile.model_validate(fields)
    except ValidationError as exc:
        raise FormatError(describe_validation_error(exc, what), code="invalid_profile") from None


@dataclass(frozen=True)
class Registration:
    profile: Profile
    identity_key: bytes
    certificates: tuple[KeyCertificate, ...]
    requested_at: int
    signed: SignedDocument


@dataclass(frozen=True)
class DirectoryRecord:
    profile: Profile
    identity_key: bytes
    certificates: tuple[KeyCertificate, ...]
    status: str
    serial: int
    valid_from: int
    valid_until: int
    approved_at: int
    request_digest: bytes
    signed: SignedDocument

    @property
    def cp_id(self) -> str:
        return self.profile.id

    def usable_at(self, when: int) -> bool:
        return self.status == "active" and self.valid_from <= when < self.valid_until

    def current_key(self, when: int) -> KeyCertificate | None:
        return current_certificate(list(self.certificates), when)


def make_registration(identity: IdentityKey, profile: dict, certificates: list[KeyCertificate],
                      now: int) -> SignedDocument:
    """Build and self-sign a registration request for the Secretariat."""
    checked = _validate_profile(profile, "registration")
    body = checked.model_dump() | {
        "v": 1, "type": "registration", "identity_key": b64encode(identity.public_key),
        "encryption_keys": [c.to_wire() for c in certificates], "requested_at": now}
    document = canonical_json(body)
    return SignedDocument(document, identity.sign(labels.SIG_REGISTRATION, document))


def _split(body: dict, extra: set[str]) -> tuple[dict, dict]:
    profile_fields = set(Profile.model_fields)
    unknown = set(body) - profile_fields - extra
    if unknown:
        raise FormatError(f"unknown fields: {', '.join(sorted(unknown))}")
    missing = extra - set(body)
    if missing:
        raise FormatError(f"missing fields: {', '.join(sorted(missing))}")
    return {k: v for k, v in body.items() if k in profile_fields}, {k: body[k] for k in extra}


def _certificates(wires: object, identity_key: bytes, owner: str) -> tuple[KeyCertificate, ...]:
    if not isinstance(wires, list) or not wires:
        raise FormatError("encryption_keys must be a non-empty list")
    return tuple(parse_certificate(w, identity_public_key=identity_key, owner=owner) for w in wires)


def parse_registration(signed: SignedDocument) -> Registration:
    """Parse a request and check its self-signature and every key certificate."""
    body = parse_canonical(signed.document, what="registration")
    profile_fields, rest = _split(body, {"v", "type", "identity_key", "encryption_keys", "requested_at"})
    if not is_version_1(rest["v"]) or rest["type"] != "registration":
        raise FormatError("not a version 1 registration request")

    identity_key = b64decode(rest["identity_key"], field="identity_key", size=32)
    verify(identity_key, labels.SIG_REGISTRATION, signed.document, signed.signature,
           what="registration request")
    profile = _validate_profile(profile_fields, "registration")
    certs = _certificates(rest["encryption_keys"], identity_key, profile.id)
    if type(rest["requested_at"]) is not int:
        raise FormatError("requested_at must be an integer")
    return Registration(profile, identity_key, certs, rest["requested_at"], signed)


def make_record(root: IdentityKey, registration: Registration, *, now: int, serial: int = 1,
                validity: int = DEFAULT_RECORD_VALIDITY) -> SignedDocument:
    """Sign the directory record that approves ``registration``."""
    return sign_record(root, registration.profile.model_dump(), registration.identity_key,
                       registration.certificates, request_digest=registration.signed.digest,
                       now=now, serial=serial, validity=validity)


def sign_record(root: IdentityKey, profile: dict, identity_key: bytes, certificates, *,
                request_digest: bytes, now: int, serial: int,
                validity: int = DEFAULT_RECORD_VALIDITY) -> SignedDocument:
    """Sign a directory record; ``request_digest`` names the request or proposal it carries out."""
    checked = _validate_profile(profile, "directory record")
    body = checked.model_dump() | {
        "v": 1, "type": "record", "status": "active", "serial": serial,
        "identity_key": b64encode(identity_key),
        "encryption_keys": [c.to_wire() for c in certificates],
        "valid_from": now, "valid_until": now + validity, "approved_at": now,
        "request_digest": b64encode(request_digest)}
    document = canonical_json(body)
    return SignedDocument(document, root.sign(labels.SIG_DIRECTORY_RECORD, document))


_RECORD_FIELDS = {"v", "type", "status", "serial", "identity_key", "encryption_keys",
                  "valid_from", "valid_until", "approved_at", "request_digest"}


def parse_record(signed: SignedDocument, root_public_key: bytes) -> DirectoryRecord:
    """Verify a directory record against the pinned Secretariat key and parse it."""
    verify(root_public_key, labels.SIG_DIRECTORY_RECORD, signed.document, signed.signature,
           what="directory record")

    body = parse_canonical(signed.document, what="directory record")
    profile_fields, rest = _split(body, _RECORD_FIELDS)
    if not is_version_1(rest["v"]) or rest["type"] != "record" or rest["status"] not in ("active", "revoked"):
        raise FormatError("not a version 1 directory record")
    for name in ("serial", "valid_from", "valid_until", "approved_at"):
        if type(rest[name]) is not int:
            raise FormatError(f"directory record: {name} must be an integer")

    profile = _validate_profile(profile_fields, "directory record")
    identity_key = b64decode(rest["identity_key"], field="identity_key", size=32)
    return DirectoryRecord(
        profile, identity_key, _certificates(rest["encryption_keys"], identity_key, profile.id),
        rest["status"], rest["serial"], rest["valid_from"], rest["valid_until"], rest["approved_at"],
        b64decode(rest["request_digest"], field="request_digest", size=32), signed)


def make_rejection(root: IdentityKey, registration: Registration, reason: str, now: int) -> SignedDocument:
    """Sign the Secretariat's refusal of ``registration``, with the reason the applicant sees."""
    return sign_rejection(root, registration.profile.id, registration.signed.digest, reason, now)


def sign_rejection(root: IdentityKey, cp_id: str, request_digest: bytes, reason: str, now: int) -> SignedDocument:
    """Sign the refusal of the request (or proposal) whose document digest is ``request_digest``."""
    body = {"v": 1, "type": "rejection", "id": cp_id, "request_digest": b64encode(request_digest),
            "reason": normalize_text(reason, field="reason", max_length=1000), "decided_at": now}
    document = canonical_json(body)
    return SignedDocument(document, root.sign(labels.SIG_DECISION, document))


def parse_rejection(signed: SignedDocument, root_public_key: bytes) -> dict:
    """Verify a rejection against the Secretariat key; return its fields."""
    verify(root_public_key, labels.SIG_DECISION, signed.document, signed.signature,
           what="rejection")
    body = parse_canonical(signed.document, what="rejection")
    if set(body) != {"v", "type", "id", "request_digest", "reason", "decided_at"} or body["type"] != "rejection":
        raise FormatError("not a version 1 rejection")
    if not is_version_1(body["v"]) or not isinstance(body["reason"], str) or type(body["decided_at"]) is not int:
        raise FormatError("rejection: v must be 1, reason a string and decided_at an integer")
    check_cp_id(body["id"])
    return body


def identity_key_id(record: DirectoryRecord) -> str:
    return key_id(record.identity_key)
