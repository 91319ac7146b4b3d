"""Domain errors: plain exceptions that say what went wrong, in English and Thai.

``chalicelib/api/errors.py`` maps each to its HTTP status, once.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the service reports to a caller."""

    code = "internal_error"
    message = "Something went wrong on our side; please retry."
    message_th = "ระบบขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้ง"

    def as_error(self) -> dict[str, Any]:
        """The ``error`` object of the contract's envelope."""
        return {"code": self.code, "message": self.message, "message_th": self.message_th}


class ValidationFailed(DomainError):
    code = "validation_error"
    message = "Some fields are missing or invalid."
    message_th = "ข้อมูลบางช่องไม่ครบหรือไม่ถูกต้อง"

    def __init__(self, fields: list[str]) -> None:
        super().__init__("validation failed")
        self.fields = sorted(set(fields))

    def as_error(self) -> dict[str, Any]:
        return {**super().as_error(), "fields": self.fields}


class NotEligible(DomainError):
    code = "not_eligible"
    message = "This person is not eligible for this campaign (minimum age)."
    message_th = "ผู้ลงทะเบียนไม่มีสิทธิ์ตามเงื่อนไขของโครงการ (อายุไม่ถึงเกณฑ์)"


class AlreadyRegistered(DomainError):
    code = "already_registered"
    message = "This person already has an active registration."
    message_th = "บุคคลนี้มีการลงทะเบียนที่ยังใช้งานอยู่แล้ว"


class RegistrationFull(DomainError):
    code = "registration_full"
    message = "All places and the reserve list are full."
    message_th = "ที่นั่งและรายชื่อสำรองเต็มแล้ว"


class ChannelClosed(DomainError):
    code = "channel_closed"
    message = "This registration channel is closed for now."
    message_th = "ช่องทางการลงทะเบียนนี้ปิดชั่วคราว"


class NotFound(DomainError):
    code = "not_found"
    message = "Not found."
    message_th = "ไม่พบข้อมูล"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request body."
    message_th = "Idempotency-Key นี้ถูกใช้กับข้อมูลอื่นไปแล้ว"


class RequestInProgress(DomainError):
    code = "request_in_progress"
    message = "The first request with this Idempotency-Key is still running; retry shortly."
    message_th = "คำขอแรกที่ใช้ Idempotency-Key นี้ยังดำเนินการอยู่ กรุณาลองใหม่อีกครั้ง"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("request in progress")
        self.retry_after = retry_after


class Overloaded(DomainError):
    """The data store or a downstream limit refused the work for now; the caller may retry."""

    code = "rate_limited"
    message = "Too many requests right now; please retry after the time given."
    message_th = "มีผู้ใช้งานจำนวนมาก กรุณาลองใหม่ตามเวลาที่กำหนด"

    def __init__(self, retry_after: int = 1, maybe_applied: bool = False) -> None:
        super().__init__("overloaded")
        self.retry_after = retry_after
        # True when a write's answer was lost (a timeout): it may have landed all the same.
        self.maybe_applied = maybe_applied


class Conflict(Overloaded):
    """A concurrent change won a conditional write; the operation may be retried as a whole."""

    def __init__(self, what: str = "") -> None:
        super().__init__(retry_after=1)
        self.args = (what,)


class TooManyAttempts(DomainError):
    """A limit on codes, wrong codes or wrong birth dates was reached; it lifts after ``retry_after``."""

    code = "too_many_attempts"
    message = "Too many attempts; please try again after the time given."
    message_th = "ทำรายการหลายครั้งเกินไป กรุณาลองใหม่ตามเวลาที่กำหนด"

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = max(1, retry_after)


class InvalidCode(DomainError):
    code = "invalid_code"
    message = "The code is wrong or has expired."
    message_th = "รหัสยืนยันไม่ถูกต้องหรือหมดอายุแล้ว"


class PhoneNotVerified(DomainError):
    code = "phone_not_verified"
    message = (
        "Verify this phone number first: the verification token is missing, invalid, expired or for another number."
    )
    message_th = "กรุณายืนยันเบอร์โทรศัพท์ก่อน: ไม่มีรหัสยืนยัน หรือรหัสไม่ถูกต้อง หมดอายุ หรือเป็นของเบอร์อื่น"


class PhoneLimitReached(DomainError):
    code = "phone_limit_reached"
    message = "This phone number has already registered the most people allowed through the app."
    message_th = "เบอร์โทรศัพท์นี้ลงทะเบียนผ่านแอปครบจำนวนสูงสุดที่อนุญาตแล้ว"


class NotConfirmed(DomainError):
    code = "not_confirmed"
    message = "This registration is not confirmed (it is on the reserve list or cancelled): no dose can be given."
    message_th = "การลงทะเบียนนี้ยังไม่ได้รับการยืนยัน (อยู่ในรายชื่อสำรองหรือถูกยกเลิก) จึงฉีดวัคซีนไม่ได้"


class AlreadyDone(DomainError):
    code = "already_done"
    message = "Every dose of this registration has been given already."
    message_th = "ผู้นี้ได้รับวัคซีนครบทุกเข็มแล้ว"


class NotDue(DomainError):
    code = "not_due"
    message = "The next dose is not due yet (no appointment yet, or too soon after the previous dose)."
    message_th = "ยังไม่ถึงกำหนดฉีดเข็มถัดไป (ยังไม่มีนัด หรือยังไม่ครบระยะห่างจากเข็มก่อน)"


class DayNotOver(DomainError):
    code = "day_not_over"
    message = "This day has not come yet: only today or an earlier day can be closed."
    message_th = "ยังไม่ถึงวันนั้น ปิดได้เฉพาะวันนี้หรือวันที่ผ่านมาแล้ว"


class QueueNotOpen(DomainError):
    code = "queue_not_open"
    message = "The waiting room is not open yet: it opens a while before registration opens."
    message_th = "ยังไม่เปิดให้เข้าคิว ระบบจะเปิดคิวก่อนเวลาเปิดลงทะเบียนไม่นาน"


class AdmissionRequired(DomainError):
    code = "admission_required"
    message = "Wait for your turn in the line: the admission token is missing, invalid, expired or for another number."
    message_th = "กรุณารอคิวก่อน: ไม่มีสิทธิ์เข้าลงทะเบียน หรือสิทธิ์ไม่ถูกต้อง หมดอายุ หรือเป็นของเบอร์อื่น"
