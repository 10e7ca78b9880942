"""National administrators, proposals and the Secretariat's decisions, against a real broker.

Once a state has a national administrator, the Secretariat may list a contact point
of that state only on the administrator's signed proposal. A new identity key for a
listed contact point needs a proposal too, signed by the old key or by an
administrator. Each test checks what the broker stores: the proposals table and the
log entries must hold every change exactly as its author signed it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest

from brokerproc import BrokerProcess, approve, enrol, new_material, register, sample_profile, signer
from client import contact, national, secretariat
from client.api import ApiFailure, BrokerClient, Signer
from client.transparency import TrustContext
from client.trust import open_received, verified_state
from keys import keystore, labels
from keys.changes import make_proposal, parse_proposal
from keys.encoding import b64encode, canonical_json
from keys.encryption import DEFAULT_VALIDITY, EncryptionKey, certify
from keys.identity import IdentityKey, verify
from keys.log import parse_entry
from keys.records import SignedDocument, make_record, parse_record, parse_registration
from keys.requests import SECRETARIAT, sign_request

MX_ADMIN = "mx.anam.coordinacion"
LOCAL = "mx.fgr.armas"
NEIGHBOUR = "mx.anam.inteligencia"
FOREIGN = "us.atf.tracing"
NEW_UNIT = "Unidad de Rastreo de Armas de Fuego"


# Helpers


_log_keys: dict[Path, bytes] = {}


def trust_for(process: BrokerProcess, root: IdentityKey) -> TrustContext:
    """A client that pins ``root`` and the broker's log key; the key file is opened once (Argon2)."""
    if process.log_key_path not in _log_keys:
        _log_keys[process.log_key_path] = process.log_public_key
    return TrustContext(root.public_key, _log_keys[process.log_key_path])


def query(db: Path, sql: str, parameters: tuple = ()) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, parameters).fetchall()


def log_size(db: Path) -> int:
    return query(db, "SELECT COUNT(*) FROM log_entries")[0][0]


def proposal_rows(db: Path) -> list[tuple]:
    """(cp_id, action, proposer, document, signature, status) of every stored proposal."""
    return query(db, "SELECT cp_id, action, proposer, document, signature, status FROM proposals "
                     "ORDER BY proposal_id")


def registration_status(db: Path, cp_id: str) -> str | None:
    rows = query(db, "SELECT status FROM registrations WHERE cp_id = ?", (cp_id,))
    return rows[0][0] if rows else None


async def enrol_material(url: str, root: IdentityKey, material: keystore.KeyMaterial, *,
                         role: str = "contact-point") -> None:
    await submit_registration(url, material, role=role)
    await approve(url, root, material.owner)


async def submit_registration(url: str, material: keystore.KeyMaterial, *, role: str = "contact-point") -> None:
    profile = sample_profile(material.owner)
    request = contact.registration_request(material, agency=profile["agency"], agency_type=profile["agency_type"],
                                           unit=profile["unit"], languages=profile["languages"],
                                           topics=profile["topics"], role=role)
    async with BrokerClient(url) as api:
        await api.register(request)


async def enrol_admin(url: str, root: IdentityKey, cp_id: str = MX_ADMIN) -> keystore.KeyMaterial:
    material = new_material(cp_id)
    await enrol_material(url, root, material, role="national-admin")
    return material


async def call_status(url: str, caller: Signer | None, method: str, path: str,
                      body: dict | None = None) -> tuple[int, str]:
    """(HTTP status, error code or "") of one request, signed by ``caller`` unless it is None."""
    data = b"" if body is None else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if caller is not None:
        headers |= sign_request(caller.identity, caller.caller, method, path, data)
    async with (aiohttp.ClientSession() as session,
                session.request(method, url + path, data=data or None, headers=headers) as response):
        answer = await response.json(content_type=None)
        status = response.status
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    return status, error.get("code", "")


async def pending_request(url: str, root: IdentityKey, cp_id: str) -> SignedDocument:
    """The pending registration request of ``cp_id``, as the Secretariat reads it."""
    async with BrokerClient(url, Signer(SECRETARIAT, root)) as api:
        answer = await api.registration(cp_id)
    return SignedDocument.from_wire(answer["request"], what="request")


def propose_body(proposer: keystore.KeyMaterial, action: str, cp_id: str, *, request_digest: bytes | None = None,
                 profile: dict | None = None, proposer_name: str | None = None,
                 signing_key: IdentityKey | None = None) -> dict:
    proposal = make_proposal(signing_key or proposer.identity, proposer_name or proposer.owner, action, cp_id,
                             int(time.time()), request_digest=request_digest, profile=profile)
    return {"proposal": proposal.to_wire()}


