"""The appointment queue (allocation chunks) and the SMS queue (one message per appointment)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import Allocate, AppointmentSms
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import appointments


def handle_allocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, Handlers().on(Allocate, lambda job, _: appointments.allocate_chunk(job.cursor)))


def handle_sms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(
        event, context, Handlers().on(AppointmentSms, lambda job, _: appointments.send_sms(job.registration_id))
    )
