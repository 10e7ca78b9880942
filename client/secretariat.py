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
from i18n import _
from keys import keystore
from keys.encoding import b64encode
from keys.errors import EnlaceError
from keys.identity import IdentityKey, fingerprint
from keys.records import Registration, SignedDocument, make_record, make_rejection, parse_registration
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


async def approve(api: BrokerClient, root: IdentityKey, cp_id: str) -> Registration:
    """Sign and upload the directory record for the pending request of ``cp_id``."""
    registration = await _registration(api, cp_id)
    record = make_record(root, registration, now=int(time.time()))
    await api.approve(cp_id, record)
    return registration


async def reject(api: BrokerClient, root: IdentityKey, cp_id: str, reason: str) -> None:
    """Sign and upload the rejection of ``cp_id``'s pending request, with its reason."""
    registration = await _registration(api, cp_id)
    await api.reject(cp_id, make_rejection(root, registration, reason, int(time.time())))
