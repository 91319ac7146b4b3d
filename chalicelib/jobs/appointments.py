"""Appointment jobs: allocation and day closing chunks, and the SMS queue's messages."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import Allocate, AppointmentSms, CloseDay, ReceiptSms, VerificationSms
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import appointments, doses, receipts, verifications


def handle_allocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    handlers = (
        Handlers()
        .on(Allocate, lambda job, _: appointments.allocate_chunk(job.cursor))
        .on(CloseDay, lambda job, _: doses.close_chunk(job.day.isoformat(), job.cursor))
    )
    return handle_batch(event, context, handlers)


def handle_sms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    handlers = (
        Handlers()
        .on(AppointmentSms, lambda job, _: appointments.send_sms(job.registration_id))
        .on(VerificationSms, lambda job, _: verifications.send_code(job.verification_id))
        .on(ReceiptSms, lambda job, _: receipts.send(job.registration_id, job.nonce))
    )
    return handle_batch(event, context, handlers)
