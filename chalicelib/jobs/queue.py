"""The one way every queue handler reads its messages (Powertools batch processing).

A message body is one of the job models of ``domain.jobs`` (a discriminated union on ``kind``),
parsed here. A handler failing (an exception) fails only its own message, which SQS delivers again
and, after the queue's ``maxReceiveCount``, moves to the dead-letter queue. A message that is not a
job of this queue is poison: it fails every time and so ends in the dead-letter queue too, without
holding up the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ValidationError

from chalicelib import logs, metrics
from chalicelib.domain.jobs import JOB

logger = Logger(child=True)

J = TypeVar("J", bound=BaseModel)


class PoisonMessage(Exception):
    """Not a job this queue knows; left to the dead-letter queue."""


class Handlers:
    """The job kinds one queue takes: model class -> what to do with (job, receive count)."""

    def __init__(self) -> None:
        self._by_type: dict[type[BaseModel], Callable[[Any, int], object]] = {}

    def on(self, kind: type[J], handler: Callable[[J, int], object]) -> Handlers:
        self._by_type[kind] = handler
        return self

    def run(self, job: BaseModel, receive_count: int) -> None:
        handler = self._by_type.get(type(job))
        if handler is None:
            raise PoisonMessage(type(job).__name__)
        handler(job, receive_count)


def handle_batch(event: dict[str, Any], context: Any, handlers: Handlers) -> dict[str, Any]:
    """Run each record's job; returns the partial batch response (failed message IDs)."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def run(record: SQSRecord) -> None:
        attribute = (record.raw_event.get("messageAttributes") or {}).get(logs.KEY) or {}
        logs.set_correlation_id(attribute.get("stringValue"))
        try:
            job = JOB.validate_json(record.body)
            handlers.run(job, int(record.attributes.approximate_receive_count))
        except (ValidationError, PoisonMessage):
            logger.error("poison message", extra={"message_id": record.message_id})
            metrics.add("PoisonMessage", queue=record.event_source_arn.rsplit(":", 1)[-1])
            raise PoisonMessage(record.message_id) from None

    try:
        return dict(process_partial_response(event=event, record_handler=run, processor=processor, context=context))
    finally:
        logs.set_correlation_id(None)