# Proposals for new contact points


async def test_admin_proposal_allows_approval(broker, root):
    admin = await enrol_admin(broker.url, root)
    await register(broker.url, LOCAL)
    size = log_size(broker.db)

    with pytest.raises(ApiFailure) as refused:
        await approve(broker.url, root, LOCAL)
    size_after_refusal = log_size(broker.db)
    status_after_refusal = registration_status(broker.db, LOCAL)

    request = await pending_request(broker.url, root, LOCAL)
    async with BrokerClient(broker.url, signer(admin)) as api:
        listed_for_admin = [row["id"] for row in await national.pending(api)]
        action = await national.propose_registration(api, admin, LOCAL)
    await approve(broker.url, root, LOCAL)
    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust_for(broker, root), LOCAL)
    ((cp_id, stored_action, proposer, document, signature, status),) = proposal_rows(broker.db)

    assert refused.value.status == 422
    assert refused.value.code == "proposal_required"
    assert size_after_refusal == size
    assert status_after_refusal == "pending"
    assert listed_for_admin == [LOCAL]
    assert action == "register"
    assert state.status == "active"
    assert log_size(broker.db) == size + 1
    assert (cp_id, stored_action, proposer, status) == (LOCAL, "register", MX_ADMIN, "approved")
    verify(admin.identity.public_key, labels.SIG_PROPOSAL, document, signature, what="stored proposal")
    assert parse_proposal(SignedDocument(document, signature)).request_digest == request.digest


async def test_admin_registration_needs_no_proposal(broker, root):
    await enrol(broker.url, root, LOCAL)
    await enrol_admin(broker.url, root)
    second_admin = new_material("mx.fgr.coordinacion")

    await enrol_material(broker.url, root, second_admin, role="national-admin")

    assert registration_status(broker.db, second_admin.owner) == "approved"
    assert registration_status(broker.db, LOCAL) == "approved"


async def test_proposal_rules_enforced(broker, root):
    neighbour = await enrol(broker.url, root, NEIGHBOUR)
    admin = await enrol_admin(broker.url, root)
    await register(broker.url, LOCAL)
    await register(broker.url, FOREIGN)
    local_digest = (await pending_request(broker.url, root, LOCAL)).digest
    foreign_digest = (await pending_request(broker.url, root, FOREIGN)).digest
    url = broker.url

    other_state = await call_status(url, signer(admin), "POST", "/v1/proposals",
                                    propose_body(admin, "register", FOREIGN, request_digest=foreign_digest))
    not_admin = await call_status(url, signer(neighbour), "POST", "/v1/proposals",
                                  propose_body(neighbour, "register", LOCAL, request_digest=local_digest))
    signed_as_other = await call_status(url, signer(admin), "POST", "/v1/proposals",
                                        propose_body(admin, "register", LOCAL, request_digest=local_digest,
                                                     proposer_name=NEIGHBOUR))
    wrong_key = await call_status(url, signer(admin), "POST", "/v1/proposals",
                                  propose_body(admin, "register", LOCAL, request_digest=local_digest,
                                               signing_key=IdentityKey.generate()))
    wrong_request = await call_status(url, signer(admin), "POST", "/v1/proposals",
                                      propose_body(admin, "register", LOCAL, request_digest=foreign_digest))
    listing_by_non_admin = await call_status(url, signer(neighbour), "GET", "/v1/national/registrations")
    async with BrokerClient(url, signer(admin)) as api:
        listed_for_admin = [row["id"] for row in await national.pending(api)]

    assert other_state == (403, "other_state")
    assert not_admin == (403, "not_national_admin")
    assert signed_as_other == (403, "forbidden")
    assert wrong_key == (422, "bad_signature")
    assert wrong_request == (404, "registration_not_found")
    assert listing_by_non_admin == (403, "not_national_admin")
    assert listed_for_admin == [LOCAL]
    assert proposal_rows(broker.db) == []


