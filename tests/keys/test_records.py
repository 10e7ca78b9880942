"""Registration requests, directory records, rejections, key certificates, key ids."""

from __future__ import annotations

import re

import pytest

from keys import labels
from keys.encoding import b64encode, canonical_json, digest, parse_canonical
from keys.encryption import EncryptionKey, KeyCertificate, certify, current_certificate, parse_certificate
from keys.errors import CanonicalError, FormatError, SignatureError
from keys.identity import IdentityKey, fingerprint, key_id
from keys.records import (SignedDocument, make_record, make_registration, make_rejection, parse_record,
                          parse_registration, parse_rejection, sign_rejection)

CP_ID = "mx.anam.inteligencia"
NOW = 1767225600
YEAR = 365 * 24 * 3600
IDENTITY = IdentityKey(bytes([0x11]) * 32)
OTHER = IdentityKey(bytes([0x1F]) * 32)
ROOT = IdentityKey(bytes([0x5E]) * 32)
ENCRYPTION = EncryptionKey(bytes([0x12]) * 32)
PROFILE = {"id": CP_ID, "country": "MX", "agency": "Agencia Nacional de Aduanas de México",
           "agency_type": "customs", "unit": "Unidad de inteligencia aduanera",
           "languages": ["es", "en"], "topics": ["firearms"]}


def certificate(owner: str = CP_ID, signer: IdentityKey = IDENTITY, *, start: int = NOW,
                end: int = NOW + YEAR, key: EncryptionKey = ENCRYPTION) -> KeyCertificate:
    return certify(signer, owner, key, not_before=start, not_after=end)


def registration(profile: dict = PROFILE, certs: list | None = None) -> SignedDocument:
    return make_registration(IDENTITY, profile, certs or [certificate()], NOW)


def resigned(body: dict, signer: IdentityKey, label: bytes) -> SignedDocument:
    document = canonical_json(body)
    return SignedDocument(document, signer.sign(label, document))


def record() -> SignedDocument:
    return make_record(ROOT, parse_registration(registration()), now=NOW)


def rejection() -> SignedDocument:
    return make_rejection(ROOT, parse_registration(registration()), "Unidad no reconocida.", NOW)


# Registration requests

def test_registration_round_trip_profile():
    profile = parse_registration(registration()).profile.model_dump()
    assert {field: profile[field] for field in PROFILE} == PROFILE


def test_registration_round_trip_identity():
    assert parse_registration(registration()).identity_key == IDENTITY.public_key


def test_registration_round_trip_certificates():
    parsed = parse_registration(registration())
    assert [c.public_key for c in parsed.certificates] == [ENCRYPTION.public_key]


def test_registration_requested_at():
    assert parse_registration(registration()).requested_at == NOW


def test_registration_document_fields():
    body = parse_canonical(registration().document)
    assert body["type"] == "registration"
    assert body["v"] == 1
    assert body["identity_key"] == b64encode(IDENTITY.public_key)


def test_registration_rejects_other_signer():
    signed = registration()
    forged = SignedDocument(signed.document, OTHER.sign(labels.SIG_REGISTRATION, signed.document))
    with pytest.raises(SignatureError):
        parse_registration(forged)


def test_registration_rejects_record_label():
    signed = registration()
    relabelled = SignedDocument(signed.document, IDENTITY.sign(labels.SIG_DIRECTORY_RECORD, signed.document))
    with pytest.raises(SignatureError):
        parse_registration(relabelled)


def test_registration_rejects_certificate_by_other_key():
    with pytest.raises(SignatureError):
        parse_registration(registration(certs=[certificate(signer=OTHER)]))


def test_registration_rejects_certificate_for_other_owner():
    with pytest.raises(SignatureError, match="names 'mx.fgr.armas'"):
        parse_registration(registration(certs=[certificate(owner="mx.fgr.armas")]))


def test_registration_rejects_no_encryption_key():
    body = parse_canonical(registration().document) | {"encryption_keys": []}
    with pytest.raises(FormatError, match="non-empty"):
        parse_registration(resigned(body, IDENTITY, labels.SIG_REGISTRATION))


def test_registration_rejects_country_mismatch():
    with pytest.raises(FormatError) as caught:
        registration(PROFILE | {"country": "US"})
    assert caught.value.code == "invalid_profile"


def test_registration_rejects_unknown_language():
    with pytest.raises(FormatError):
        registration(PROFILE | {"languages": ["de"]})


