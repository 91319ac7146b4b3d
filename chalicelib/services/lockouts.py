"""Wrong birth dates lock a national ID (lookups) or a registration (cancels).

Every birth-date comparison first takes an attempt: a conditional increment below
``LOCKOUT_FAILURES`` in the key's hour. Taken, the comparison runs; refused, the request is 429
without comparing. A wrong date keeps its attempt; a right one (or a request that failed before it
could compare) gives it back afterwards, so a person who checks their registration often is never
locked out by their own successes. Giving back only ever returns the request's own attempt, in the
window it was taken in, so however many requests run at once:

- at most ``LOCKOUT_FAILURES`` wrong comparisons happen per key in an hour, and at any instant at
  most ``LOCKOUT_FAILURES`` comparisons are under way or have failed;
- a right date racing wrong ones is compared (and answered) only if fewer than
  ``LOCKOUT_FAILURES`` attempts were taken before it.

After the fifth failure every request, the right birth date included, gets 429 until the hour is
over. Below the limit a failure looks exactly like "not found". The counters are keyed by keyed
hashes, never by the ID. Receipt requests are not locked (v1.2): see ``receipts``.
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
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores

T = TypeVar("T")


def of_person(national_id: str) -> str:
    """The lockout key of a (normalised) national ID: its HMAC, as the people table keys it."""
    return "id#" + rules.person_key(national_id, hmac_key())


def of_registration(registration_id: str) -> str:
    # Any path value is hashed (a lone surrogate too): the counter's key is fixed-size and plain.
    return "reg#" + hashlib.sha256(registration_id.encode("utf-8", "surrogatepass")).hexdigest()


def guarded(key: str, action: Callable[[], T]) -> T:
    """Run ``action`` (it compares a birth date) on one of ``key``'s attempts; its NotFound keeps
    the attempt, anything else gives it back.

    Raises TooManyAttempts (no attempt left: nothing compared), NotFound, and what ``action`` raises.
    """
    attempts = stores().attempts
    window, wait = attempts.take(key, int(time.time()))
    if wait:
        metrics.add("LockedOut")
        raise TooManyAttempts(retry_after=wait)
    failed = False
    try:
        return action()
    except NotFound:
        # Whether the ID is unknown or the birth date wrong, it counts: else a lockout would tell
        # which national IDs are registered.
        failed = True
        raise
    finally:
        # Anything else: the right date was compared (a later step may have failed), or nothing was
        # (a store refused). A failed give-back leaves the attempt counted for the hour: the safe side.
        if not failed:
            best_effort(lambda: attempts.give_back(key, window), "attempt given back")
