"""The waiting room of the app channel (contract v1.2): join, read a ticket or the line, admit, and
the sequencer that gives positions (docs/architecture.md, "The waiting room").

AWS requests: a join is one conditional put (a phone that has a ticket: and one read of its
bucket); a ticket read is one read; the line (``GET /v1/queue``) one read per container a second,
shared by everyone through its ``Cache-Control``; an admission none (the token is signed, its
window computed from the state). The sequencer's round reads each (second, shard) key of the
arrivals index once and writes one bucket per non-empty key and two state writes: at 5,000 joins a
second that is ~0.01 requests a ticket.
"""

from __future__ import annotations

import base64
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import admission_key, get_settings, verification_keys
from chalicelib.domain import queue as q
from chalicelib.domain.errors import (
    AdmissionRequired,
    ChannelClosed,
    Conflict,
    NotFound,
    Overloaded,
    PhoneNotVerified,
    QueueNotOpen,
    RegistrationFull,
    ValidationFailed,
)
from chalicelib.domain.models import Channel, iso_utc
from chalicelib.domain.queue import (
    AdminQueueView,
    JoinRequest,
    Place,
    QueueState,
    QueueView,
    TicketId,
    TicketView,
)
from chalicelib.domain.verification import phone_hash, verified_phone_hash
from chalicelib.store.factory import stores
from chalicelib.store.types import QueueBucket, QueueTicket

logger = Logger(child=True)

# Time as the waiting room sees it; the tests move it.
clock: Callable[[], float] = time.time

# A container reads the state at most once a second: ``GET /v1/queue`` costs one read per container a
# second however many ask, and a join or a ticket read costs no state read of its own.
STATE_CACHE_SECONDS = 1.0
# The shared GET /v1/queue may be answered by a cache (API Gateway, CloudFront, the browser) this long.
PUBLIC_MAX_AGE = 2
# A round holds the line this long: a round that died is taken over after it (its buckets then
# overwritten, or tombstoned where the new round found nothing). A round still writing renews its
# hold every RENEW_SECONDS: on a slow store (a throttled opening, the local engine under load) a
# round longer than the lease would otherwise be taken over, and each taker would be too, for ever.
LEASE_SECONDS = 15.0
RENEW_SECONDS = LEASE_SECONDS / 3
# An idle line's mark moves on this often (one write), so that its next round's range stays short.
IDLE_ADVANCE_SECONDS = 5
# A reader that finds the line this far behind runs a round itself: the schedule is late or failing.
LAZY_BEHIND_SECONDS = 15.0
LAZY_EVERY_SECONDS = 2.0
# Before the opening, the pre-queue is counted this often (the figure GET /v1/queue shows waiting).
PRE_COUNT_SECONDS = 10
# The sequencer asks the campaign's counts this often: a line whose places are gone stops (full).
FULL_CHECK_SECONDS = 10.0
# A narrowing of the shards still queries the wider set for joins of this many seconds after it.
NARROW_GRACE_SECONDS = 5
# Shards halve at most this often (they widen at once).
NARROW_EVERY_SECONDS = 30.0
# The schedule's loop stops this long before its Lambda would be timed out.
LOOP_MARGIN_SECONDS = 5.0

_cache: dict[str, tuple[float, QueueState]] = {}
_lazy: dict[str, float] = {}


def enabled() -> bool:
    return get_settings().waiting_room


# -- the person's side ----------------------------------------------------------------------------


