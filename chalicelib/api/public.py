"""Public endpoints: no token. Each view validates, calls one service function, returns its model."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import idempotency
from chalicelib.api.http import JSON_TYPES, api_view, json_body, parse, respond
from chalicelib.api.openapi import document
from chalicelib.domain.models import CancelRequest, Channel, LookupRequest, RegistrationRequest
from chalicelib.domain.verification import AppRegistrationRequest, lookup_view
from chalicelib.services import lockouts, registrations, verifications

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
    """The one registration path of every channel (app, counter, employer rows go through it too)."""
    request = public.current_request
    data = json_body(request)
    body = parse(AppRegistrationRequest if channel is Channel.APP else RegistrationRequest, data)
    key = idempotency.key_of(request)

    def action() -> dict[str, Any]:
        if channel is Channel.APP and registrations.channel_states()[channel.value]:
            # After the body's 400s; a closed channel still answers 403 first.
            verifications.require_verified(body.phone, getattr(body, "verification_token", None))
        return {"status": 201, "body": registrations.register(body, channel, label).model_dump(mode="json")}

    if key is None:
        outcome = action()
    else:
        outcome = idempotency.once(f"{channel.value}:{token_scope}", key, data, action, public.lambda_context)
    return respond(outcome["body"], status=outcome["status"])


@public.route("/v1/registrations/{registration_id}", methods=["GET"])
@api_view
def get_registration(registration_id: str) -> Response:
    return respond(registrations.get(registration_id))


@public.route("/v1/registrations/lookup", methods=["POST"], content_types=JSON_IN)
@api_view
def lookup() -> Response:
    body = parse(LookupRequest, json_body(public.current_request))
    found = lockouts.guarded(lockouts.of_person(body.national_id), lambda: registrations.lookup(body))
    return respond(lookup_view(found))


@public.route("/v1/registrations/{registration_id}/cancel", methods=["POST"], content_types=JSON_IN)
@api_view
def cancel(registration_id: str) -> Response:
    body = parse(CancelRequest, json_body(public.current_request))
    key = lockouts.of_registration(registration_id)
    return respond(lockouts.guarded(key, lambda: registrations.cancel(registration_id, body.birth_date)))
