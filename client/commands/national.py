"""Commands of a national administrator."""

from __future__ import annotations

import argparse

from client import contact, national, render
from client.commands.session import Session, print_json
from i18n import _

PROFILE_OPTIONS = ("agency", "agency_type", "unit")


def national_session(args: argparse.Namespace) -> Session:
    session = Session(args)
    session.unlock()
    return session


async def handle_national_pending(args: argparse.Namespace) -> int:
    session = national_session(args)
    async with session.client() as api:
        rows = await national.pending(api)
    if args.json:
        print_json([{k: r[k] for k in ("id", "status", "created_at")} for r in rows])
    elif not rows:
        print(_("No registration requests of your state are waiting."))
    else:
        print(render.table([_("ID"), _("RECEIVED")], [[r["id"], render.when(r["created_at"])] for r in rows]))
    return 0


async def handle_national_propose(args: argparse.Namespace) -> int:
    session = national_session(args)
    async with session.client() as api:
        action = await national.propose_registration(api, session.material, args.cp_id)
    if action == "register":
        print(_("Proposed {cp_id} to the Secretariat for listing.").format(cp_id=args.cp_id))
    else:
        print(_("Proposed the new identity key of {cp_id} to the Secretariat.").format(cp_id=args.cp_id))
    return 0


async def handle_national_update(args: argparse.Namespace) -> int:
    changes = {name: getattr(args, name) for name in PROFILE_OPTIONS if getattr(args, name) is not None}
    if args.language:
        changes["languages"] = args.language
    if args.topic:
        changes["topics"] = args.topic
    session = national_session(args)
    async with session.client() as api:
        proposal_id = await national.propose_update(api, session.material, args.cp_id, changes)
    print(_("Proposed the update of {cp_id} (proposal {number}); the Secretariat decides.").format(
        cp_id=args.cp_id, number=proposal_id))
    return 0


async def handle_national_revoke(args: argparse.Namespace) -> int:
    session = national_session(args)
    async with session.client() as api:
        await contact.revoke(api, await session.trust(api), session.material.identity, session.material.owner,
                             args.cp_id, args.reason)
    print(_("Revoked the identity key of {cp_id} ({reason}).").format(cp_id=args.cp_id, reason=args.reason))
    return 0
