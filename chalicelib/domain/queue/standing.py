"""A ticket's standing at a moment, and the admission token it gives.

A ticket waits until ``serving`` reaches its position, is then admitted for the admission window,
then has expired; a waiting ticket says ``full`` once the line has stopped. The same place and state
give the same standing at the same moment, whoever asks. The admission token binds the phone's keyed
hash (96 bits) to the end of its window and is checked with the key alone, in constant time; its key
is derived from the service's HMAC key under a label of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Literal

from chalicelib.domain.queue.order import GRACE_SECONDS, PHONE_KEY_HEX, PRE_BANDS
from chalicelib.domain.queue.pace import QueueState, admission_time
from chalicelib.domain.verification import signed_subject, signed_token

# After the opening the pre-queue reads its places at about this many a second (half the prod
# stage's throttle), over at most PRE_SPREAD_MAX_SECONDS (well inside an admission's minutes).
PRE_READS_PER_SECOND = 250
PRE_SPREAD_MAX_SECONDS = 600


TicketStatus = Literal["waiting", "admitted", "expired", "full"]


@dataclass(frozen=True)
class Place:
    """Where a ticket stands: its position (None until sequenced) and when it was sequenced."""

    position: int | None
    sequenced_at: float = 0.0


@dataclass(frozen=True)
class Standing:
    status: TicketStatus
    position: int | None
    ahead: int | None
    estimated_wait_s: int | None
    poll_after_s: int
    admitted_until: float | None


def standing(place: Place, state: QueueState, now: float, admission_seconds: float, spread_key: int) -> Standing:
    """A ticket's status at ``now``: waiting until ``serving`` reaches its position, then admitted for
    ``admission_seconds``, then expired; a waiting ticket says ``full`` once the line has stopped.
    ``spread_key`` (``order.spread_key`` of the ticket) spreads the pre-queue's first reads after the
    opening over ``pre_count / PRE_READS_PER_SECOND`` seconds (the stage's throttle takes ~500
    requests a second; the pre-queue may be 100,000 people), band by band in the order of their places."""
    rate = state.segments[-1].rate if state.segments else float(state.rate)
    if place.position is None:
        wait = _estimate(state, now, rate)
        if not state.opened and state.opens_at is not None:
            window = min(PRE_SPREAD_MAX_SECONDS, math.ceil(state.pre_count / PRE_READS_PER_SECOND))
            poll = max(2, math.ceil(state.opens_at - now + GRACE_SECONDS) + 2 + _spread(spread_key, window))
        else:
            poll = 2
        return Standing("full" if state.full else "waiting", None, None, wait, poll, None)
    position = place.position
    at = admission_time(state.segments, position, place.sequenced_at)
    serving = state.serving(now)
    if now < at:
        wait = None if math.isinf(at) else math.ceil(at - now)
        poll = 30 if wait is None else max(2, min(wait, 60))
        status: TicketStatus = "full" if state.full else "waiting"
        return Standing(status, position, max(0, position - serving), wait, poll, None)
    until = at + admission_seconds
    if now < until:
        return Standing("admitted", position, 0, 0, 60, until)
    return Standing("expired", position, 0, 0, 60, None)


def _spread(key: int, window: int) -> int:
    """When in ``window`` seconds after the opening the ticket of ``key`` reads its place: in its band's
    tenth of the window (``order.pre_band``: the band of the places it is drawn among), at a point of
    it fixed by the rest of the key."""
    band, rest = key % PRE_BANDS, (key // PRE_BANDS) % 1024
    return math.floor((band + rest / 1024) * max(1, window) / PRE_BANDS)


def _estimate(state: QueueState, now: float, rate: float) -> int | None:
    """The wait of a ticket whose position is not known yet: the line ahead at the rate (and, before
    the opening, the time to it and half the pre-queue on average)."""
    if rate <= 0:
        return None
    if not state.opened and state.opens_at is not None:
        return max(0, math.ceil(state.opens_at - now + state.pre_count / 2 * 60 / rate))
    return math.ceil(max(0, state.waiting(now)) * 60 / rate)


# -- the admission token ----------------------------------------------------------------------------

_ADMISSION_VERSION = "qa1"


def admission_key(master: bytes) -> bytes:
    """The admission tokens' own key, derived from the service's HMAC key like the verification keys."""
    return hmac.new(master, b"kkreg/admission-token/v1", hashlib.sha256).digest()


def sign_admission(phone_key: str, until: int, key: bytes) -> str:
    """``qa1.<phone key, 96 bits>.<admitted_until, epoch s>.<HMAC-SHA256>``: checked with the key alone."""
    return signed_token(_ADMISSION_VERSION, phone_key[:PHONE_KEY_HEX], until, key)


def admission_valid(token: object, phone_key: str, now: int, key: bytes) -> bool:
    """True if ``token`` is ours, for this phone (its keyed hash, hex) and not past ``admitted_until``.
    Compared in constant time; anything malformed is False."""
    subject = signed_subject(token, _ADMISSION_VERSION, now, key)
    return subject is not None and hmac.compare_digest(
        subject.encode("ascii"), phone_key[:PHONE_KEY_HEX].encode("ascii")
    )
