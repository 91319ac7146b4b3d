"""Public endpoints of contract v1.1: phone verification on the app channel, receipt codes by SMS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import InvalidCode, NotFound, TooManyAttempts
from chalicelib.domain.names import VERIFICATION_ID_PATTERN

if TYPE_CHECKING:
    from chalicelib.domain.verification import (
        ConfirmRequest,
        ReceiptRequest,
        ReceiptSent,
        VerificationRequest,
        VerificationStarted,
        VerificationToken,
    )

verification = Blueprint(__name__)


@route(
    verification,
    "POST",
    "/v1/verifications",
    status=202,
    body="chalicelib.domain.verification:VerificationRequest",
    response="chalicelib.domain.verification:VerificationStarted",
    errors=(TooManyAttempts,),
    links={"confirm": Link("public.confirm_verification", {"verification_id": "$response.body#/verification_id"})},
    summary="Send a 6-digit code to a phone by SMS (one a minute, five a day per phone)",
)
def start_verification(body: VerificationRequest) -> VerificationStarted:
    from chalicelib.services import verifications

    return verifications.start(body)


@route(
    verification,
    "POST",
    "/v1/verifications/{verification_id}/confirm",
    body="chalicelib.domain.verification:ConfirmRequest",
    response="chalicelib.domain.verification:VerificationToken",
    errors=(NotFound, InvalidCode),
    path_schemas={"verification_id": {"type": "string", "pattern": VERIFICATION_ID_PATTERN}},
    summary="Trade the code for a verification token (24 hours); 5 wrong codes spend the verification",
)
def confirm_verification(verification_id: str, body: ConfirmRequest) -> VerificationToken:
    from chalicelib.services import verifications

    return verifications.confirm(verification_id, body)


@route(
    verification,
    "POST",
    "/v1/registrations/receipt",
    status=202,
    body="chalicelib.domain.verification:ReceiptRequest",
    response="chalicelib.domain.verification:ReceiptSent",
    summary="Send the receipt code by SMS to the phone of the person's active registration (always 202); at most"
    " 3 SMS a registration a day, and no birth-date lockout (v1.2)",
)
def receipt(body: ReceiptRequest) -> ReceiptSent:
    from chalicelib.services import receipts

    return receipts.request(body)
