"""The one place where errors become HTTP responses in the contract's envelope."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response

from chalicelib.domain import errors as d


class HttpError(Exception):
    """Errors of the HTTP layer itself (not of the domain)."""


class PayloadTooLarge(HttpError):
    pass


class UnsupportedMediaType(HttpError):
    pass


class MethodNotAllowed(HttpError):
    pass


class RouteNotFound(HttpError):
    pass


class Unauthorized(HttpError):
    pass


class Forbidden(HttpError):
    pass


class InternalError(HttpError):
    pass


# error class -> (status, code, English, Thai)
ERRORS: dict[type[Exception], tuple[int, str, str, str]] = {
    d.ValidationFailed: (400, "validation_error", "Some fields are missing or invalid.", "ข้อมูลบางช่องไม่ครบหรือไม่ถูกต้อง"),
    d.NotEligible: (
        422,
        "not_eligible",
        "This person is not eligible for this campaign (minimum age).",
        "ผู้ลงทะเบียนไม่มีสิทธิ์ตามเงื่อนไขของโครงการ (อายุไม่ถึงเกณฑ์)",
    ),
    d.AlreadyRegistered: (
        409,
        "already_registered",
        "This person already has an active registration.",
        "บุคคลนี้มีการลงทะเบียนที่ยังใช้งานอยู่แล้ว",
    ),
    d.RegistrationFull: (
        409,
        "registration_full",
        "All places and the reserve list are full.",
        "ที่นั่งและรายชื่อสำรองเต็มแล้ว",
    ),
    d.ChannelClosed: (
        403,
        "channel_closed",
        "This registration channel is closed for now.",
        "ช่องทางการลงทะเบียนนี้ปิดชั่วคราว",
    ),
    d.NotFound: (404, "not_found", "Not found.", "ไม่พบข้อมูล"),
    RouteNotFound: (404, "not_found", "Not found.", "ไม่พบข้อมูล"),
    d.IdempotencyKeyReused: (
        422,
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request body.",
        "Idempotency-Key นี้ถูกใช้กับข้อมูลอื่นไปแล้ว",
    ),
    d.RequestInProgress: (
        409,
        "request_in_progress",
        "The first request with this Idempotency-Key is still running; retry shortly.",
        "คำขอแรกที่ใช้ Idempotency-Key นี้ยังดำเนินการอยู่ กรุณาลองใหม่อีกครั้ง",
    ),
    d.Overloaded: (
        429,
        "rate_limited",
        "Too many requests right now; please retry after the time given.",
        "มีผู้ใช้งานจำนวนมาก กรุณาลองใหม่ตามเวลาที่กำหนด",
    ),
    d.Conflict: (
        429,
        "rate_limited",
        "Too many requests right now; please retry after the time given.",
        "มีผู้ใช้งานจำนวนมาก กรุณาลองใหม่ตามเวลาที่กำหนด",
    ),
    PayloadTooLarge: (413, "payload_too_large", "The request body is too large.", "ข้อมูลที่ส่งมามีขนาดใหญ่เกินไป"),
    UnsupportedMediaType: (
        415,
        "unsupported_media_type",
        "Send the body as application/json.",
        "กรุณาส่งข้อมูลในรูปแบบ application/json",
    ),
    MethodNotAllowed: (405, "method_not_allowed", "This method is not allowed here.", "ไม่รองรับวิธีการเรียกนี้"),
    Unauthorized: (401, "unauthorized", "A valid staff token is required.", "ต้องใช้โทเคนของเจ้าหน้าที่ที่ถูกต้อง"),
    Forbidden: (403, "forbidden", "This token may not do this.", "โทเคนนี้ไม่มีสิทธิ์ทำรายการนี้"),
    InternalError: (
        500,
        "internal_error",
        "Something went wrong on our side; please retry.",
        "ระบบขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้ง",
    ),
}

JSON = "application/json; charset=utf-8"


def envelope(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str | list[str]]]:
    """(status, body, headers) of the contract's error envelope for ``exc``."""
    status, code, message, message_th = ERRORS.get(type(exc), ERRORS[InternalError])
    error: dict[str, Any] = {"code": code, "message": message, "message_th": message_th}
    if isinstance(exc, d.ValidationFailed):
        error["fields"] = exc.fields
    headers: dict[str, str | list[str]] = {"Content-Type": JSON}
    retry_after = getattr(exc, "retry_after", None)
    if status == 429 or isinstance(exc, d.RequestInProgress):
        headers["Retry-After"] = str(retry_after or 1)
    return status, {"error": error}, headers


def error_response(exc: Exception) -> Response:
    status, body, headers = envelope(exc)
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status, headers=headers)
