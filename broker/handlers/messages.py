"""Handlers for envelopes and mailboxes."""

from __future__ import annotations

import re

from aiohttp import web

from broker import app as base
from broker.errors import BadRequest
from broker.handlers.common import int_query
from broker.storage import MailboxItem
from keys.encoding import b64encode
from keys.envelope import Envelope

_MSG_ID = re.compile(r"^[0-9a-f]{32}$")


def _mailbox_json(item: MailboxItem) -> dict:
    env = item.envelope
    return {"seq": item.seq, "id": env.msg_id, "sender": env.sender, "kind": env.kind,
            "received_at": env.received_at,
            "envelope": Envelope(env.header, env.signature, env.body).to_wire()}


async def message_submit(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point", role="sender")
    receipt = await request.app[base.DELIVERY].submit(caller, await base.read_json(request))
    body = {"id": receipt.msg_id, "digest": b64encode(receipt.digest), "received_at": receipt.received_at}
    return web.json_response(body, status=200 if receipt.duplicate else 201)


async def mailbox_fetch(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point")
    limit = int_query(request, "limit", 100)
    items = await request.app[base.DELIVERY].fetch(caller, limit)
    return web.json_response({"messages": [_mailbox_json(i) for i in items]})


async def mailbox_ack(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point")
    msg_id = request.match_info["msg_id"]
    if not _MSG_ID.match(msg_id):
        raise BadRequest("invalid_field", f"message id must be 32 lowercase hex characters, got {msg_id!r}",
                         value=msg_id)
    await request.app[base.DELIVERY].ack(caller, msg_id)
    return web.json_response({"id": msg_id, "acknowledged": True})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/messages", message_submit)
    app.router.add_get("/v1/mailbox", mailbox_fetch)
    app.router.add_post("/v1/mailbox/{msg_id}/ack", mailbox_ack)
