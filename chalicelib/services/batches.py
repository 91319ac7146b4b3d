"""Employer batches: accepted at once, fanned out through SQS in chunks, each row registered on
the same path as everyone else (``services.registrations.register``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from chalicelib.config import hmac_key
from chalicelib.domain.batches import BatchAccepted, BatchMeta, BatchStatus, RowResult, chunked
from chalicelib.domain.errors import (
    AlreadyRegistered,
    ChannelClosed,
    NotEligible,
    NotFound,
    RegistrationFull,
    ValidationFailed,
)
from chalicelib.domain.jobs import BatchChunk
from chalicelib.domain.models import Channel, RegistrationRequest, Status, validation_fields
from chalicelib.domain.staff import Principal
from chalicelib.services import campaign, registrations
from chalicelib.store.factory import stores

logger = Logger(child=True)

# Outcomes a row keeps; anything else (throttling) fails the chunk so SQS delivers it again.
ROW_ERRORS = (ValidationFailed, NotEligible, AlreadyRegistered, RegistrationFull, ChannelClosed)
# Longer than a chunk's 5 deliveries take (720 s visibility each on AWS).
STALLED_AFTER = timedelta(hours=1)


def submit(principal: Principal, organisation: str, rows: list[Any]) -> BatchAccepted:
    """Store the rows and queue one job per chunk. Raises ChannelClosed, Overloaded."""
    if not campaign.channel_states()[Channel.ORG.value]:
        raise ChannelClosed()
    st = stores()
    chunks = chunked(rows)
    meta = BatchMeta(
        batch_id="b_" + secrets.token_urlsafe(16),
        owner=principal.token_id,
        label=principal.label,
        organisation=organisation,
        row_count=len(rows),
        chunk_count=len(chunks),
        created_at=datetime.now(UTC),
    )
    st.batches.create(meta, chunks)
    _queue_chunks(meta.batch_id, list(range(len(chunks))))
    logger.info("batch accepted", extra={"batch_id": meta.batch_id, "rows": len(rows), "chunks": len(chunks)})
    return BatchAccepted(batch_id=meta.batch_id, row_count=len(rows))


def status(principal: Principal, batch_id: str) -> BatchStatus:
    """Progress and outcomes. Raises NotFound, also for another organisation's batch."""
    st = stores()
    meta = st.batches.meta(batch_id) if batch_id.startswith("b_") else None
    if meta is None or not (meta.owner == principal.token_id or principal.role.value == "admin"):
        raise NotFound()
    results = st.batches.results(batch_id)
    if len(results) < meta.row_count and datetime.now(UTC) - meta.created_at > STALLED_AFTER:
        _requeue_unfinished(meta, set(results))
    return BatchStatus(
        batch_id=batch_id,
        status="done" if len(results) >= meta.row_count else "processing",
        row_count=meta.row_count,
        processed=len(results),
        results=[results[n] for n in sorted(results)],
    )


def process_chunk(batch_id: str, chunk: int) -> None:
    """Register every row of one chunk that has no outcome yet. Idempotent.

    Raises Overloaded or RowPending so that the chunk is delivered again.
    """
    st = stores()
    meta = st.batches.meta(batch_id)
    if meta is None:
        return
    first, rows = st.batches.chunk(batch_id, chunk)
    done = st.batches.results(batch_id)
    for offset, row in enumerate(rows):
        n = first + offset
        if n not in done:
            st.batches.record(batch_id, _register_row(meta, n, row))


def _register_row(meta: BatchMeta, n: int, row: Any) -> RowResult:
    secret = _row_secret(meta.batch_id, n)
    try:
        if not isinstance(row, dict):
            raise ValidationFailed(["body"])
        try:
            body = RegistrationRequest.model_validate(row)
        except ValidationError as exc:
            raise ValidationFailed(validation_fields(list(exc.errors(include_input=False)))) from None
        # A redelivered chunk recognises the row's own earlier registration by its receipt code.
        view = registrations.register(body, Channel.ORG, label=meta.label, code_secret=secret)
    except ROW_ERRORS as exc:
        return RowResult(row=n, outcome="rejected", error=exc.as_error())
    # What the row got when it was registered (a retry is answered as the first attempt was).
    outcome = "reserve" if view.status is Status.RESERVE else "confirmed"
    return RowResult(row=n, outcome=outcome, registration_id=view.registration_id)


def _queue_chunks(batch_id: str, chunks: list[int]) -> None:
    jobs = [BatchChunk(batch_id=batch_id, chunk=k).model_dump(mode="json") for k in chunks]
    for start in range(0, len(jobs), 10):
        stores().batch_jobs.send_many(jobs[start : start + 10])


def _requeue_unfinished(meta: BatchMeta, done_rows: set[int]) -> None:
    """A batch still processing long after it should be done lost some chunk messages (a send that
    failed half-way through submit, or messages in the dead-letter queue): queue those chunks again.
    Processing is idempotent, so a chunk that was only slow is not harmed."""
    st = stores()
    missing = []
    for k in range(meta.chunk_count):
        first, rows = st.batches.chunk(meta.batch_id, k)
        if any(first + i not in done_rows for i in range(len(rows))):
            missing.append(k)
    _queue_chunks(meta.batch_id, missing)
    logger.warning("stalled batch chunks queued again", extra={"batch_id": meta.batch_id, "chunks": len(missing)})


def _row_secret(batch_id: str, n: int) -> bytes:
    # The random half of the row's receipt code, deterministic per row so that a redelivered chunk
    # finds its own earlier registration; keyed with the service's secret, so as unguessable.
    return hmac.new(hmac_key(), f"{batch_id}:{n}".encode(), hashlib.sha256).digest()[:16]
