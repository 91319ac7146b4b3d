"""Staff authentication: a Chalice token authorizer, and the caller it hands to staff routes.

The authorizer answers only "is this a live token": an unknown, revoked, expired or malformed token raises
``Unauthorized`` (API Gateway turns that exact message into 401; the local stack does the same), a
live one is allowed on every route with its role and label in the request context. Each staff
route's declaration (``routes.py``) then checks the role, answers 403 ``forbidden`` in the contract's
envelope, and records the action in the audit trail. Results are not cached (``ttl_seconds=0``):
a revoked token stops at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib import logs
from chalicelib.api.errors import Unauthorized
from chalicelib.domain.errors import Overloaded

if TYPE_CHECKING:
    from chalicelib.domain.staff import Principal

auth = Blueprint(__name__)


@auth.authorizer(ttl_seconds=0, name="staff_token")
def staff_token(request: AuthRequest) -> AuthResponse:
    # Imported here: a public request's cold start needs neither (nor the staff table's store).
    from chalicelib.domain.staff import bearer_token
    from chalicelib.services import staff as staff_service

    logs.service_logger()  # an authorizer is its own entry point (no middleware): see logs.py
    token = bearer_token(request.token)
    try:
        principal = staff_service.authenticate(token) if token else None
    except Overloaded:
        # The token table is throttled. An authorizer can only deny (401) or fail (a bare 500 from
        # API Gateway), so the request goes on unverified and its view answers 429 in the envelope.
        return AuthResponse(routes=["*"], principal_id="unverified", context={"unverified": "overloaded"})
    if principal is None:
        raise Unauthorized()
    return AuthResponse(
        routes=["*"],
        principal_id=principal.token_id,
        context={
            "token_id": principal.token_id,
            "role": principal.role.value,
            "label": principal.label,
            "expires_at": principal.expires_at.isoformat(),
        },
    )


def principal_of(context: dict[str, Any], now: datetime | None = None) -> Principal:
    """The caller the authorizer verified. Raises Unauthorized, or Overloaded if it could not check.

    The expiry is checked again here: a token that expires between the authorizer and the view, or
    an authorizer answer kept in a cache, must not outlive the token.
    """
    from chalicelib.domain.staff import Principal, Role

    authorizer = context.get("authorizer") or {}
    if authorizer.get("unverified"):
        raise Overloaded(retry_after=1)
    try:
        principal = Principal(
            token_id=authorizer["token_id"],
            role=Role(authorizer["role"]),
            label=authorizer["label"],
            expires_at=datetime.fromisoformat(authorizer["expires_at"]),
        )
    except (KeyError, ValueError, TypeError):
        raise Unauthorized() from None
    if principal.expires_at.tzinfo is None or (now or datetime.now(UTC)) >= principal.expires_at:
        raise Unauthorized()
    return principal
