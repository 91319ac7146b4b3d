"""The reconcile queue: one message is one segment of a reconciliation run (or its continuation)."""

from __future__ import annotations

from typing import Any

from chalicelib.jobs.queue import Job, PoisonMessage, handle_batch, number, text
from chalicelib.services import reconcile


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)

    def segment(job: Job, receive_count: int) -> None:
        tally = job.get("tally") or {}
        if not isinstance(tally, dict) or not all(isinstance(v, int) for v in tally.values()):
            raise PoisonMessage("tally")
        reconcile.segment(
            text(job, "run_id"), number(job, "segment"), bool(job.get("full")), job.get("cursor"), tally, remaining
        )

    return handle_batch(event, context, {"segment": segment})
