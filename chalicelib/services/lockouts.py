"""Birth-date comparisons are limited per national ID (lookups) or registration (cancels, data, erasure).

Every birth-date comparison first takes an attempt: a conditional increment below
``LOCKOUT_FAILURES`` in the key's hour. Taken, the comparison runs; refused, the request is 429
without comparing. Every attempt taken stays counted for the hour, a right date's too (contract
v1.2: at most five comparisons per key an hour, exact under concurrency). A right date that gave
its attempt back would let a sixth comparison run in a burst; the guesses it allows would be the
same, but the contract counts comparisons, and a person rarely checks five times in an hour.

So however many requests run at once, at most ``LOCKOUT_FAILURES`` comparisons happen per key in
an hour, and a right date racing wrong ones is compared (and answered) only if fewer than
``LOCKOUT_FAILURES`` attempts were taken before it. Then every request, the right birth date
included, gets 429 until the hour is over. Below the limit a failure looks exactly like "not
found". The counters are keyed by keyed hashes, never by the ID. Receipt requests are not locked
(v1.2): see ``receipts``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TypeVar

from chalicelib import metrics
from chalicelib.config import hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import TooManyAttempts
from chalicelib.store.factory import stores

T = TypeVar("T")


def of_person(national_id: str) -> str:
    """The lockout key of a (normalised) national ID: its HMAC, as the people table keys it."""
    return "id#" + rules.person_key(national_id, hmac_key())


def of_registration(registration_id: str) -> str:
    # Any path value is hashed (a lone surrogate too): the counter's key is fixed-size and plain.
    return "reg#" + hashlib.sha256(registration_id.encode("utf-8", "surrogatepass")).hexdigest()


def guarded(key: str, action: Callable[[], T]) -> T:
    """Run ``action`` (it compares a birth date) on one of ``key``'s attempts, which stays spent.

    Raises TooManyAttempts (no attempt left: nothing compared), NotFound, and what ``action`` raises.
    """
    wait = stores().attempts.take(key, int(time.time()))
    if wait:
        metrics.add("LockedOut")
        raise TooManyAttempts(retry_after=wait)
    # Whether the ID is unknown or the birth date wrong, a NotFound looks the same: else a lockout
    # would tell which national IDs are registered.
    return action()
