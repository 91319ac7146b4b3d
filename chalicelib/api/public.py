"""Public endpoints: no token. Each view validates, calls one service function, returns its model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import (
    AdmissionRequired,
    AlreadyRegistered,
    ChannelClosed,
    NotEligible,
    NotFound,
    PhoneLimitReached,
    PhoneNotVerified,
    RegistrationFull,
    TooManyAttempts,
)
from chalicelib.domain.names import Channel

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.domain.models import CampaignView, CancelRequest, Health, LookupRequest, RegistrationView
    from chalicelib.domain.verification import AppRegistrationRequest

public = Blueprint(__name__)

# What a registration can answer besides 400, on every channel.
REGISTRATION_ERRORS = (NotEligible, AlreadyRegistered, RegistrationFull, ChannelClosed)
# From a new registration to what its person may do next (a stateful client follows these).
THE_PERSON = {"national_id": "$request.body#/national_id", "birth_date": "$request.body#/birth_date"}
THE_REGISTRATION = {"registration_id": "$response.body#/registration_id"}
REGISTRATION_LINKS = {
    "read": Link("public.get_registration", THE_REGISTRATION),
    "cancel": Link("public.cancel", THE_REGISTRATION, {"birth_date": "$request.body#/birth_date"}),
    "lookup": Link("public.lookup", {}, THE_PERSON),
    "receipt": Link("public.receipt", {}, THE_PERSON),
    # At the vaccination site, the receipt code of the answer (409 not_due until an appointment is given)
    "check_in": Link("site.check_in", {}, {"registration_id": "$response.body#/registration_id"}),
}


@route(public, "GET", "/v1/health", response="chalicelib.domain.models:Health", summary="Liveness")
def health() -> Health:
    from chalicelib.domain.models import Health

    return Health(status="ok")


@route(public, "GET", "/v1/openapi.json", summary="This document (OpenAPI 3.1)")
def openapi() -> Any:
    from chalicelib.api.openapi import document

    return document()


@route(
    public,
    "GET",
    "/v1/campaign",
    response="chalicelib.domain.models:CampaignView",
    summary="Places left and channel states",
)
def campaign() -> CampaignView:
    from chalicelib.services import campaign as campaign_service

    return campaign_service.view()


@route(
    public,
    "POST",
    "/v1/registrations",
    status=201,
    body="chalicelib.domain.verification:AppRegistrationRequest",
    response="chalicelib.domain.models:RegistrationView",
    errors=(*REGISTRATION_ERRORS, PhoneNotVerified, PhoneLimitReached, AdmissionRequired),
    idempotent=Channel.APP.value,
    replayed_by_service=True,
    links=REGISTRATION_LINKS,
    summary="Register through the app (with the phone's verification_token unless verification is off, and its"
    " admission_token while the waiting room is on)",
)
def register(body: AppRegistrationRequest, fingerprint: str | None = None) -> RegistrationView:
    # After the body's 400s, and a closed channel still answers 403 first: the channel states are
    # read here only for a token that fails (the registration reads them with the person's item).
    # A replayed Idempotency-Key comes here too (its tokens are checked again: no read, the signatures say it).
    from chalicelib.services import campaign as campaign_service
    from chalicelib.services import registrations, verifications, waiting_room

    try:
        verifications.require_verified(body.phone, body.verification_token)
        waiting_room.require_admitted(body.phone, body.admission_token)
    except (PhoneNotVerified, AdmissionRequired):
        if not campaign_service.channel_states()[Channel.APP.value]:
            raise ChannelClosed() from None
        raise
    try:
        return registrations.register(body, Channel.APP, None, fingerprint=fingerprint)
    except RegistrationFull:
        waiting_room.note_full()
        raise


@route(
    public,
    "GET",
    "/v1/registrations/{registration_id}",
    response="chalicelib.domain.models:RegistrationView",
    errors=(NotFound,),
    summary="Read a registration",
)
def get_registration(registration_id: str) -> RegistrationView:
    from chalicelib.services import lookups

    return lookups.get(registration_id)


@route(
    public,
    "POST",
    "/v1/registrations/lookup",
    body="chalicelib.domain.models:LookupRequest",
    response="chalicelib.domain.verification:LookupView",
    errors=(NotFound, TooManyAttempts),
    summary="Find a person's active (else latest) registration, without its receipt code; a wrong birth date"
    " is not found, and 5 failures an hour lock the national ID (429)",
)
def lookup(body: LookupRequest) -> BaseModel:
    from chalicelib.domain.verification import lookup_view
    from chalicelib.services import lockouts, lookups

    return lookup_view(lockouts.guarded(lockouts.of_person(body.national_id), lambda: lookups.lookup(body)))


@route(
    public,
    "POST",
    "/v1/registrations/{registration_id}/cancel",
    body="chalicelib.domain.models:CancelRequest",
    response="chalicelib.domain.models:RegistrationView",
    errors=(NotFound, TooManyAttempts),
    summary="Cancel a registration (again 200 if already cancelled); a wrong birth date is not found, and 5"
    " failures an hour lock the registration (429)",
)
def cancel(registration_id: str, body: CancelRequest) -> RegistrationView:
    from chalicelib.services import cancellations, lockouts

    key = lockouts.of_registration(registration_id)
    return lockouts.guarded(key, lambda: cancellations.cancel(registration_id, body.birth_date))
