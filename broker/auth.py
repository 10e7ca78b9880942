"""Checking signed requests: signature, timestamp window and nonce reuse.

NOTE: seen nonces live in this process's memory. Requests signed before the broker
started are rejected, so a restart cannot reopen the window for a captured request;
several broker nodes would need a shared nonce table.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from broker.errors import Unauthenticated
from keys import labels, requests as signing
from keys.encoding import b64decode
from keys.errors import EnlaceError
from keys.identity import key_id, verify


@dataclass(frozen=True)
class Caller:
    name: str
    public_key: bytes


class ReplayGuard:
    """Remembers every nonce for as long as its timestamp is inside the window."""

    def __init__(self, window: int, started_at: int | None = None):
        self.window = window
        self.started_at = int(time.time()) if started_at is None else started_at
        self._seen: OrderedDict[str, int] = OrderedDict()

    def check(self, nonce: str, timestamp: int, now: int) -> None:
        if abs(now - timestamp) > self.window:
            raise Unauthenticated("request_expired",
                                  f"request timestamp {timestamp} is outside the {self.window} s "
                                  f"window around the broker's clock ({now}); check the clock",
                                  value=timestamp)
        if timestamp < self.started_at - 1:
            raise Unauthenticated("request_expired",
                                  f"request timestamp {timestamp} is older than the broker's start",
                                  value=timestamp)

        self._forget_before(now - self.window)
        if nonce in self._seen:
            raise Unauthenticated("request_replayed", f"request nonce {nonce} was already used",
                                  value=nonce)
        self._seen[nonce] = timestamp

    def _forget_before(self, limit: int) -> None:
        # Insertion order is close to timestamp order; stop at the first fresh entry.
        while self._seen:
            nonce, timestamp = next(iter(self._seen.items()))
            if timestamp >= limit:
                break
            del self._seen[nonce]


def _header(request: web.Request, name: str) -> str:
    value = request.headers.get(name)
    if not value:
        raise Unauthenticated("auth_missing",
                              f"request is not signed: header {name} is missing", value=name)
    return value


def read_auth_headers(request: web.Request) -> dict:
    """Parse the five authentication headers, or raise Unauthenticated naming the bad one."""
    timestamp = _header(request, signing.HEADER_TIMESTAMP)
    nonce = _header(request, signing.HEADER_NONCE)
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Unauthenticated("auth_invalid", f"{signing.HEADER_TIMESTAMP} must be unix seconds",
                              value=timestamp)
    if not signing.NONCE_PATTERN.match(nonce):
        raise Unauthenticated("auth_invalid", f"{signing.HEADER_NONCE} must be 32 hex characters",
                              value=nonce)
    try:
        signature = b64decode(_header(request, signing.HEADER_SIGNATURE), field="signature", size=64)
    except EnlaceError as exc:
        raise Unauthenticated("auth_invalid", exc.message) from None

    return {"caller": _header(request, signing.HEADER_CALLER),
            "key_id": _header(request, signing.HEADER_KEY),
            "timestamp": int(timestamp), "nonce": nonce, "signature": signature}


def check_signature(request: web.Request, headers: dict, public_key: bytes, body: bytes) -> None:
    """Verify the request signature made with ``public_key``."""
    if headers["key_id"] != key_id(public_key):
        raise Unauthenticated("auth_invalid",
                              f"key {headers['key_id']} is not the registered identity key of "
                              f"{headers['caller']}", value=headers["key_id"])

    data = signing.signed_bytes(method=request.method, path=request.path_qs,
                                caller=headers["caller"], key_id=headers["key_id"],
                                timestamp=headers["timestamp"], nonce=headers["nonce"], body=body)
    try:
        verify(public_key, labels.SIG_REQUEST, data, headers["signature"], what="request")
    except EnlaceError:
        raise Unauthenticated("auth_invalid", "request signature does not verify",
                              value=headers["caller"]) from None
