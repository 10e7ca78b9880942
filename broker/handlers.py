"""HTTP handlers: parse the request, call a service, shape the JSON answer."""

from __future__ import annotations

from aiohttp import web

import broker
from broker import app as base
from broker.errors import ApiError, BadRequest, NotFoundError, from_core
from broker.storage import MailboxItem, StoredRecord, StoredRegistration
from keys.encoding import b64encode
from keys.envelope import Envelope
from keys.errors import EnlaceError
from keys.ids import check_cp_id
from keys.records import SignedDocument


def _cp_id(request: web.Request) -> str:
    value = request.match_info["cp_id"]
    try:
        return check_cp_id(value)
    except EnlaceError as exc:
        raise BadRequest(exc.code, exc.message, value=value) from None


def _signed(wire: object, what: str) -> SignedDocument:
    try:
        return SignedDocument.from_wire(wire, what=what)
    except EnlaceError as exc:
        raise from_core(exc) from None


def _field(body: object, name: str) -> object:
    if not isinstance(body, dict):
        raise BadRequest("invalid_field", f"request body must be a JSON object, got {type(body).__name__}")
    if name not in body:
        raise BadRequest("missing_field", f"request body is missing field {name}", value=name)
    return body[name]


def _record_json(row: StoredRecord) -> dict:
    return {"id": row.cp_id, "status": row.status, "updated_at": row.updated_at,
            "record": SignedDocument(row.record, row.signature).to_wire()}


def _registration_json(row: StoredRegistration) -> dict:
    result = {"id": row.cp_id, "status": row.status, "reason": row.reason,
              "created_at": row.created_at, "decided_at": row.decided_at,
              "request": SignedDocument(row.request, row.signature).to_wire()}
    if row.decision is not None:
        result["decision"] = SignedDocument(row.decision, row.decision_signature).to_wire()
    return result


def _mailbox_json(item: MailboxItem) -> dict:
    env = item.envelope
    return {"seq": item.seq, "id": env.msg_id, "sender": env.sender, "kind": env.kind,
            "received_at": env.received_at,
            "envelope": Envelope(env.header, env.signature, env.body).to_wire()}


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[base.STORAGE].health()
    except Exception as exc:  # any storage failure means "not healthy", never a 500
        raise ApiError("storage_unavailable", f"storage is not readable: {exc}") from None
    return web.json_response({"status": "ok", "version": broker.__version__})


async def directory_list(request: web.Request) -> web.Response:
    rows = await request.app[base.DIRECTORY].list_records()
    return web.json_response({"records": [_record_json(r) for r in rows]})


async def directory_show(request: web.Request) -> web.Response:
    cp_id = _cp_id(request)
    row = await request.app[base.STORAGE].get_record(cp_id)
    if row is None:
        raise NotFoundError("not_found", f"{cp_id} is not in the directory", value=cp_id)
    return web.json_response(_record_json(row))


async def registration_submit(request: web.Request) -> web.Response:
    signed = _signed(await base.read_json(request), "registration")
    row = await request.app[base.DIRECTORY].submit_registration(signed)
    return web.json_response({"id": row.cp_id, "status": row.status}, status=201)


async def registration_show(request: web.Request) -> web.Response:
    cp_id = _cp_id(request)
    await base.authenticate(request, scope="applicant", cp_id=cp_id)
    row = await request.app[base.DIRECTORY].registration(cp_id)
    return web.json_response(_registration_json(row))


async def admin_registrations(request: web.Request) -> web.Response:
    await base.authenticate(request, scope="secretariat")
    status = request.query.get("status", "pending")
    if status not in ("pending", "approved", "rejected", "all"):
        raise BadRequest("invalid_field", f"status must be pending, approved, rejected or all, "
                         f"got {status!r}", value=status)
    storage = request.app[base.STORAGE]
    rows = await storage.list_registrations(None if status == "all" else status)
    return web.json_response({"registrations": [_registration_json(r) for r in rows]})


async def admin_approve(request: web.Request) -> web.Response:
    cp_id = _cp_id(request)
    await base.authenticate(request, scope="secretariat")
    signed = _signed(_field(await base.read_json(request), "record"), "record")
    row = await request.app[base.DIRECTORY].approve(cp_id, signed)
    return web.json_response(_record_json(row))


async def admin_reject(request: web.Request) -> web.Response:
    cp_id = _cp_id(request)
    await base.authenticate(request, scope="secretariat")
    signed = _signed(_field(await base.read_json(request), "rejection"), "rejection")
    row = await request.app[base.DIRECTORY].reject(cp_id, signed)
    return web.json_response(_registration_json(row))


async def message_submit(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point", role="sender")
    receipt = await request.app[base.DELIVERY].submit(caller, await base.read_json(request))
    body = {"id": receipt.msg_id, "digest": b64encode(receipt.digest), "received_at": receipt.received_at}
    return web.json_response(body, status=200 if receipt.duplicate else 201)


async def mailbox_fetch(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point")
    text = request.query.get("limit", "100")
    if not text.isdigit():
        raise BadRequest("bad_limit", f"limit must be a whole number, got {text!r}", value=text)
    items = await request.app[base.DELIVERY].fetch(caller, int(text))
    return web.json_response({"messages": [_mailbox_json(i) for i in items]})


async def mailbox_ack(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point")
    msg_id = request.match_info["msg_id"]
    await request.app[base.DELIVERY].ack(caller, msg_id)
    return web.json_response({"id": msg_id, "acknowledged": True})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/health", health)
    app.router.add_get("/v1/directory", directory_list)
    app.router.add_get("/v1/directory/{cp_id}", directory_show)
    app.router.add_post("/v1/registrations", registration_submit)
    app.router.add_get("/v1/registrations/{cp_id}", registration_show)
    app.router.add_get("/v1/admin/registrations", admin_registrations)
    app.router.add_post("/v1/admin/registrations/{cp_id}/approve", admin_approve)
    app.router.add_post("/v1/admin/registrations/{cp_id}/reject", admin_reject)
    app.router.add_post("/v1/messages", message_submit)
    app.router.add_get("/v1/mailbox", mailbox_fetch)
    app.router.add_post("/v1/mailbox/{msg_id}/ack", mailbox_ack)
