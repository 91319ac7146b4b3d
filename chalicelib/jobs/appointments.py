"""The appointment queue (allocation chunks, day closings) and the SMS queue (one message per booking)."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.jobs.messages import SMS_KINDS
from chalicelib.jobs.queue import Job, PoisonMessage, handle_batch, text
from chalicelib.services import appointments, doses


def _allocate(job: Job, receive_count: int) -> None:
    cursor = job.get("cursor")
    if cursor is not None and not isinstance(cursor, dict):
        raise PoisonMessage("cursor")
    appointments.allocate_chunk(cursor)


def _close(job: Job, receive_count: int) -> None:
    cursor = job.get("cursor")
    if cursor is not None and not isinstance(cursor, dict):
        raise PoisonMessage("cursor")
    day = text(job, "day")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise PoisonMessage("day") from None
    doses.close_chunk(day, cursor)


def _sms(job: Job, receive_count: int) -> None:
    appointments.send_sms(text(job, "registration_id"))


def handle_allocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, {"allocate": _allocate, "close_day": _close})


def handle_sms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, {"appointment_sms": _sms, **SMS_KINDS})
