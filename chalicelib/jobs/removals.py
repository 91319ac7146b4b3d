"""The removal queue: one message is one batch of the removal sweep (both registries)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.jobs import LegacyRemoval, RemovalSweep
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import removals


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    handlers = (
        Handlers()
        .on(RemovalSweep, lambda job, _: removals.run(job, remaining))
        .on(LegacyRemoval, lambda job, _: removals.kick(force=True))
    )
    return handle_batch(event, context, handlers)
