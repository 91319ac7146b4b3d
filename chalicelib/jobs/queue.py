"""The one way every queue handler reads its messages (Powertools batch processing).

A message is a JSON object ``{"kind": ..., ...}``. A handler failing (an exception) fails only its
own message, which SQS delivers again and, after the queue's ``maxReceiveCount``, moves to the
dead-letter queue. A message that is not a job of this queue is poison: it fails every time and so
ends in the dead-letter queue too, without holding up the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import logs, metrics

logger = Logger(child=True)

Job = dict[str, Any]


class PoisonMessage(Exception):
    """Not a job this queue knows; left to the dead-letter queue."""


def handle_batch(event: dict[str, Any], context: Any, kinds: dict[str, Callable[[Job, int], None]]) -> dict[str, Any]:
    """Run each record's job; returns the partial batch response (failed message IDs)."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def run(record: SQSRecord) -> None:
        attribute = (record.raw_event.get("messageAttributes") or {}).get(logs.KEY) or {}
        logs.set_correlation_id(attribute.get("stringValue"))
        try:
            job = record.json_body
        except ValueError:
            job = None
        handler = kinds.get(job.get("kind")) if isinstance(job, dict) else None  # type: ignore[arg-type]
        if handler is None or not isinstance(job, dict):
            logger.error("poison message", extra={"message_id": record.message_id})
            metrics.add("PoisonMessage", queue=record.event_source_arn.rsplit(":", 1)[-1])
            raise PoisonMessage(record.message_id)
        handler(job, int(record.attributes.approximate_receive_count))

    try:
        return dict(process_partial_response(event=event, record_handler=run, processor=processor, context=context))
    finally:
        logs.set_correlation_id(None)


def text(job: Job, field: str) -> str:
    """A required string field of a job. Raises PoisonMessage."""
    found = job.get(field)
    if not isinstance(found, str) or not found:
        raise PoisonMessage(field)
    return found


def number(job: Job, field: str) -> int:
    found = job.get(field)
    if not isinstance(found, int) or isinstance(found, bool):
        raise PoisonMessage(field)
    return found
