"""The batch queue: one message is one chunk of an employer's rows."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import BatchChunk
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import batches


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_batch(
        event, context, Handlers().on(BatchChunk, lambda job, _: batches.process_chunk(job.batch_id, job.chunk))
    )
