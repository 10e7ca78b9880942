"""Handlers for registration requests, proposals and the Secretariat's decisions."""

from __future__ import annotations

from aiohttp import web

from broker import app as base
from broker.errors import BadRequest, Forbidden, NotFoundError
from broker.handlers.common import cp_id_param, proposal_json, registration_json, signed_field
from keys.ids import country_of

# Largest id an SQL BIGINT holds.
MAX_ID = 2**63 - 1


async def registration_submit(request: web.Request) -> web.Response:
    body = await base.read_json(request)
    if isinstance(body, dict) and set(body) == {"document", "signature"}:
        body = {"request": body}
    row = await request.app[base.DIRECTORY].submit_registration(signed_field(body, "request"))
    return web.json_response({"id": row.cp_id, "status": row.status}, status=201)


async def registration_show(request: web.Request) -> web.Response:
    cp_id = cp_id_param(request)
    await base.authenticate(request, scope="applicant", cp_id=cp_id)
    row = await request.app[base.DIRECTORY].registration(cp_id)
    return web.json_response(registration_json(row))


def _status(request: web.Request, choices: tuple[str, ...]) -> str | None:
    status = request.query.get("status", "pending")
    if status not in (*choices, "all"):
        raise BadRequest("invalid_field", f"status must be one of {', '.join(choices)} or all, got {status!r}",
                         value=status)
    return None if status == "all" else status


async def admin_registrations(request: web.Request) -> web.Response:
    await base.authenticate(request, scope="secretariat")
    status = _status(request, ("pending", "approved", "rejected"))
    rows = await request.app[base.STORAGE].list_registrations(status)
    return web.json_response({"registrations": [registration_json(r) for r in rows]})


async def national_registrations(request: web.Request) -> web.Response:
    """Pending requests of the caller's state, for its national administrators."""
    caller = await base.authenticate(request, scope="contact_point")
    _require_national_admin(request, caller)
    rows = await request.app[base.STORAGE].list_registrations("pending")
    mine = [r for r in rows if r.country == country_of(caller)]
    return web.json_response({"registrations": [registration_json(r) for r in mine]})


def _require_national_admin(request: web.Request, caller: str) -> None:
    state = request.app[base.DIRECTORY].state(caller)
    if state is None or state.record.profile.role != "national-admin" or state.status != "active":
        raise Forbidden("not_national_admin", f"{caller} is not an active national administrator", value=caller)


async def admin_approve(request: web.Request) -> web.Response:
    cp_id = cp_id_param(request)
    await base.authenticate(request, scope="secretariat")
    signed = signed_field(await base.read_json(request), "record")
    state = await request.app[base.DIRECTORY].approve(cp_id, signed)
    return web.json_response({"id": cp_id, "status": state.status, "index": state.indexes[-1]})


async def admin_reject(request: web.Request) -> web.Response:
    cp_id = cp_id_param(request)
    await base.authenticate(request, scope="secretariat")
    signed = signed_field(await base.read_json(request), "rejection")
    row = await request.app[base.DIRECTORY].reject(cp_id, signed)
    return web.json_response(registration_json(row))


async def proposal_submit(request: web.Request) -> web.Response:
    caller = await base.authenticate(request, scope="contact_point")
    signed = signed_field(await base.read_json(request), "proposal")
    row = await request.app[base.DIRECTORY].propose(caller, signed)
    return web.json_response(proposal_json(row), status=201)


async def proposals_list(request: web.Request) -> web.Response:
    """The Secretariat sees every proposal; a national administrator those of its state."""
    caller = await base.authenticate(request, scope="any")
    if caller != "secretariat":
        _require_national_admin(request, caller)
    status = _status(request, ("pending", "approved", "rejected"))
    rows = await request.app[base.STORAGE].list_proposals(status)
    if caller != "secretariat":
        rows = [r for r in rows if country_of(r.cp_id) == country_of(caller)]
    return web.json_response({"proposals": [proposal_json(r) for r in rows]})


def _proposal_id(request: web.Request) -> int:
    value = int(request.match_info["proposal_id"])
    if value > MAX_ID:
        raise NotFoundError("proposal_not_found", f"no proposal {value}", value=value)
    return value


async def proposal_approve(request: web.Request) -> web.Response:
    proposal_id = _proposal_id(request)
    await base.authenticate(request, scope="secretariat")
    signed = signed_field(await base.read_json(request), "record")
    state = await request.app[base.DIRECTORY].approve_update(proposal_id, signed)
    return web.json_response({"id": state.cp_id, "status": state.status, "index": state.indexes[-1]})


async def proposal_reject(request: web.Request) -> web.Response:
    proposal_id = _proposal_id(request)
    await base.authenticate(request, scope="secretariat")
    signed = signed_field(await base.read_json(request), "rejection")
    row = await request.app[base.DIRECTORY].reject_proposal(proposal_id, signed)
    return web.json_response(proposal_json(row))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/registrations", registration_submit)
    app.router.add_get("/v1/registrations/{cp_id}", registration_show)
    app.router.add_get("/v1/national/registrations", national_registrations)
    app.router.add_get("/v1/admin/registrations", admin_registrations)
    app.router.add_post("/v1/admin/registrations/{cp_id}/approve", admin_approve)
    app.router.add_post("/v1/admin/registrations/{cp_id}/reject", admin_reject)
    app.router.add_post("/v1/proposals", proposal_submit)
    app.router.add_get("/v1/proposals", proposals_list)
    app.router.add_post(r"/v1/admin/proposals/{proposal_id:\d+}/approve", proposal_approve)
    app.router.add_post(r"/v1/admin/proposals/{proposal_id:\d+}/reject", proposal_reject)

