"""The directory: registrations, the Secretariat's decisions, rotations and revocations.

The broker never holds the Secretariat root key. Every change it accepts is signed
by whoever made it, verified here against the state the transparency log defines,
and appended to the log in the same transaction as the decision that caused it.
"""

from __future__ import annotations

import logging
import time

from broker.errors import BadRequest, ConflictError, Forbidden, NotFoundError, Unprocessable, from_core
from broker.services.log import TransparencyLog
from broker.storage import (Conflict, NotFound, ProposalDecision, RegistrationDecision, Storage,
                            StoredProposal, StoredRegistration)
from keys.changes import parse_proposal, parse_revocation
from keys.directory import ContactState
from keys.encoding import b64encode
from keys.errors import EnlaceError, SignatureError
from keys.identity import verify
from keys import labels
from keys.ids import country_of
from keys.header import describe_validation_error
from keys.records import Profile, Registration, SignedDocument, parse_record, parse_registration, parse_rejection
from pydantic import ValidationError

log = logging.getLogger("enlace.directory")

# Revocations, like envelopes, may not be dated further ahead of the broker's clock.
MAX_CLOCK_SKEW = 300


class DirectoryService:
    def __init__(self, storage: Storage, root_public_key: bytes, transparency: TransparencyLog):
        self.storage = storage
        self.root_public_key = root_public_key
        self.log = transparency

    def state(self, cp_id: str) -> ContactState | None:
        return self.log.state(cp_id)

    async def require_usable(self, cp_id: str, *, role: str) -> ContactState:
        """Return the state of an active contact point, or raise an error that names the failed role."""
        state = self.state(cp_id)
        if state is not None and state.usable_at(int(time.time())):
            return state

        if state is None and await self.storage.get_registration(cp_id) is None:
            code = "unknown_sender" if role == "sender" else "unknown_recipient"
            raise Unprocessable(code, f"{role} {cp_id} is not in the directory", value=cp_id)
        if state is not None and state.revocation is not None:
            raise Forbidden(f"{role}_revoked", f"{role} {cp_id} was revoked "
                            f"({state.revocation.reason}) at {state.revocation.revoked_at}", value=cp_id)
        raise Forbidden(f"{role}_not_approved",
                        f"{role} {cp_id} is not an approved, active contact point", value=cp_id)

    # Registration requests

    async def submit_registration(self, signed: SignedDocument) -> StoredRegistration:
        """Store a self-signed registration request as pending.

        A request for an id that is already listed requests a new identity key for it.
        """
        try:
            registration = parse_registration(signed)
        except EnlaceError as exc:
            raise from_core(exc) from None

        profile = registration.profile
        now = int(time.time())
        if not any(c.valid_at(now) for c in registration.certificates):
            raise BadRequest("no_valid_key", f"no encryption key of {profile.id} is valid now; nobody could "
                             "send to it", value=profile.id)
        replacement = self.state(profile.id) is not None
        stored = StoredRegistration(
            cp_id=profile.id, country=profile.country, identity_key=registration.identity_key,
            request=signed.document, signature=signed.signature, status="pending", reason=None,
            decision=None, decision_signature=None, created_at=int(time.time()), decided_at=None)
        try:
            await self.storage.add_registration(stored, replacement=replacement)
        except Conflict as exc:
            raise ConflictError("registration_exists", str(exc), value=profile.id) from None

        log.info("registration received", extra={"cp_id": profile.id, "replacement": replacement})
        return stored

    async def registration(self, cp_id: str) -> StoredRegistration:
        stored = await self.storage.get_registration(cp_id)
        if stored is None:
            raise NotFoundError("registration_not_found", f"no registration request for {cp_id}", value=cp_id)
        return stored

    async def _pending(self, cp_id: str) -> tuple[StoredRegistration, Registration]:
        stored = await self.registration(cp_id)
        if stored.status != "pending":
            raise ConflictError("registration_not_pending",
                                f"the registration of {cp_id} is already {stored.status}", value=cp_id)
        return stored, parse_registration(SignedDocument(stored.request, stored.signature))

    async def approve(self, cp_id: str, signed: SignedDocument) -> ContactState:
        """Log the Secretariat-signed record that approves the pending request of ``cp_id``."""
        stored, registration = await self._pending(cp_id)
        record = self._verified_record(signed)
        _check_record_matches(record, cp_id, stored, registration.signed.digest)
        previous = self.state(cp_id)
        if previous is not None and record.serial <= previous.record.serial:
            raise Unprocessable("stale_serial", f"record serial {record.serial} must be greater than "
                                f"{previous.record.serial}", value=record.serial)

        endorsement = await self._endorsement(cp_id, registration, previous)
        decision = RegistrationDecision(cp_id, "approved", None, signed.document, signed.signature,
                                        int(time.time()))
        state = await self._append("record", cp_id, signed, registration=decision, proposal=endorsement)
        log.info("registration approved", extra={"cp_id": cp_id})
        return state

    async def _endorsement(self, cp_id: str, registration: Registration,
                           previous: ContactState | None) -> ProposalDecision | None:
        """The proposal this approval consumes; required where the rules require one.

        A contact point of a state that has national administrators needs their
        proposal; a new identity key for a listed contact point needs a proposal
        signed by the old key or by a national administrator.
        """
        wanted = "replace-identity" if previous is not None else "register"
        digest = registration.signed.digest
        for proposal in await self.storage.list_proposals("pending", cp_id):
            parsed = parse_proposal(SignedDocument(proposal.document, proposal.signature))
            if parsed.action == wanted and parsed.request_digest == digest:
                return ProposalDecision(proposal.proposal_id, "approved", None, int(time.time()))

        needs_admin = registration.profile.role == "contact-point" and self.national_admins(country_of(cp_id))
        if previous is not None or needs_admin:
            raise Unprocessable("proposal_required",
                                f"approving {cp_id} needs a pending '{wanted}' proposal for this request "
                                "from a national administrator of its state"
                                + (" or from its current identity key" if previous else ""), value=cp_id)
        return None

    def national_admins(self, country: str) -> list[str]:
        now = int(time.time())
        states = [self.state(cp_id) for cp_id in sorted(self.log.admin_ids) if country_of(cp_id) == country]
        return [s.cp_id for s in states
                if s is not None and s.record.profile.role == "national-admin" and s.usable_at(now)]

    async def reject(self, cp_id: str, signed: SignedDocument) -> StoredRegistration:
        """Store the Secretariat-signed rejection of the pending request of ``cp_id``."""
        stored, registration = await self._pending(cp_id)
        try:
            body = parse_rejection(signed, self.root_public_key)
        except EnlaceError as exc:
            raise Unprocessable(exc.code, "rejection is not signed by the Secretariat key: " + exc.message,
                                value=cp_id) from None
        if body["id"] != cp_id or body["request_digest"] != b64encode(registration.signed.digest):
            raise Unprocessable("decision_mismatch",
                                f"rejection does not refer to the pending request of {cp_id}", value=cp_id)

        decision = RegistrationDecision(cp_id, "rejected", body["reason"], signed.document, signed.signature,
                                        int(time.time()))
        await self._commit(registration=decision)
        log.info("registration rejected", extra={"cp_id": cp_id})
        return await self.registration(cp_id)

    # Changes to listed contact points

    async def rotate(self, caller: str, cp_id: str, certificate: SignedDocument) -> ContactState:
        """Log a new encryption key, certified by the contact point's own identity key."""
        if caller != cp_id:
            raise Forbidden("forbidden", f"{caller} may not add keys for {cp_id}", value=caller)
        return await self._append("encryption-key", cp_id, certificate)

    async def revoke(self, caller: str, cp_id: str, signed: SignedDocument) -> ContactState:
        """Log a revocation signed by the contact point, a national administrator of its state or the Secretariat."""
        try:
            revocation = parse_revocation(signed)
        except EnlaceError as exc:
            raise from_core(exc) from None
        if revocation.signer != caller or revocation.cp_id != cp_id:
            raise Forbidden("forbidden", f"the revocation is signed for {revocation.signer} about "
                            f"{revocation.cp_id}, but the request comes from {caller} about {cp_id}", value=caller)
        if self.state(cp_id) is None:
            raise NotFoundError("not_found", f"{cp_id} is not in the directory", value=cp_id)
        if revocation.revoked_at > int(time.time()) + MAX_CLOCK_SKEW:
            raise Unprocessable("created_in_future", f"revocation time {revocation.revoked_at} is in the future; "
                                "check the clock", value=revocation.revoked_at)
        return await self._append("revocation", cp_id, signed)

    # Proposals

    async def propose(self, caller: str, signed: SignedDocument) -> StoredProposal:
        """Store a proposal signed by a national administrator of the contact point's state.

        A 'replace-identity' proposal may instead be signed by the contact point's
        current identity key.
        """
        try:
            proposal = parse_proposal(signed)
        except EnlaceError as exc:
            raise from_core(exc) from None
        if proposal.proposer != caller:
            raise Forbidden("forbidden", f"the proposal is signed as {proposal.proposer}, not {caller}", value=caller)

        key = self._proposer_key(caller, proposal.cp_id, proposal.action)
        await self._check_proposal_target(proposal)
        try:
            verify(key, labels.SIG_PROPOSAL, signed.document, signed.signature, what="proposal")
        except SignatureError as exc:
            raise Unprocessable("bad_signature", exc.message, value=caller) from None

        stored = StoredProposal(None, proposal.cp_id, proposal.action, caller, signed.document, signed.signature,
                                "pending", None, "", int(time.time()), None)
        proposal_id = await self.storage.add_proposal(stored)
        log.info("proposal received", extra={"proposal_id": proposal_id, "cp_id": proposal.cp_id,
                                             "action": proposal.action, "proposer": caller})
        return await self.storage.get_proposal(proposal_id)

    async def _check_proposal_target(self, proposal) -> None:
        """Check that an update names a listed contact point and valid new fields, and that an
        endorsement names a pending request."""
        if proposal.action == "update":
            state = self.state(proposal.cp_id)
            if state is None:
                raise NotFoundError("not_found", f"{proposal.cp_id} is not in the directory", value=proposal.cp_id)
            _check_update(state, proposal.profile)
            return
        stored = await self.storage.get_registration(proposal.cp_id)
        pending = stored is not None and stored.status == "pending"
        if not pending or SignedDocument(stored.request, stored.signature).digest != proposal.request_digest:
            raise NotFoundError("registration_not_found",
                                f"no pending registration request of {proposal.cp_id} matches the proposal",
                                value=proposal.cp_id)

    def _proposer_key(self, caller: str, cp_id: str, action: str) -> bytes:
        state = self.state(caller)
        if caller == cp_id and action == "replace-identity" and state is not None:
            return state.identity_key
        is_admin = state is not None and state.record.profile.role == "national-admin"
        if not is_admin or not state.usable_at(int(time.time())):
            raise Forbidden("not_national_admin", f"{caller} is not an active national administrator", value=caller)
        if country_of(caller) != country_of(cp_id):
            raise Forbidden("other_state", f"{caller} may only propose changes to contact points of "
                            f"{country_of(caller)}, not {cp_id}", value=cp_id)
        return state.identity_key

    async def approve_update(self, proposal_id: int, signed: SignedDocument) -> ContactState:
        """Log the Secretariat-signed record that carries out a pending 'update' proposal."""
        stored = await self._pending_proposal(proposal_id, "update")
        previous = self.state(stored.cp_id)
        record = self._verified_record(signed)
        if previous is None or record.cp_id != stored.cp_id or record.identity_key != previous.identity_key:
            raise Unprocessable("decision_mismatch", f"the record does not update {stored.cp_id}", value=stored.cp_id)
        proposal = parse_proposal(SignedDocument(stored.document, stored.signature))
        expected = previous.record.profile.model_dump() | (proposal.profile or {})
        if record.profile.model_dump() != expected:
            raise Unprocessable("decision_mismatch", f"the record's profile is not the one proposal {proposal_id} "
                                "proposes", value=proposal_id)
        decision = ProposalDecision(proposal_id, "approved", None, int(time.time()))
        return await self._append("record", stored.cp_id, signed, proposal=decision)

    async def reject_proposal(self, proposal_id: int, signed: SignedDocument) -> StoredProposal:
        """Mark a proposal rejected; ``signed`` is the Secretariat's signed rejection."""
        stored = await self._pending_proposal(proposal_id, None)
        try:
            body = parse_rejection(signed, self.root_public_key)
        except EnlaceError as exc:
            raise Unprocessable(exc.code, "rejection is not signed by the Secretariat key: " + exc.message,
                                value=proposal_id) from None
        digest = SignedDocument(stored.document, stored.signature).digest
        if body["id"] != stored.cp_id or body["request_digest"] != b64encode(digest):
            raise Unprocessable("decision_mismatch", f"the rejection does not refer to proposal {proposal_id}",
                                value=proposal_id)
        await self._commit(proposal=ProposalDecision(proposal_id, "rejected", body["reason"], int(time.time())))
        return await self.storage.get_proposal(proposal_id)

    async def _pending_proposal(self, proposal_id: int, action: str | None) -> StoredProposal:
        stored = await self.storage.get_proposal(proposal_id)
        if stored is None:
            raise NotFoundError("proposal_not_found", f"no proposal {proposal_id}", value=proposal_id)
        if stored.status != "pending" or (action is not None and stored.action != action):
            raise ConflictError("proposal_not_pending", f"proposal {proposal_id} is {stored.status} "
                                f"({stored.action})", value=proposal_id)
        return stored

    # Helpers

    def _verified_record(self, signed: SignedDocument):
        try:
            return parse_record(signed, self.root_public_key)
        except EnlaceError as exc:
            if exc.code == "bad_signature" and exc.value == "directory record":
                raise Unprocessable("bad_signature", "the record is not signed by the Secretariat key") from None
            if exc.code == "bad_signature":
                raise Unprocessable("bad_signature", f"the record does not verify: {exc.message}") from None
            raise from_core(exc) from None

    async def _append(self, entry_type: str, cp_id: str, signed: SignedDocument, **decisions) -> ContactState:
        try:
            return await self.log.append(entry_type, cp_id, signed, **decisions)
        except EnlaceError as exc:
            if exc.code in ("bad_signature", "not_authorized"):
                raise Unprocessable(exc.code, exc.message, value=cp_id) from None
            if exc.code == "already_revoked":
                raise ConflictError(exc.code, exc.message, value=cp_id) from None
            raise Unprocessable("invalid_change", exc.message, value=cp_id) from None
        except (NotFound, Conflict) as exc:
            raise ConflictError("changed_meanwhile", str(exc), value=cp_id) from None

    async def _commit(self, **decisions) -> None:
        try:
            await self.storage.commit_change(**decisions)
        except NotFound as exc:
            raise NotFoundError("not_found", str(exc)) from None
        except Conflict as exc:
            raise ConflictError("changed_meanwhile", str(exc)) from None


