"""Commands of a Secretariat administrator."""

from __future__ import annotations

import argparse

from client import home as local
from client import contact, render, secretariat
from client.commands.session import Session, ca_file, print_json, refuse_other_role
from client.errors import UsageError
from i18n import _
from keys.identity import fingerprint
from keys.requests import SECRETARIAT


async def handle_admin_init(args: argparse.Namespace) -> int:
    home = local.home_dir(args.home)
    refuse_other_role(home, "secretariat", args.force)
    root = secretariat.create_root(home, local.check_broker_url(args.broker), local.read_passphrase(confirm=True),
                                   profile=args.kdf, force=args.force, ca_file=ca_file(args))
    config = local.load_config(home)
    print(_("Created the Secretariat root key in {home}.").format(home=home))
    print(_("Public key (give it to the broker operator and to every contact point):"))
    print(f"  --secretariat-key={config.secretariat_key}")
    print(_("Fingerprint (read it aloud to confirm): {value}").format(value=fingerprint(root.public_key)))
    return 0


def admin_session(args: argparse.Namespace) -> Session:
    session = Session(args, keystore_name=secretariat.KEYSTORE_NAME)
    material = session.unlock()
    if material.owner != SECRETARIAT:
        raise UsageError(_("the keystore in {home} is not the Secretariat's").format(home=session.home))
    return session


async def handle_admin_pending(args: argparse.Namespace) -> int:
    session = admin_session(args)
    async with session.client() as api:
        requests = await secretariat.pending(api)
        updates = await secretariat.pending_updates(api)
        flags = await secretariat.lookalike_flags(api, await session.trust(api), requests)
        notes = await secretariat.request_notes(api, requests)
    if args.json:
        print_json({"registrations": [{"id": r.cp_id, "fingerprint": r.fingerprint, "problem": r.problem,
                                       "created_at": r.created_at, "flags": flags.get(r.cp_id, []),
                                       "notes": notes.get(r.cp_id, [])}
                                      for r in requests],
                    "updates": [{"proposal_id": u.proposal_id, "id": u.cp_id, "proposer": u.proposer,
                                 "changes": u.changes} for u in updates]})
        return 0
    if not requests and not updates:
        print(_("No registration requests or proposals are pending."))
    if requests:
        print(render.pending_table(requests, flags, notes))
    if updates:
        print(render.updates_table(updates))
    return 0


async def _pending_update(api, cp_id: str):
    return next((u for u in await secretariat.pending_updates(api) if u.cp_id == cp_id), None)


async def _pending_registration(api, cp_id: str) -> bool:
    return any(r.cp_id == cp_id for r in await secretariat.pending(api))


async def handle_admin_approve(args: argparse.Namespace) -> int:
    session = admin_session(args)
    async with session.client() as api:
        trust = await session.trust(api)
        if await _pending_registration(api, args.cp_id):
            registration = await secretariat.approve(api, trust, session.material.identity, args.cp_id)
            print(_("Approved {cp_id}; its record is signed and published.").format(cp_id=args.cp_id))
            print(_("Fingerprint of the approved key: {value}").format(value=fingerprint(registration.identity_key)))
            return 0
        update = await _pending_update(api, args.cp_id)
        if update is None:
            raise UsageError(_("nothing about {cp_id} is pending").format(cp_id=args.cp_id),
                             hint=_("list what is pending with 'enlace admin pending'"))
        await secretariat.approve_update(api, trust, session.material.identity, update)
    print(_("Approved the update of {cp_id} proposed by {proposer}; the new record is published.").format(
        cp_id=args.cp_id, proposer=update.proposer))
    return 0


async def handle_admin_reject(args: argparse.Namespace) -> int:
    session = admin_session(args)
    async with session.client() as api:
        if await _pending_registration(api, args.cp_id):
            await secretariat.reject(api, session.material.identity, args.cp_id, args.reason)
        else:
            update = await _pending_update(api, args.cp_id)
            if update is None:
                raise UsageError(_("nothing about {cp_id} is pending").format(cp_id=args.cp_id),
                                 hint=_("list what is pending with 'enlace admin pending'"))
            await secretariat.reject_update(api, session.material.identity, update, args.reason)
    print(_("Rejected the request of {cp_id}; the applicant will see the reason.").format(cp_id=args.cp_id))
    return 0


async def handle_admin_revoke(args: argparse.Namespace) -> int:
    session = admin_session(args)
    async with session.client() as api:
        await contact.revoke(api, await session.trust(api), session.material.identity, SECRETARIAT,
                             args.cp_id, args.reason)
    print(_("Revoked the identity key of {cp_id} ({reason}).").format(cp_id=args.cp_id, reason=args.reason))
    return 0