def test_registration_rejects_non_member_state():
    with pytest.raises(FormatError) as caught:
        registration(PROFILE | {"id": "de.bka.waffen", "country": "DE"})
    assert caught.value.code == "unknown_country"


def test_registration_rejects_unknown_field():
    body = parse_canonical(registration().document) | {"phone": "+52"}
    with pytest.raises(FormatError, match="unknown fields: phone"):
        parse_registration(resigned(body, IDENTITY, labels.SIG_REGISTRATION))


def test_registration_rejects_not_canonical():
    signed = registration()
    spaced = signed.document.replace(b'"v":1', b'"v": 1')
    with pytest.raises(CanonicalError):
        parse_registration(SignedDocument(spaced, IDENTITY.sign(labels.SIG_REGISTRATION, spaced)))


def test_registration_rejects_float_time():
    body = parse_canonical(registration().document)
    document = canonical_json(body).replace(f'"requested_at":{NOW}'.encode(), f'"requested_at":{NOW}.0'.encode())
    with pytest.raises(FormatError, match="floating-point"):
        parse_registration(SignedDocument(document, IDENTITY.sign(labels.SIG_REGISTRATION, document)))


def test_registration_rejects_id_with_newline():
    owner = CP_ID + "\n"
    body = parse_canonical(registration().document) | {
        "id": owner, "encryption_keys": [certificate(owner).to_wire()]}
    with pytest.raises(FormatError) as caught:
        parse_registration(resigned(body, IDENTITY, labels.SIG_REGISTRATION))
    assert caught.value.code == "bad_cp_id"


def test_registration_rejects_version_true():
    body = parse_canonical(registration().document) | {"v": True}
    with pytest.raises(FormatError, match="version 1"):
        parse_registration(resigned(body, IDENTITY, labels.SIG_REGISTRATION))


def test_registration_role_defaults_to_contact_point():
    assert parse_registration(registration()).profile.role == "contact-point"


def test_registration_role_national_admin():
    signed = registration(PROFILE | {"role": "national-admin"})
    assert parse_registration(signed).profile.role == "national-admin"


def test_registration_document_writes_role():
    assert parse_canonical(registration().document)["role"] == "contact-point"


def test_registration_rejects_unknown_role():
    with pytest.raises(FormatError) as caught:
        registration(PROFILE | {"role": "secretariat"})
    assert caught.value.code == "invalid_profile"


def test_registration_without_role_reads_as_contact_point():
    body = parse_canonical(registration().document)
    del body["role"]
    parsed = parse_registration(resigned(body, IDENTITY, labels.SIG_REGISTRATION))
    assert parsed.profile.role == "contact-point"


# Directory records

def test_record_round_trip_id():
    assert parse_record(record(), ROOT.public_key).cp_id == CP_ID


def test_record_round_trip_identity():
    assert parse_record(record(), ROOT.public_key).identity_key == IDENTITY.public_key


def test_record_request_digest():
    signed = registration()
    parsed = parse_record(make_record(ROOT, parse_registration(signed), now=NOW), ROOT.public_key)
    assert parsed.request_digest == signed.digest


def test_record_validity_window():
    parsed = parse_record(make_record(ROOT, parse_registration(registration()), now=NOW, validity=100),
                          ROOT.public_key)
    assert (parsed.valid_from, parsed.valid_until) == (NOW, NOW + 100)


def test_record_usable_inside_window():
    assert parse_record(record(), ROOT.public_key).usable_at(NOW)


def test_record_unusable_before_window():
    assert not parse_record(record(), ROOT.public_key).usable_at(NOW - 1)


def test_record_revoked_unusable():
    body = parse_canonical(record().document) | {"status": "revoked"}
    parsed = parse_record(resigned(body, ROOT, labels.SIG_DIRECTORY_RECORD), ROOT.public_key)
    assert not parsed.usable_at(NOW)


def test_record_current_key():
    assert parse_record(record(), ROOT.public_key).current_key(NOW).public_key == ENCRYPTION.public_key


def test_record_rejects_non_secretariat_signer():
    signed = record()
    forged = SignedDocument(signed.document, OTHER.sign(labels.SIG_DIRECTORY_RECORD, signed.document))
    with pytest.raises(SignatureError):
        parse_record(forged, ROOT.public_key)


def test_record_rejects_applicant_signer():
    signed = record()
    forged = SignedDocument(signed.document, IDENTITY.sign(labels.SIG_DIRECTORY_RECORD, signed.document))
    with pytest.raises(SignatureError):
        parse_record(forged, ROOT.public_key)