UPDATABLE_FIELDS = ("agency", "agency_type", "unit", "languages", "topics")


def _check_update(state: ContactState, changes: dict | None) -> None:
    """An update may change only descriptive fields, and the result must be a valid profile."""
    if not changes:
        raise BadRequest("invalid_profile", "the update proposes no change")
    other = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if other:
        raise BadRequest("invalid_profile", f"an update may change only {', '.join(UPDATABLE_FIELDS)}, "
                         f"not {', '.join(other)}", value=other[0])
    try:
        Profile.model_validate(state.record.profile.model_dump() | changes)
    except ValidationError as exc:
        raise BadRequest("invalid_profile", describe_validation_error(exc, "proposed profile")) from None


def _check_record_matches(record, cp_id: str, stored: StoredRegistration, request_digest: bytes) -> None:
    """An approval must sign exactly the identity key and request that are pending."""
    if record.cp_id != cp_id:
        raise Unprocessable("decision_mismatch", f"approval is for {record.cp_id}, not {cp_id}", value=record.cp_id)
    if record.identity_key != stored.identity_key or record.request_digest != request_digest:
        raise Unprocessable("decision_mismatch", f"approval does not match the pending request of {cp_id}",
                            value=cp_id)
    if record.status != "active":
        raise Unprocessable("decision_mismatch", "an approval must be an active record", value=cp_id)