async def test_approval_needs_secretariat_signature(broker, root):
    await register(broker.url, LOCAL)
    request = await pending_request(broker.url, root, LOCAL)
    registration = parse_registration(request)
    now = int(time.time())
    other_key = IdentityKey.generate()
    size = log_size(broker.db)

    signed_by_other_key = make_record(other_key, registration, now=now)
    other_identity = parse_registration(contact.registration_request(
        new_material(LOCAL), agency="A", agency_type="customs", unit="U", languages=["es"], topics=[]))
    for_other_identity = make_record(root, other_identity, now=now)
    path = f"/v1/admin/registrations/{LOCAL}/approve"

    not_root = await call_status(broker.url, Signer(SECRETARIAT, root), "POST", path,
                                 {"record": signed_by_other_key.to_wire()})
    mismatch = await call_status(broker.url, Signer(SECRETARIAT, root), "POST", path,
                                 {"record": for_other_identity.to_wire()})
    not_secretariat_caller = await call_status(broker.url, Signer(SECRETARIAT, other_key), "POST", path,
                                               {"record": signed_by_other_key.to_wire()})

    assert not_root == (422, "bad_signature")
    assert mismatch == (422, "decision_mismatch")
    assert not_secretariat_caller == (401, "auth_invalid")
    assert log_size(broker.db) == size
    assert registration_status(broker.db, LOCAL) == "pending"
    assert query(broker.db, "SELECT COUNT(*) FROM directory_records")[0][0] == 0


async def test_duplicate_pending_registration_conflicts(broker, root):
    await register(broker.url, LOCAL)
    first_request = await pending_request(broker.url, root, LOCAL)

    with pytest.raises(ApiFailure) as refused:
        await register(broker.url, LOCAL)

    assert refused.value.status == 409
    assert refused.value.code == "registration_exists"
    assert (await pending_request(broker.url, root, LOCAL)).digest == first_request.digest


BAD_IDS = {
    # id: (country field, expected error code)
    "mx-fgr-armas": ("MX", "bad_cp_id"),
    "mx.fgr": ("MX", "bad_cp_id"),
    "MX.fgr.armas": ("MX", "bad_cp_id"),
    "mx.fgr.armas.extra": ("MX", "bad_cp_id"),
    "mx.fgr.armas_": ("MX", "bad_cp_id"),
    "zz.fgr.armas": ("ZZ", "unknown_country"),
    "gb.hmrc.firearms": ("GB", "unknown_country"),
}


def self_signed_request(identity: IdentityKey, cp_id: str, country: str) -> dict:
    """A registration request for ``cp_id`` built by hand, because make_registration checks the id first."""
    now = int(time.time())
    certificate = certify(identity, cp_id, EncryptionKey.generate(), not_before=now, not_after=now + DEFAULT_VALIDITY)
    body = {"v": 1, "type": "registration", "id": cp_id, "country": country, "agency": "Agencia",
            "agency_type": "customs", "unit": "Unidad", "languages": ["es"], "topics": [],
            "role": "contact-point", "identity_key": b64encode(identity.public_key),
            "encryption_keys": [certificate.to_wire()], "requested_at": now}
    document = canonical_json(body)
    return SignedDocument(document, identity.sign(labels.SIG_REGISTRATION, document)).to_wire()


async def test_malformed_ids_rejected(broker):
    results = {}
    for cp_id, (country, _code) in BAD_IDS.items():
        results[cp_id] = await call_status(broker.url, None, "POST", "/v1/registrations",
                                           {"request": self_signed_request(IdentityKey.generate(), cp_id, country)})

    for cp_id, (_country, code) in BAD_IDS.items():
        assert results[cp_id] == (400, code), cp_id
    assert query(broker.db, "SELECT COUNT(*) FROM registrations")[0][0] == 0


# Changes to listed contact points


async def test_update_keeps_rotated_keys(broker, root):
    local = await enrol(broker.url, root, LOCAL)
    foreign = await enrol(broker.url, root, FOREIGN)
    admin = await enrol_admin(broker.url, root)
    async with BrokerClient(broker.url, signer(local)) as api:
        await contact.publish_key(api, LOCAL, contact.new_encryption_key(local, DEFAULT_VALIDITY, int(time.time())))
    key_ids = {k.key.key_id for k in local.encryption_keys}

    foreign_update = await call_status(broker.url, signer(admin), "POST", "/v1/proposals",
                                       propose_body(admin, "update", FOREIGN, profile={"unit": NEW_UNIT}))
    async with BrokerClient(broker.url, signer(admin)) as api:
        proposal_id = await national.propose_update(api, admin, LOCAL, {"unit": NEW_UNIT})
    trust = trust_for(broker, root)
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        (update,) = await secretariat.pending_updates(api)
        await secretariat.approve_update(api, trust, root, update)
    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust, LOCAL)
        served = {row["id"]: row for row in await api.directory()}
    served_record = parse_record(SignedDocument.from_wire(served[LOCAL]["record"], what="record"), root.public_key)
    stored = query(broker.db, "SELECT proposer, status, document, signature FROM proposals WHERE proposal_id = ?",
                   (proposal_id,))

    assert foreign_update == (403, "other_state")
    assert (update.proposal_id, update.cp_id, update.proposer) == (proposal_id, LOCAL, MX_ADMIN)
    assert state.record.profile.unit == NEW_UNIT
    assert state.record.serial == 2
    assert state.identity_key == local.identity.public_key
    assert {c.key_id for c in state.keys} == key_ids
    assert served_record.profile.unit == NEW_UNIT
    assert {c.key_id for c in served_record.certificates} == key_ids
    assert stored[0][:2] == (MX_ADMIN, "approved")
    verify(admin.identity.public_key, labels.SIG_PROPOSAL, stored[0][2], stored[0][3], what="stored proposal")
    assert served_record.request_digest == SignedDocument(stored[0][2], stored[0][3]).digest
    assert foreign.owner not in {row[0] for row in proposal_rows(broker.db)}