def join(req: JoinRequest) -> tuple[TicketView, bool]:
    """The phone's ticket: a new one (True), or the one it has (False), never a second one.

    Raises NotFound (the waiting room is off), ValidationFailed (no phone when verification is off),
    PhoneNotVerified, QueueNotOpen, RegistrationFull (the line has stopped), ChannelClosed, Overloaded.
    """
    settings = get_settings()
    if not settings.waiting_room:
        raise NotFound()
    phone_key = _phone_key_of(req)
    now = clock()
    opens = settings.registration_opens_at
    if opens is not None and now < opens - settings.queue_opens_minutes_before * 60:
        raise QueueNotOpen()
    state = _state(now)
    if state.full:
        raise RegistrationFull()
    from chalicelib.services import campaign

    if not campaign.channel_states()[Channel.APP.value]:
        raise ChannelClosed()
    second = math.floor(now)
    if not state.opened and state.opens_at is not None and second < state.opens_at:
        shard = secrets.randbelow(state.pre_shards)
        index_key = q.pre_key(shard)
    else:
        shard = secrets.randbelow(state.shards)
        index_key = q.arrival_key(second, shard)
    ticket = q.new_ticket(second, shard, phone_key)
    found = stores().queue.join(ticket.phone_key, ticket.text, index_key, second, now)
    if found is None:
        metrics.add("QueueJoined")
        return _view(ticket, Place(None), state, now), True
    held = q.parse_ticket(found.ticket)
    if held is None:  # not one of ours: nothing we wrote
        raise Conflict("unreadable ticket")
    return _view(held, _locate(held, state, now, found), state, now), False


def ticket(text: str) -> TicketView:
    """Where a ticket stands. Raises NotFound (unknown ticket, or the waiting room is off), Overloaded."""
    if not enabled():
        raise NotFound()
    parsed = q.parse_ticket(text)
    now = clock()
    if parsed is None or parsed.second > now + 2:
        raise NotFound()  # nothing else was ever issued: no read for it
    state = _caught_up(_state(now), now)
    return _view(parsed, _locate(parsed, state, now), state, now)


def overview() -> QueueView:
    """The line as everybody sees it (the same answer for all; cacheable). Raises NotFound when off."""
    if not enabled():
        raise NotFound()
    now = clock()
    state = _caught_up(_state(now), now)
    return QueueView(**_figures(state, now))


def require_admitted(phone: str, token: str | None) -> None:
    """While the waiting room is on, an app registration needs the admission of its phone, live.
    No read: the signature says it all. Raises AdmissionRequired."""
    if not enabled():
        return
    key = phone_hash(phone, verification_keys())
    if not q.admission_valid(token, key, math.floor(clock()), admission_key()):
        metrics.add("AdmissionRefused")
        raise AdmissionRequired()


def note_full() -> None:
    """A registration was refused for want of places: the line stops (once per container)."""
    if not enabled() or _state(clock()).full:
        return
    _set_full()


# -- the admin's side -------------------------------------------------------------------------------


def admin_view() -> AdminQueueView:
    now = clock()
    state = _state(now, fresh=True)
    figures = _figures(state, now)
    return AdminQueueView(
        **figures,
        joined=state.total if state.opened else state.pre_count,
        admitted=figures["serving"],
        oldest_wait_s=q.oldest_wait(state, now),
        sequenced_to=iso_utc(datetime.fromtimestamp(state.sequenced_to, UTC)) if state.opened else None,
    )


def set_rate(admit_per_minute: int) -> AdminQueueView:
    """The pace from now on (``serving`` goes on from where it is). Raises Conflict, Overloaded."""
    store = stores().queue
    for _ in range(5):
        now = clock()
        state = _ensure(store.state(), now)
        # A full line stays stopped: the pace is kept for the record only.
        moving = state.opened and not state.full
        segments = q.with_rate(state.segments, now, admit_per_minute, state.total) if moving else []
        changes: dict[str, object] = {"rate": admit_per_minute, "segments_version": state.segments_version + 1}
        if moving:
            changes["segments"] = tuple(segments)
        if store.write_state(changes, {"segments_version": state.segments_version}):
            logger.info("admission rate changed", extra={"admit_per_minute": admit_per_minute})
            _cache.clear()
            return admin_view()
    raise Conflict("the line's state kept changing")


# -- the sequencer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one round did: positions given, and how far the arrivals were found empty."""

    given: int = 0
    checked_to: int | None = None
    behind: bool = False  # closed seconds are left for the next round (more than MAX_SPAN were due)


def run_for(context: object) -> int:
    """The schedule's invocation: :func:`run` until LOOP_MARGIN_SECONDS before its Lambda's timeout."""
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)() / 1000
    return run(max(0.0, remaining - LOOP_MARGIN_SECONDS)) if enabled() else 0


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
        now = clock()
        # Behind (a round did its most): go on at once; else wait for the next second to close.
        pause = 0.0 if outcome.behind else (math.floor(now) + 1 + q.GRACE_SECONDS + 0.05) - now
        time.sleep(max(0.0, min(pause, end - time.monotonic())))
    return given