def test_record_rejects_other_pinned_key():
    with pytest.raises(SignatureError):
        parse_record(record(), OTHER.public_key)


def test_record_rejects_registration_label():
    signed = record()
    relabelled = SignedDocument(signed.document, ROOT.sign(labels.SIG_REGISTRATION, signed.document))
    with pytest.raises(SignatureError):
        parse_record(relabelled, ROOT.public_key)


def test_record_rejects_changed_document():
    signed = record()
    changed = signed.document.replace(b'"serial":1', b'"serial":2')
    with pytest.raises(SignatureError):
        parse_record(SignedDocument(changed, signed.signature), ROOT.public_key)


def test_record_rejects_unknown_status():
    body = parse_canonical(record().document) | {"status": "suspended"}
    with pytest.raises(FormatError):
        parse_record(resigned(body, ROOT, labels.SIG_DIRECTORY_RECORD), ROOT.public_key)


def test_record_rejects_string_serial():
    body = parse_canonical(record().document) | {"serial": "1"}
    with pytest.raises(FormatError, match="serial"):
        parse_record(resigned(body, ROOT, labels.SIG_DIRECTORY_RECORD), ROOT.public_key)


def test_signed_document_rejects_short_signature():
    wire = record().to_wire() | {"signature": b64encode(bytes(63))}
    with pytest.raises(FormatError, match="64 bytes"):
        SignedDocument.from_wire(wire, what="record")


def test_signed_document_wire_round_trip():
    signed = record()
    assert SignedDocument.from_wire(signed.to_wire(), what="record") == signed


def test_signed_document_digest_label():
    signed = registration()
    assert signed.digest == digest(signed.document, labels.DIGEST_DOCUMENT)


def test_signed_document_digest_not_envelope_label():
    signed = registration()
    assert signed.digest != digest(signed.document, labels.DIGEST_ENVELOPE)


def test_signed_document_digest_ignores_signature():
    signed = registration()
    assert SignedDocument(signed.document, bytes(64)).digest == signed.digest


def test_record_rejects_version_true():
    body = parse_canonical(record().document) | {"v": True}
    with pytest.raises(FormatError, match="version 1"):
        parse_record(resigned(body, ROOT, labels.SIG_DIRECTORY_RECORD), ROOT.public_key)


# Rejections

def test_rejection_round_trip_reason():
    assert parse_rejection(rejection(), ROOT.public_key)["reason"] == "Unidad no reconocida."


def test_rejection_names_request():
    signed = registration()
    body = parse_rejection(make_rejection(ROOT, parse_registration(signed), "No.", NOW), ROOT.public_key)
    assert body["request_digest"] == b64encode(signed.digest)


def test_rejection_rejects_other_signer():
    signed = rejection()
    forged = SignedDocument(signed.document, OTHER.sign(labels.SIG_DECISION, signed.document))
    with pytest.raises(SignatureError):
        parse_rejection(forged, ROOT.public_key)


def test_rejection_rejects_record_label():
    signed = rejection()
    relabelled = SignedDocument(signed.document, ROOT.sign(labels.SIG_DIRECTORY_RECORD, signed.document))
    with pytest.raises(SignatureError):
        parse_rejection(relabelled, ROOT.public_key)


def test_rejection_rejects_control_characters():
    with pytest.raises(FormatError, match="control characters"):
        make_rejection(ROOT, parse_registration(registration()), "no\x07", NOW)


@pytest.mark.parametrize("version", [2, True, "1", None])
def test_rejection_rejects_other_version(version: object):
    body = parse_canonical(rejection().document) | {"v": version}
    with pytest.raises(FormatError, match="v must be 1"):
        parse_rejection(resigned(body, ROOT, labels.SIG_DECISION), ROOT.public_key)


@pytest.mark.parametrize("decided_at", ["yesterday", None, True, [NOW]])
def test_rejection_rejects_non_integer_time(decided_at: object):
    body = parse_canonical(rejection().document) | {"decided_at": decided_at}
    with pytest.raises(FormatError, match="decided_at an integer"):
        parse_rejection(resigned(body, ROOT, labels.SIG_DECISION), ROOT.public_key)


@pytest.mark.parametrize("reason", [None, 42, ["no"], {"es": "no"}])
def test_rejection_rejects_non_string_reason(reason: object):
    body = parse_canonical(rejection().document) | {"reason": reason}
    with pytest.raises(FormatError, match="reason a string"):
        parse_rejection(resigned(body, ROOT, labels.SIG_DECISION), ROOT.public_key)


