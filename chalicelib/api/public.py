"""Public endpoints: no token. Each view validates, calls one service function, returns its model."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.openapi import document
from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import AlreadyRegistered, ChannelClosed, NotEligible, NotFound, RegistrationFull
from chalicelib.domain.models import (
    CampaignView,
    CancelRequest,
    Channel,
    Health,
    LookupRequest,
    RegistrationRequest,
    RegistrationView,
)
from chalicelib.services import registrations

public = Blueprint(__name__)

# What a registration can answer besides 400, on every channel.
REGISTRATION_ERRORS = (NotEligible, AlreadyRegistered, RegistrationFull, ChannelClosed)
# From a new registration to what its person may do next (a stateful client follows these).
THE_REGISTRATION = {"registration_id": "$response.body#/registration_id"}
REGISTRATION_LINKS = {
    "read": Link("public.get_registration", THE_REGISTRATION),
    "cancel": Link("public.cancel", THE_REGISTRATION, {"birth_date": "$request.body#/birth_date"}),
    "lookup": Link(
        "public.lookup", {}, {"national_id": "$request.body#/national_id", "birth_date": "$request.body#/birth_date"}
    ),
    # At the vaccination site, the receipt code of the answer (409 not_due until an appointment is given)
    "check_in": Link("site.check_in", {}, {"registration_id": "$response.body#/registration_id"}),
}


@route(public, "GET", "/v1/health", response=Health, summary="Liveness")
def health() -> Health:
    return Health(status="ok")


@route(public, "GET", "/v1/openapi.json", summary="This document (OpenAPI 3.1)")
def openapi() -> Any:
    return document()


@route(public, "GET", "/v1/campaign", response=CampaignView, summary="Places left and channel states")
def campaign() -> CampaignView:
    return registrations.campaign()


@route(
    public,
    "POST",
    "/v1/registrations",
    status=201,
    body=RegistrationRequest,
    response=RegistrationView,
    errors=REGISTRATION_ERRORS,
    idempotent=Channel.APP.value,
    links=REGISTRATION_LINKS,
    summary="Register through the app",
)
def register(body: RegistrationRequest) -> RegistrationView:
    return registrations.register(body, Channel.APP, None)


@route(
    public,
    "GET",
    "/v1/registrations/{registration_id}",
    response=RegistrationView,
    errors=(NotFound,),
    summary="Read a registration",
)
def get_registration(registration_id: str) -> RegistrationView:
    return registrations.get(registration_id)


@route(
    public,
    "POST",
    "/v1/registrations/lookup",
    body=LookupRequest,
    response=RegistrationView,
    errors=(NotFound,),
    summary="Find a person's active (else latest) registration; a wrong birth date is not found",
)
def lookup(body: LookupRequest) -> RegistrationView:
    return registrations.lookup(body)


@route(
    public,
    "POST",
    "/v1/registrations/{registration_id}/cancel",
    body=CancelRequest,
    response=RegistrationView,
    errors=(NotFound,),
    summary="Cancel a registration (again 200 if already cancelled); a wrong birth date is not found",
)
def cancel(registration_id: str, body: CancelRequest) -> RegistrationView:
    return registrations.cancel(registration_id, body.birth_date)
