"""Signed directory changes that are not records: revocations and proposals.

A revocation takes effect as soon as the broker logs it; it needs no Secretariat
approval, so a compromised key can be stopped at once. A proposal is a national
administrator's (or, for an identity replacement, the old identity key's) signed
request that the Secretariat approve a change; the broker keeps it with the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from keys import labels
from keys.encoding import b64decode, b64encode, canonical_json, check_fields, is_version_1, parse_canonical
from keys.errors import FormatError
from keys.identity import IdentityKey
from keys.ids import check_cp_id, normalize_text
from keys.records import SignedDocument
from keys.requests import SECRETARIAT

REVOCATION_REASONS = ("key-compromised", "left-post", "superseded", "administrative")
PROPOSAL_ACTIONS = ("register", "update", "replace-identity")


def _signer(value: object) -> str:
    return value if value == SECRETARIAT else check_cp_id(value)


@dataclass(frozen=True)
class Revocation:
    cp_id: str
    identity_key_id: str
    reason: str
    revoked_at: int
    signer: str
    signed: SignedDocument


def make_revocation(signer_key: IdentityKey, signer: str, cp_id: str, identity_key_id: str,
                    reason: str, now: int) -> SignedDocument:
    """Sign the revocation of ``cp_id``'s identity key ``identity_key_id``."""
    if reason not in REVOCATION_REASONS:
        raise FormatError(f"revocation reason {reason!r} is not one of {', '.join(REVOCATION_REASONS)}",
                          value=reason, code="bad_reason")
    document = canonical_json({"v": 1, "type": "revocation", "cp_id": cp_id, "identity_key_id": identity_key_id,
                               "reason": reason, "revoked_at": now, "signer": signer})
    return SignedDocument(document, signer_key.sign(labels.SIG_REVOCATION, document))


def parse_revocation(signed: SignedDocument) -> Revocation:
    """Parse a revocation; its signature is checked by whoever knows the signer's key."""
    fields = {"v", "type", "cp_id", "identity_key_id", "reason", "revoked_at", "signer"}
    body = check_fields(parse_canonical(signed.document, what="revocation"), fields, what="revocation")
    if not is_version_1(body["v"]) or body["type"] != "revocation":
        raise FormatError("not a version 1 revocation")
    if body["reason"] not in REVOCATION_REASONS:
        raise FormatError(f"revocation reason {body['reason']!r} is not known", value=body["reason"],
                          code="bad_reason")
    if type(body["revoked_at"]) is not int or not isinstance(body["identity_key_id"], str):
        raise FormatError("revocation: revoked_at must be an integer and identity_key_id a string")
    return Revocation(check_cp_id(body["cp_id"]), body["identity_key_id"], body["reason"],
                      body["revoked_at"], _signer(body["signer"]), signed)


@dataclass(frozen=True)
class Proposal:
    action: str
    cp_id: str
    proposer: str
    request_digest: bytes | None
    profile: dict | None
    proposed_at: int
    signed: SignedDocument


def make_proposal(proposer_key: IdentityKey, proposer: str, action: str, cp_id: str, now: int, *,
                  request_digest: bytes | None = None, profile: dict | None = None,
                  note: str = "") -> SignedDocument:
    """Sign a proposal: endorse a request (register, replace-identity) or propose new profile fields."""
    if action not in PROPOSAL_ACTIONS:
        raise FormatError(f"proposal action {action!r} is not one of {', '.join(PROPOSAL_ACTIONS)}")
    body = {"v": 1, "type": "proposal", "action": action, "cp_id": cp_id, "proposer": proposer,
            "request_digest": b64encode(request_digest) if request_digest else None,
            "profile": profile, "note": normalize_text(note, field="note") if note else "",
            "proposed_at": now}
    document = canonical_json(body)
    return SignedDocument(document, proposer_key.sign(labels.SIG_PROPOSAL, document))


def parse_proposal(signed: SignedDocument) -> Proposal:
    """Parse a proposal; the caller checks the signature against the proposer's key."""
    fields = {"v", "type", "action", "cp_id", "proposer", "request_digest", "profile", "note", "proposed_at"}
    body = check_fields(parse_canonical(signed.document, what="proposal"), fields, what="proposal")
    if not is_version_1(body["v"]) or body["type"] != "proposal" or body["action"] not in PROPOSAL_ACTIONS:
        raise FormatError("not a version 1 proposal")
    digest = b64decode(body["request_digest"], field="request_digest", size=32) if body["request_digest"] else None
    if body["profile"] is not None and not isinstance(body["profile"], dict):
        raise FormatError("proposal profile must be an object")
    if type(body["proposed_at"]) is not int or not isinstance(body["note"], str):
        raise FormatError("proposal: proposed_at must be an integer and note a string")
    return Proposal(body["action"], check_cp_id(body["cp_id"]), _signer(body["proposer"]), digest,
                    body["profile"], body["proposed_at"], signed)
