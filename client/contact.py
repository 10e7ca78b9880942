"""Contact point operations: create keys, register, send, receive, acknowledge."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from client import home as local
from client.api import BrokerClient
from client.errors import UsageError
from client.transparency import TrustContext
from client.trust import OpenedMessage, open_received, verified_state
from i18n import _, ngettext
from keys import keystore
from keys.content import to_sealable
from keys.encryption import DEFAULT_VALIDITY, EncryptionKey, certify
from keys.envelope import RecipientKey, seal
from keys.ids import check_cp_id, country_of
from keys.identity import IdentityKey
from keys.changes import make_revocation
from keys.directory import EXPIRY_WARNING
from keys.identity import key_id
from keys.records import SignedDocument, make_registration

MSG_ID = re.compile(r"[0-9a-f]{32}")


def create_keys(home: Path, cp_id: str, broker: str, secretariat_key: str, passphrase: str, *,
                profile: str = "moderate", force: bool = False, ca_file: str = "") -> keystore.KeyMaterial:
    """Generate an identity key and a first encryption key; write keystore and configuration."""
    config = local.Config(broker=local.check_broker_url(broker), contact_point=check_cp_id(cp_id),
                          secretariat_key=secretariat_key, ca_file=ca_file)
    local.check_secretariat_key(secretariat_key)

    now = int(time.time())
    material = keystore.KeyMaterial(cp_id, IdentityKey.generate(),
                                    [keystore.StoredEncryptionKey(EncryptionKey.generate(), now,
                                                                  now + DEFAULT_VALIDITY)])
    keystore.save(home / "keystore.json", material, passphrase, profile=profile, force=force)
    local.save_config(home, config)
    return material


def backup_keystore(home: Path) -> Path:
    """Keep the current keystore, still encrypted, beside the new one; return where."""
    source = home / "keystore.json"
    target = home / f"keystore.{time.strftime('%Y%m%dT%H%M%S')}.json"
    source.replace(target)
    return target


def registration_request(material: keystore.KeyMaterial, *, agency: str, agency_type: str, unit: str,
                         languages: list[str], topics: list[str], role: str = "contact-point") -> SignedDocument:
    """Build the self-signed request for the Secretariat to list this contact point."""
    certificates = [certify(material.identity, material.owner, k.key,
                            not_before=k.not_before, not_after=k.not_after)
                    for k in material.encryption_keys]
    profile = {"id": material.owner, "country": country_of(material.owner), "agency": agency,
               "agency_type": agency_type, "unit": unit, "languages": languages, "topics": topics,
               "role": role}
    return make_registration(material.identity, profile, certificates, int(time.time()))


async def recipient_keys(api: BrokerClient, trust: TrustContext, cp_ids: list[str]) -> list[RecipientKey]:
    """Verified current encryption keys of each recipient; UsageError names one that has none."""
    now = int(time.time())
    result = []
    for cp_id in cp_ids:
        state = await verified_state(api, trust, check_cp_id(cp_id))
        if state.revocation is not None:
            raise UsageError(_("{cp_id} was revoked ({reason}); do not send to it").format(
                cp_id=cp_id, reason=state.revocation.reason))
        certificate = state.current_key(now) if state.usable_at(now) else None
        if certificate is None:
            raise UsageError(_("{cp_id} has no active record or valid encryption key").format(cp_id=cp_id))
        result.append(RecipientKey(cp_id, certificate.key_id, certificate.public_key))
    return result


async def send(api: BrokerClient, trust: TrustContext, material: keystore.KeyMaterial,
               recipients: list[str], *, kind: str, priority: str, content: dict) -> dict:
    """Validate, seal, sign and submit one message; return the broker's receipt.

    A message or alert carries, sealed, the sender's last accepted tree head, so the
    recipient can check that both see the same directory log.
    """
    if len(set(recipients)) != len(recipients):
        raise UsageError(_("a recipient is named more than once"))
    to_sealable(kind, content)  # invalid content fails here, before the broker is contacted
    keys = await recipient_keys(api, trust, recipients)
    head = trust.stored_head()
    if head is not None and kind in ("message", "alert"):
        content = content | {"log_head": head.to_wire()}
    sealable = to_sealable(kind, content)
    envelope = seal(material.identity, material.owner, keys, kind=kind, priority=priority,
                    content=sealable)
    return await api.submit(envelope.to_wire())


def _message_path(home: Path, msg_id: str) -> Path:
    if not MSG_ID.fullmatch(msg_id):
        raise UsageError(_("{value!r} is not a message id (32 hexadecimal characters)").format(value=msg_id),
                         hint=_("list messages with 'enlace inbox'"))
    return local.messages_dir(home) / f"{msg_id}.json"


def _store_envelope(home: Path, item: dict) -> None:
    """Keep the encrypted envelope; written beside and renamed, so a crash leaves no half file."""
    path = _message_path(home, item["id"])
    if path.exists() and stored_envelope(home, item["id"]) is not None:
        return
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(item, sort_keys=True), encoding="utf-8")
    temporary.replace(path)


async def fetch_inbox(api: BrokerClient, home: Path) -> list[dict]:
    """Fetch waiting envelopes and keep an encrypted copy of each; duplicates are dropped."""
    items = await api.mailbox()
    seen: set[str] = set()
    result = []
    for item in items:
        if item["id"] in seen:
            continue
        seen.add(item["id"])
        _store_envelope(home, item)
        result.append(item)
    return result


def stored_envelope(home: Path, msg_id: str) -> dict | None:
    """Return the local copy of ``msg_id``, or None when there is none or it is damaged."""
    path = _message_path(home, msg_id)
    if not path.is_file():
        return None
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return item if isinstance(item, dict) and isinstance(item.get("envelope"), dict) else None


async def read(api: BrokerClient, home: Path, trust: TrustContext, material: keystore.KeyMaterial,
               msg_id: str) -> OpenedMessage:
    """Verify and decrypt message ``msg_id`` from the local copy or the mailbox."""
    item = stored_envelope(home, msg_id)
    if item is None:
        item = next((i for i in await fetch_inbox(api, home) if i["id"] == msg_id), None)
    if item is None:
        raise UsageError(_("message {msg_id} is neither in the mailbox nor stored locally").format(
            msg_id=msg_id), hint=_("list messages with 'enlace inbox'"))
    return await open_received(api, trust, material, item["envelope"])



def new_encryption_key(material: keystore.KeyMaterial, validity: int, now: int) -> SignedDocument:
    """Add a fresh encryption key to ``material`` and return its signed certificate.

    The caller must save the keystore before publishing the certificate, so a key
    that others may encrypt to is never lost.
    """
    key = keystore.StoredEncryptionKey(EncryptionKey.generate(), now, now + validity)
    material.encryption_keys.append(key)
    certificate = certify(material.identity, material.owner, key.key, not_before=now, not_after=now + validity)
    return SignedDocument(certificate.cert, certificate.signature)


async def publish_key(api: BrokerClient, cp_id: str, certificate: SignedDocument) -> dict:
    return await api.call("POST", f"/v1/directory/{cp_id}/keys", {"certificate": certificate.to_wire()})


async def revoke(api: BrokerClient, trust: TrustContext, signer_key, signer: str, cp_id: str,
                 reason: str) -> dict:
    """Revoke the current identity key of ``cp_id`` as ``signer``; it takes effect at once."""
    state = await verified_state(api, trust, cp_id)
    revocation = make_revocation(signer_key, signer, cp_id, key_id(state.identity_key), reason, int(time.time()))
    return await api.call("POST", f"/v1/directory/{cp_id}/revocations", {"revocation": revocation.to_wire()})


def expiry_warning(material: keystore.KeyMaterial, now: int) -> str | None:
    """Return a warning when no encryption key stays valid for the next EXPIRY_WARNING seconds."""
    latest = max((k.not_after for k in material.encryption_keys if k.not_before <= now), default=0)
    if latest - now >= EXPIRY_WARNING:
        return None
    if latest <= now and any(k.not_before > now for k in material.encryption_keys):
        return _("no encryption key of {cp_id} is valid yet; senders cannot reach it until one becomes valid").format(
            cp_id=material.owner)
    if latest <= now:
        return _("every encryption key of {cp_id} has expired; nobody can send to it. "
                 "Run 'enlace keys rotate'").format(cp_id=material.owner)
    days = (latest - now) // 86400
    return ngettext("the encryption key of {cp_id} expires in {days} day; run 'enlace keys rotate'",
                    "the encryption key of {cp_id} expires in {days} days; run 'enlace keys rotate'",
                    days).format(cp_id=material.owner, days=days)
