"""The aiohttp application: middlewares, authentication and the route table.

Handlers live in broker.handlers; this module turns every error into a JSON body
with a stable code and the request id, and logs one line per request.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid

from aiohttp import web

from broker import handlers
from broker.auth import ReplayGuard, check_signature, read_auth_headers
from broker.config import Settings
from broker.errors import ApiError, BadRequest, Forbidden, TooLarge, Unauthenticated, Unavailable
from broker.services.delivery import DeliveryService
from broker.services.directory import DirectoryService
from broker.services.log import TransparencyLog
from broker.storage import Storage, StorageError
from keys.encoding import b64decode
from keys.errors import EnlaceError
from keys.identity import key_id
from keys.requests import SECRETARIAT

log = logging.getLogger("enlace.http")

STORAGE = web.AppKey("storage", Storage)
DIRECTORY = web.AppKey("directory", DirectoryService)
DELIVERY = web.AppKey("delivery", DeliveryService)
GUARD = web.AppKey("guard", ReplayGuard)
SETTINGS = web.AppKey("settings", Settings)
LOG = web.AppKey("log", TransparencyLog)


def _error_response(error: ApiError, request_id: str) -> web.Response:
    return web.json_response(error.to_json(request_id), status=error.status)


_REQUEST_PREFIX = uuid.uuid4().hex[:8]
_request_counter = itertools.count(1)


def next_request_id() -> str:
    """Return a request id unique across restarts: a random per-process prefix and a counter."""
    return f"{_REQUEST_PREFIX}{next(_request_counter):08x}"


_AIOHTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def _http_message(exc: web.HTTPException, request: web.Request) -> str:
    if exc.status == 404:
        return f"no such endpoint: {request.path}; see the API in docs/PROTOCOL.md"
    if exc.status == 405:
        return f"method {request.method} is not allowed on {request.path}"
    return f"{exc.reason} on {request.method} {request.path}"


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    request_id = next_request_id()
    request["request_id"] = request_id
    started = time.perf_counter()
    try:
        response = await handler(request)
    except ApiError as exc:
        response = _error_response(exc, request_id)
    except web.HTTPException as exc:
        code = _AIOHTTP_CODES.get(exc.status, "http_error")
        response = _error_response(ApiError(code, _http_message(exc, request), value=request.path), request_id)
        response.set_status(exc.status)
    except StorageError as exc:
        log.error("storage failed", extra={"request_id": request_id, "path": request.path, "error": str(exc)})
        response = _error_response(Unavailable("storage_error", "the broker could not use its database; the "
                                               "operator can find the cause in its log under this request id"),
                                   request_id)
    except Exception:
        log.exception("unexpected error", extra={"request_id": request_id, "path": request.path})
        response = _error_response(ApiError("internal", "internal error; the broker logged it "
                                            "under this request id"), request_id)
        response.set_status(500)

    response.headers["Enlace-Request-Id"] = request_id
    log.info("request", extra={
        "request_id": request_id, "method": request.method, "path": request.path,
        "status": response.status, "caller": request.get("caller"),
        "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
    return response


async def read_json(request: web.Request) -> object:
    """Parse the request body as JSON; raise BadRequest naming where it is malformed."""
    body = await read_body(request)
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest("malformed_json", "request body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRequest("malformed_json",
                         f"request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}", value=exc.pos) from None
    except (RecursionError, ValueError) as exc:
        raise BadRequest("malformed_json", f"request body is not acceptable JSON: {exc}") from None


async def read_body(request: web.Request) -> bytes:
    if "body" not in request:
        try:
            request["body"] = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge("too_large", f"request body is larger than the limit of "
                           f"{request.app[SETTINGS].max_envelope_bytes} bytes for an envelope",
                           value=request.content_length) from None
    return request["body"]


async def authenticate(request: web.Request, *, scope: str, cp_id: str | None = None,
                       role: str = "caller") -> str:
    """Check the request signature and return the caller's name.

    ``scope`` is "contact_point" (an approved, active contact point), "secretariat"
    (the root key), "applicant" (the contact point ``cp_id`` with its listed or its
    requested identity key, or the Secretariat) or "any" (the Secretariat or any
    listed contact point, even a revoked one). ``role`` names the caller in errors
    ("sender" on submit).
    """
    headers = read_auth_headers(request)
    caller = headers["caller"]
    keys = await _caller_keys(request, caller, scope, cp_id)
    public_key = next((k for k in keys if key_id(k) == headers["key_id"]), keys[0])

    body = await read_body(request)
    check_signature(request, headers, public_key, body)
    request.app[GUARD].check(headers["nonce"], headers["timestamp"], int(time.time()))
    request["caller"] = caller

    if scope == "contact_point":
        await request.app[DIRECTORY].require_usable(caller, role=role)
    return caller


async def _caller_keys(request: web.Request, caller: str, scope: str, cp_id: str | None) -> list[bytes]:
    directory = request.app[DIRECTORY]
    if caller == SECRETARIAT:
        if scope == "contact_point":
            raise Forbidden("forbidden", "the Secretariat key cannot act as a contact point")
        return [directory.root_public_key]
    if scope == "secretariat":
        raise Forbidden("forbidden", f"{caller} is not the Secretariat; this needs the Secretariat key",
                        value=caller)
    if scope == "applicant" and caller != cp_id:
        raise Forbidden("forbidden", f"{caller} may not read the registration of {cp_id}", value=caller)

    keys = []
    state = directory.state(caller)
    if state is not None:
        keys.append(state.identity_key)
    registration = await directory.storage.get_registration(caller)
    if registration is not None and (scope == "applicant" or state is None):
        keys.append(registration.identity_key)
    if not keys:
        raise Unauthenticated("unknown_caller", f"{caller} is not in the directory; register first",
                              value=caller)
    return keys


def decode_root_key(text: str) -> bytes:
    try:
        return b64decode(text, field="secretariat_key", size=32)
    except EnlaceError as exc:
        raise ValueError(exc.message) from None


def create_app(settings: Settings, storage: Storage, transparency: TransparencyLog) -> web.Application:
    """Build the application around an opened storage backend and a loaded log."""
    # Base64 makes the JSON about 4/3 of the envelope; allow room for the field names.
    app = web.Application(middlewares=[error_middleware],
                          client_max_size=settings.max_envelope_bytes * 4 // 3 + 64 * 1024)
    directory = DirectoryService(storage, transparency.directory.root_public_key, transparency)
    app[SETTINGS] = settings
    app[STORAGE] = storage
    app[DIRECTORY] = directory
    app[DELIVERY] = DeliveryService(storage, directory, max_envelope_bytes=settings.max_envelope_bytes)
    app[GUARD] = ReplayGuard(settings.replay_window)
    app[LOG] = transparency
    handlers.add_routes(app)
    return app
