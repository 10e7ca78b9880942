"""Helpers shared by the HTTP handlers: path parameters, request fields, JSON shapes."""

from __future__ import annotations

from aiohttp import web

from broker.errors import BadRequest, from_core
from broker.storage import StoredProposal, StoredRegistration
from keys.errors import EnlaceError
from keys.ids import check_cp_id
from keys.records import SignedDocument


def cp_id_param(request: web.Request) -> str:
    value = request.match_info["cp_id"]
    try:
        return check_cp_id(value)
    except EnlaceError as exc:
        raise BadRequest(exc.code, exc.message, value=value) from None


def int_query(request: web.Request, name: str, default: int | None = None) -> int:
    text = request.query.get(name)
    if text is None:
        if default is None:
            raise BadRequest("missing_field", f"query parameter {name} is missing", value=name)
        return default
    if not (text.isascii() and text.isdigit()):
        raise BadRequest("invalid_field", f"query parameter {name} must be a whole number, got {text!r}",
                         value=text)
    return int(text)


def signed_field(body: object, name: str) -> SignedDocument:
    """The signed document in field ``name`` of the request body."""
    if not isinstance(body, dict):
        raise BadRequest("invalid_field", f"request body must be a JSON object, got {type(body).__name__}")
    if name not in body:
        raise BadRequest("missing_field", f"request body is missing field {name}", value=name)
    try:
        return SignedDocument.from_wire(body[name], what=name)
    except EnlaceError as exc:
        raise from_core(exc) from None


def registration_json(row: StoredRegistration) -> dict:
    result = {"id": row.cp_id, "status": row.status, "reason": row.reason,
              "created_at": row.created_at, "decided_at": row.decided_at,
              "request": SignedDocument(row.request, row.signature).to_wire()}
    if row.decision is not None:
        result["decision"] = SignedDocument(row.decision, row.decision_signature).to_wire()
    return result


def proposal_json(row: StoredProposal) -> dict:
    return {"proposal_id": row.proposal_id, "id": row.cp_id, "action": row.action, "proposer": row.proposer,
            "status": row.status, "reason": row.reason, "created_at": row.created_at,
            "decided_at": row.decided_at, "proposal": SignedDocument(row.document, row.signature).to_wire()}