async def test_invalid_update_rejected(broker, root):
    await enrol(broker.url, root, LOCAL)
    admin = await enrol_admin(broker.url, root)

    unknown_field = await call_status(broker.url, signer(admin), "POST", "/v1/proposals",
                                      propose_body(admin, "update", LOCAL, profile={"colour": "red"}))
    unknown_language = await call_status(broker.url, signer(admin), "POST", "/v1/proposals",
                                         propose_body(admin, "update", LOCAL, profile={"languages": ["xx"]}))

    assert unknown_field[0] == 400
    assert unknown_language[0] == 400
    assert proposal_rows(broker.db) == []


def placeholder_decisions() -> dict[str, dict]:
    """Bodies of the approve and reject requests; the broker looks the proposal up before reading them."""
    signed = SignedDocument(b"{}", bytes(64)).to_wire()
    return {"approve": {"record": signed}, "reject": {"rejection": signed}}


async def test_unknown_proposal_not_found(broker, root):
    results = {}
    for decision, body in placeholder_decisions().items():
        results[decision] = await call_status(broker.url, Signer(SECRETARIAT, root), "POST",
                                              f"/v1/admin/proposals/12345/{decision}", body)

    assert results["approve"] == (404, "proposal_not_found")
    assert results["reject"] == (404, "proposal_not_found")


async def test_huge_proposal_id_not_found(tmp_path, root):
    # A broker of its own, because the broker fixture fails its teardown when the broker logged a 500.
    process = BrokerProcess(tmp_path, root).start()
    results = {}
    try:
        for decision, body in placeholder_decisions().items():
            results[decision] = await call_status(process.url, Signer(SECRETARIAT, root), "POST",
                                                  f"/v1/admin/proposals/{2 ** 64}/{decision}", body)
    finally:
        process.stop()

    assert results["approve"][0] in (400, 404)
    assert results["reject"][0] in (400, 404)


# Identity replacement


async def test_replacement_endorsed_by_old_key(broker, root):
    old = await enrol(broker.url, root, LOCAL)
    replacement = new_material(LOCAL)
    await submit_registration(broker.url, replacement)
    request = await pending_request(broker.url, root, LOCAL)
    trust = trust_for(broker, root)
    size = log_size(broker.db)

    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        with pytest.raises(ApiFailure) as refused:
            await secretariat.approve(api, trust, root, LOCAL)
    endorsed = await call_status(broker.url, signer(old), "POST", "/v1/proposals",
                                 propose_body(old, "replace-identity", LOCAL, request_digest=request.digest))
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        await secretariat.approve(api, trust, root, LOCAL)
    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust, LOCAL)
    old_key_call = await call_status(broker.url, signer(old), "GET", "/v1/mailbox")
    new_key_call = await call_status(broker.url, signer(replacement), "GET", "/v1/mailbox")
    ((_, action, proposer, document, signature, status),) = proposal_rows(broker.db)

    assert refused.value.status == 422
    assert refused.value.code == "proposal_required"
    assert endorsed == (201, "")
    assert state.identity_key == replacement.identity.public_key
    assert state.record.serial == 2
    assert {c.key_id for c in state.keys} == {k.key.key_id for k in replacement.encryption_keys}
    assert log_size(broker.db) == size + 1
    assert old_key_call == (401, "auth_invalid")
    assert new_key_call == (200, "")
    assert (action, proposer, status) == ("replace-identity", LOCAL, "approved")
    verify(old.identity.public_key, labels.SIG_PROPOSAL, document, signature, what="stored endorsement")


