"""The sequencer: the schedule's loop, one round, the opening's draw, and readers that stand in for
a late schedule.

A second is sequenced once it has closed (``order.GRACE_SECONDS`` after its end), at most
``order.MAX_SPAN`` seconds a round; a round is safe when several run (``rounds``). Before the
opening a round counts the pre-queue; at the opening it draws the pre-queue's order from a seed made
then and writes every pre-queue bucket (the empty ones too) before the line counts as open. The
opening follows REGISTRATION_OPENS_AT while it has not happened. The loop also stops a line whose
places and reserve are all taken. A reader that finds the line overdue runs a round itself, at most
one per container every LAZY_EVERY_SECONDS.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain.errors import Overloaded
from chalicelib.domain.queue import order
from chalicelib.domain.queue.pace import REANCHOR_SECONDS, QueueState, Segment
from chalicelib.services.waiting_room import line, rounds
from chalicelib.store.factory import stores
from chalicelib.store.types import QueueBucket

logger = Logger(child=True)

# An idle line's mark moves on this often (one write), so that its next round's range stays short.
IDLE_ADVANCE_SECONDS = 5
# A reader that finds the line this far behind runs a round itself: the schedule is late or failing.
LAZY_BEHIND_SECONDS = 15.0
LAZY_EVERY_SECONDS = 2.0
# Before the opening, the pre-queue is counted this often (the figure GET /v1/queue shows waiting).
PRE_COUNT_SECONDS = 10
# The opening writes this many pre-queue buckets at once.
OPENING_WRITERS = 16
# The sequencer asks the campaign's counts this often: a line whose places are gone stops (full).
FULL_CHECK_SECONDS = 10.0
# The schedule's loop stops this long before its Lambda would be timed out.
LOOP_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    """What one round did: positions given, and how far the arrivals were found empty."""

    given: int = 0
    checked_to: int | None = None
    behind: bool = False  # closed seconds are left for the next round (more than MAX_SPAN were due)


def run_for(context: object) -> int:
    """The schedule's invocation: :func:`run` until LOOP_MARGIN_SECONDS before its Lambda's timeout."""
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)() / 1000
    return run(max(0.0, remaining - LOOP_MARGIN_SECONDS)) if line.enabled() else 0


def run(seconds: float) -> int:
    """The schedule's loop: sequence each second as it closes (and count the pre-queue, and stop a
    full line) for ``seconds``; positions given in all."""
    end = time.monotonic() + seconds
    given, checked_to = 0, None
    next_full_check = 0.0
    while time.monotonic() < end:
        try:
            outcome = sequence_once(checked_to=checked_to)
            given += outcome.given
            checked_to = outcome.checked_to
            if time.monotonic() >= next_full_check:
                next_full_check = time.monotonic() + FULL_CHECK_SECONDS
                check_full()
        except Overloaded:
            outcome = Outcome()
        now = line.clock()
        # Behind (a round did its most): go on at once; else wait for the next second to close.
        pause = 0.0 if outcome.behind else (math.floor(now) + 1 + order.GRACE_SECONDS + 0.05) - now
        time.sleep(max(0.0, min(pause, end - time.monotonic())))
    return given


def sequence_once(now: float | None = None, checked_to: int | None = None) -> Outcome:
    """One round: the opening (the pre-queue drawn), or the closed seconds not sequenced yet (at most
    MAX_SPAN). ``checked_to``: seconds up to it were found empty by this caller's last round. Safe
    when several run: a round claims the line, writes its buckets, and commits only if it still holds
    it. Raises Overloaded."""
    now = line.clock() if now is None else now
    store = stores().queue
    state = line.ensure(store.state(), now)
    if state.claimed(now):
        return Outcome(checked_to=checked_to)
    if not state.opened:
        opens = get_settings().registration_opens_at
        if opens != state.opens_at:
            # The opening was moved (REGISTRATION_OPENS_AT changed before it): the line follows.
            second = math.floor(state.created) - 1
            moved = {"opens_at": opens, "sequenced_to": second if opens is None else max(math.floor(opens) - 1, second)}
            store.write_state(moved, {"opened": False, "round": state.round}, free_at=now)
            line.invalidate()
            return Outcome(behind=True)
        if state.opens_at is not None and now < state.opens_at + order.GRACE_SECONDS:
            _count_pre_queue(state, now)
            return Outcome()
        return Outcome(_open(state, now), behind=True)
    first = state.sequenced_to
    due = math.floor(now - 1 - order.GRACE_SECONDS)
    last = min(due, first + order.MAX_SPAN)
    if last <= first:
        return Outcome(checked_to=checked_to)
    behind = last < due
    recovery = state.dirty or state.claim_until > 0
    start = max(first, checked_to or first)
    keys = {order.arrival_key(s, k): (s, k) for s in range(start + 1, last + 1) for k in range(state.shards_for(s))}
    found = _placed_once({keys[key]: tickets for key, tickets in store.arrivals(list(keys)).items()}, state)
    if not found and not recovery:
        if last - first >= IDLE_ADVANCE_SECONDS or behind:
            store.write_state({"sequenced_to": last}, {"sequenced_to": first, "round": state.round}, free_at=now)
        return Outcome(checked_to=last, behind=behind)
    held = rounds.claim(state, now)
    if held is None:
        return Outcome(checked_to=checked_to)
    try:
        given = rounds.write_buckets(state, held, found, first, last, now, recovery)
        if given is None or not rounds.commit(state.with_(round=held), last, given, found, now):
            return Outcome()
    except Exception:
        rounds.abandon(held)
        raise
    line.invalidate()
    metrics.add("QueueSequenced", value=given)
    return Outcome(given, None, behind)


def _placed_once(found: dict[tuple[int, int], list[str]], state: QueueState) -> dict[tuple[int, int], list[str]]:
    """The arrivals found, less the moved tickets (``tickets.join``: a put that came back late) that
    the round of their own second did place after all: its bucket already holds them (one read per
    such ticket, from the container's cache after the first), or this round found them there too.
    Seconds left with no ticket are left out. Raises Overloaded."""
    kept: dict[tuple[int, int], list[str]] = {}
    for (second, shard), tickets in found.items():
        mine = [t for t in tickets if not _placed_before(t, second, found, state)]
        if mine:
            kept[(second, shard)] = mine
    return kept


def _placed_before(text: str, second: int, found: dict[tuple[int, int], list[str]], state: QueueState) -> bool:
    ticket = order.parse_ticket(text)
    if ticket is None or ticket.second == second:
        return False  # where it joined
    if state.opens_at is not None and ticket.second < state.opens_at:
        bucket = line.bucket(f"pre#{ticket.pre_bucket}")
        return bucket is not None and ticket.digest in order.unpack_positions(bucket.positions)
    if ticket.second > state.sequenced_to:
        return text in found.get((ticket.second, ticket.shard), ())
    bucket = line.bucket(f"{ticket.second}#{ticket.shard}")
    return bucket is not None and order.index_in(bucket.ids, ticket.digest) is not None


def check_full() -> None:
    """Stop the line when the places and the reserve are all taken (one read of the counts).
    Raises Overloaded."""
    if not line.enabled():
        return
    state = line.state(line.clock())
    if state.full:
        if line.serving_moves(state):
            line.set_full()  # marked full while rounds kept changing the segments: serving stops now
        return
    settings = get_settings()
    counts = stores().quota.counts()
    if (
        counts.primary_taken - counts.parked >= settings.primary_capacity
        and counts.reserve_active >= settings.reserve_capacity
    ):
        line.set_full()


def caught_up(state: QueueState, now: float) -> QueueState:
    """The state, after a round run here if the sequencer is late (its schedule failing): readers
    keep the line moving, one round per container every LAZY_EVERY_SECONDS at most."""
    if state.opened:
        overdue = state.sequenced_to < now - LAZY_BEHIND_SECONDS
    else:
        overdue = state.opens_at is not None and now >= state.opens_at + order.GRACE_SECONDS + LAZY_BEHIND_SECONDS
    if not overdue or state.claimed(now) or not line.lazy_round_lock.acquire(blocking=False):
        return state
    try:
        if now - line.lazy_rounds.get("at", -math.inf) < LAZY_EVERY_SECONDS:
            return state
        line.lazy_rounds["at"] = now
        sequence_once(now)
    except Overloaded:
        return state
    finally:
        line.lazy_round_lock.release()
    return line.state(now, fresh=True)


def _open(state: QueueState, now: float) -> int:
    """The opening: every pre-queue ticket gets its position, drawn at random with a seed made now."""
    store = stores().queue
    held = rounds.claim(state, now)
    if held is None:
        return 0
    try:
        found = store.arrivals([order.pre_key(k) for k in range(state.pre_shards)])
        seed = order.new_seed()
        drawn = order.pre_queue_order([t for tickets in found.values() for t in tickets], seed)
        entries: dict[int, list[tuple[str, int]]] = {}
        for position, text in enumerate(drawn, start=1):
            parsed = order.parse_ticket(text)
            if parsed is not None:
                entries.setdefault(parsed.pre_bucket, []).append((parsed.digest, position))
        # Every bucket, the empty ones too: a dead opening round's buckets never outlive it. They count
        # only once the line is opened below, so OPENING_WRITERS go out at once (256 one after another
        # wait behind every other call: the opening's readers arrive meanwhile).
        buckets = [
            (f"pre#{j}", QueueBucket(at=now, round=held, positions=order.pack_positions(entries.get(j, []))))
            for j in range(order.PRE_BUCKETS)
        ]
        renewed: float | None = now
        with ThreadPoolExecutor(OPENING_WRITERS, thread_name_prefix=threading.current_thread().name) as pool:
            for i in range(0, len(buckets), OPENING_WRITERS):
                renewed = rounds.renew(held, renewed)
                if renewed is None:
                    return 0
                chunk = buckets[i : i + OPENING_WRITERS]
                if not all(pool.map(lambda kb: store.put_bucket(*kb), chunk)):
                    return 0
        opens_at = state.opens_at if state.opens_at is not None else now
        # The pace runs from the opening; an opening round that ends late (a slow store, a failing
        # schedule) starts it at most REANCHOR_SECONDS before it ends, as a re-anchored line does.
        paced_from = max(opens_at, line.clock() - REANCHOR_SECONDS)
        changes = {
            "opened": True,
            "total": len(drawn),
            "segments": (Segment(paced_from, 0.0, float(state.rate)),),
            "segments_version": state.segments_version + 1,
            "seed": seed.hex(),
            "claim_until": 0.0,
            "dirty": False,
            "marks": ((len(drawn), math.floor(opens_at)),) if drawn else (),
        }
        if not store.write_state(changes, {"round": held, "opened": False}):
            return 0
    except Exception:
        rounds.abandon(held)
        raise
    line.invalidate()
    logger.info("the line opened", extra={"pre_queue": len(drawn)})
    metrics.add("QueueSequenced", value=len(drawn))
    return len(drawn)


def _count_pre_queue(state: QueueState, now: float) -> None:
    """Before the opening: the pre-queue's size, counted by its new arrivals every PRE_COUNT_SECONDS."""
    upto = math.floor(now - 1 - order.GRACE_SECONDS)
    if upto - state.pre_counted_to < PRE_COUNT_SECONDS:
        return
    store = stores().queue
    added = sum(store.count_arrivals(order.pre_key(k), state.pre_counted_to, upto) for k in range(state.pre_shards))
    store.write_state(
        {"pre_count": state.pre_count + added, "pre_counted_to": upto}, {"pre_counted_to": state.pre_counted_to}
    )
