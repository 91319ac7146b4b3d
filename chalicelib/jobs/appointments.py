"""The appointment queue (allocation chunks) and the SMS queue (one message per appointment)."""

from __future__ import annotations

from typing import Any

from chalicelib.jobs.messages import SMS_KINDS
from chalicelib.jobs.queue import Job, PoisonMessage, handle_batch, text
from chalicelib.services import appointments


def _allocate(job: Job, receive_count: int) -> None:
    cursor = job.get("cursor")
    if cursor is not None and not isinstance(cursor, dict):
        raise PoisonMessage("cursor")
    appointments.allocate_chunk(cursor)


def _sms(job: Job, receive_count: int) -> None:
    appointments.send_sms(text(job, "registration_id"))


def handle_allocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, {"allocate": _allocate})


def handle_sms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, {"appointment_sms": _sms, **SMS_KINDS})
