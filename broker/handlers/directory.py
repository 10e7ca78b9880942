"""Handlers for the public directory, the transparency log, key rotation and revocation.

Directory and log reads need no authentication: everything they return is signed,
and a client checks it against the Secretariat key and the log key it pinned.
"""

from __future__ import annotations

from aiohttp import web

import broker
from broker import app as base
from broker.errors import BadRequest, NotFoundError, Unavailable
from broker.handlers.common import cp_id_param, int_query, signed_field
from keys.encoding import b64encode

MAX_ENTRIES_PER_CALL = 1000


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[base.STORAGE].health()
    except Exception as exc:  # any storage failure means "not healthy", never a 500
        raise Unavailable("storage_unavailable", f"storage is not readable: {exc}") from None
    return web.json_response({"status": "ok", "version": broker.__version__,
                              "tree_size": request.app[base.LOG].tree.size})


async def member_states(request: web.Request) -> web.Response:
    return web.json_response({"member_states": await request.app[base.STORAGE].member_states()})


async def directory_list(request: web.Request) -> web.Response:
    """List every contact point with its current record; the log entries are the proof."""
    rows = await request.app[base.STORAGE].list_records()
    return web.json_response({"records": [
        {"id": r.cp_id, "status": r.status, "updated_at": r.updated_at,
         "record": {"document": b64encode(r.record), "signature": b64encode(r.signature)}} for r in rows]})


async def directory_show(request: web.Request) -> web.Response:
    """Return the log entries that define one contact point, each with its inclusion proof."""
    cp_id = cp_id_param(request)
    transparency = request.app[base.LOG]
    state = transparency.state(cp_id)
    if state is None:
        raise NotFoundError("not_found", f"{cp_id} is not in the directory", value=cp_id)

    head = transparency.head()
    rows = await request.app[base.STORAGE].read_log_seqs(transparency.supporting_indexes(state))
    entries = [{"index": row.seq, "entry": b64encode(row.entry),
                "proof": [b64encode(h) for h in transparency.tree.inclusion_proof(row.seq, head.tree_size)]}
               for row in rows if row.seq < head.tree_size]
    return web.json_response({"id": cp_id, "status": state.status, "head": head.to_wire(), "entries": entries})


async def log_key(request: web.Request) -> web.Response:
    key = request.app[base.LOG].log_key
    return web.json_response({"public_key": b64encode(key.public_key), "key_id": key.key_id})


async def log_head(request: web.Request) -> web.Response:
    return web.json_response(request.app[base.LOG].head().to_wire())


def _check_range(start: int, end: int, size: int, what: str) -> None:
    if start > end:
        raise BadRequest("bad_range", f"{what}: start {start} is after end {end}", value=start)
    if end > size:
        raise BadRequest("beyond_tree", f"{what}: {end} is beyond the tree size {size}", value=end)


async def log_entries(request: web.Request) -> web.Response:
    """Entries start <= index < end, at most MAX_ENTRIES_PER_CALL of them."""
    size = request.app[base.LOG].tree.size
    start = int_query(request, "start", 0)
    end = int_query(request, "end", size)
    _check_range(start, end, size, "log range")
    end = min(end, start + MAX_ENTRIES_PER_CALL)
    rows = await request.app[base.STORAGE].read_log(start, end)
    return web.json_response({"start": start, "entries": [b64encode(r.entry) for r in rows]})


async def inclusion_proof(request: web.Request) -> web.Response:
    tree = request.app[base.LOG].tree
    index = int_query(request, "index")
    size = int_query(request, "size", tree.size)
    _check_range(0, size, tree.size, "inclusion proof")
    if index >= size:
        raise BadRequest("beyond_tree", f"inclusion proof: index {index} is not below the tree size {size}",
                         value=index)
    return web.json_response({"index": index, "tree_size": size,
                              "proof": [b64encode(h) for h in tree.inclusion_proof(index, size)]})


async def consistency_proof(request: web.Request) -> web.Response:
    tree = request.app[base.LOG].tree
    first = int_query(request, "from")
    second = int_query(request, "to", tree.size)
    _check_range(first, second, tree.size, "consistency proof")
    return web.json_response({"from": first, "to": second,
                              "proof": [b64encode(h) for h in tree.consistency_proof(first, second)]})


async def key_rotate(request: web.Request) -> web.Response:
    cp_id = cp_id_param(request)
    caller = await base.authenticate(request, scope="contact_point")
    signed = signed_field(await base.read_json(request), "certificate")
    state = await request.app[base.DIRECTORY].rotate(caller, cp_id, signed)
    return web.json_response({"id": cp_id, "index": state.indexes[-1]}, status=201)


async def revoke(request: web.Request) -> web.Response:
    cp_id = cp_id_param(request)
    caller = await base.authenticate(request, scope="any")
    signed = signed_field(await base.read_json(request), "revocation")
    state = await request.app[base.DIRECTORY].revoke(caller, cp_id, signed)
    return web.json_response({"id": cp_id, "status": state.status, "index": state.indexes[-1]}, status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/health", health)
    app.router.add_get("/v1/member-states", member_states)
    app.router.add_get("/v1/directory", directory_list)
    app.router.add_get("/v1/directory/{cp_id}", directory_show)
    app.router.add_post("/v1/directory/{cp_id}/keys", key_rotate)
    app.router.add_post("/v1/directory/{cp_id}/revocations", revoke)
    app.router.add_get("/v1/log/key", log_key)
    app.router.add_get("/v1/log/head", log_head)
    app.router.add_get("/v1/log/entries", log_entries)
    app.router.add_get("/v1/log/proof/inclusion", inclusion_proof)
    app.router.add_get("/v1/log/proof/consistency", consistency_proof)
