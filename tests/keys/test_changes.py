"""Revocations and proposals (keys.changes): the documents and their signatures."""

from __future__ import annotations

import pytest

from keys import labels
from keys.changes import (PROPOSAL_ACTIONS, REVOCATION_REASONS, make_proposal, make_revocation, parse_proposal,
                          parse_revocation)
from keys.encoding import b64encode, canonical_json, parse_canonical
from keys.errors import CanonicalError, FormatError, SignatureError
from keys.identity import IdentityKey, verify
from keys.records import SignedDocument

CP_ID = "mx.anam.inteligencia"
ADMIN = "mx.anam.coordinacion"
NOW = 1767225600
IDENTITY = IdentityKey(bytes([0x11]) * 32)
ADMIN_KEY = IdentityKey(bytes([0x31]) * 32)
ROOT = IdentityKey(bytes([0x5E]) * 32)
REQUEST_DIGEST = bytes(range(32))


def revocation(signer_key: IdentityKey = IDENTITY, signer: str = CP_ID,
               reason: str = "key-compromised") -> SignedDocument:
    return make_revocation(signer_key, signer, CP_ID, IDENTITY.key_id, reason, NOW)


def resigned(document: bytes, signer: IdentityKey, label: bytes) -> SignedDocument:
    return SignedDocument(document, signer.sign(label, document))


def edited_revocation(**changes: object) -> SignedDocument:
    body = parse_canonical(revocation().document) | changes
    return resigned(canonical_json(body), IDENTITY, labels.SIG_REVOCATION)


def proposal(action: str = "register", **options) -> SignedDocument:
    options.setdefault("request_digest", REQUEST_DIGEST)
    return make_proposal(ADMIN_KEY, ADMIN, action, CP_ID, NOW, **options)


def edited_proposal(**changes: object) -> SignedDocument:
    body = parse_canonical(proposal().document) | changes
    return resigned(canonical_json(body), ADMIN_KEY, labels.SIG_PROPOSAL)


# Revocations

def test_revocation_round_trip():
    parsed = parse_revocation(revocation())
    assert (parsed.cp_id, parsed.identity_key_id, parsed.reason, parsed.revoked_at, parsed.signer) == \
        (CP_ID, IDENTITY.key_id, "key-compromised", NOW, CP_ID)


def test_revocation_fields():
    body = parse_canonical(revocation().document)
    assert sorted(body) == ["cp_id", "identity_key_id", "reason", "revoked_at", "signer", "type", "v"]


def test_revocation_signed_under_revocation_label():
    signed = revocation()
    verify(IDENTITY.public_key, labels.SIG_REVOCATION, signed.document, signed.signature, what="revocation")


def test_revocation_not_valid_under_proposal_label():
    signed = revocation()
    with pytest.raises(SignatureError):
        verify(IDENTITY.public_key, labels.SIG_PROPOSAL, signed.document, signed.signature, what="revocation")


def test_revocation_reasons():
    assert REVOCATION_REASONS == ("key-compromised", "left-post", "superseded", "administrative")


@pytest.mark.parametrize("reason", REVOCATION_REASONS)
def test_revocation_accepts_each_reason(reason: str):
    assert parse_revocation(revocation(reason=reason)).reason == reason


def test_revocation_by_secretariat():
    assert parse_revocation(revocation(ROOT, "secretariat")).signer == "secretariat"


def test_revocation_by_national_admin():
    assert parse_revocation(revocation(ADMIN_KEY, ADMIN)).signer == ADMIN


def test_make_revocation_rejects_unknown_reason():
    with pytest.raises(FormatError) as caught:
        revocation(reason="lost-laptop")
    assert caught.value.code == "bad_reason"


@pytest.mark.parametrize("reason", ["lost-laptop", "Key-Compromised", "", None])
def test_revocation_rejects_unknown_reason(reason: object):
    with pytest.raises(FormatError) as caught:
        parse_revocation(edited_revocation(reason=reason))
    assert caught.value.code == "bad_reason"


@pytest.mark.parametrize("version", [2, True, "1"])
def test_revocation_rejects_other_version(version: object):
    with pytest.raises(FormatError, match="not a version 1 revocation"):
        parse_revocation(edited_revocation(v=version))


def test_revocation_rejects_other_type():
    with pytest.raises(FormatError, match="not a version 1 revocation"):
        parse_revocation(edited_revocation(type="rejection"))


@pytest.mark.parametrize("revoked_at", ["1767225600", None, True])
def test_revocation_rejects_non_integer_time(revoked_at: object):
    with pytest.raises(FormatError, match="revoked_at"):
        parse_revocation(edited_revocation(revoked_at=revoked_at))


def test_revocation_rejects_unknown_field():
    with pytest.raises(FormatError) as caught:
        parse_revocation(edited_revocation(note="x"))
    assert caught.value.code == "unknown_field"


