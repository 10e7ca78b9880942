"""Errors the broker returns to clients.

    ApiError                 every error a handler may raise; becomes a JSON 4xx
    ├── BadRequest           400  malformed JSON, wrong type, missing field, bad format
    ├── Unauthenticated      401  missing, invalid, expired or replayed request signature
    ├── Forbidden            403  a caller that is known but not allowed
    ├── NotFoundError        404
    ├── ConflictError        409  an id already used with other content
    ├── TooLarge             413
    ├── Unprocessable        422  well-formed, but a signature or a reference is wrong
    └── Unavailable          503  the broker cannot serve now (storage unreadable)

Anything else raised inside a handler is logged once with its traceback and the
client receives a generic 500 "internal" error carrying the request id.
"""

from __future__ import annotations

from keys.errors import EnlaceError


class ApiError(Exception):
    status = 400

    def __init__(self, code: str, message: str, *, value: object = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.value = value

    def to_json(self, request_id: str) -> dict:
        error = {"code": self.code, "message": self.message, "request_id": request_id}
        if self.value is not None:
            error["value"] = self.value
        return {"error": error}


class BadRequest(ApiError):
    status = 400


class Unauthenticated(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFoundError(ApiError):
    status = 404


class ConflictError(ApiError):
    status = 409


class TooLarge(ApiError):
    status = 413


class Unprocessable(ApiError):
    status = 422


class Unavailable(ApiError):
    status = 503


def from_core(exc: EnlaceError) -> ApiError:
    """Map a shared-core error to the API error a client sees."""
    from keys.errors import FormatError, MismatchError, SignatureError

    value = exc.value if isinstance(exc.value, (str, int)) else None
    if isinstance(exc, SignatureError):
        return Unprocessable(exc.code, exc.message, value=value)
    if isinstance(exc, (FormatError, MismatchError)):
        if exc.code == "body_mismatch":
            return Unprocessable(exc.code, exc.message, value=value)
        return BadRequest(exc.code, exc.message, value=value)
    return BadRequest(exc.code, exc.message, value=value)
