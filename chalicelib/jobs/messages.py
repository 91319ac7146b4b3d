"""SMS jobs other than appointments: verification codes and receipt codes (the same SMS queue)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.jobs.queue import Job, text
from chalicelib.services import receipts, verifications


def _verification_sms(job: Job, receive_count: int) -> None:
    verifications.send_code(text(job, "verification_id"))


def _receipt_sms(job: Job, receive_count: int) -> None:
    receipts.send(text(job, "registration_id"), text(job, "nonce"))


SMS_KINDS: dict[str, Callable[[Job, int], None]] = {
    "verification_sms": _verification_sms,
    "receipt_sms": _receipt_sms,
}
