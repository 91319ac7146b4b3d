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
from chalicelib.logs import code_ref
from chalicelib.notify.factory import sms
from chalicelib.services import lockouts, lookups
from chalicelib.store.factory import stores

logger = Logger(child=True)


def request(req: LookupRequest) -> ReceiptSent:
    """Always "sent": nothing tells whether the person is registered or the birth date right.

    Not subject to the birth-date lockout (v1.2): the code only ever goes to the registration's own
    phone, so a guess learns nothing, and a wrong date neither counts nor is refused by a lock (else
    five wrong dates an hour would keep the owner from their code). Instead at most
    ``RECEIPTS_PER_DAY`` SMS per registration a day, one a minute, counted with a conditional write,
    so the endpoint cannot be used to flood someone's phone.
    """
    try:
        found = lookups.lookup(req)
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
    logger.info("receipt code sent", extra={"ref": code_ref(registration_id)})
