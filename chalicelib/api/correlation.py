"""HTTP middleware: each request's log lines, and the jobs it queues, carry its correlation ID."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib import logs


def correlated(event: Any, get_response: Callable[[Any], Response]) -> Response:
    logs.set_correlation_id(logs.request_correlation_id(event.headers, event.context))
    try:
        return get_response(event)
    finally:
        logs.set_correlation_id(None)
