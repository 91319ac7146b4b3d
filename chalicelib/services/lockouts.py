"""Wrong birth dates lock a national ID (lookups and receipt requests) or a registration (cancels).

A failure is counted only with a conditional write under the limit, so however many guesses run
at once, at most ``LOCKOUT_FAILURES`` of them are answered "not found" in an hour; every request
after that, the right birth date included, gets 429 until the hour is over. Below the limit a
failure looks exactly like "not found". The counters are keyed by keyed hashes, never by the ID.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from chalicelib import metrics
from chalicelib.config import hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import NotFound, TooManyAttempts
from chalicelib.store.factory import stores

T = TypeVar("T")


def of_person(national_id: str) -> str:
    """The lockout key of a (normalised) national ID: its HMAC, as the people table keys it."""
    return "id#" + rules.person_key(national_id, hmac_key())


def of_registration(registration_id: str) -> str:
    # Any path value is hashed (a lone surrogate too): the counter's key is fixed-size and plain.
    return "reg#" + hashlib.sha256(registration_id.encode("utf-8", "surrogatepass")).hexdigest()


def guarded(key: str, action: Callable[[], T]) -> T:
    """Run ``action`` unless ``key`` is locked; its NotFound counts as a failure against ``key``.

    Raises TooManyAttempts (locked, or the failure found the limit reached), NotFound.
    """
    attempts = stores().attempts
    wait = attempts.locked_for(key, int(time.time()))
    if wait:
        metrics.add("LockedOut")
        raise TooManyAttempts(retry_after=wait)
    try:
        return action()
    except NotFound:
        # Whether the ID is unknown or the birth date wrong, it counts: else a lockout would tell
        # which national IDs are registered.
        wait = attempts.fail(key, int(time.time()))
        if wait:
            metrics.add("LockedOut")
            raise TooManyAttempts(retry_after=wait) from None
        raise
