"""One handler per ``enlace`` command: load what it needs, act, print the result."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from client import contact, render, secretariat
from client import home as local
from client.api import ApiFailure, BrokerClient, Signer
from client.errors import TrustError, UsageError
from client.transparency import TrustContext, fetch_log_key
from client.trust import verified_state
from i18n import _
from keys.encoding import b64encode
from keys.identity import fingerprint
from keys.requests import SECRETARIAT

ALERT_FIELDS = ("make", "model", "type", "calibre", "country_of_manufacture", "import_marking",
                "ammunition_lot", "seizure_place", "seizure_date", "route", "case_reference")


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))


class Session:
    """The configuration, the unlocked keys and a broker client for one command."""

    def __init__(self, args: argparse.Namespace, *, keystore_name: str = "keystore.json"):
        self.home = local.home_dir(args.home)
        self.config = local.load_config(self.home)
        self.root_key = self.config.root_public_key
        self.keystore_path = self.home / keystore_name

    def unlock(self):
        self.material = local.unlock(self.keystore_path)
        return self.material

    def client(self, *, signed: bool = True) -> BrokerClient:
        signer = Signer(self.material.owner, self.material.identity) if signed else None
        return BrokerClient(self.config.broker, signer, cafile=self.config.ca_file or None)

    async def trust(self, api: BrokerClient) -> TrustContext:
        """The pinned keys; the broker's log key is pinned on first contact and kept."""
        if not self.config.log_key:
            log_key = await fetch_log_key(api)
            self.config.log_key = b64encode(log_key)
            local.save_config(self.home, self.config)
            print(_("enlace: note: pinned the broker's log key, fingerprint {value}").format(
                value=fingerprint(log_key)), file=sys.stderr)
        return TrustContext(self.root_key, self.config.log_public_key, self.home / "log-head.json")


async def run(args: argparse.Namespace) -> int:
    name = args.command
    if name == "directory":
        name = f"directory_{args.directory_command}"
    if name == "admin":
        name = f"admin_{args.admin_command}"
    return await globals()[f"handle_{name}"](args)


def _ca_file(args: argparse.Namespace) -> str:
    if not args.ca_file:
        return ""
    path = Path(args.ca_file).expanduser().resolve()
    if not path.is_file():
        raise UsageError(_("CA file {path} not found").format(path=path))
    return str(path)


async def handle_init(args: argparse.Namespace) -> int:
    home = local.home_dir(args.home)
    material = contact.create_keys(home, args.id, args.broker, args.secretariat_key,
                                   local.read_passphrase(confirm=True), profile=args.kdf, force=args.force,
                                   ca_file=_ca_file(args))
    root_fpr = fingerprint(local.Config(secretariat_key=args.secretariat_key).root_public_key)
    print(_("Created keys for {cp_id} in {home}.").format(cp_id=material.owner, home=home))
    print(_("Your fingerprint:        {value}").format(value=fingerprint(material.identity.public_key)))
    print(_("Pinned Secretariat key:  {value}").format(value=root_fpr))
    print(_("Compare the Secretariat fingerprint with the one the Secretariat gave you, then run "
            "'enlace register'."))
    return 0


