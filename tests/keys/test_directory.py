"""Folding log entries into the directory state (keys.directory), with real signed documents."""

from __future__ import annotations

import pytest

from keys import labels
from keys.changes import make_revocation
from keys.directory import Directory
from keys.encoding import canonical_json, parse_canonical
from keys.encryption import EncryptionKey, certify
from keys.errors import FormatError, SignatureError
from keys.identity import IdentityKey
from keys.log import make_entry
from keys.records import SignedDocument, make_record, make_registration, parse_registration

NOW = 1767225600
YEAR = 365 * 24 * 3600
CP_ID = "mx.anam.inteligencia"
MX_ADMIN = "mx.anam.coordinacion"
MX_OTHER = "mx.fgr.armas"
GT_ADMIN = "gt.sat.coordinacion"
ROOT = IdentityKey(bytes([0x5E]) * 32)
OTHER = IdentityKey(bytes([0x1F]) * 32)
IDENTITIES = {CP_ID: IdentityKey(bytes([0x11]) * 32), MX_ADMIN: IdentityKey(bytes([0x31]) * 32),
              MX_OTHER: IdentityKey(bytes([0x41]) * 32), GT_ADMIN: IdentityKey(bytes([0x32]) * 32)}
FIRST_KEY = EncryptionKey(bytes([0x12]) * 32)
SECOND_KEY = EncryptionKey(bytes([0x13]) * 32)
IDENTITY = IDENTITIES[CP_ID]


def record(cp_id: str = CP_ID, *, identity: IdentityKey | None = None, serial: int = 1,
           role: str = "contact-point", keys: tuple[EncryptionKey, ...] = (FIRST_KEY,)) -> SignedDocument:
    """A Secretariat-signed record of ``cp_id`` for ``identity`` (by default its own key)."""
    identity = identity or IDENTITIES[cp_id]
    profile = {"id": cp_id, "country": cp_id[:2].upper(), "agency": "Aduanas", "agency_type": "customs",
               "unit": "Enlace", "languages": ["es"], "role": role}
    certs = [certify(identity, cp_id, key, not_before=NOW, not_after=NOW + YEAR) for key in keys]
    request = parse_registration(make_registration(identity, profile, certs, NOW))
    return make_record(ROOT, request, now=NOW + serial, serial=serial)


def key_certificate(signer: IdentityKey = IDENTITY, owner: str = CP_ID,
                    key: EncryptionKey = SECOND_KEY) -> SignedDocument:
    cert = certify(signer, owner, key, not_before=NOW + 10, not_after=NOW + YEAR)
    return SignedDocument(cert.cert, cert.signature)


def revocation(signer: str = CP_ID, signer_key: IdentityKey | None = None, *,
               identity_key_id: str = IDENTITY.key_id) -> SignedDocument:
    signer_key = signer_key or (ROOT if signer == "secretariat" else IDENTITIES[signer])
    return make_revocation(signer_key, signer, CP_ID, identity_key_id, "key-compromised", NOW + 100)


def fold(*changes: tuple[str, SignedDocument] | tuple[str, str, SignedDocument]) -> Directory:
    """A directory with each change applied in order; a pair means a change of CP_ID."""
    directory = Directory(ROOT.public_key)
    for index, change in enumerate(changes):
        apply(directory, index, change)
    return directory


def apply(directory: Directory, index: int, change: tuple):
    entry_type, cp_id, signed = change if len(change) == 3 else (change[0], CP_ID, change[1])
    return directory.apply(index, make_entry(entry_type, cp_id, signed.document, signed.signature, NOW + index))


def state(*changes: tuple):
    return fold(*changes).contacts[CP_ID]


# Records and encryption keys

def test_record_creates_state():
    folded = state(("record", record()))
    assert (folded.status, folded.identity_key, folded.indexes) == ("active", IDENTITY.public_key, (0,))


def test_record_keys_from_certificates():
    assert [c.key_id for c in state(("record", record())).keys] == [FIRST_KEY.key_id]


