"""Public endpoints: no token. Each view validates, calls one service function, returns its model."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import idempotency
from chalicelib.api.http import JSON_TYPES, api_view, json_body, parse, respond
from chalicelib.api.openapi import document
from chalicelib.domain.models import CancelRequest, Channel, LookupRequest, RegistrationRequest
from chalicelib.domain.rules import idempotency_fingerprint
from chalicelib.services import registrations

public = Blueprint(__name__)
JSON_IN = list(JSON_TYPES)


@public.route("/v1/health", methods=["GET"])
@api_view
def health() -> Response:
    return respond({"status": "ok"})


@public.route("/v1/openapi.json", methods=["GET"])
@api_view
def openapi() -> Response:
    return respond(document())


@public.route("/v1/campaign", methods=["GET"])
@api_view
def campaign() -> Response:
    return respond(registrations.campaign())


@public.route("/v1/registrations", methods=["POST"], content_types=JSON_IN)
@api_view
def register() -> Response:
    return register_on(Channel.APP, label=None, token_scope="-")  # noqa: S106 - a scope name, not a secret  # nosec B106


def register_on(channel: Channel, label: str | None, token_scope: str) -> Response:
    """The one registration path of every channel (app, counter, employer rows go through it too).

    The Idempotency-Key is kept with the registration itself (no record of its own): a retry with
    the same key and body gets the first answer again, another body 422.
    """
    request = public.current_request
    data = json_body(request)
    body = parse(RegistrationRequest, data)
    key = idempotency.key_of(request)
    if key is None:
        return respond(registrations.register(body, channel, label), status=201)
    fingerprint = idempotency_fingerprint(f"{channel.value}:{token_scope}", key, data)
    idempotency.replay_or_refuse(fingerprint)
    try:
        view = registrations.register(body, channel, label, fingerprint=fingerprint)
    except idempotency.REPLAYED_ERRORS as refused:
        idempotency.remember(fingerprint, refused)
        raise
    idempotency.remember(fingerprint)
    return respond(view, status=201)


@public.route("/v1/registrations/{registration_id}", methods=["GET"])
@api_view
def get_registration(registration_id: str) -> Response:
    return respond(registrations.get(registration_id))


@public.route("/v1/registrations/lookup", methods=["POST"], content_types=JSON_IN)
@api_view
def lookup() -> Response:
    return respond(registrations.lookup(parse(LookupRequest, json_body(public.current_request))))


@public.route("/v1/registrations/{registration_id}/cancel", methods=["POST"], content_types=JSON_IN)
@api_view
def cancel(registration_id: str) -> Response:
    body = parse(CancelRequest, json_body(public.current_request))
    return respond(registrations.cancel(registration_id, body.birth_date))
