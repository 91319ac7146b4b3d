"""Vaccination sites: staff check people in (receipt code typed or scanned, or national ID)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.routes import route
from chalicelib.domain.errors import AlreadyDone, NotConfirmed, NotDue, NotFound
from chalicelib.domain.names import Role

if TYPE_CHECKING:
    from chalicelib.domain.models import CheckIn, CheckInRequest

site = Blueprint(__name__)


@route(
    site,
    "POST",
    "/v1/site/check-ins",
    body="chalicelib.domain.models:CheckInRequest",
    response="chalicelib.domain.models:CheckIn",
    roles=(Role.SITE,),
    audit="site.check_in",
    errors=(NotFound, NotConfirmed, AlreadyDone, NotDue),
    summary="Record the person's next dose as given today (by receipt code, typed or scanned, or national ID)",
)
def check_in(body: CheckInRequest) -> CheckIn:
    from chalicelib.services import doses

    return doses.check_in(body)