def test_key_entry_adds_key():
    folded = state(("record", record()), ("encryption-key", key_certificate()))
    assert [c.key_id for c in folded.keys] == [FIRST_KEY.key_id, SECOND_KEY.key_id]


def test_key_entry_records_index():
    assert state(("record", record()), ("encryption-key", key_certificate())).indexes == (0, 1)


def test_key_entry_becomes_current_key():
    folded = state(("record", record()), ("encryption-key", key_certificate()))
    assert folded.current_key(NOW + 20).key_id == SECOND_KEY.key_id


def test_state_usable_inside_record_window():
    assert state(("record", record())).usable_at(NOW + 1)


def test_record_rejects_other_signer():
    signed = record()
    forged = SignedDocument(signed.document, OTHER.sign(labels.SIG_DIRECTORY_RECORD, signed.document))
    with pytest.raises(SignatureError):
        fold(("record", forged))


def test_record_rejects_entry_of_other_contact_point():
    with pytest.raises(FormatError, match="contains the record of"):
        fold(("record", MX_OTHER, record()))


def test_record_higher_serial_keeps_added_key():
    folded = state(("record", record()), ("encryption-key", key_certificate()), ("record", record(serial=2)))
    assert (folded.record.serial, [c.key_id for c in folded.keys]) == (2, [FIRST_KEY.key_id, SECOND_KEY.key_id])


def test_record_higher_serial_lists_key_once():
    updated = record(serial=2, keys=(FIRST_KEY, SECOND_KEY))
    folded = state(("record", record()), ("encryption-key", key_certificate()), ("record", updated))
    assert [c.key_id for c in folded.keys] == [FIRST_KEY.key_id, SECOND_KEY.key_id]


@pytest.mark.parametrize("serial", [1, 0])
def test_record_rejects_serial_not_increasing(serial: int):
    with pytest.raises(FormatError, match="does not increase"):
        fold(("record", record()), ("record", record(serial=serial)))


def test_record_new_identity_drops_old_keys():
    replaced = record(identity=OTHER, serial=2, keys=(SECOND_KEY,))
    folded = state(("record", record()), ("encryption-key", key_certificate(key=EncryptionKey(bytes([7]) * 32))),
                   ("record", replaced))
    assert (folded.identity_key, [c.key_id for c in folded.keys]) == (OTHER.public_key, [SECOND_KEY.key_id])


def test_record_new_identity_clears_revocation():
    folded = state(("record", record()), ("revocation", revocation()), ("record", record(identity=OTHER, serial=2)))
    assert folded.status == "active"


def test_record_same_identity_keeps_revocation():
    folded = state(("record", record()), ("revocation", revocation()), ("record", record(serial=2)))
    assert folded.status == "revoked"


def test_key_rejects_before_record():
    with pytest.raises(FormatError, match="no record earlier in the log"):
        fold(("encryption-key", key_certificate()))


def test_key_rejects_other_identity():
    with pytest.raises(SignatureError):
        fold(("record", record()), ("encryption-key", key_certificate(signer=OTHER)))


def test_key_rejects_other_owner():
    with pytest.raises(SignatureError, match="names 'mx.fgr.armas'"):
        fold(("record", record()), ("encryption-key", key_certificate(owner=MX_OTHER)))


def test_key_rejects_key_already_listed():
    with pytest.raises(FormatError, match="already listed"):
        fold(("record", record()), ("encryption-key", key_certificate(key=FIRST_KEY)))


def test_key_rejects_after_revocation():
    with pytest.raises(FormatError, match="which is revoked"):
        fold(("record", record()), ("revocation", revocation()), ("encryption-key", key_certificate()))


def test_rejected_entry_leaves_state_unchanged():
    directory = fold(("record", record()))
    before = directory.contacts[CP_ID]
    with pytest.raises(SignatureError):
        apply(directory, 1, ("encryption-key", key_certificate(signer=OTHER)))
    assert directory.contacts[CP_ID] is before


# Revocations

def test_revocation_by_contact_point_itself():
    folded = state(("record", record()), ("revocation", revocation()))
    assert (folded.status, folded.usable_at(NOW + 1), folded.indexes) == ("revoked", False, (0, 1))


