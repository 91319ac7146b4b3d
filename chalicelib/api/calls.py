"""What a declared route (``routes.py``) does around its view when it is called: the staff check
and the audit entry, the replay of a key its service keeps, the query string as a plain dict."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Request, Response

from chalicelib import metrics
from chalicelib.api import idempotency
from chalicelib.api.auth import principal_of
from chalicelib.api.errors import Forbidden, Unauthorized, error_response
from chalicelib.api.http import api_view
from chalicelib.domain.errors import Overloaded

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.domain.names import Role
    from chalicelib.domain.staff import Principal


def replayed_by_service(scope: str, key: str, data: Any, run: Callable[[str], BaseModel]) -> BaseModel:
    """A keyed request whose service keeps the key's fingerprint with its write: what this container
    answered the key with before comes first (another body 422, a 409 again), then the service."""
    from chalicelib.domain.rules import idempotency_fingerprint

    fingerprint = idempotency_fingerprint(scope, key, data)
    idempotency.replay_or_refuse(fingerprint)
    try:
        answer = run(fingerprint)
    except idempotency.REPLAYED_ERRORS as refused:
        idempotency.remember(fingerprint, refused)
        raise
    idempotency.remember(fingerprint)
    return answer


def staff_only(
    bp: Blueprint,
    roles: tuple[Role, ...],
    audit: str,
    handle: Callable[[Principal | None, dict[str, str]], Response],
) -> Callable[..., Response]:
    """Check the caller and its role, run the view (errors in the envelope), record it in the audit trail."""
    inner = api_view(handle)

    def wrapper(**params: str) -> Response:
        try:
            principal = principal_of(bp.current_request.context)
        except (Unauthorized, Overloaded) as exc:
            return error_response(exc)
        allowed = principal.may(*roles)
        response = inner(principal, params) if allowed else error_response(Forbidden())
        try:
            from chalicelib.services import staff as staff_service

            staff_service.audit(principal, audit, response.status_code, _target(params, response))
        except Exception:  # noqa: BLE001 - the action happened; say so, and flag the gap
            _logger().error("audit entry not written", extra={"action": audit, "token_id": principal.token_id})
            metrics.add("AuditWriteFailed")
        return response

    # An unverified caller (the token table throttled) gets through the authorizer; only this
    # wrapper stops it, so a test checks that every route behind the authorizer has it.
    wrapper.checks_staff = True  # type: ignore[attr-defined]
    return wrapper


def query_of(request: Request) -> dict[str, str]:
    params: Any = request.query_params or {}
    return {name: params[name] for name in params}


@functools.cache
def _logger() -> Any:
    # Created on first use: Powertools' logging is not needed to register routes.
    from aws_lambda_powertools import Logger

    return Logger(child=True)


def _target(params: dict[str, str], response: Response) -> str | None:
    """What the action was about: the path's ID, else the ID the response created. A registration
    is named by its keyed reference (``staff.registration_target``): its receipt code is a secret,
    and the trail keeps no personal data."""
    from chalicelib.services.staff import registration_target

    if params:
        return ",".join(
            registration_target(v) if k == "registration_id" else f"{k}={v}" for k, v in sorted(params.items())
        )
    body = response.body
    if isinstance(body, str) and body.startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            return None
        for key in ("registration_id", "batch_id", "channel"):
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return registration_target(data[key]) if key == "registration_id" else f"{key}={data[key]}"
    return None
