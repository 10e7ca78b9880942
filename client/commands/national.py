"""Commands of a national administrator."""

from __future__ import annotations

import argparse

from client import contact, national, render
from client.commands.session import Session, confirm_request, print_json
from client.trust import verified_state
from i18n import _
from keys.identity import fingerprint
from keys.records import SignedDocument, parse_registration

PROFILE_OPTIONS = ("agency", "agency_type", "unit")


def national_session(args: argparse.Namespace) -> Session:
    session = Session(args)
    session.unlock()
    return session


async def handle_national_pending(args: argparse.Namespace) -> int:
    session = national_session(args)
    async with session.client() as api:
        rows = await national.pending(api)
        listed = {r["id"]: await api.registration_listed(r["id"]) for r in rows}
    requests = [(r, parse_registration(SignedDocument.from_wire(r["request"], what="request"))) for r in rows]
    if args.json:
        print_json([{"id": r["id"], "status": r["status"], "created_at": r["created_at"],
                     "agency": g.profile.agency, "unit": g.profile.unit, "role": g.profile.role,
                     "fingerprint": fingerprint(g.identity_key), "replaces_listed_key": listed[r["id"]]}
                    for r, g in requests])
    elif not rows:
        print(_("No registration requests of your state are waiting."))
    else:
        table_rows = [[r["id"], g.profile.unit, render.role_label(g.profile.role),
                       _("replaces key") if listed[r["id"]] else _("new"), fingerprint(g.identity_key),
                       render.when(r["created_at"])] for r, g in requests]
        print(render.table([_("ID"), _("UNIT"), _("ROLE"), _("KIND"), _("FINGERPRINT"), _("RECEIVED")], table_rows))
    return 0


async def handle_national_propose(args: argparse.Namespace) -> int:
    session = national_session(args)
    async with session.client() as api:
        registration, replacement = await national.pending_registration(api, args.cp_id)
        replaces = None
        if replacement:
            replaces = (await verified_state(api, await session.trust(api), args.cp_id)).identity_key
        confirm_request(render.request_summary(registration, replaces),
                        _("Did the contact point read you this fingerprint, and do you propose it? [y/N]"),
                        args.yes, _("the proposal"))
        action = await national.propose_request(api, session.material, registration, replacement)
    if action == "register":
        print(_("Proposed {cp_id} to the Secretariat for listing.").format(cp_id=args.cp_id))
    else:
        print(_("Proposed the new identity key of {cp_id} to the Secretariat.").format(cp_id=args.cp_id))
    return 0


async def handle_national_proposals(args: argparse.Namespace) -> int:
    session = national_session(args)
    async with session.client() as api:
        rows = await national.proposals(api)
    if args.json:
        print_json([{k: r[k] for k in ("proposal_id", "id", "action", "proposer", "status", "reason", "created_at")}
                    for r in rows])
    elif not rows:
        print(_("No proposals about your state yet."))
    else:
        statuses = {"pending": _("pending"), "approved": _("approved"), "rejected": _("rejected")}
        print(render.table([_("NUMBER"), _("ID"), _("ACTION"), _("STATUS"), _("REASON")],
                           [[str(r["proposal_id"]), r["id"], r["action"], statuses.get(r["status"], r["status"]),
                             r["reason"] or ""] for r in rows]))
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
