"""National administrator operations: propose, update and revoke a state's contact points.

Every proposal is signed with the administrator's own identity key; the
Secretariat decides, and the broker refuses a proposal about another state.
"""

from __future__ import annotations

import time

from client.api import BrokerClient
from client.errors import UsageError
from i18n import _
from keys.changes import make_proposal
from keys.keystore import KeyMaterial
from keys.records import Registration, SignedDocument, parse_registration


async def pending(api: BrokerClient) -> list[dict]:
    """Registration requests of this administrator's state that wait for a proposal."""
    return (await api.call("GET", "/v1/national/registrations"))["registrations"]


async def pending_registration(api: BrokerClient, cp_id: str) -> tuple[Registration, bool]:
    """The pending request of ``cp_id`` in this administrator's state, and whether it replaces a listed key."""
    row = next((r for r in await pending(api) if r["id"] == cp_id), None)
    if row is None:
        raise UsageError(_("no pending registration request for {cp_id} in your state").format(cp_id=cp_id),
                         hint=_("list your state's pending requests with 'enlace national pending'"))
    registration = parse_registration(SignedDocument.from_wire(row["request"], what="request"))
    return registration, await api.registration_listed(cp_id)


async def propose_registration(api: BrokerClient, material: KeyMaterial, cp_id: str) -> str:
    """Endorse the pending request of ``cp_id`` without showing it; return the proposal's action."""
    registration, replacement = await pending_registration(api, cp_id)
    return await propose_request(api, material, registration, replacement)


async def propose_request(api: BrokerClient, material: KeyMaterial, registration: Registration,
                          replacement: bool) -> str:
    """Endorse a pending request; return the proposal's action ("replace-identity" or "register")."""
    cp_id = registration.profile.id
    action = "replace-identity" if replacement else "register"
    proposal = make_proposal(material.identity, material.owner, action, cp_id, int(time.time()),
                             request_digest=registration.signed.digest)
    await api.call("POST", "/v1/proposals", {"proposal": proposal.to_wire()})
    return action


async def proposals(api: BrokerClient) -> list[dict]:
    """Every proposal about this administrator's state, with its status and the Secretariat's reason."""
    return (await api.call("GET", "/v1/proposals?status=all"))["proposals"]


async def propose_update(api: BrokerClient, material: KeyMaterial, cp_id: str, changes: dict) -> int:
    """Propose new profile fields for ``cp_id``; return the proposal id."""
    if not changes:
        raise UsageError(_("nothing to change"), hint=_("give at least one of --agency, --agency-type, "
                                                        "--unit, --language, --topic"))
    proposal = make_proposal(material.identity, material.owner, "update", cp_id, int(time.time()),
                             profile=changes)
    answer = await api.call("POST", "/v1/proposals", {"proposal": proposal.to_wire()})
    return answer["proposal_id"]
