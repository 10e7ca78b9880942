"""Async client for the broker's HTTP API.

Every call returns parsed JSON or raises ApiFailure carrying the broker's stable
error code, so the CLI can print a translated message and a hint. Requests that
need authentication are signed with the caller's identity key (keys.requests).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass

import aiohttp

from keys.identity import IdentityKey
from keys.records import SignedDocument
from keys.requests import sign_request

TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


class ApiFailure(Exception):
    """The broker refused a request, or could not be reached (code "unreachable")."""

    def __init__(self, code: str, message: str, *, status: int = 0, value: object = None,
                 request_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.value = value
        self.request_id = request_id


def tls_context(cafile: str) -> ssl.SSLContext:
    """Return a TLS context that trusts the authorities in ``cafile``; raise ApiFailure when it cannot be read."""
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ApiFailure("ca_file_invalid", f"cannot use CA file {cafile}: {exc}", value=cafile) from None


@dataclass(frozen=True)
class Signer:
    caller: str
    identity: IdentityKey


class BrokerClient:
    """One HTTP session to one broker; use as ``async with BrokerClient(url) as api``."""

    def __init__(self, url: str, signer: Signer | None = None, *, cafile: str | None = None):
        self.url = url.rstrip("/")
        self.signer = signer
        self._ssl = tls_context(cafile) if cafile else None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "BrokerClient":
        self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, body: object = None, *, signed: bool = True) -> dict:
        """Send one request and return the JSON body of a 2xx response."""
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            if self.signer is None:
                raise ValueError("this request must be signed, but the client has no identity key")
            headers |= sign_request(self.signer.identity, self.signer.caller, method, path, data)

        try:
            async with self._session.request(method, self.url + path, data=data or None,
                                             headers=headers, ssl=self._ssl) as response:
                text = await response.read()
                return _parse_answer(response.status, text)
        except aiohttp.ClientConnectorCertificateError as exc:
            raise ApiFailure("tls_untrusted", f"the TLS certificate of {self.url} is not trusted: "
                             f"{exc.certificate_error}", value=self.url) from None
        except aiohttp.ClientSSLError as exc:
            raise ApiFailure("tls_failed", f"the TLS connection to {self.url} failed: {exc}", value=self.url) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise ApiFailure("timed_out", f"the broker at {self.url} did not respond in time",
                             value=self.url) from None
        except aiohttp.ClientError as exc:
            raise ApiFailure("unreachable", f"cannot reach the broker at {self.url}: {exc}",
                             value=self.url) from None

    # Public directory.
    async def health(self) -> dict:
        return await self.call("GET", "/v1/health", signed=False)

    async def directory(self) -> list[dict]:
        return (await self.call("GET", "/v1/directory", signed=False))["records"]

    async def directory_entry(self, cp_id: str) -> dict:
        return await self.call("GET", f"/v1/directory/{cp_id}", signed=False)

    async def registration_listed(self, cp_id: str) -> bool:
        """True when ``cp_id`` already has a directory entry (its request replaces a key)."""
        try:
            await self.call("GET", f"/v1/directory/{cp_id}", signed=False)
        except ApiFailure as exc:
            if exc.code == "not_found":
                return False
            raise
        return True

    # Registration.
    async def register(self, request: SignedDocument) -> dict:
        return await self.call("POST", "/v1/registrations", request.to_wire(), signed=False)

    async def registration(self, cp_id: str) -> dict:
        return await self.call("GET", f"/v1/registrations/{cp_id}")

    async def registrations(self, status: str = "pending") -> list[dict]:
        return (await self.call("GET", f"/v1/admin/registrations?status={status}"))["registrations"]

    async def approve(self, cp_id: str, record: SignedDocument) -> dict:
        return await self.call("POST", f"/v1/admin/registrations/{cp_id}/approve",
                               {"record": record.to_wire()})

    async def reject(self, cp_id: str, rejection: SignedDocument) -> dict:
        return await self.call("POST", f"/v1/admin/registrations/{cp_id}/reject",
                               {"rejection": rejection.to_wire()})

    # Messages.
    async def submit(self, envelope_wire: dict) -> dict:
        return await self.call("POST", "/v1/messages", envelope_wire)

    async def mailbox(self, limit: int = 100) -> list[dict]:
        return (await self.call("GET", f"/v1/mailbox?limit={limit}"))["messages"]

    async def ack(self, msg_id: str) -> dict:
        return await self.call("POST", f"/v1/mailbox/{msg_id}/ack", {})


def _parse_answer(status: int, text: bytes) -> dict:
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        raise ApiFailure("bad_answer", f"the server responded with HTTP {status} and a body that is not JSON",
                         status=status, value=status) from None

    if 200 <= status < 300:
        return answer
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    raise ApiFailure(error.get("code", "http_error"), error.get("message", f"HTTP {status}"),
                     status=status, value=error.get("value"), request_id=error.get("request_id"))
