"""Opening received envelopes, checked against the log-backed directory.

Nothing from the broker is used before it verifies: the sender's state is rebuilt
from log entries proven to be in the accepted tree head, and the envelope must
carry the signature of the identity key that state names.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.api import ApiFailure, BrokerClient
from client.errors import TrustError, UsageError
from client.transparency import TrustContext, contact_state
from i18n import _
from keys.directory import ContactState
from keys.envelope import Envelope, open_envelope, parse_wire, verify
from keys.errors import EnlaceError
from keys.header import Header, parse_header
from keys.identity import fingerprint
from keys.keystore import KeyMaterial


@dataclass(frozen=True)
class OpenedMessage:
    header: Header
    inner: dict
    sender: ContactState
    sender_fingerprint: str

    @property
    def trusted(self) -> bool:
        """False when the sender's key was revoked before the message was created."""
        return not self.sender.revoked_before(self.header.created)


async def verified_state(api: BrokerClient, trust: TrustContext, cp_id: str) -> ContactState:
    """``cp_id``'s log-backed state; TrustError when the broker does not list it."""
    try:
        return await contact_state(api, trust, cp_id)
    except ApiFailure as exc:
        if exc.code not in ("not_found", "bad_cp_id", "unknown_country"):
            raise
        raise UsageError(_("{cp_id} is not in the directory").format(cp_id=cp_id),
                         hint=_("check the id with 'enlace directory list'")) from None


async def open_received(api: BrokerClient, trust: TrustContext, material: KeyMaterial,
                        wire: dict) -> OpenedMessage:
    """Verify and decrypt an envelope addressed to ``material.owner``.

    Raises TrustError, saying why, when the sender's state, the signature, the
    encryption or the inner copy of the header does not check out.
    """
    try:
        envelope: Envelope = parse_wire(wire)
        sender = parse_header(envelope.header).sender
    except EnlaceError as exc:
        raise TrustError(_("the envelope is malformed: {reason}").format(reason=exc.message)) from None

    state = await verified_state(api, trust, sender)
    try:
        outer = parse_header(envelope.header)
        signing_key = state.identity_key_for(outer.sender_key, outer.created) or state.identity_key
        header = verify(envelope, signing_key, header=outer)
        inner = open_envelope(envelope, header, material.owner, material.by_key_id())
    except EnlaceError as exc:
        raise TrustError(_("message rejected: {reason}").format(reason=exc.message)) from None
    return OpenedMessage(header, inner, state, fingerprint(signing_key))
