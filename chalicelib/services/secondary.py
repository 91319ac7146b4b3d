"""Secondary writes: what follows a decision already made (counters, slot records, a released phone
share). A failure is logged and left to reconciliation; it never fails the request or job."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger

logger = Logger(child=True)


def best_effort(action: Callable[[], object], what: str) -> None:
    """Run ``action``; if it fails, log ``what`` failed (the error's type only, never its text)."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the decision stands; reconciliation repairs the rest
        logger.warning("secondary write failed", extra={"what": what, "error_type": type(exc).__name__})
