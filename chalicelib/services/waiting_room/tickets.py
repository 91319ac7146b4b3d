"""A person's side of the line: join it, read a ticket, read the line.

A phone has at most one ticket: joining is one conditional put, and a phone that has a ticket gets
that one back. A join whose put comes back too late for its round moves itself at once to the second
it came back in. A ticket's place is read from its bucket once sequenced, else from the ticket's own
item; a ticket whose second was sequenced without it joins the line again, once, where it is found.
An ID we could not have issued is refused without a read. ``GET /v1/queue`` is the same answer for
everyone, cacheable for PUBLIC_MAX_AGE. A reader that finds the sequencer late runs a round itself
(``sequencer.caught_up``), so the line moves while its schedule fails.
"""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import admission_key, get_settings, verification_keys
from chalicelib.domain.errors import (
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
from chalicelib.domain.queue import order
from chalicelib.domain.queue.order import TicketId
from chalicelib.domain.queue.pace import QueueState
from chalicelib.domain.queue.standing import Place, sign_admission, standing
from chalicelib.domain.queue.views import JoinRequest, QueueView, TicketView
from chalicelib.domain.verification import phone_hash, verified_phone_hash
from chalicelib.services import campaign
from chalicelib.services.waiting_room import line
from chalicelib.services.waiting_room.sequencer import caught_up
from chalicelib.store.factory import stores
from chalicelib.store.types import QueueTicket

logger = Logger(child=True)

# The shared GET /v1/queue may be answered by a cache (API Gateway, CloudFront, the browser) this long.
PUBLIC_MAX_AGE = 2


def join(req: JoinRequest) -> tuple[TicketView, bool]:
    """The phone's ticket: a new one (True), or the one it has (False), never a second one.

    Raises NotFound (the waiting room is off), ValidationFailed (no phone when verification is off),
    PhoneNotVerified, QueueNotOpen, RegistrationFull (the line has stopped), ChannelClosed, Overloaded.
    """
    settings = get_settings()
    if not settings.waiting_room:
        raise NotFound()
    phone_key = _phone_key_of(req)
    now = line.clock()
    opens = settings.registration_opens_at
    if opens is not None and now < opens - settings.queue_opens_minutes_before * 60:
        raise QueueNotOpen()
    state = line.state(now)
    if state.full:
        raise RegistrationFull()
    if not campaign.channel_states()[Channel.APP.value]:
        raise ChannelClosed()
    second = math.floor(now)
    if not state.opened and state.opens_at is not None and second < state.opens_at:
        shard = secrets.randbelow(state.pre_shards)
        index_key = order.pre_key(shard)
    else:
        shard = secrets.randbelow(state.shards)
        index_key = order.arrival_key(second, shard)
    ticket = order.new_ticket(second, shard, phone_key)
    found = stores().queue.join(ticket.phone_key, ticket.text, index_key, second, now)
    if found is None:
        metrics.add("QueueJoined")
        _if_landed_late(ticket, state)
        return _view(ticket, Place(None), state, now), True
    held = order.parse_ticket(found.ticket)
    if held is None:  # not one of ours: nothing we wrote
        raise Conflict("unreadable ticket")
    return _view(held, _locate(held, state, now, found), state, now), False


def ticket(text: str) -> TicketView:
    """Where a ticket stands. Raises NotFound (unknown ticket, or the waiting room is off), Overloaded."""
    if not line.enabled():
        raise NotFound()
    parsed = order.parse_ticket(text)
    now = line.clock()
    if parsed is None or parsed.second > now + 2:
        raise NotFound()  # nothing else was ever issued: no read for it
    state = caught_up(line.state(now), now)
    return _view(parsed, _locate(parsed, state, now), state, now)


def overview() -> QueueView:
    """The line as everybody sees it (the same answer for all; cacheable). Raises NotFound when off."""
    if not line.enabled():
        raise NotFound()
    now = line.clock()
    state = caught_up(line.state(now), now)
    return QueueView(**line.figures(state, now))


def _locate(ticket: TicketId, state: QueueState, now: float, record: QueueTicket | None = None) -> Place:
    """Where the ticket is: its bucket's position (one read), else the ticket's own item (a ticket
    not sequenced yet, or one that landed after its second was sequenced). Raises NotFound."""
    store = stores().queue
    pre = state.opens_at is not None and ticket.second < state.opens_at
    if pre and state.opened:
        bucket = line.bucket(f"pre#{ticket.pre_bucket}")
        position = order.unpack_positions(bucket.positions).get(ticket.digest) if bucket else None
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
    bucket = line.bucket(key)
    if bucket is None:
        return None
    index = order.index_in(bucket.ids, digest)
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
    stores().queue.move(ticket.phone_key, ticket.text, order.arrival_key(second, shard), second, shard, mine.moved_to)
    metrics.add("QueueLateTicket")
    logger.warning("a ticket joined the line again: its second was sequenced without it")
    return Place(None)


def _if_landed_late(ticket: TicketId, state: QueueState) -> None:
    """A new ticket whose put came back too near the read of its round (``order.INDEX_LAG_SECONDS``)
    may be missing from it: it moves now to the second it came back in, one more write, so that
    nobody the service received later is placed ahead of it. If the round did see it, that place
    stands (the sequencer leaves the moved entry out). A move that fails is left to the ticket's
    reads (``_moved``)."""
    back = line.clock()
    if back < order.read_at(ticket.second, state.opens_at) - order.INDEX_LAG_SECONDS:
        return
    second = math.floor(back)
    shard = secrets.randbelow(state.shards)
    try:
        stores().queue.move(ticket.phone_key, ticket.text, order.arrival_key(second, shard), second, shard, None)
    except Overloaded:
        return
    metrics.add("QueueLateJoin")


def _view(ticket: TicketId, place: Place, state: QueueState, now: float) -> TicketView:
    settings = get_settings()
    now_standing = standing(place, state, now, settings.admission_minutes * 60, order.spread_key(ticket.text))
    token = until = None
    if now_standing.admitted_until is not None:
        expiry = math.floor(now_standing.admitted_until)
        token = sign_admission(ticket.phone_key, expiry, admission_key())
        until = iso_utc(datetime.fromtimestamp(expiry, UTC))
    return TicketView(
        ticket=ticket.text,
        status=now_standing.status,
        position=now_standing.position,
        ahead=now_standing.ahead,
        estimated_wait_s=now_standing.estimated_wait_s,
        poll_after_s=now_standing.poll_after_s,
        opens_at=line.iso(state.opens_at),
        admission_token=token,
        admitted_until=until,
    )


def _phone_key_of(req: JoinRequest) -> str:
    """The phone's keyed hash: from the verification token (its signature says it), or the phone
    itself when verification is off. Raises PhoneNotVerified, ValidationFailed."""
    keys = verification_keys()
    if not get_settings().phone_verification:
        if req.phone is None:
            raise ValidationFailed(["phone"])
        return phone_hash(req.phone, keys)
    signed_for = verified_phone_hash(req.verification_token, math.floor(line.clock()), keys)
    if signed_for is None:
        metrics.add("VerificationRefused", reason="token")
        raise PhoneNotVerified()
    return signed_for