def test_rejection_rejects_unknown_field():
    body = parse_canonical(rejection().document) | {"note": "x"}
    with pytest.raises(FormatError, match="not a version 1 rejection"):
        parse_rejection(resigned(body, ROOT, labels.SIG_DECISION), ROOT.public_key)


def test_rejection_rejects_bad_id():
    body = parse_canonical(rejection().document) | {"id": CP_ID + "\n"}
    with pytest.raises(FormatError) as caught:
        parse_rejection(resigned(body, ROOT, labels.SIG_DECISION), ROOT.public_key)
    assert caught.value.code == "bad_cp_id"


def test_sign_rejection_names_any_digest():
    request_digest = bytes(range(32))
    body = parse_rejection(sign_rejection(ROOT, CP_ID, request_digest, "No.", NOW), ROOT.public_key)
    assert body["request_digest"] == b64encode(request_digest)


def test_make_rejection_is_sign_rejection_of_request():
    signed = registration()
    rejection_of_request = make_rejection(ROOT, parse_registration(signed), "No.", NOW)
    assert rejection_of_request == sign_rejection(ROOT, CP_ID, signed.digest, "No.", NOW)


# Encryption key certificates

def test_certificate_round_trip():
    parsed = parse_certificate(certificate().to_wire(), identity_public_key=IDENTITY.public_key, owner=CP_ID)
    assert parsed.public_key == ENCRYPTION.public_key


def test_certificate_document_fields():
    body = parse_canonical(certificate().cert)
    assert sorted(body) == ["identity_key_id", "key_id", "not_after", "not_before", "owner",
                            "public_key", "v"]


def test_certificate_valid_from_start():
    assert certificate().valid_at(NOW)


def test_certificate_invalid_at_end():
    assert not certificate().valid_at(NOW + YEAR)


def test_certify_rejects_empty_validity():
    with pytest.raises(FormatError, match="end after it starts"):
        certificate(end=NOW)


def test_certificate_rejects_other_identity():
    with pytest.raises(SignatureError):
        parse_certificate(certificate().to_wire(), identity_public_key=OTHER.public_key, owner=CP_ID)


def test_certificate_rejects_other_owner():
    with pytest.raises(SignatureError):
        parse_certificate(certificate().to_wire(), identity_public_key=IDENTITY.public_key,
                          owner="mx.fgr.armas")


def test_certificate_rejects_wrong_key_id():
    body = parse_canonical(certificate().cert) | {"key_id": "0" * 32}
    document = canonical_json(body)
    wire = {"cert": b64encode(document),
            "signature": b64encode(IDENTITY.sign(labels.SIG_ENCRYPTION_KEY, document))}
    with pytest.raises(FormatError, match="key ids"):
        parse_certificate(wire, identity_public_key=IDENTITY.public_key, owner=CP_ID)


def test_certificate_rejects_registration_label():
    cert = certificate()
    wire = {"cert": b64encode(cert.cert), "signature": b64encode(IDENTITY.sign(labels.SIG_REGISTRATION, cert.cert))}
    with pytest.raises(SignatureError):
        parse_certificate(wire, identity_public_key=IDENTITY.public_key, owner=CP_ID)


def test_current_certificate_latest_start():
    older = certificate(start=NOW - 10)
    newer = certificate(start=NOW - 5, key=EncryptionKey(bytes([0x13]) * 32))
    assert current_certificate([older, newer], NOW) == newer


def test_current_certificate_none_valid():
    assert current_certificate([certificate(start=NOW + 1)], NOW) is None


# Key ids and fingerprints

def test_key_id_format():
    assert re.fullmatch(r"[0-9a-f]{32}", key_id(IDENTITY.public_key))


def test_key_id_definition():
    assert key_id(IDENTITY.public_key) == digest(IDENTITY.public_key, labels.DIGEST_KEY_ID, 16).hex()


def test_fingerprint_format():
    assert re.fullmatch(r"\d{5}( \d{5}){7}", fingerprint(IDENTITY.public_key))


def test_fingerprint_definition():
    data = digest(IDENTITY.public_key, labels.DIGEST_FINGERPRINT, 40)
    groups = [f"{int.from_bytes(data[i:i + 5], 'big') % 100000:05d}" for i in range(0, 40, 5)]
    assert fingerprint(IDENTITY.public_key) == " ".join(groups)


def test_fingerprint_differs_between_keys():
    assert fingerprint(IDENTITY.public_key) != fingerprint(OTHER.public_key)