def test_revoked_before_from_revocation_time():
    folded = state(("record", record()), ("revocation", revocation()))
    assert (folded.revoked_before(NOW + 99), folded.revoked_before(NOW + 100)) == (False, True)


def test_revocation_by_secretariat():
    assert state(("record", record()), ("revocation", revocation("secretariat"))).status == "revoked"


def test_revocation_by_national_admin_of_same_state():
    folded = state(("record", record()), ("record", MX_ADMIN, record(MX_ADMIN, role="national-admin")),
                   ("revocation", revocation(MX_ADMIN)))
    assert (folded.status, folded.revocation.signer) == ("revoked", MX_ADMIN)


def test_revocation_rejects_admin_of_other_state():
    with pytest.raises(SignatureError) as caught:
        fold(("record", record()), ("record", GT_ADMIN, record(GT_ADMIN, role="national-admin")),
             ("revocation", revocation(GT_ADMIN)))
    assert caught.value.code == "not_authorized"


def test_revocation_rejects_contact_point_of_same_state():
    with pytest.raises(SignatureError) as caught:
        fold(("record", record()), ("record", MX_OTHER, record(MX_OTHER)), ("revocation", revocation(MX_OTHER)))
    assert caught.value.code == "not_authorized"


def test_revocation_rejects_unknown_signer():
    with pytest.raises(SignatureError) as caught:
        fold(("record", record()), ("revocation", revocation(MX_ADMIN)))
    assert caught.value.code == "not_authorized"


def test_revocation_rejects_revoked_admin():
    admin_revoked = make_revocation(IDENTITIES[MX_ADMIN], MX_ADMIN, MX_ADMIN, IDENTITIES[MX_ADMIN].key_id,
                                    "left-post", NOW)
    with pytest.raises(SignatureError) as caught:
        fold(("record", record()), ("record", MX_ADMIN, record(MX_ADMIN, role="national-admin")),
             ("revocation", MX_ADMIN, admin_revoked), ("revocation", revocation(MX_ADMIN)))
    assert caught.value.code == "not_authorized"


def test_revocation_rejects_admin_with_revoked_record():
    admin = record(MX_ADMIN, role="national-admin")
    body = parse_canonical(admin.document) | {"status": "revoked", "serial": 2}
    revoked_record = SignedDocument(canonical_json(body), ROOT.sign(labels.SIG_DIRECTORY_RECORD,
                                                                    canonical_json(body)))
    with pytest.raises(SignatureError):
        fold(("record", record()), ("record", MX_ADMIN, admin), ("record", MX_ADMIN, revoked_record),
             ("revocation", revocation(MX_ADMIN)))


def test_revocation_rejects_wrong_signing_key():
    with pytest.raises(SignatureError) as caught:
        fold(("record", record()), ("revocation", revocation(CP_ID, OTHER)))
    assert caught.value.code == "bad_signature"


def test_revocation_rejects_proposal_label():
    signed = revocation()
    relabelled = SignedDocument(signed.document, IDENTITY.sign(labels.SIG_PROPOSAL, signed.document))
    with pytest.raises(SignatureError):
        fold(("record", record()), ("revocation", relabelled))


def test_revocation_rejects_other_identity_key_id():
    with pytest.raises(FormatError, match="current identity key"):
        fold(("record", record()), ("revocation", revocation(identity_key_id=OTHER.key_id)))


def test_revocation_rejects_entry_of_other_contact_point():
    with pytest.raises(FormatError, match="current identity key"):
        fold(("record", record()), ("record", MX_OTHER, record(MX_OTHER)), ("revocation", MX_OTHER, revocation()))


def test_revocation_rejects_twice():
    with pytest.raises(FormatError, match="already revoked"):
        fold(("record", record()), ("revocation", revocation()), ("revocation", revocation("secretariat")))


def test_revocation_rejects_before_record():
    with pytest.raises(FormatError, match="no record earlier in the log"):
        fold(("revocation", revocation()))