def sequence_once(now: float | None = None, checked_to: int | None = None) -> Outcome:
    """One round: the opening (the pre-queue drawn), or the closed seconds not sequenced yet (at most
    MAX_SPAN). ``checked_to``: seconds up to it were found empty by this caller's last round. Safe
    when several run: a round claims the line, writes its buckets, and commits only if it still holds
    it. Raises Overloaded."""
    now = clock() if now is None else now
    store = stores().queue
    state = _ensure(store.state(), now)
    if state.claimed(now):
        return Outcome(checked_to=checked_to)
    if not state.opened:
        opens = get_settings().registration_opens_at
        if opens != state.opens_at:
            # The opening was moved (REGISTRATION_OPENS_AT changed before it): the line follows.
            second = math.floor(state.created) - 1
            moved = {"opens_at": opens, "sequenced_to": second if opens is None else max(math.floor(opens) - 1, second)}
            store.write_state(moved, {"opened": False, "round": state.round}, free_at=now)
            _cache.clear()
            return Outcome(behind=True)
        if state.opens_at is not None and now < state.opens_at + q.GRACE_SECONDS:
            _count_pre_queue(state, now)
            return Outcome()
        return Outcome(_open(state, now), behind=True)
    first = state.sequenced_to
    due = math.floor(now - 1 - q.GRACE_SECONDS)
    last = min(due, first + q.MAX_SPAN)
    if last <= first:
        return Outcome(checked_to=checked_to)
    behind = last < due
    recovery = state.dirty or state.claim_until > 0
    start = max(first, checked_to or first)
    keys = {q.arrival_key(s, k): (s, k) for s in range(start + 1, last + 1) for k in range(state.shards_for(s))}
    found = {keys[key]: tickets for key, tickets in store.arrivals(list(keys)).items()}
    if not found and not recovery:
        if last - first >= IDLE_ADVANCE_SECONDS or behind:
            store.write_state({"sequenced_to": last}, {"sequenced_to": first, "round": state.round}, free_at=now)
        return Outcome(checked_to=last, behind=behind)
    held = _claim(state, now)
    if held is None:
        return Outcome(checked_to=checked_to)
    try:
        given = _write_buckets(state, held, found, first, last, now, recovery)
        if given is None or not _commit(state.with_(round=held), last, given, found, now):
            return Outcome()
    except Exception:
        _abandon(held)
        raise
    _cache.clear()
    metrics.add("QueueSequenced", value=given)
    return Outcome(given, None, behind)


def check_full() -> None:
    """Stop the line when the places and the reserve are all taken (one read of the counts)."""
    if not enabled():
        return
    state = _state(clock())
    if state.full:
        if state.opened and state.segments and state.segments[-1].rate > 0:
            _set_full()  # marked full while rounds kept changing the segments: serving stops now
        return
    settings = get_settings()
    counts = stores().quota.counts()
    if (
        counts.primary_taken - counts.parked >= settings.primary_capacity
        and counts.reserve_active >= settings.reserve_capacity
    ):
        _set_full()


def _open(state: QueueState, now: float) -> int:
    """The opening: every pre-queue ticket gets its position, drawn at random with a seed made now."""
    store = stores().queue
    held = _claim(state, now)
    if held is None:
        return 0
    try:
        found = store.arrivals([q.pre_key(k) for k in range(state.pre_shards)])
        seed = q.new_seed()
        order = q.pre_queue_order([t for tickets in found.values() for t in tickets], seed)
        entries: dict[int, list[tuple[str, int]]] = {}
        for position, text in enumerate(order, start=1):
            parsed = q.parse_ticket(text)
            if parsed is not None:
                entries.setdefault(parsed.pre_bucket, []).append((parsed.digest, position))
        # Every bucket, the empty ones too: a dead opening round's buckets never outlive it.
        renewed: float | None = now
        for j in range(q.PRE_BUCKETS):
            bucket = QueueBucket(at=now, round=held, positions=q.pack_positions(entries.get(j, [])))
            renewed = _renew(held, renewed)
            if renewed is None or not store.put_bucket(f"pre#{j}", bucket):
                return 0
        opens_at = state.opens_at if state.opens_at is not None else now
        changes = {
            "opened": True,
            "total": len(order),
            "segments": (q.Segment(opens_at, 0.0, float(state.rate)),),
            "segments_version": state.segments_version + 1,
            "seed": seed.hex(),
            "claim_until": 0.0,
            "dirty": False,
            "marks": ((len(order), math.floor(opens_at)),) if order else (),
        }
        if not store.write_state(changes, {"round": held, "opened": False}):
            return 0
    except Exception:
        _abandon(held)
        raise
    _cache.clear()
    logger.info("the line opened", extra={"pre_queue": len(order)})
    metrics.add("QueueSequenced", value=len(order))
    return len(order)


