"""The batch queue: one message is one chunk of an employer's rows."""

from __future__ import annotations

from typing import Any

from chalicelib.jobs.queue import Job, handle_batch, number, text
from chalicelib.services import batches


def _chunk(job: Job, receive_count: int) -> None:
    batches.process_chunk(text(job, "batch_id"), number(job, "chunk"))


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(event, context, {"batch_chunk": _chunk})
