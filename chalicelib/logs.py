"""The service's logger, and the correlation ID that follows a request into the jobs it queues.

Every module logs through ``Logger(child=True)``, a child of this one (``POWERTOOLS_SERVICE_NAME``).
A request's correlation ID is put on every log line while it runs (a thread-safe key: the local
server runs requests side by side), sent along with each job message it queues (an SQS message
attribute, so job bodies stay as they are), and put on the job's log lines when it runs.

Receipt codes are secrets (v1.1) and never logged: ``code_ref`` names a registration on a log line.

The logger is made on first use, not at import: ``import app`` (every cold start) needs none of
Powertools. Every entry point makes it before its code runs (``configured``, app.py's middleware for
every event; the authorizer), so the child loggers always log through it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.config import hmac_key

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

KEY = "correlation_id"
# A caller's own ID is kept when it looks like one; anything else could forge log lines.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


_making = threading.Lock()


@functools.cache
def service_logger() -> Logger:
    """The service's logger (``POWERTOOLS_SERVICE_NAME``), the parent of every ``Logger(child=True)``."""
    # One at a time: two first requests at once (the local server's threads) would otherwise each
    # configure the logger, and every line would be written twice.
    with _making:
        from aws_lambda_powertools import Logger

        return Logger()


def __getattr__(name: str) -> Any:
    if name == "logger":  # ``logs.logger``, as it was when made at import
        return service_logger()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def code_ref(code: str) -> str:
    """How a log line names a registration: the first 12 hex digits of an HMAC-SHA256 of its receipt
    code under the service key. The same code always gives the same ref, so the lines about one
    registration can be followed, and an operator holding the key can check a code against it; the
    line alone tells nobody the code. Never raises (a log line must not fail the work it reports):
    without the key, the ref is ``"-"``.
    """
    try:
        key = hmac_key()
    except Exception:  # noqa: BLE001 - the secret could not be read: log without the ref
        return "-"
    return hmac.new(key, b"log-ref\x00" + code.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12]


def configured(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Middleware for every event: the service's logger exists before the handler logs."""
    service_logger()
    return get_response(event)


def request_correlation_id(headers: Any, context: dict[str, Any]) -> str:
    """The caller's ``X-Correlation-Id`` when sane, else API Gateway's request ID, else a new one."""
    given = headers.get("x-correlation-id") if headers is not None else None
    if isinstance(given, str) and _SANE.match(given):
        return given
    request_id = context.get("requestId")
    return request_id if isinstance(request_id, str) and _SANE.match(request_id) else str(uuid.uuid4())


def set_correlation_id(value: str | None) -> None:
    """Put ``value`` on this thread's log lines from now on (None takes it off)."""
    if value:
        service_logger().thread_safe_append_keys(**{KEY: value})
    else:
        service_logger().thread_safe_remove_keys([KEY])


def correlation_id() -> str | None:
    found = service_logger().thread_safe_get_current_keys().get(KEY)
    return found if isinstance(found, str) else None
