"""Commands of a contact point: keys, registration, sending and receiving."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from client import audit, contact, render
from client import home as local
from client.commands.session import Session, ca_file, confirm_request, print_json, refuse_other_role
from client import verified
from client.errors import TrustError, UsageError
from client.trust import open_received, verified_state
from i18n import _
from keys.changes import make_proposal
from keys.identity import fingerprint
from keys.ids import check_cp_id
from keys.records import SignedDocument, parse_registration

ALERT_FIELDS = ("make", "model", "type", "calibre", "country_of_manufacture", "import_marking",
                "ammunition_lot", "seizure_place", "seizure_date", "route", "case_reference")



async def handle_init(args: argparse.Namespace) -> int:
    home = local.home_dir(args.home)
    refuse_other_role(home, "contact point", args.force)
    if args.id is None:
        return _init_observer(home, args)
    if args.force and (home / "keystore.json").exists():
        backup = contact.backup_keystore(home)
        print(_("The old keystore was kept, still encrypted, as {path}; it opens mail sent to the old keys.").format(
            path=backup))
    material = contact.create_keys(home, args.id, args.broker, args.secretariat_key,
                                   local.read_passphrase(confirm=True), profile=args.kdf, force=args.force,
                                   ca_file=ca_file(args))
    root_fpr = fingerprint(local.Config(secretariat_key=args.secretariat_key).root_public_key)
    print(_("Created keys for {cp_id} in {home}.").format(cp_id=material.owner, home=home))
    print(_("Your fingerprint:        {value}").format(value=fingerprint(material.identity.public_key)))
    print(_("Pinned Secretariat key:  {value}").format(value=root_fpr))
    print(_("Compare the Secretariat fingerprint with the one the Secretariat gave you, then run "
            "'enlace register'."))
    return 0


def _init_observer(home: Path, args: argparse.Namespace) -> int:
    """A home without keys, for auditors and anyone who only reads the directory."""
    local.check_secretariat_key(args.secretariat_key)
    local.save_config(home, local.Config(broker=local.check_broker_url(args.broker),
                                         secretariat_key=args.secretariat_key, ca_file=ca_file(args)))
    print(_("Created a home without keys in {home}: it can list, search, export and audit the directory, "
            "but not send or receive.").format(home=home))
    print(_("Pinned Secretariat key:  {value}").format(
        value=fingerprint(local.Config(secretariat_key=args.secretariat_key).root_public_key)))
    return 0


async def handle_register(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    request = contact.registration_request(material, agency=args.agency, agency_type=args.agency_type,
                                           unit=args.unit, languages=args.language, topics=args.topic,
                                           role=args.role)
    async with session.client(signed=False) as api:
        await api.register(request)
    print(_("Registration request for {cp_id} sent; it awaits the Secretariat's decision.").format(
        cp_id=material.owner))
    print(_("Read this fingerprint to the Secretariat when asked: {value}").format(
        value=fingerprint(material.identity.public_key)))
    return 0


async def handle_status(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        answer = await api.registration(material.owner)
        listed = await api.registration_listed(material.owner)
        state = await verified_state(api, await session.trust(api), material.owner) if listed else None

    if state is None:
        print(_("Directory: {cp_id} is not listed yet.").format(cp_id=material.owner))
    elif state.revocation is not None:
        print(_("Directory: {cp_id} is revoked ({reason}, by {signer}).").format(
            cp_id=material.owner, reason=render.reason_label(state.revocation.reason), signer=state.revocation.signer))
    elif state.identity_key != material.identity.public_key:
        print(_("Directory: {cp_id} is listed with another identity key than this keystore's.").format(
            cp_id=material.owner))
    else:
        print(_("Directory: {cp_id} is listed and active with this keystore's key.").format(cp_id=material.owner))

    status = {"pending": _("pending"), "approved": _("approved"), "rejected": _("rejected")}
    print(_("Latest registration request: {status}").format(status=status.get(answer["status"], answer["status"])))
    if answer.get("reason"):
        print(_("Reason given by the Secretariat: {reason}").format(reason=answer["reason"]))
    return 0


async def handle_whoami(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    print(_("Contact point: {cp_id}").format(cp_id=material.owner))
    print(_("Fingerprint:   {value}").format(value=fingerprint(material.identity.public_key)))
    print(_("Secretariat:   {value}").format(value=session.config.root_fingerprint))
    return 0


def _content(args: argparse.Namespace) -> tuple[str, dict]:
    text = args.text
    if args.text and args.text_file:
        raise UsageError(_("give either --text or --text-file, not both"))
    if args.text_file:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError(_("{path} is not UTF-8 text").format(path=args.text_file),
                             hint=_("save the file as UTF-8 (plain text) and run the command again")) from None
        except OSError as exc:
            raise UsageError(_("cannot read {path}: {error}").format(path=args.text_file, error=exc.strerror),
                             hint=_("check the file name")) from None
    content = {"subject": args.subject, "text": text, "tlp": args.tlp}

    alert_options = [f for f in (*ALERT_FIELDS, "serial", "quantity") if getattr(args, f) is not None]
    if args.serial_obliterated:
        alert_options.append("serial_obliterated")
    if args.item_kind is None and args.status is None:
        if alert_options:
            raise UsageError(_("alert details ({options}) need --item-kind and --status; without them the message "
                               "would be sent without those details").format(
                options=", ".join("--" + o.replace("_", "-") for o in alert_options)))
        return "message", content
    if args.item_kind is None or args.status is None:
        raise UsageError(_("an alert needs both --item-kind and --status"))
    alert = {"item_kind": args.item_kind, "status": args.status,
             "serial_obliterated": args.serial_obliterated}
    alert |= {f: getattr(args, f) for f in ALERT_FIELDS if getattr(args, f) is not None}
    country = alert.get("country_of_manufacture", "").strip()
    if len(country) == 2:
        alert["country_of_manufacture"] = country.upper()
    if args.serial is not None:
        alert["serial_number"] = args.serial
    if args.quantity is not None:
        alert["quantity"] = args.quantity
    return "alert", content | {"alert": alert}


def _refuse_changed_keys(session: Session, recipients: list[str], states: list) -> None:
    """Stop before sending to a contact point whose key changed since its fingerprint was checked."""
    recorded = verified.load(session.home)
    changed = [s.cp_id for s in states if verified.status(recorded, s.cp_id, s.identity_key) == verified.KEY_CHANGED]
    if changed:
        raise TrustError(_("the identity key of {ids} changed since you verified its fingerprint; nothing was "
                           "sent").format(ids=", ".join(changed)),
                         hint=_("ask its owner to read you the new fingerprint, then run 'enlace directory verify "
                                "{cp_id}'").format(cp_id=changed[0]))


async def handle_send(args: argparse.Namespace) -> int:
    for cp_id in args.to:
        check_cp_id(cp_id)
    kind, content = _content(args)
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        trust = await session.trust(api)
        states = [await verified_state(api, trust, cp_id) for cp_id in args.to]
    _refuse_changed_keys(session, args.to, states)
    async with session.client() as api:
        receipt = await contact.send(api, await session.trust(api), material, args.to, kind=kind,
                                     priority=args.priority, content=content)
    print(_("Sent {kind} {msg_id} to {recipients}; the broker stored it at {time}.").format(
        kind=render.kind_label(kind), msg_id=receipt["id"], recipients=", ".join(args.to), time=render.when(receipt["received_at"])))
    return 0


async def handle_inbox(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        items = await contact.fetch_inbox(api, session.home)
        trust = await session.trust(api)
        summaries = [await _summary(api, trust, material, item) for item in items]
    if args.json:
        print_json([{k: v for k, v in i.items() if k != "envelope"} | s for i, s in zip(items, summaries)])
    elif not items:
        print(_("No messages waiting."))
    else:
        print(render.inbox_table(items, summaries))
    return 0


async def _summary(api, trust, material, item: dict) -> dict:
    """Subject and handling code of a waiting message, opened and verified here; plaintext stays in memory."""
    try:
        opened = await open_received(api, trust, material, item["envelope"])
    except TrustError:
        return {"subject": None, "tlp": None, "verified": False}
    content = opened.inner["content"]
    return {"subject": content.get("subject"), "tlp": content.get("tlp"), "verified": opened.trusted}


async def _compare_sender_head(api, trust, opened) -> TrustError | None:
    """Compare the tree head the sender sealed into the message with this client's view.

    Returns the split-view error to raise after the message, or None when the views agree.
    """
    sealed = opened.inner["content"].get("log_head")
    if sealed is None:
        return None
    try:
        await audit.compare_heads(api, trust, sealed)
    except TrustError as exc:
        return TrustError(_("the sender of this message saw a different directory log: {reason}").format(
            reason=exc.message), hint=exc.hint)
    return None


async def handle_read(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        trust = await session.trust(api)
        opened = await contact.read(api, session.home, trust, material, args.msg_id)
        split_view = await _compare_sender_head(api, trust, opened)
    if args.json:
        print_json({"header": opened.header.raw, "body": opened.inner, "verified": True,
                     "trusted": opened.trusted and split_view is None, "sender_fingerprint": opened.sender_fingerprint})
    else:
        print(render.message_detail(opened))
    if split_view is not None:
        raise split_view
    return 0


async def handle_ack(args: argparse.Namespace) -> int:
    session = Session(args)
    session.unlock()
    async with session.client() as api:
        await api.ack(args.msg_id)
    print(_("Acknowledged {msg_id}; the broker will no longer deliver it.").format(msg_id=args.msg_id))
    return 0




# An encryption key should be rotated at least every few years; the record itself is
# valid for two years (keys.records.DEFAULT_RECORD_VALIDITY).
MAX_VALIDITY_DAYS = 3 * 365


async def handle_keys_rotate(args: argparse.Namespace) -> int:
    if not 1 <= args.validity_days <= MAX_VALIDITY_DAYS:
        raise UsageError(_("--validity-days must be between 1 and {limit}, got {value}").format(
            limit=MAX_VALIDITY_DAYS, value=args.validity_days))
    session = Session(args)
    with local.keystore_lock(session.home):
        material = session.unlock()
        certificate = contact.new_encryption_key(material, args.validity_days * 86400, int(time.time()))
        session.save_keys()
        async with session.client() as api:
            await contact.publish_key(api, material.owner, certificate)
    key = material.encryption_keys[-1]
    print(_("New encryption key {key_id} is valid until {time}; senders use it from now on. Older keys "
            "stay in the keystore to open older mail.").format(key_id=key.key.key_id, time=render.when(key.not_after)))
    return 0


async def handle_keys_endorse_replacement(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        answer = await api.registration(material.owner)
        request = SignedDocument.from_wire(answer["request"], what="request")
        registration = parse_registration(request)
        if answer["status"] != "pending" or registration.identity_key == material.identity.public_key:
            raise UsageError(_("there is no pending request for a new identity key of {cp_id}").format(
                cp_id=material.owner), hint=_("first run 'enlace --home NEW register ...' with the home directory of the new key"))
        confirm_request(render.request_summary(registration, material.identity.public_key),
                        _("Is this fingerprint the one of your new key (run 'enlace --home NEW whoami' to see it)? "
                          "[y/N]"), args.yes, _("the endorsement"))
        proposal = make_proposal(material.identity, material.owner, "replace-identity", material.owner,
                                 int(time.time()), request_digest=request.digest)
        await api.call("POST", "/v1/proposals", {"proposal": proposal.to_wire()})
    print(_("Endorsed the new identity key of {cp_id} with the current one; the Secretariat decides.").format(
        cp_id=material.owner))
    return 0


async def handle_revoke(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        await contact.revoke(api, await session.trust(api), material.identity, material.owner, material.owner,
                             args.reason)
    print(_("Revoked the identity key of {cp_id} ({reason}). The broker refuses its envelopes from now on.").format(
        cp_id=material.owner, reason=args.reason))
    return 0
