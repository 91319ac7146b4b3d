"""The promotion queue: one message hands on the place of one cancelled registration."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import Release
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import promotion


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS entry point: returns the partial batch response (failed message IDs are redelivered)."""
    return handle_batch(event, context, Handlers().on(Release, lambda job, _: promotion.release(job.registration_id)))
