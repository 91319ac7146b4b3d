"""The receipt code (``registration_id``) by SMS, to the phone of the person's active registration."""

from __future__ import annotations

import hashlib
import secrets
import time

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain import verification
from chalicelib.domain.errors import NotFound
from chalicelib.domain.jobs import ReceiptSms
from chalicelib.domain.models import LookupRequest, Status
from chalicelib.domain.verification import ReceiptSent
from chalicelib.notify.factory import sms
from chalicelib.services import lockouts, registrations
from chalicelib.store.factory import stores

logger = Logger(child=True)


def request(req: LookupRequest) -> ReceiptSent:
    """Always "sent" (unless locked out): nothing tells whether the person is registered.

    A wrong birth date counts against the national ID as on lookup. At most one SMS a minute per
    registration, so the endpoint cannot be used to flood someone's phone. Raises TooManyAttempts.
    """
    try:
        found = lockouts.guarded(lockouts.of_person(req.national_id), lambda: registrations.lookup(req))
    except NotFound:
        return ReceiptSent()
    if found.status in (Status.CONFIRMED, Status.RESERVE):
        st = stores()
        if st.attempts.take_receipt(lockouts.of_registration(found.registration_id), int(time.time())):
            # The nonce makes each request its own SMS; a redelivered job is still one.
            job = ReceiptSms(registration_id=found.registration_id, nonce=secrets.token_hex(8)).model_dump(mode="json")
            st.sms_jobs.send(job)
            metrics.add("ReceiptRequested")
    return ReceiptSent()


def send(registration_id: str, nonce: str) -> None:
    """The SMS worker's half. Raises SmsUnavailable."""
    reg = stores().registrations.get(registration_id)
    if reg is None or reg.status is Status.CANCELLED:
        return
    key = hashlib.sha256(f"receipt:{registration_id}:{nonce}".encode()).hexdigest()
    sms().send(reg.phone, verification.receipt_text(registration_id), key)
    metrics.add("ReceiptSms", stage=get_settings().stage)  # by stage: the SMS budget's alarm adds it up
    logger.info("receipt code sent", extra={"registration_id": registration_id})