def test_revocation_rejects_bad_cp_id():
    with pytest.raises(FormatError) as caught:
        parse_revocation(edited_revocation(cp_id=CP_ID + "\n"))
    assert caught.value.code == "bad_cp_id"


@pytest.mark.parametrize("signer", ["Secretariat", "mx", "mx.anam.coordinacion\n", None])
def test_revocation_rejects_bad_signer(signer: object):
    with pytest.raises(FormatError) as caught:
        parse_revocation(edited_revocation(signer=signer))
    assert caught.value.code == "bad_cp_id"


def test_revocation_rejects_not_canonical():
    spaced = revocation().document.replace(b'"v":1', b'"v": 1')
    with pytest.raises(CanonicalError):
        parse_revocation(resigned(spaced, IDENTITY, labels.SIG_REVOCATION))


# Proposals

def test_proposal_round_trip():
    parsed = parse_proposal(proposal())
    assert (parsed.action, parsed.cp_id, parsed.proposer, parsed.request_digest, parsed.proposed_at) == \
        ("register", CP_ID, ADMIN, REQUEST_DIGEST, NOW)


def test_proposal_fields():
    body = parse_canonical(proposal().document)
    assert sorted(body) == ["action", "cp_id", "note", "profile", "proposed_at", "proposer", "request_digest",
                            "type", "v"]


def test_proposal_actions():
    assert PROPOSAL_ACTIONS == ("register", "update", "replace-identity")


def test_proposal_signed_under_proposal_label():
    signed = proposal()
    verify(ADMIN_KEY.public_key, labels.SIG_PROPOSAL, signed.document, signed.signature, what="proposal")


def test_proposal_update_carries_profile():
    signed = proposal("update", request_digest=None, profile={"unit": "Unidad de análisis"})
    parsed = parse_proposal(signed)
    assert (parsed.request_digest, parsed.profile) == (None, {"unit": "Unidad de análisis"})


def test_proposal_without_digest_writes_null():
    body = parse_canonical(proposal("update", request_digest=None).document)
    assert (body["request_digest"], body["profile"], body["note"]) == (None, None, "")


def test_proposal_replace_identity_by_old_key():
    signed = make_proposal(IDENTITY, CP_ID, "replace-identity", CP_ID, NOW, request_digest=REQUEST_DIGEST)
    assert parse_proposal(signed).proposer == CP_ID


def test_proposal_note_normalised():
    assert parse_canonical(proposal(note="  Cambio de unidad ").document)["note"] == "Cambio de unidad"


def test_make_proposal_rejects_unknown_action():
    with pytest.raises(FormatError, match="proposal action 'delete'"):
        proposal("delete")


def test_make_proposal_rejects_control_characters_in_note():
    with pytest.raises(FormatError, match="control characters"):
        proposal(note="a\x07b")


@pytest.mark.parametrize("action", ["delete", "Register", None])
def test_proposal_rejects_unknown_action(action: object):
    with pytest.raises(FormatError, match="not a version 1 proposal"):
        parse_proposal(edited_proposal(action=action))


@pytest.mark.parametrize("version", [2, True])
def test_proposal_rejects_other_version(version: object):
    with pytest.raises(FormatError, match="not a version 1 proposal"):
        parse_proposal(edited_proposal(v=version))


@pytest.mark.parametrize("profile", ["unit", ["unit"], 1])
def test_proposal_rejects_profile_not_object(profile: object):
    with pytest.raises(FormatError, match="profile must be an object"):
        parse_proposal(edited_proposal(profile=profile))


def test_proposal_rejects_short_digest():
    with pytest.raises(FormatError, match="request_digest must be exactly 32 bytes"):
        parse_proposal(edited_proposal(request_digest=b64encode(bytes(31))))


def test_proposal_rejects_missing_field():
    body = parse_canonical(proposal().document)
    del body["note"]
    with pytest.raises(FormatError) as caught:
        parse_proposal(resigned(canonical_json(body), ADMIN_KEY, labels.SIG_PROPOSAL))
    assert caught.value.code == "missing_field"


def test_proposal_rejects_bad_proposer():
    with pytest.raises(FormatError) as caught:
        parse_proposal(edited_proposal(proposer="MX.anam"))
    assert caught.value.code == "bad_cp_id"


@pytest.mark.parametrize("proposed_at", ["1767225600", None])
def test_proposal_rejects_non_integer_time(proposed_at: object):
    with pytest.raises(FormatError):
        parse_proposal(edited_proposal(proposed_at=proposed_at))


@pytest.mark.parametrize("note", [None, ["a"], 1])
def test_proposal_rejects_non_string_note(note: object):
    with pytest.raises(FormatError):
        parse_proposal(edited_proposal(note=note))
