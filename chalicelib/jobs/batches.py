"""The batch queue's handler: one message is one chunk of an employer's rows."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.services import batches

logger = Logger(child=True)
processor = BatchProcessor(event_type=EventType.SQS)


def handle_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS entry point: returns the partial batch response (failed message IDs are redelivered)."""
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor, context=context))


def _record(record: SQSRecord) -> None:
    job = record.json_body
    if job.get("kind") == "batch_chunk" and isinstance(job.get("batch_id"), str) and isinstance(job.get("chunk"), int):
        batches.process_chunk(job["batch_id"], job["chunk"])
    else:
        logger.warning("unknown job dropped", extra={"message_id": record.message_id})
