"""HTTP middleware: responses Chalice makes itself (405, 415, 500) get the contract's envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib.api.errors import InternalError, MethodNotAllowed, UnsupportedMediaType, error_response

_CHALICE_ERRORS = {405: MethodNotAllowed, 415: UnsupportedMediaType, 500: InternalError}


def contract_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    response = get_response(event)
    kind = _CHALICE_ERRORS.get(response.status_code)
    if kind is not None and isinstance(response.body, dict) and "Code" in response.body:
        replaced = error_response(kind())
        if "Allow" in response.headers:
            replaced.headers["Allow"] = response.headers["Allow"]
        return replaced
    return response
