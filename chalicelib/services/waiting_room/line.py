"""The line as this container sees it: the waiting room's clock, the state (read at most once per
STATE_CACHE_SECONDS, created as it starts by the first reader that finds none), the figures
everyone reads, and the stop once the places are gone.

A join, a ticket read and ``GET /v1/queue`` share the container's copy of the state; a flow that
writes the state calls :func:`invalidate` so that its next read is fresh. ``full`` is set once and
never cleared. :func:`forget` drops everything the container keeps of the line.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain.models import Channel, iso_utc
from chalicelib.domain.queue.pace import QueueState, Segment, with_rate
from chalicelib.services import campaign
from chalicelib.store.factory import stores
from chalicelib.store.types import QueueBucket

logger = Logger(child=True)

# Time as the waiting room sees it; the tests move it.
clock: Callable[[], float] = time.time

# A container reads the state at most once a second: ``GET /v1/queue`` costs one read per container a
# second however many ask, and a join or a ticket read costs no state read of its own.
STATE_CACHE_SECONDS = 1.0
# A new pace (an admin's, or 0 when the line is full) starts this long after it is written: until then
# a container may still show serving, and admit, from the state it read up to STATE_CACHE_SECONDS
# before, and a slower pace must not take back what it showed (a token once given stays given).
PACE_CHANGE_DELAY_SECONDS = STATE_CACHE_SECONDS + 1.0

_cache: dict[str, tuple[float, QueueState]] = {}
_state_read = threading.Lock()
# Committed buckets this container read (a pre-queue bucket holds ~390 positions, ~6 KB): at the
# opening every pre-queue ticket's first read asks for one of 256 of them.
BUCKET_CACHE_SIZE = 1024
_buckets: dict[str, QueueBucket] = {}
_buckets_kept = threading.Lock()
# When this container last ran a round for a late sequencer (``sequencer.caught_up``).
lazy_rounds: dict[str, float] = {}
# Held by the one request of this container running a round for a late sequencer: a container that
# serves requests on several threads (the local stack) must not run one per thread.
lazy_round_lock = threading.Lock()


def enabled() -> bool:
    return get_settings().waiting_room


def state(now: float, fresh: bool = False) -> QueueState:
    """The state, read at most once per STATE_CACHE_SECONDS here (and written first if it was never):
    one thread of the container reads it, the others wait for its answer. Raises Overloaded."""
    cached = _cache.get("state")
    if not fresh and cached is not None and 0 <= now - cached[0] < STATE_CACHE_SECONDS:
        return cached[1]
    with _state_read:
        cached = _cache.get("state")
        # Read while this thread waited: as new as a read of its own would have been.
        if not fresh and cached is not None and -STATE_CACHE_SECONDS < now - cached[0] < STATE_CACHE_SECONDS:
            return cached[1]
        current = ensure(stores().queue.state(), now)
        _cache["state"] = (now, current)
        return current


def bucket(key: str) -> QueueBucket | None:
    """The bucket ``key`` of a committed round (its second sequenced, or the line opened): such a
    bucket never changes, so the container keeps the last BUCKET_CACHE_SIZE it read. Raises
    Overloaded."""
    kept = _buckets.get(key)
    if kept is not None:
        return kept
    found = stores().queue.bucket(key)
    if found is not None:
        with _buckets_kept:
            if len(_buckets) >= BUCKET_CACHE_SIZE:
                _buckets.pop(next(iter(_buckets)))
            _buckets[key] = found
    return found


def ensure(current: QueueState, now: float) -> QueueState:
    """The state as read, or, if it was never written, as it starts (written if absent). Raises
    Overloaded."""
    if current.exists:
        return current
    settings = get_settings()
    opens = settings.registration_opens_at
    second = math.floor(now)
    start = QueueState(
        exists=True,
        created=now,
        opens_at=opens,
        # Joins before the state existed cannot be: every join reads it first.
        sequenced_to=max(math.floor(opens) - 1, second - 1) if opens is not None else second - 1,
        rate=settings.admit_per_minute,
        shards=settings.queue_shards,
        pre_shards=settings.queue_shards,
    )
    if opens is None:
        # Open now: the pace starts with the state.
        start = start.with_(opened=True, segments=(Segment(now, 0.0, float(settings.admit_per_minute)),))
    return stores().queue.create_state(start)


def set_full() -> None:
    """The line stops for good: waiting tickets say ``full``, joins are refused, and ``serving``
    stays where it is PACE_CHANGE_DELAY_SECONDS from now (a last segment at rate 0), so that a ticket
    still waiting then says ``full`` rather than being admitted once the pace reached it. One read,
    and one write unless another caller stopped it already. Raises Overloaded."""
    store = stores().queue
    for _ in range(5):
        now = clock()
        state = ensure(store.state(), now)
        if state.full and not serving_moves(state):
            break
        changes: dict[str, object] = {"full": True}
        if state.opened:
            changes["segments"] = tuple(with_rate(state.segments, now + PACE_CHANGE_DELAY_SECONDS, 0, state.total))
            changes["segments_version"] = state.segments_version + 1
        if store.write_state(changes, {"segments_version": state.segments_version}):
            metrics.add("QueueFull")
            logger.info("the line is full")
            break
    else:
        # The segments kept changing (rounds committing): full all the same; check_full stops serving.
        store.write_state({"full": True}, {})
    invalidate()


def serving_moves(current: QueueState) -> bool:
    """Whether ``serving`` still advances (an open line whose last pace is above 0)."""
    return current.opened and bool(current.segments) and current.segments[-1].rate > 0


def figures(current: QueueState, now: float) -> dict[str, object]:
    """What ``GET /v1/queue`` says of the line (the admin's view says it too)."""
    settings = get_settings()
    app_open = campaign.channel_states()[Channel.APP.value]
    return {
        "status": current.status(now, settings.queue_opens_minutes_before * 60, app_open),
        "opens_at": iso(current.opens_at),
        "serving": current.serving(now),
        "waiting": max(0, current.waiting(now)),
        "admit_per_minute": int(current.segments[-1].rate) if current.segments else current.rate,
    }


def iso(moment: float | None) -> str | None:
    return None if moment is None else iso_utc(datetime.fromtimestamp(moment, UTC))


def invalidate() -> None:
    """The state was written here: the next read reads it again."""
    _cache.clear()


def forget() -> None:
    """Forget the cached state, buckets and the last lazy round (tests, and the local stack's restarts)."""
    _cache.clear()
    _buckets.clear()
    lazy_rounds.clear()
