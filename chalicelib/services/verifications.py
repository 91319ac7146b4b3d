"""Phone verification on the app channel: a code by SMS, then a signed token the registration carries.

The code is a keyed hash of the verification's ID (see ``domain.verification``): it is stored
nowhere, not even as a hash, and the SMS worker computes it again to send it. The token is signed
with a key of its own and checked without any read, so verification adds no AWS call to the
registration request.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings, verification_keys
from chalicelib.domain import verification
from chalicelib.domain.errors import InvalidCode, NotFound, PhoneNotVerified, TooManyAttempts
from chalicelib.domain.jobs import VerificationSms
from chalicelib.domain.models import iso_utc
from chalicelib.domain.verification import (
    ConfirmRequest,
    VerificationRequest,
    VerificationStarted,
    VerificationToken,
)
from chalicelib.notify.factory import sms
from chalicelib.store.factory import stores
from chalicelib.store.types import PendingVerification

logger = Logger(child=True)
_VERIFICATION_ID = re.compile(verification.VERIFICATION_ID_PATTERN)


def start(req: VerificationRequest) -> VerificationStarted:
    """Send a code to the phone. Raises TooManyAttempts (one a minute, five a day per phone)."""
    now = int(time.time())
    st = stores()
    phone_key = verification.phone_hash(req.phone, verification_keys())
    verification_id = verification.new_verification_id(phone_key)
    # The send limit and the verification in one write to the phone's item.
    wait = st.verifications.start(phone_key, req.phone, verification_id, now)
    if wait:
        metrics.add("VerificationRefused", reason="send_limit")
        raise TooManyAttempts(retry_after=wait)
    st.sms_jobs.send(VerificationSms(verification_id=verification_id).model_dump(mode="json"))
    metrics.add("VerificationStarted")
    # No verification ID in the logs: its first half is the phone's keyed hash, which would link a
    # phone's log lines together.
    logger.info("verification started")
    return VerificationStarted(
        verification_id=verification_id,
        expires_in=verification.CODE_TTL_SECONDS,
        resend_after=verification.RESEND_AFTER_SECONDS,
    )


def confirm(verification_id: str, req: ConfirmRequest) -> VerificationToken:
    """A token for the verification's phone, good for 24 hours.

    Raises NotFound (no such verification), InvalidCode (wrong or expired code, or spent by
    ``WRONG_CODES_ALLOWED`` wrong ones: every try counts with a conditional write, so concurrent
    guesses cannot get past the limit).
    """
    if not _VERIFICATION_ID.fullmatch(verification_id):
        raise NotFound()  # nothing else was ever issued: no read for it
    now = int(time.time())
    keys = verification_keys()
    right = verification.same_code(req.code, verification_id, keys)
    outcome, phone = stores().verifications.settle(verification_id, right, now)
    if outcome == "unknown":
        raise NotFound()
    if outcome != "ok" or phone is None:
        metrics.add("VerificationRefused", reason=outcome)
        raise InvalidCode()
    expires = now + verification.TOKEN_TTL_SECONDS
    metrics.add("VerificationConfirmed")
    logger.info("verification confirmed")
    return VerificationToken(
        verification_token=verification.sign_token(phone, expires, keys),
        phone=phone,
        expires_at=iso_utc(datetime.fromtimestamp(expires, UTC)),
    )


def require_verified(phone: str, token: str | None) -> None:
    """When verification is required, the token must be ours, live, and for this phone.

    No read at all: the signature says it all. Raises PhoneNotVerified.
    """
    if not get_settings().phone_verification:
        return
    if not verification.token_valid(token, phone, int(time.time()), verification_keys()):
        metrics.add("VerificationRefused", reason="token")
        raise PhoneNotVerified()


def pending_of(verification_ids: list[str]) -> dict[str, PendingVerification | None]:
    """What ``send_code`` needs for a batch of SMS jobs, read at once (the IDs must be well formed)."""
    return stores().verifications.pending_many([i for i in verification_ids if _VERIFICATION_ID.fullmatch(i)])


def send_code(verification_id: str, known: Mapping[str, PendingVerification | None] | None = None) -> None:
    """The SMS worker's half: send the code while it is still good. ``known``: the batch's
    verifications read beforehand (``pending_of``); one not in it is read here. Raises SmsUnavailable."""
    if known is not None and verification_id in known:
        pending = known[verification_id]
    else:
        pending = stores().verifications.pending(verification_id)
    if pending is None or pending.code_expires <= int(time.time()):
        return  # expired before the SMS could go: a new code must be asked for
    code = verification.code_for(verification_id, verification_keys())
    # The gateway keeps one message per key: a job delivered twice is one SMS.
    key = hashlib.sha256(f"verification:{verification_id}".encode()).hexdigest()
    sms().send(pending.phone, verification.verification_text(code), key)
    # By stage: the SMS budget's alarm (infra/template.yaml, SmsBudgetAlarm) adds these up per hour.
    metrics.add("VerificationSms", stage=get_settings().stage)
