"""Commands that read and check the directory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from client import audit, render
from client.commands.session import Session, print_json
from client.errors import UsageError
from client.transparency import accept_head
from client.trust import verified_state
from i18n import _


async def handle_directory_list(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        trust = await session.trust(api)
        states = [await verified_state(api, trust, entry["id"]) for entry in await api.directory()]
    if args.json:
        print_json([render.state_json(s) for s in states])
    else:
        rows = [render.state_row(s) for s in states]
        print(render.directory_table(rows) if rows else _("The directory is empty."))
    return 0


async def handle_directory_show(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        state = await verified_state(api, await session.trust(api), args.cp_id)
    if args.json:
        print_json(render.state_json(state))
    else:
        print(render.record_detail(state))
    return 0




async def handle_directory_audit(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        report = await audit.audit(api, await session.trust(api))
    if args.json:
        print_json({"tree_size": report.tree_size, "entries_checked": report.entries_checked,
                    "contact_points": report.contacts, "clean": report.clean, "problems": report.problems})
        return 0 if report.clean else 3
    print(_("Audited {entries} log entries (tree size {size}) and {contacts} contact points.").format(
        entries=report.entries_checked, size=report.tree_size, contacts=report.contacts))
    if report.clean:
        print(_("Clean: every entry verifies, the entries match the signed head, and the broker serves "
                "exactly the directory the log defines."))
        return 0
    print(_("PROBLEMS FOUND:"))
    for problem in report.problems:
        print(f"  - {problem}")
    return 3


async def handle_directory_head(args: argparse.Namespace) -> int:
    session = Session(args)
    async with session.client(signed=False) as api:
        head = await accept_head(api, await session.trust(api), await api.call("GET", "/v1/log/head", signed=False))
    print(json.dumps(head.to_wire()))
    return 0


async def handle_directory_compare_head(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        other = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(_("cannot read a tree head from {path}: {error}").format(path=args.file, error=exc),
                         hint=_("the other person prints theirs with 'enlace directory head'")) from None
    session = Session(args)
    async with session.client(signed=False) as api:
        head = await audit.compare_heads(api, await session.trust(api), other)
    print(_("Consistent: the other tree head (size {size}) and yours belong to the same log.").format(
        size=head.tree_size))
    return 0
