"""HTTP middleware: responses Chalice makes itself (405, 415, 500) get the contract's envelope, and
every response the security headers of the contract (v1.1 "Hygiene rules")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib.api.errors import InternalError, MethodNotAllowed, UnsupportedMediaType, error_response

_CHALICE_ERRORS = {405: MethodNotAllowed, 415: UnsupportedMediaType, 500: InternalError}
# Browsers that once saw the service over HTTPS never try plain HTTP to it again (two years).
HSTS = "max-age=63072000; includeSubDomains"


def contract_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    response = get_response(event)
    kind = _CHALICE_ERRORS.get(response.status_code)
    if kind is not None and isinstance(response.body, dict) and "Code" in response.body:
        replaced = error_response(kind())
        if "Allow" in response.headers:
            replaced.headers["Allow"] = response.headers["Allow"]
        response = replaced
    # API answers are about one person: no browser or proxy cache may keep them. Pages and their
    # assets say how they may be cached themselves (pages.py).
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Strict-Transport-Security"] = HSTS
    return response
