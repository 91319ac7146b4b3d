"""The reconcile queue: one message is one segment of a reconciliation run, or of the retention
job's scan (or its continuation)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import RetentionSegment, Segment
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import reconcile, retention


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)

    def segment(job: Segment, receive_count: int) -> None:
        reconcile.segment(job.run_id, job.segment, job.full, job.cursor, dict(job.tally), remaining)

    def retention_segment(job: RetentionSegment, receive_count: int) -> None:
        retention.segment(job.segment, job.cursor, remaining)

    return handle_batch(event, context, Handlers().on(Segment, segment).on(RetentionSegment, retention_segment))
