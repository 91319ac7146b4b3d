"""Walk-in counters: staff register people who cannot use the app, on the same path and quota."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.auth import staff_token, staff_view
from chalicelib.api.http import JSON_TYPES
from chalicelib.api.public import register_on
from chalicelib.domain.models import Channel
from chalicelib.domain.staff import Principal, Role

counter = Blueprint(__name__)


@counter.route("/v1/counter/registrations", methods=["POST"], authorizer=staff_token, content_types=list(JSON_TYPES))
@staff_view(counter, "counter.register", Role.COUNTER)
def register(principal: Principal) -> Response:
    return register_on(Channel.COUNTER, principal.label, principal.token_id)
