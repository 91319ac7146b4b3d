"""Vaccination sites: staff check people in (receipt code typed or scanned, or national ID)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.auth import staff_token, staff_view
from chalicelib.api.http import JSON_TYPES, json_body, parse, respond
from chalicelib.domain.doses import CheckInRequest
from chalicelib.domain.staff import Principal, Role
from chalicelib.services import doses

site = Blueprint(__name__)


@site.route("/v1/site/check-ins", methods=["POST"], authorizer=staff_token, content_types=list(JSON_TYPES))
@staff_view(site, "site.check_in", Role.SITE)
def check_in(principal: Principal) -> Response:
    body = parse(CheckInRequest, json_body(site.current_request))
    return respond(doses.check_in(body))
