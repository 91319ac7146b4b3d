"""Public endpoints of contract v1.1: phone verification on the app channel, receipt codes by SMS."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import JSON_TYPES, api_view, json_body, parse, respond
from chalicelib.domain.verification import ConfirmRequest, ReceiptRequest, VerificationRequest
from chalicelib.services import receipts, verifications

verification = Blueprint(__name__)
JSON_IN = list(JSON_TYPES)


@verification.route("/v1/verifications", methods=["POST"], content_types=JSON_IN)
@api_view
def start() -> Response:
    body = parse(VerificationRequest, json_body(verification.current_request))
    return respond(verifications.start(body), status=202)


@verification.route("/v1/verifications/{verification_id}/confirm", methods=["POST"], content_types=JSON_IN)
@api_view
def confirm(verification_id: str) -> Response:
    body = parse(ConfirmRequest, json_body(verification.current_request))
    return respond(verifications.confirm(verification_id, body))


@verification.route("/v1/registrations/receipt", methods=["POST"], content_types=JSON_IN)
@api_view
def receipt() -> Response:
    body = parse(ReceiptRequest, json_body(verification.current_request))
    return respond(receipts.request(body), status=202)