def _claim(state: QueueState, now: float) -> int | None:
    """Hold the line for one round (until LEASE_SECONDS from now): the round's number, or None when
    another round holds it or changed it since ``state`` was read."""
    held = state.round + 1
    claimed = stores().queue.write_state(
        {"round": held, "claim_until": now + LEASE_SECONDS},
        {"round": state.round, "sequenced_to": state.sequenced_to, "opened": state.opened},
        free_at=now,
    )
    return held if claimed else None


def _renew(held: int, renewed: float | None) -> float | None:
    """Hold the line LEASE_SECONDS more if RENEW_SECONDS have passed since ``renewed``: when it was
    renewed last (``renewed`` itself when not due); None once another round holds it (or ``renewed``
    was None already). Raises Overloaded."""
    now = clock()
    if renewed is None or now - renewed < RENEW_SECONDS:
        return renewed
    return now if stores().queue.write_state({"claim_until": now + LEASE_SECONDS}, {"round": held}) else None


def _abandon(held: int) -> None:
    """A round that failed after its claim: the next one need not wait out the lease, but must
    tombstone what this one may have written."""
    try:
        stores().queue.write_state({"claim_until": 0.0, "dirty": True}, {"round": held})
    except Exception:  # noqa: BLE001 - the lease runs out anyway; the next round then recovers
        logger.warning("abandoned round not released", extra={"round": held})