async def test_replacement_proposed_by_admin(broker, root):
    await enrol(broker.url, root, LOCAL)
    admin = await enrol_admin(broker.url, root)
    replacement = new_material(LOCAL)
    await submit_registration(broker.url, replacement)
    trust = trust_for(broker, root)

    async with BrokerClient(broker.url, signer(admin)) as api:
        action = await national.propose_registration(api, admin, LOCAL)
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        await secretariat.approve(api, trust, root, LOCAL)
    async with BrokerClient(broker.url) as api:
        state = await verified_state(api, trust, LOCAL)

    assert action == "replace-identity"
    assert state.identity_key == replacement.identity.public_key
    assert state.record.serial == 2
    assert state.status == "active"


async def test_mail_survives_sender_replacement(broker, root):
    old = await enrol(broker.url, root, LOCAL)
    reader = await enrol(broker.url, root, FOREIGN)
    trust = trust_for(broker, root)
    async with BrokerClient(broker.url, signer(old)) as api:
        await contact.send(api, trust, old, [FOREIGN], kind="message", priority="normal",
                           content={"subject": "sent before the replacement"})
    await submit_registration(broker.url, new_material(LOCAL))
    request = await pending_request(broker.url, root, LOCAL)
    await call_status(broker.url, signer(old), "POST", "/v1/proposals",
                      propose_body(old, "replace-identity", LOCAL, request_digest=request.digest))
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        await secretariat.approve(api, trust, root, LOCAL)

    async with BrokerClient(broker.url, signer(reader)) as api:
        (item,) = await api.mailbox()
        opened = await open_received(api, trust, reader, item["envelope"])

    assert opened.inner["content"]["subject"] == "sent before the replacement"
    assert opened.trusted is True


# What the broker keeps


async def test_stored_changes_keep_signatures(broker, root):
    local = await enrol(broker.url, root, LOCAL)
    admin = await enrol_admin(broker.url, root)
    await register(broker.url, NEIGHBOUR)
    trust = trust_for(broker, root)
    async with BrokerClient(broker.url, signer(admin)) as api:
        await national.propose_registration(api, admin, NEIGHBOUR)
    await approve(broker.url, root, NEIGHBOUR)
    async with BrokerClient(broker.url, signer(local)) as api:
        await contact.publish_key(api, LOCAL, contact.new_encryption_key(local, DEFAULT_VALIDITY, int(time.time())))
    async with BrokerClient(broker.url, signer(admin)) as api:
        await national.propose_update(api, admin, LOCAL, {"unit": NEW_UNIT})
    async with BrokerClient(broker.url, Signer(SECRETARIAT, root)) as api:
        (update,) = await secretariat.pending_updates(api)
        await secretariat.approve_update(api, trust, root, update)
    async with BrokerClient(broker.url, signer(admin)) as api:
        await contact.revoke(api, trust, admin.identity, MX_ADMIN, NEIGHBOUR, "left-post")

    signer_keys = {LOCAL: local.identity.public_key, MX_ADMIN: admin.identity.public_key,
                   SECRETARIAT: root.public_key}
    labels_by_type = {"record": labels.SIG_DIRECTORY_RECORD, "encryption-key": labels.SIG_ENCRYPTION_KEY,
                      "revocation": labels.SIG_REVOCATION}
    expected_signers = ["secretariat", "secretariat", "secretariat", LOCAL, "secretariat", MX_ADMIN]
    entries = [parse_entry(row[0]) for row in query(broker.db, "SELECT entry FROM log_entries ORDER BY seq")]
    decisions = query(broker.db, "SELECT cp_id, decision, decision_signature FROM registrations ORDER BY cp_id")
    proposals = proposal_rows(broker.db)

    assert [e.type for e in entries] == ["record", "record", "record", "encryption-key", "record", "revocation"]
    for entry, signer_name in zip(entries, expected_signers):
        verify(signer_keys[signer_name], labels_by_type[entry.type], entry.document, entry.signature,
               what=f"log entry {entry.type} of {entry.cp_id}")
    for cp_id, decision, decision_signature in decisions:
        assert parse_record(SignedDocument(decision, decision_signature), root.public_key).cp_id == cp_id
    assert [(p[0], p[1], p[2], p[5]) for p in proposals] == [(NEIGHBOUR, "register", MX_ADMIN, "approved"),
                                                            (LOCAL, "update", MX_ADMIN, "approved")]
    for proposal in proposals:
        verify(admin.identity.public_key, labels.SIG_PROPOSAL, proposal[3], proposal[4], what="stored proposal")
