"""The waiting room of the app channel (contract v1.2): join the line, read a ticket, read the line
(shared and cacheable), and the admin's figures and pace. With ``WAITING_ROOM=off`` the public
routes answer 404, as v1.1 did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib.api.http import respond
from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import (
    ChannelClosed,
    Conflict,
    NotFound,
    PhoneNotVerified,
    QueueNotOpen,
    RegistrationFull,
)
from chalicelib.domain.names import TICKET_PATTERN, Role

if TYPE_CHECKING:
    from chalicelib.domain.queue import AdminQueueView, AdmitRate, JoinRequest, TicketView

waiting_room = Blueprint(__name__)

THE_TICKET = {"ticket": "$response.body#/ticket"}


@route(
    waiting_room,
    "POST",
    "/v1/queue",
    status=201,
    also=(200,),
    body="chalicelib.domain.queue:JoinRequest",
    response="chalicelib.domain.queue:TicketView",
    errors=(NotFound, PhoneNotVerified, QueueNotOpen, RegistrationFull, ChannelClosed),
    links={"read": Link("public.queue_ticket", THE_TICKET)},
    summary="Join the line with the phone's verification_token (201; the same phone again: 200, the same ticket)",
)
def join_queue(body: JoinRequest) -> TicketView | Response:
    from chalicelib.services import waiting_room as service

    view, created = service.join(body)
    return view if created else respond(view, 200)


@route(
    waiting_room,
    "GET",
    "/v1/queue/{ticket}",
    response="chalicelib.domain.queue:TicketView",
    errors=(NotFound,),
    path_schemas={"ticket": {"type": "string", "pattern": TICKET_PATTERN}},
    summary="Where a ticket stands; once admitted, its admission_token (until admitted_until)",
)
def queue_ticket(ticket: str) -> TicketView:
    from chalicelib.services import waiting_room as service

    return service.ticket(ticket)


@route(
    waiting_room,
    "GET",
    "/v1/queue",
    response="chalicelib.domain.queue:QueueView",
    errors=(NotFound,),
    summary="The line, the same for everyone (cacheable for a few seconds): ahead = position - serving",
)
def queue() -> Response:
    from chalicelib.services import waiting_room as service

    return respond(service.overview(), 200, {"Cache-Control": f"public, max-age={service.PUBLIC_MAX_AGE}"})


@route(
    waiting_room,
    "GET",
    "/v1/admin/queue",
    response="chalicelib.domain.queue:AdminQueueView",
    roles=(Role.ADMIN,),
    audit="admin.queue.read",
    summary="The line's figures: joined, admitted, waiting, the pace, the oldest wait",
)
def admin_queue() -> AdminQueueView:
    from chalicelib.services import waiting_room as service

    return service.admin_view()


@route(
    waiting_room,
    "PUT",
    "/v1/admin/queue",
    body="chalicelib.domain.queue:AdmitRate",
    response="chalicelib.domain.queue:AdminQueueView",
    roles=(Role.ADMIN,),
    audit="admin.queue.set",
    errors=(Conflict,),
    summary="Change the pace live: households admitted a minute (0 pauses the line)",
)
def set_admit_rate(body: AdmitRate) -> AdminQueueView:
    from chalicelib.services import waiting_room as service

    return service.set_rate(body.admit_per_minute)