def _write_buckets(
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
    round has taken the line."""
    store = stores().queue
    base = state.total
    renewed: float | None = now
    for s, k in sorted(found):
        digests = [q.digest_of(t) for t in q.arrival_order(found[(s, k)])]
        renewed = _renew(held, renewed)
        bucket = QueueBucket(at=now, round=held, base=base, ids=q.pack_ids(digests))
        if renewed is None or not store.put_bucket(f"{s}#{k}", bucket):
            return None
        base += len(digests)
    if recovery:
        for s in range(first + 1, first + q.MAX_SPAN + 1):
            for k in range(state.shards_for(s)):
                if (s, k) in found:
                    continue
                renewed = _renew(held, renewed)
                if renewed is None or not store.put_bucket(f"{s}#{k}", QueueBucket(at=now, round=held)):
                    return None
    return base - state.total


def _commit(state: QueueState, last: int, given: int, found: dict[tuple[int, int], list[str]], now: float) -> bool:
    """The round's positions count from now: the mark moves on, the pace is re-anchored if the line
    had run dry, the shards follow the arrivals. Retried while only the segments changed (an admin's
    new rate); False once another round holds the line. ``state``: as the round's claim left it."""
    settings = get_settings()
    store = stores().queue
    held = state.round
    per_second: dict[int, int] = {}
    for (second, _), tickets in found.items():
        per_second[second] = per_second.get(second, 0) + len(tickets)
    peak = max(per_second.values(), default=0)
    for attempt in range(5):
        current = state if attempt == 0 else _ensure(store.state(), now)
        if current.round != held:
            return False
        rate = current.segments[-1].rate if current.segments else float(current.rate)
        changes: dict[str, object] = {
            "sequenced_to": last,
            "total": current.total + given,
            "claim_until": 0.0,
            "dirty": False,
            "segments": tuple(
                q.after_round(current.segments, now, current.total, rate, settings.admission_minutes * 60)
            )
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
        if kept and last - kept[-1][1] < q.MARK_EVERY_SECONDS:
            kept[-1] = (state.total + given, kept[-1][1])
        else:
            kept.append((state.total + given, last))
    return tuple(kept)


def _shards(state: QueueState, peak: int, now: float, most: int) -> dict[str, object]:
    """Widen at once (to twice what the busiest second needed) when a second's joins pass
    PER_SHARD_JOINS a key; halve at most every NARROW_EVERY_SECONDS while the busiest second would
    still use at most half of the narrower set, which is read with the wider one for the joins made
    meanwhile (NARROW_GRACE_SECONDS)."""
    needed = q.shards_needed(peak, most)
    if needed > state.shards:
        return {"shards": min(most, needed * 2), "last_shard_change": now}
    narrower = state.shards // 2
    if narrower and peak * 2 <= narrower * q.PER_SHARD_JOINS and now - state.last_shard_change >= NARROW_EVERY_SECONDS:
        return {
            "shards": max(1, state.shards // 2),
            "wide": state.shards,
            "wide_until": math.floor(now) + NARROW_GRACE_SECONDS,
            "last_shard_change": now,
        }
    return {}


def _count_pre_queue(state: QueueState, now: float) -> None:
    """Before the opening: the pre-queue's size, counted by its new arrivals every PRE_COUNT_SECONDS."""
    upto = math.floor(now - 1 - q.GRACE_SECONDS)
    if upto - state.pre_counted_to < PRE_COUNT_SECONDS:
        return
    store = stores().queue
    added = sum(store.count_arrivals(q.pre_key(k), state.pre_counted_to, upto) for k in range(state.pre_shards))
    store.write_state(
        {"pre_count": state.pre_count + added, "pre_counted_to": upto}, {"pre_counted_to": state.pre_counted_to}
    )


def _set_full() -> None:
    """The line stops for good: ``serving`` stays where it is (a last segment at rate 0), so that a
    ticket still waiting says ``full`` from now on rather than being admitted once the pace reached it."""
    store = stores().queue
    for _ in range(5):
        now = clock()
        state = _ensure(store.state(), now)
        changes: dict[str, object] = {"full": True}
        if state.opened:
            changes["segments"] = tuple(q.with_rate(state.segments, now, 0, state.total))
            changes["segments_version"] = state.segments_version + 1
        if store.write_state(changes, {"segments_version": state.segments_version}):
            break
    else:
        # The segments kept changing (rounds committing): full all the same; check_full stops serving.
        store.write_state({"full": True}, {})
    _cache.clear()
    metrics.add("QueueFull")
    logger.info("the line is full")


# -- reading ----------------------------------------------------------------------------------------


def _state(now: float, fresh: bool = False) -> QueueState:
    """The state, read at most once per STATE_CACHE_SECONDS here (and written first if it was never)."""
    cached = _cache.get("state")
    if not fresh and cached is not None and 0 <= now - cached[0] < STATE_CACHE_SECONDS:
        return cached[1]
    state = _ensure(stores().queue.state(), now)
    _cache["state"] = (now, state)
    return state


def _ensure(state: QueueState, now: float) -> QueueState:
    """The state as read, or, if it was never written, as it starts (written if absent)."""
    if state.exists:
        return state
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
        start = start.with_(opened=True, segments=(q.Segment(now, 0.0, float(settings.admit_per_minute)),))
    return stores().queue.create_state(start)


def _caught_up(state: QueueState, now: float) -> QueueState:
    """The state, after a round run here if the sequencer is late (its schedule failing): readers
    keep the line moving, one round per container every LAZY_EVERY_SECONDS at most."""
    if state.opened:
        overdue = state.sequenced_to < now - LAZY_BEHIND_SECONDS
    else:
        overdue = state.opens_at is not None and now >= state.opens_at + q.GRACE_SECONDS + LAZY_BEHIND_SECONDS
    if not overdue or state.claimed(now) or now - _lazy.get("at", -math.inf) < LAZY_EVERY_SECONDS:
        return state
    _lazy["at"] = now
    try:
        sequence_once(now)
    except Overloaded:
        return state
    return _state(now, fresh=True)


def _locate(ticket: TicketId, state: QueueState, now: float, record: QueueTicket | None = None) -> Place:
    """Where the ticket is: its bucket's position (one read), else the ticket's own item (a ticket
    not sequenced yet, or one that landed after its second was sequenced). Raises NotFound."""
    store = stores().queue
    pre = state.opens_at is not None and ticket.second < state.opens_at
    if pre and state.opened:
        bucket = store.bucket(f"pre#{ticket.pre_bucket}")
        position = q.unpack_positions(bucket.positions).get(ticket.digest) if bucket else None
        if bucket is not None and position is not None:
            return Place(position, bucket.at)
    elif not pre and ticket.second <= state.sequenced_to:
        place = _in_bucket(f"{ticket.second}#{ticket.shard}", ticket.digest)
        if place is not None:
            return place
    mine = record if record is not None else store.ticket(ticket.phone_key)
    if mine is None or mine.ticket != ticket.text:
        raise NotFound()
    if pre and not state.opened:
        return Place(None)
    if not pre and ticket.second > state.sequenced_to:
        return Place(None)
    return _moved(ticket, mine, state, now)


def _in_bucket(key: str, digest: str) -> Place | None:
    bucket = stores().queue.bucket(key)
    if bucket is None:
        return None
    index = q.index_in(bucket.ids, digest)
    return None if index is None else Place(bucket.base + index + 1, bucket.at)


def _moved(ticket: TicketId, mine: QueueTicket, state: QueueState, now: float) -> Place:
    """A ticket its arrival second was sequenced without (its put, or its index entry, landed after
    the grace): it joins the line again, at the second it is found, once. It had no position."""
    if mine.moved_to is not None:
        if mine.moved_to > state.sequenced_to:
            return Place(None)
        place = _in_bucket(f"{mine.moved_to}#{mine.moved_shard}", ticket.digest)
        if place is not None:
            return place
    second = math.floor(now)
    shard = secrets.randbelow(state.shards)
    stores().queue.move(ticket.phone_key, ticket.text, q.arrival_key(second, shard), second, shard, mine.moved_to)
    metrics.add("QueueLateTicket")
    logger.warning("a ticket joined the line again: its second was sequenced without it")
    return Place(None)


def _view(ticket: TicketId, place: Place, state: QueueState, now: float) -> TicketView:
    settings = get_settings()
    spread_key = int.from_bytes(base64.urlsafe_b64decode(ticket.digest + "=")[:4], "big")
    standing = q.standing(place, state, now, settings.admission_minutes * 60, spread_key)
    token = until = None
    if standing.admitted_until is not None:
        expiry = math.floor(standing.admitted_until)
        token = q.sign_admission(ticket.phone_key, expiry, admission_key())
        until = iso_utc(datetime.fromtimestamp(expiry, UTC))
    return TicketView(
        ticket=ticket.text,
        status=standing.status,
        position=standing.position,
        ahead=standing.ahead,
        estimated_wait_s=standing.estimated_wait_s,
        poll_after_s=standing.poll_after_s,
        opens_at=_iso(state.opens_at),
        admission_token=token,
        admitted_until=until,
    )


def _figures(state: QueueState, now: float) -> dict[str, object]:
    settings = get_settings()
    from chalicelib.services import campaign

    app_open = campaign.channel_states()[Channel.APP.value]
    return {
        "status": state.status(now, settings.queue_opens_minutes_before * 60, app_open),
        "opens_at": _iso(state.opens_at),
        "serving": state.serving(now),
        "waiting": max(0, state.waiting(now)),
        "admit_per_minute": int(state.segments[-1].rate) if state.segments else state.rate,
    }


def _iso(moment: float | None) -> str | None:
    return None if moment is None else iso_utc(datetime.fromtimestamp(moment, UTC))


def _phone_key_of(req: JoinRequest) -> str:
    """The phone's keyed hash: from the verification token (its signature says it), or the phone
    itself when verification is off. Raises PhoneNotVerified, ValidationFailed."""
    keys = verification_keys()
    if not get_settings().phone_verification:
        if req.phone is None:
            raise ValidationFailed(["phone"])
        return phone_hash(req.phone, keys)
    signed_for = verified_phone_hash(req.verification_token, math.floor(clock()), keys)
    if signed_for is None:
        metrics.add("VerificationRefused", reason="token")
        raise PhoneNotVerified()
    return signed_for


def forget() -> None:
    """Forget the cached state (tests, and the local stack's restarts)."""
    _cache.clear()
    _lazy.clear()