async def handle_register(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    request = contact.registration_request(material, agency=args.agency, agency_type=args.agency_type,
                                           unit=args.unit, languages=args.language, topics=args.topic)
    async with session.client(signed=False) as api:
        await api.register(request)
    print(_("Registration request for {cp_id} sent; it awaits the Secretariat's decision.").format(
        cp_id=material.owner))
    print(_("Read this fingerprint to the Secretariat when asked: {value}").format(
        value=fingerprint(material.identity.public_key)))
    return 0


async def handle_status(args: argparse.Namespace) -> int:
    session = Session(args)
    session.unlock()
    async with session.client() as api:
        answer = await api.registration(session.material.owner)
    status = {"pending": _("pending"), "approved": _("approved"), "rejected": _("rejected")}
    print(_("Registration of {cp_id}: {status}").format(cp_id=answer["id"],
                                                        status=status.get(answer["status"], answer["status"])))
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
    if args.text_file:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(_("cannot read {path}: {error}").format(path=args.text_file, error=exc)) from None
    content = {"subject": args.subject, "text": text, "tlp": args.tlp}

    if args.item_kind is None and args.status is None:
        return "message", content
    if args.item_kind is None or args.status is None:
        raise UsageError(_("an alert needs both --item-kind and --status"))
    alert = {"item_kind": args.item_kind, "status": args.status,
             "serial_obliterated": args.serial_obliterated}
    alert |= {f: getattr(args, f) for f in ALERT_FIELDS if getattr(args, f) is not None}
    if args.serial is not None:
        alert["serial_number"] = args.serial
    if args.quantity is not None:
        alert["quantity"] = args.quantity
    return "alert", content | {"alert": alert}


async def handle_send(args: argparse.Namespace) -> int:
    kind, content = _content(args)
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        receipt = await contact.send(api, await session.trust(api), material, args.to, kind=kind,
                                     priority=args.priority, content=content)
    print(_("Sent {kind} {msg_id} to {recipients}; the broker stored it at {time}.").format(
        kind=kind, msg_id=receipt["id"], recipients=", ".join(args.to), time=render.when(receipt["received_at"])))
    return 0


async def handle_inbox(args: argparse.Namespace) -> int:
    session = Session(args)
    session.unlock()
    async with session.client() as api:
        items = await contact.fetch_inbox(api, session.home)
    if args.json:
        _print_json([{k: v for k, v in i.items() if k != "envelope"} for i in items])
    elif not items:
        print(_("No messages waiting."))
    else:
        print(render.inbox_table(items))
    return 0


async def handle_read(args: argparse.Namespace) -> int:
    session = Session(args)
    material = session.unlock()
    async with session.client() as api:
        opened = await contact.read(api, session.home, await session.trust(api), material, args.msg_id)
    if args.json:
        _print_json({"header": opened.header.raw, "body": opened.inner, "verified": True,
                     "trusted": opened.trusted, "sender_fingerprint": opened.sender_fingerprint})
    else:
        print(render.message_detail(opened))
    return 0


async def handle_ack(args: argparse.Namespace) -> int:
    session = Session(args)
    session.unlock()
    async with session.client() as api:
        await api.ack(args.msg_id)
    print(_("Acknowledged {msg_id}; the broker will no longer deliver it.").format(msg_id=args.msg_id))
    return 0


async def handle_directory_list(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        trust = await session.trust(api)
        states = [await verified_state(api, trust, entry["id"]) for entry in await api.directory()]
    if args.json:
        _print_json([render.state_json(s) for s in states])
    else:
        rows = [render.state_row(s) for s in states]
        print(render.directory_table(rows) if rows else _("The directory is empty."))
    return 0


async def handle_directory_show(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        state = await verified_state(api, await session.trust(api), args.cp_id)
    if args.json:
        _print_json(render.state_json(state))
    else:
        print(render.record_detail(state))
    return 0


async def handle_admin_init(args: argparse.Namespace) -> int:
    home = local.home_dir(args.home)
    root = secretariat.create_root(home, args.broker, local.read_passphrase(confirm=True),
                                   profile=args.kdf, force=args.force, ca_file=_ca_file(args))
    config = local.load_config(home)
    print(_("Created the Secretariat root key in {home}.").format(home=home))
    print(_("Public key (give it to the broker operator and to every contact point):"))
    print(f"  {config.secretariat_key}")
    print(_("Fingerprint (read it aloud to confirm): {value}").format(value=fingerprint(root.public_key)))
    return 0


def _admin_session(args: argparse.Namespace) -> Session:
    session = Session(args, keystore_name=secretariat.KEYSTORE_NAME)
    material = session.unlock()
    if material.owner != SECRETARIAT:
        raise UsageError(_("the keystore in {home} is not the Secretariat's").format(home=session.home))
    return session


async def handle_admin_pending(args: argparse.Namespace) -> int:
    session = _admin_session(args)
    async with session.client() as api:
        requests = await secretariat.pending(api)
    if args.json:
        _print_json([{"id": r.cp_id, "fingerprint": r.fingerprint, "problem": r.problem,
                      "created_at": r.created_at} for r in requests])
    elif not requests:
        print(_("No registration requests are pending."))
    else:
        print(render.pending_table(requests))
    return 0


async def handle_admin_approve(args: argparse.Namespace) -> int:
    session = _admin_session(args)
    async with session.client() as api:
        registration = await secretariat.approve(api, session.material.identity, args.cp_id)
    print(_("Approved {cp_id}; its record is signed and published.").format(cp_id=args.cp_id))
    print(_("Fingerprint of the approved key: {value}").format(
        value=fingerprint(registration.identity_key)))
    return 0


async def handle_admin_reject(args: argparse.Namespace) -> int:
    session = _admin_session(args)
    async with session.client() as api:
        await secretariat.reject(api, session.material.identity, args.cp_id, args.reason)
    print(_("Rejected the request of {cp_id}; the applicant will see the reason.").format(cp_id=args.cp_id))
    return 0


async def handle_demo(args: argparse.Namespace) -> int:
    from client import demo
    return await demo.run(keep=args.keep)
