"""What a Secretariat administrator does: hold the root key, approve or reject requests.

The root key signs on the administrator's machine; the broker receives only the
signed records and decisions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from client import home as local
from client.api import BrokerClient
from client.errors import TrustError
from client.transparency import TrustContext
from client.trust import verified_state
from i18n import _
from keys import keystore
from keys.encoding import b64encode
from keys.errors import EnlaceError
from keys.identity import IdentityKey, fingerprint
from keys.lookalike import lookalike_warnings
from keys.changes import parse_proposal
from keys.records import (Registration, SignedDocument, make_record, make_rejection, parse_registration,
                          sign_record, sign_rejection)
from keys.requests import SECRETARIAT

KEYSTORE_NAME = "secretariat.json"


def create_root(home: Path, broker: str, passphrase: str, *, profile: str = "moderate",
                force: bool = False, ca_file: str = "") -> IdentityKey:
    """Generate the Secretariat root key; the configuration pins its own public key."""
    root = IdentityKey.generate()
    keystore.save(home / KEYSTORE_NAME, keystore.KeyMaterial(SECRETARIAT, root), passphrase,
                  profile=profile, force=force)
    local.save_config(home, local.Config(broker=broker, contact_point=SECRETARIAT,
                                         secretariat_key=b64encode(root.public_key), ca_file=ca_file))
    return root


@dataclass(frozen=True)
class PendingRequest:
    cp_id: str
    registration: Registration | None
    problem: str | None
    created_at: int

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.registration.identity_key) if self.registration else ""


def _parse(row: dict) -> PendingRequest:
    try:
        registration = parse_registration(SignedDocument.from_wire(row["request"], what="request"))
    except EnlaceError as exc:
        return PendingRequest(row["id"], None, exc.message, row["created_at"])
    if registration.profile.id != row["id"]:
        return PendingRequest(row["id"], None, _("the request is for another id"), row["created_at"])
    return PendingRequest(row["id"], registration, None, row["created_at"])


async def pending(api: BrokerClient) -> list[PendingRequest]:
    """Pending requests, each with its self-signature checked here, not by trusting the broker."""
    return [_parse(row) for row in await api.registrations("pending")]


async def _registration(api: BrokerClient, cp_id: str) -> Registration:
    request = _parse(await api.registration(cp_id))
    if request.registration is None:
        raise TrustError(_("the request of {cp_id} does not verify: {reason}").format(
            cp_id=cp_id, reason=request.problem))
    return request.registration


async def approve(api: BrokerClient, trust: TrustContext, root: IdentityKey, cp_id: str) -> Registration:
    """Sign and upload the directory record for the pending request of ``cp_id``.

    A request for a listed contact point replaces its identity key: the new record
    gets the next serial number.
    """
    registration = await _registration(api, cp_id)
    serial = 1
    if (await api.registration_listed(cp_id)):
        serial = (await verified_state(api, trust, cp_id)).record.serial + 1
    record = make_record(root, registration, now=int(time.time()), serial=serial)
    await api.approve(cp_id, record)
    return registration


async def reject(api: BrokerClient, root: IdentityKey, cp_id: str, reason: str) -> None:
    """Sign and upload the rejection of ``cp_id``'s pending request, with its reason."""
    registration = await _registration(api, cp_id)
    await api.reject(cp_id, make_rejection(root, registration, reason, int(time.time())))


@dataclass(frozen=True)
class PendingUpdate:
    proposal_id: int
    cp_id: str
    proposer: str
    changes: dict
    signed: SignedDocument


async def pending_updates(api: BrokerClient) -> list[PendingUpdate]:
    """Pending profile updates proposed by national administrators."""
    answer = await api.call("GET", "/v1/proposals?status=pending")
    result = []
    for row in answer["proposals"]:
        signed = SignedDocument.from_wire(row["proposal"], what="proposal")
        proposal = parse_proposal(signed)
        if proposal.action == "update":
            result.append(PendingUpdate(row["proposal_id"], proposal.cp_id, proposal.proposer,
                                        proposal.profile or {}, signed))
    return result


async def approve_update(api: BrokerClient, trust: TrustContext, root: IdentityKey, update: PendingUpdate) -> None:
    """Sign the record that applies ``update`` to the current state and upload it."""
    state = await verified_state(api, trust, update.cp_id)
    profile = state.record.profile.model_dump() | update.changes
    record = sign_record(root, profile, state.identity_key, state.keys, request_digest=update.signed.digest,
                         now=int(time.time()), serial=state.record.serial + 1)
    await api.call("POST", f"/v1/admin/proposals/{update.proposal_id}/approve", {"record": record.to_wire()})


async def reject_update(api: BrokerClient, root: IdentityKey, update: PendingUpdate, reason: str) -> None:
    rejection = sign_rejection(root, update.cp_id, update.signed.digest, reason, int(time.time()))
    await api.call("POST", f"/v1/admin/proposals/{update.proposal_id}/reject", {"rejection": rejection.to_wire()})


async def request_notes(api: BrokerClient, requests: list[PendingRequest]) -> dict[str, list[str]]:
    """What the Secretariat must know about each request besides its fingerprint: its role,
    whether it replaces a listed key, and who proposed or endorsed it."""
    proposals = (await api.call("GET", "/v1/proposals?status=pending"))["proposals"]
    notes: dict[str, list[str]] = {}
    for request in requests:
        found = []
        if request.registration is not None and request.registration.profile.role == "national-admin":
            found.append(_("role: national administrator"))
        if await api.registration_listed(request.cp_id):
            found.append(_("REPLACES the listed identity key"))
        for row in proposals:
            if row["id"] == request.cp_id and row["action"] in ("register", "replace-identity"):
                who = _("its current key") if row["proposer"] == request.cp_id else row["proposer"]
                found.append(_("proposed by {who}").format(who=who))
        notes[request.cp_id] = found
    return notes


async def lookalike_flags(api: BrokerClient, trust: TrustContext, requests: list[PendingRequest]) -> dict:
    """For each request, what makes its id, agency or unit look like an existing entry."""
    existing_ids, existing_names = [], []
    for entry in await api.directory():
        state = await verified_state(api, trust, entry["id"])
        existing_ids.append(state.cp_id)
        existing_names += [state.record.profile.agency, state.record.profile.unit]

    flags = {}
    for request in requests:
        if request.registration is None:
            continue
        profile = request.registration.profile
        found = lookalike_warnings(profile.id, existing_ids)
        for name in (profile.agency, profile.unit):
            found += [w for w in lookalike_warnings(name, existing_names) if w not in found]
        if found:
            flags[request.cp_id] = found
    return flags
