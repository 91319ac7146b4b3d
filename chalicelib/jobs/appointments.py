"""Appointment jobs: allocation and day closing chunks (the SMS queue's messages: ``jobs.sms``)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import Allocate, CloseDay
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import appointments, doses


def handle_allocation(event: dict[str, Any], context: Any) -> dict[str, Any]:
    handlers = (
        Handlers()
        .on(Allocate, lambda job, _: appointments.allocate_chunk(job.cursor))
        .on(CloseDay, lambda job, _: doses.close_chunk(job.day.isoformat(), job.cursor))
    )
    return handle_batch(event, context, handlers)
