"""The removal queue: one message is one person to remove from one registry."""

from __future__ import annotations

from typing import Any

from chalicelib.jobs.queue import Job, handle_batch, text
from chalicelib.services import removals


def _remove(job: Job, receive_count: int) -> None:
    removals.process(text(job, "registration_id"), text(job, "registry"), receive_count)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, {"remove": _remove})
