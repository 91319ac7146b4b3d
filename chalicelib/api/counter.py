"""Walk-in counters: staff register people who cannot use the app, on the same path and quota."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.public import REGISTRATION_ERRORS, REGISTRATION_LINKS
from chalicelib.api.routes import route
from chalicelib.domain.names import Channel, Role

if TYPE_CHECKING:  # the models the routes name (routes.py imports them when a route first runs)
    from chalicelib.domain.models import RegistrationRequest, RegistrationView
    from chalicelib.domain.staff import Principal

counter = Blueprint(__name__)


@route(
    counter,
    "POST",
    "/v1/counter/registrations",
    status=201,
    body="RegistrationRequest",
    response="RegistrationView",
    roles=(Role.COUNTER,),
    audit="counter.register",
    errors=REGISTRATION_ERRORS,
    idempotent=Channel.COUNTER.value,
    replayed_by_service=True,
    links=REGISTRATION_LINKS,
    summary="Register a walk-in person at a counter (open while the app channel is closed)",
)
def register(body: RegistrationRequest, principal: Principal, fingerprint: str | None = None) -> RegistrationView:
    from chalicelib.services import registrations

    return registrations.register(body, Channel.COUNTER, principal.label, fingerprint=fingerprint)
