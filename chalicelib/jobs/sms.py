"""The SMS queue's messages: appointment, verification code and receipt code texts."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.domain.jobs import JOB, AppointmentSms, ReceiptSms, VerificationSms
from chalicelib.jobs.queue import Handlers, handle_batch
from chalicelib.services import appointments, receipts, verifications


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The batch's verification codes: their phones read in one request, not one each.
    known = verifications.pending_of(_verification_ids(event))
    handlers = (
        Handlers()
        .on(AppointmentSms, lambda job, _: appointments.send_sms(job.registration_id))
        .on(VerificationSms, lambda job, _: verifications.send_code(job.verification_id, known))
        .on(ReceiptSms, lambda job, _: receipts.send(job.registration_id, job.nonce))
    )
    return handle_batch(event, context, handlers)


def _verification_ids(event: dict[str, Any]) -> list[str]:
    """The verification IDs of the batch's verification SMS jobs (a body that does not parse is left
    to ``handle_batch``, which sends it to the dead-letter queue)."""
    ids = []
    for record in event.get("Records", []):
        try:
            job = JOB.validate_json(record.get("body", ""))
        except ValidationError:
            continue
        if isinstance(job, VerificationSms):
            ids.append(job.verification_id)
    return ids
