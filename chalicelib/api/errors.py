"""The one place where errors become HTTP responses in the contract's envelope."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response

from chalicelib.domain import errors as d


class HttpError(d.DomainError):
    """Errors of the HTTP layer itself (not of the domain)."""


class PayloadTooLarge(HttpError):
    code = "payload_too_large"
    message = "The request body is too large."
    message_th = "ข้อมูลที่ส่งมามีขนาดใหญ่เกินไป"


class UnsupportedMediaType(HttpError):
    code = "unsupported_media_type"
    message = "This content type is not accepted here; send application/json."
    message_th = "ไม่รองรับรูปแบบข้อมูลนี้ กรุณาส่งเป็น application/json"


class MethodNotAllowed(HttpError):
    code = "method_not_allowed"
    message = "This method is not allowed here."
    message_th = "ไม่รองรับวิธีการเรียกนี้"


class RouteNotFound(HttpError):
    code = "not_found"
    message = "Not found."
    message_th = "ไม่พบข้อมูล"


class Unauthorized(HttpError):
    code = "unauthorized"
    message = "A valid staff token is required."
    message_th = "ต้องใช้โทเคนของเจ้าหน้าที่ที่ถูกต้อง"

    def __init__(self) -> None:
        # API Gateway answers 401 when a token authorizer raises exactly this message.
        super().__init__("Unauthorized")


class Forbidden(HttpError):
    code = "forbidden"
    message = "This token may not do this."
    message_th = "โทเคนนี้ไม่มีสิทธิ์ทำรายการนี้"


class InternalError(HttpError):
    pass


STATUS: dict[type[d.DomainError], int] = {
    d.ValidationFailed: 400,
    Unauthorized: 401,
    d.ChannelClosed: 403,
    d.AdmissionRequired: 403,
    Forbidden: 403,
    d.NotFound: 404,
    RouteNotFound: 404,
    MethodNotAllowed: 405,
    d.AlreadyRegistered: 409,
    d.RegistrationFull: 409,
    d.PhoneLimitReached: 409,
    d.RequestInProgress: 409,
    d.NotConfirmed: 409,
    d.AlreadyDone: 409,
    d.NotDue: 409,
    d.DayNotOver: 409,
    d.QueueNotOpen: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    d.NotEligible: 422,
    d.IdempotencyKeyReused: 422,
    d.InvalidCode: 422,
    d.PhoneNotVerified: 422,
    d.Overloaded: 429,
    d.Conflict: 429,
    d.TooManyAttempts: 429,
    InternalError: 500,
}

JSON = "application/json; charset=utf-8"


def envelope(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str | list[str]]]:
    """(status, body, headers) of the contract's error envelope for ``exc``."""
    if not isinstance(exc, d.DomainError):
        exc = InternalError()
    status = next((STATUS[k] for k in type(exc).__mro__ if k in STATUS), 500)
    # Also the answers made outside the app (the local server's 404, 401, 429): never cached.
    headers: dict[str, str | list[str]] = {"Content-Type": JSON, "Cache-Control": "no-store"}
    if status == 429 or isinstance(exc, d.RequestInProgress):
        headers["Retry-After"] = str(getattr(exc, "retry_after", 1))
    return status, {"error": exc.as_error()}, headers


def error_response(exc: Exception) -> Response:
    status, body, headers = envelope(exc)
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers=headers)
