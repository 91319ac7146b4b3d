"""Walk-in counters: staff register people who cannot use the app, on the same path and quota, and
act for the person in front of them (ID card seen): reclaim a national ID, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.public import REGISTRATION_ERRORS, REGISTRATION_LINKS
from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import NotEligible, NotFound
from chalicelib.domain.names import Channel, Role

if TYPE_CHECKING:
    from chalicelib.domain.models import CounterCancelRequest, RegistrationRequest, RegistrationView
    from chalicelib.domain.staff import Principal

counter = Blueprint(__name__)

# From a counter registration to what the desk may do next for that person: reclaim the ID with the
# same details (a new receipt code), or cancel it.
_THE_BODY = {
    name: f"$request.body#/{name}"
    for name in ("national_id", "first_name", "last_name", "birth_date", "phone", "eligibility", "consent")
}
COUNTER_LINKS = {
    **REGISTRATION_LINKS,
    "reclaim": Link("counter.reclaim", {}, _THE_BODY),
    "cancel_at_counter": Link("counter.cancel", {}, {"national_id": "$request.body#/national_id"}),
}


@route(
    counter,
    "POST",
    "/v1/counter/registrations",
    status=201,
    body="chalicelib.domain.models:RegistrationRequest",
    response="chalicelib.domain.models:RegistrationView",
    roles=(Role.COUNTER,),
    audit="counter.register",
    errors=REGISTRATION_ERRORS,
    idempotent=Channel.COUNTER.value,
    replayed_by_service=True,
    links=COUNTER_LINKS,
    summary="Register a walk-in person at a counter (open while the app channel is closed)",
)
def register(body: RegistrationRequest, principal: Principal, fingerprint: str | None = None) -> RegistrationView:
    from chalicelib.services import registrations

    return registrations.register(body, Channel.COUNTER, principal.label, fingerprint=fingerprint)


@route(
    counter,
    "POST",
    "/v1/counter/reclaims",
    body="chalicelib.domain.models:RegistrationRequest",
    response="chalicelib.domain.models:RegistrationView",
    roles=(Role.COUNTER,),
    audit="counter.reclaim",
    errors=(NotFound, NotEligible),
    links={"read": REGISTRATION_LINKS["read"], "check_in": REGISTRATION_LINKS["check_in"]},
    summary="Reclaim a national ID for the person at the counter: its active registration takes these details"
    " and a new receipt code, keeps its status, place, rank and appointments; the old code answers 404 from now on",
)
def reclaim(body: RegistrationRequest, principal: Principal) -> RegistrationView:
    from chalicelib.services import reclaims

    return reclaims.reclaim(body, principal.label)


@route(
    counter,
    "POST",
    "/v1/counter/cancellations",
    body="chalicelib.domain.models:CounterCancelRequest",
    response="chalicelib.domain.models:RegistrationView",
    roles=(Role.COUNTER,),
    audit="counter.cancel",
    errors=(NotFound,),
    summary="Cancel the active registration of the person at the counter; its place goes to reserve rank 1",
)
def cancel(body: CounterCancelRequest) -> RegistrationView:
    from chalicelib.services import reclaims

    return reclaims.cancel(body.national_id)
