"""HTTP handlers: each parses the request, calls a service and shapes the JSON answer."""

from __future__ import annotations

from aiohttp import web

from broker.handlers import directory, messages, registrations


def add_routes(app: web.Application) -> None:
    directory.add_routes(app)
    registrations.add_routes(app)
    messages.add_routes(app)
