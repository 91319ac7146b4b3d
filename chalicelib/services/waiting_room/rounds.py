"""One round of the sequencer, from its claim to its commit.

A round claims the line (the round's number, a lease of LEASE_SECONDS, conditional on the state it
read), writes one bucket per non-empty (second, shard) in order from the positions given so far (no
gap, none twice), then commits only while it still holds its round. A round that fails frees the
line at once and marks it ``dirty``; one that dies holds it until its lease ends. Either way the
next round overwrites or tombstones every bucket the failed one may have written, so a position
counts only once its round has committed. The commit also moves the marks (the oldest wait), re-anchors
the pace if the line had run dry, and widens or narrows the shards with the arrivals.
"""

from __future__ import annotations

import math

from aws_lambda_powertools import Logger

from chalicelib.config import get_settings
from chalicelib.domain.queue import order
from chalicelib.domain.queue.pace import MARK_EVERY_SECONDS, QueueState, after_round
from chalicelib.services.waiting_room import line
from chalicelib.store.factory import stores
from chalicelib.store.types import QueueBucket

logger = Logger(child=True)

# A round holds the line this long: a round that died is taken over after it (its buckets then
# overwritten, or tombstoned where the new round found nothing). A round still writing renews its
# hold every RENEW_SECONDS: on a slow store (a throttled opening, the local engine under load) a
# round longer than the lease would otherwise be taken over, and each taker would be too, for ever.
LEASE_SECONDS = 15.0
RENEW_SECONDS = LEASE_SECONDS / 3
# A narrowing of the shards still queries the wider set for joins of this many seconds after it.
NARROW_GRACE_SECONDS = 5
# Shards halve at most this often (they widen at once).
NARROW_EVERY_SECONDS = 30.0


def claim(state: QueueState, now: float) -> int | None:
    """Hold the line for one round (until LEASE_SECONDS from now): the round's number, or None when
    another round holds it or changed it since ``state`` was read. Raises Overloaded."""
    held = state.round + 1
    claimed = stores().queue.write_state(
        {"round": held, "claim_until": now + LEASE_SECONDS},
        {"round": state.round, "sequenced_to": state.sequenced_to, "opened": state.opened},
        free_at=now,
    )
    return held if claimed else None


def renew(held: int, renewed: float | None) -> float | None:
    """Hold the line LEASE_SECONDS more if RENEW_SECONDS have passed since ``renewed``: when it was
    renewed last (``renewed`` itself when not due); None once another round holds it (or ``renewed``
    was None already). Raises Overloaded."""
    now = line.clock()
    if renewed is None or now - renewed < RENEW_SECONDS:
        return renewed
    return now if stores().queue.write_state({"claim_until": now + LEASE_SECONDS}, {"round": held}) else None


def abandon(held: int) -> None:
    """A round that failed after its claim: the next one need not wait out the lease, but must
    tombstone what this one may have written. Never raises."""
    try:
        stores().queue.write_state({"claim_until": 0.0, "dirty": True}, {"round": held})
    except Exception:  # noqa: BLE001 - the lease runs out anyway; the next round then recovers
        logger.warning("abandoned round not released", extra={"round": held})


def write_buckets(
    state: QueueState,
    held: int,
    found: dict[tuple[int, int], list[str]],
    first: int,
    last: int,
    now: float,
    recovery: bool,
) -> int | None:
    """Each non-empty (second, shard) in order, from the positions given so far; after a round that
    died, every other key it may have written is tombstoned. Positions given, or None when a later
    round has taken the line. Raises Overloaded."""
    store = stores().queue
    base = state.total
    renewed: float | None = now
    for s, k in sorted(found):
        digests = [order.digest_of(t) for t in order.arrival_order(found[(s, k)])]
        renewed = renew(held, renewed)
        bucket = QueueBucket(at=now, round=held, base=base, ids=order.pack_ids(digests))
        if renewed is None or not store.put_bucket(f"{s}#{k}", bucket):
            return None
        base += len(digests)
    if recovery:
        for s in range(first + 1, first + order.MAX_SPAN + 1):
            for k in range(state.shards_for(s)):
                if (s, k) in found:
                    continue
                renewed = renew(held, renewed)
                if renewed is None or not store.put_bucket(f"{s}#{k}", QueueBucket(at=now, round=held)):
                    return None
    return base - state.total


def commit(state: QueueState, last: int, given: int, found: dict[tuple[int, int], list[str]], now: float) -> bool:
    """The round's positions count from now: the mark moves on, the pace is re-anchored if the line
    had run dry, the shards follow the arrivals. Retried while only the segments changed (an admin's
    new rate); False once another round holds the line. ``state``: as the round's claim left it.
    Raises Overloaded."""
    settings = get_settings()
    store = stores().queue
    held = state.round
    per_second: dict[int, int] = {}
    for (second, _), tickets in found.items():
        per_second[second] = per_second.get(second, 0) + len(tickets)
    peak = max(per_second.values(), default=0)
    for attempt in range(5):
        current = state if attempt == 0 else line.ensure(store.state(), now)
        if current.round != held:
            return False
        rate = current.segments[-1].rate if current.segments else float(current.rate)
        changes: dict[str, object] = {
            "sequenced_to": last,
            "total": current.total + given,
            "claim_until": 0.0,
            "dirty": False,
            "segments": tuple(after_round(current.segments, now, current.total, rate, settings.admission_minutes * 60))
            if given
            else current.segments,
            "segments_version": current.segments_version + 1,
            "marks": _marks(current, given, last, now),
        }
        changes.update(_shards(current, peak, now, settings.queue_shards))
        if store.write_state(
            changes, {"round": held, "segments_version": current.segments_version, "total": state.total}
        ):
            return True
    return False


def _marks(state: QueueState, given: int, last: int, now: float) -> tuple[tuple[int, int], ...]:
    """Which arrival second the positions came from, every MARK_EVERY_SECONDS; marks wholly admitted
    are dropped (the state never grows with the line)."""
    serving = state.serving(now)
    kept = [m for m in state.marks if m[0] > serving]
    if given:
        if kept and last - kept[-1][1] < MARK_EVERY_SECONDS:
            kept[-1] = (state.total + given, kept[-1][1])
        else:
            kept.append((state.total + given, last))
    return tuple(kept)


def _shards(state: QueueState, peak: int, now: float, most: int) -> dict[str, object]:
    """Widen at once (to twice what the busiest second needed) when a second's joins pass
    PER_SHARD_JOINS a key; halve at most every NARROW_EVERY_SECONDS while the busiest second would
    still use at most half of the narrower set, which is read with the wider one for the joins made
    meanwhile (NARROW_GRACE_SECONDS)."""
    needed = order.shards_needed(peak, most)
    if needed > state.shards:
        return {"shards": min(most, needed * 2), "last_shard_change": now}
    narrower = state.shards // 2
    if (
        narrower
        and peak * 2 <= narrower * order.PER_SHARD_JOINS
        and now - state.last_shard_change >= NARROW_EVERY_SECONDS
    ):
        return {
            "shards": max(1, state.shards // 2),
            "wide": state.shards,
            "wide_until": math.floor(now) + NARROW_GRACE_SECONDS,
            "last_shard_change": now,
        }
    return {}
