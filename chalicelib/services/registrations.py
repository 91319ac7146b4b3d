"""Register, read, look up and cancel registrations; the campaign's figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings, hmac_key, verification_keys
from chalicelib.domain import rules, verification
from chalicelib.domain.errors import (
    AlreadyRegistered,
    ChannelClosed,
    Conflict,
    IdempotencyKeyReused,
    NotEligible,
    NotFound,
    Overloaded,
    PhoneLimitReached,
    RegistrationFull,
)
from chalicelib.domain.jobs import Release
from chalicelib.domain.models import (
    REGISTRIES,
    CampaignView,
    Channel,
    ChannelsView,
    LookupRequest,
    Places,
    Registration,
    RegistrationRequest,
    RegistrationView,
    Status,
)
from chalicelib.logs import code_ref
from chalicelib.services import appointments, counters, removals
from chalicelib.services.in_flight import InFlight
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores
from chalicelib.store.types import Share, Taken

logger = Logger(child=True)

# A closed channel must be seen "within 5 seconds everywhere" without a read per request: the
# states are read again after CHANNEL_CACHE_SECONDS, with the person's item (store/glance.py).
CHANNEL_CACHE_SECONDS = 3.0
_channel_cache: dict[str, tuple[float, dict[str, bool]]] = {}
# One person's requests at once in this container: the first answers the others (services.in_flight).
_in_flight = InFlight()


def channel_states(fresh: bool = False) -> dict[str, bool]:
    cached = None if fresh else _fresh_channel_states()
    if cached is not None:
        return cached
    states = stores().channels.channels()
    _channel_cache["states"] = (time.monotonic(), states)
    return states


def _fresh_channel_states() -> dict[str, bool] | None:
    """The cached channel states, or None when they are due to be read again."""
    cached = _channel_cache.get("states")
    if cached and time.monotonic() - cached[0] < CHANNEL_CACHE_SECONDS:
        return cached[1]
    return None


def register(
    req: RegistrationRequest,
    channel: Channel,
    label: str | None = None,
    code_secret: bytes | None = None,
    fingerprint: str | None = None,
) -> RegistrationView:
    """Register one person on the first free place: primary, else reserve. Every channel comes here.

    ``code_secret`` lets a batch row retry with the receipt code it used before (see services.batches);
    ``fingerprint`` (``api.idempotency.fingerprint``: the Idempotency-Key and the body) is stored
    with the registration, so a retry with the same key gets the first answer again.
    An app registration's phone at either of its limits is refused before the person is looked at.
    AWS requests: 1-2 for a confirmed place (+1 on the app channel), 1 for a person registered
    already (2-3 on the app channel with a place in hand; none while the request that registers
    them is in flight in this container), 1 for a refusal while the reserve is full or the phone at a
    limit, 4-5 for the reserve (docs/architecture-data-path.md).
    Raises ChannelClosed, NotEligible, PhoneLimitReached, AlreadyRegistered, IdempotencyKeyReused,
    RegistrationFull, RequestInProgress, Overloaded.
    """
    removals.note()  # confirmations this container still holds go to a sweep, at most every few seconds
    try:
        return _register(req, channel, label, code_secret, fingerprint)
    except ReplayedRegistration as replay:
        return replay.view


def _register(
    req: RegistrationRequest, channel: Channel, label: str | None, code_secret: bytes | None, fingerprint: str | None
) -> RegistrationView:
    settings = get_settings()
    now = datetime.now(UTC)
    # Age first: an ineligible request costs no read at all.
    if rules.age_on(req.birth, rules.today_in_bangkok(now)) < settings.min_age:
        raise NotEligible()
    states = _fresh_channel_states()
    if states is not None and not states[channel.value]:
        raise ChannelClosed()
    pointer = rules.person_pointer(req.national_id, hmac_key())
    code = rules.receipt_code(pointer, code_secret)
    flight, leading = _in_flight.join(pointer)
    if not leading:
        # This person's request in flight here answers this one: a new registration is refused or
        # replayed as the stored one would be, with no request; any other outcome, asked as usual.
        # Not across phones on the app: a phone at a limit hears that before anything about the ID.
        earlier = flight.wait()
        if earlier is not None and (channel is not Channel.APP or flight.phone == req.phone):
            _refuse_or_replay(earlier.registration_id, lambda: earlier, flight.fingerprint, fingerprint, code)
        return _register_person(req, channel, label, datetime.now(UTC), states, pointer, code, fingerprint)
    try:
        answer = _register_person(req, channel, label, now, states, pointer, code, fingerprint)
        flight.answered(answer, fingerprint, req.phone)
        return answer
    finally:
        _in_flight.land(pointer, flight)


def _register_person(
    req: RegistrationRequest,
    channel: Channel,
    label: str | None,
    now: datetime,
    states: dict[str, bool] | None,
    pointer: bytes,
    code: str,
    fingerprint: str | None,
) -> RegistrationView:
    st = stores()
    phone = phone_key(req.phone) if channel is Channel.APP else None
    # A place in hand costs nothing to take: the phone's share (a phone at a limit is refused there,
    # before the person is looked at, and the place stays in hand), then the registration's put,
    # which also tells a repeat.
    if states is not None and st.quota.take_primary(in_hand_only=True):
        hold = _take_share(phone, code, channel, st.quota.keep)
        return _confirmed(req, code, channel, label, now, pointer, fingerprint, hold)
    # Nothing in hand: who is asking decides before any place is taken (a repeat costs one read; a
    # cancelled registration is replaced by the new one, as the put does). The same request reads
    # the phone's item (on the app), the channel states and, once the primary list is full, the gate
    # when they are due: a refusal costs that one request and no write.
    # "Full" as seen when deciding whether to read the gate: a refusal that did not read it because
    # it was known full is refused on that, even if the 2 s ran out meanwhile (never a gate write).
    full_at_look = st.quota.known_full()
    look = st.glance.look(pointer, gate=st.quota.gate_due(), channels=states is None, phone=phone)
    if look.channels is not None:
        _channel_cache["states"] = (time.monotonic(), look.channels)
        if not look.channels[channel.value]:
            raise ChannelClosed()
    if look.phone is not None and look.phone.refuses(code, *_phone_limits()):
        _phone_limit_reached(channel)  # before the person: the answer says nothing about the ID
    if look.gate is not None:
        st.quota.see_gate(look.gate)
    found = look.current
    if found is not None and found[0].status is not Status.CANCELLED:
        _refuse_or_replay_stored(*found, fingerprint, code)
    if st.quota.take_primary():
        hold = _take_share(phone, code, channel, st.quota.keep)
        return _confirmed(req, code, channel, label, now, pointer, fingerprint, hold)
    if full_at_look or st.quota.known_full():
        raise RegistrationFull()
    # The share before the gate: a phone found over a limit here (it raced its own registrations
    # past the look) takes no ticket, and writes nothing shared.
    hold = _take_share(phone, code, channel)
    return _overflow(_new(req, code, Status.RESERVE, channel, label, now), pointer, fingerprint, hold)


def _overflow(reg: Registration, pointer: bytes, fingerprint: str | None, hold: _Hold | None) -> RegistrationView:
    """Once the primary shards are full: a parked place, else a reserve ticket, for ``reg`` (its
    phone's share taken). A share whose registration is not stored goes back."""
    st = stores()
    code = reg.registration_id
    try:
        overflow = st.quota.take_overflow(counters.registered_deltas(reg))
    except Exception:
        _give_back_share(hold, code)
        raise
    if overflow is None:
        _give_back_share(hold, code)
        raise RegistrationFull()
    if overflow.ticket is None:  # a place given back while nobody waited
        reg = reg.model_copy(update={"status": Status.CONFIRMED, "removals": dict.fromkeys(REGISTRIES, "pending")})
        _store(reg, pointer, fingerprint, hold, st.quota.keep)
        return _registered(reg, None)
    reg = reg.model_copy(update={"ticket": overflow.ticket, "counted": True, "rank_at_start": overflow.rank})
    # A write that may have landed is left as it is: a ticket whose registration never appears is
    # voided by the release job or reconciliation (promotion.settle_ticket) after the stale window.
    try:
        st.reserve.put_ticket(overflow.ticket, code, reg.registered_at.timestamp())
    except Overloaded as exc:
        if not exc.maybe_applied:
            _give_back_ticket(reg, written=False)
        _give_back_share(hold, code)  # the registration is not written, whatever became of the ticket
        raise
    _store(reg, pointer, fingerprint, hold, lambda: _give_back_ticket(reg, written=True))
    return _registered(reg, overflow.rank)


def _confirmed(
    req: RegistrationRequest,
    code: str,
    channel: Channel,
    label: str | None,
    now: datetime,
    pointer: bytes,
    fingerprint: str | None,
    hold: _Hold | None,
) -> RegistrationView:
    """Store a confirmed registration on the primary place just taken for it."""
    st = stores()
    reg = _new(req, code, Status.CONFIRMED, channel, label, now)
    _store(reg, pointer, fingerprint, hold, st.quota.keep)
    st.quota.refill()
    return _registered(reg, None)


def _new(
    req: RegistrationRequest, code: str, status: Status, channel: Channel, label: str | None, now: datetime
) -> Registration:
    return Registration(
        registration_id=code,
        status=status,
        channel=channel,
        registered_at=now,
        national_id=req.national_id,
        first_name=req.first_name,
        last_name=req.last_name,
        birth_date=req.birth,
        phone=req.phone,
        basis=req.eligibility.basis,
        detail=req.eligibility.detail,
        label=label,
        removals=dict.fromkeys(REGISTRIES, "pending") if status is Status.CONFIRMED else {},
    )


def _store(
    reg: Registration, pointer: bytes, fingerprint: str | None, hold: _Hold | None, undo_place: Callable[[], None]
) -> None:
    """Store a registration on the place (and the phone's share) just taken for it. If it is not
    stored, the place goes where ``undo_place`` puts it (in hand for the next newcomer, or the
    reserve ticket given back) and the share goes back; if the write may have landed, both are left
    to it. Raises AlreadyRegistered (or replays), Conflict, Overloaded, PhoneLimitReached."""
    try:
        stores().registrations.create(reg, pointer, fingerprint)
    except Taken as taken:
        undo_place()
        _give_back_share(hold, reg.registration_id)
        _refuse_or_replay_stored(taken.current, taken.fingerprint, fingerprint, reg.registration_id)
    except Overloaded as exc:
        if not exc.maybe_applied:
            undo_place()
            _give_back_share(hold, reg.registration_id)
        raise
    except Conflict:
        _give_back_share(hold, reg.registration_id)  # not stored; its place, if any, is a leak
        raise
    if hold is not None and hold.share.held_by is not None:
        _adopt_share(reg, pointer, hold, undo_place)


@dataclass(frozen=True)
class _Hold:
    """The phone's share an app registration goes ahead with (``Share``: taken, or held by the
    person through an earlier registration of theirs on this phone)."""

    phone: str
    share: Share


def _phone_limits() -> tuple[int, int]:
    settings = get_settings()
    return settings.phone_registration_limit, settings.phone_lifetime_limit


def _take_share(
    phone: str | None, code: str, channel: Channel, undo_place: Callable[[], None] | None = None
) -> _Hold | None:
    """An app registration takes one share of its phone before it is written (``store.phones``): one
    conditional write that checks both limits (``PHONE_REGISTRATION_LIMIT`` active,
    ``PHONE_LIFETIME_LIMIT`` different people) and counts the person among the phone's people. So a
    phone at a limit is refused before the person is looked at, and before any ticket is taken;
    ``undo_place`` puts back a place taken already. A person who holds a share of this phone through
    an earlier registration takes none: their registration answers them, or (it was cancelled, or
    never written) the new one takes that share over once stored.
    None for the other channels. Raises PhoneLimitReached, Overloaded.
    """
    if phone is None:
        return None
    try:
        share = stores().phones.take(phone, code, *_phone_limits())
    except Overloaded as exc:
        if exc.maybe_applied:  # if it landed, the share is this code's: back (its person stays counted)
            best_effort(lambda: stores().phones.give_back(phone, code), "phone share")
        if undo_place is not None:
            undo_place()
        raise
    if share.refused:
        if undo_place is not None:
            undo_place()
        _phone_limit_reached(channel)
    return _Hold(phone, share)


def _phone_limit_reached(channel: Channel) -> NoReturn:
    metrics.add("PhoneLimitReached", channel=channel.value)
    raise PhoneLimitReached()


def _give_back_share(hold: _Hold | None, code: str) -> None:
    """The share taken for a registration that was not stored, back; its person leaves the phone's
    people too if this take added them. If the write fails, the phone keeps a share too many (the
    error is against the phone, never past its limits)."""
    if hold is not None and hold.share.taken:
        forget = hold.share.new_person
        best_effort(lambda: stores().phones.give_back(hold.phone, code, forget_person=forget), "phone share")


def _adopt_share(reg: Registration, pointer: bytes, hold: _Hold, undo_place: Callable[[], None]) -> None:
    """The person held a share of this phone through an earlier registration (cancelled, its share
    still owed; or a request that died before its write): the new registration takes it over, so the
    counts stay as they are. If that one gave it back meanwhile, a share is taken as usual; if the
    phone is then at a limit, the registration is undone (``_withdraw``).
    Raises PhoneLimitReached, Overloaded."""
    phones = stores().phones
    code = reg.registration_id
    held_by = hold.share.held_by
    for _ in range(3):
        try:
            if held_by is not None and phones.adopt(hold.phone, code, held_by):
                return
            share = phones.take(hold.phone, code, *_phone_limits())
        except Overloaded as exc:
            if not exc.maybe_applied:
                _withdraw(reg, pointer, undo_place)
            raise
        if share.taken:
            return
        if share.refused:
            break
        held_by = share.held_by
    if _withdraw(reg, pointer, undo_place):
        _phone_limit_reached(reg.channel)


def _withdraw(reg: Registration, pointer: bytes, undo_place: Callable[[], None]) -> bool:
    """Delete a registration just stored, then free its place; False (nothing undone) if something
    changed it since it was written: it holds its place as it is now (a cancel hands the place on,
    a reclaim keeps it), its share uncounted. If the delete fails, the registration stands and the
    caller answers 429: a retry replays it."""
    try:
        withdrawn = stores().registrations.withdraw(reg, pointer)
    except Overloaded:
        logger.warning("refused registration not withdrawn", extra={"ref": code_ref(reg.registration_id)})
        raise Overloaded() from None
    if withdrawn:
        undo_place()
    return withdrawn


def phone_key(phone: str) -> str:
    return verification.phone_hash(phone, verification_keys())


def _refuse_or_replay_stored(current: Registration, stored: str | None, fingerprint: str | None, code: str) -> NoReturn:
    """The person has a registration (as stored, with the fingerprint stored with it)."""
    _refuse_or_replay(current.registration_id, lambda: first_view(current), stored, fingerprint, code)


def _refuse_or_replay(
    registration_id: str,
    first: Callable[[], RegistrationView],
    stored: str | None,
    fingerprint: str | None,
    code: str,
) -> NoReturn:
    """The person has a registration: a retry of the request that made it gets its first answer
    (``first``) again (ReplayedRegistration), the same key with another body is refused, anyone
    else is told the person is registered."""
    if registration_id == code:
        raise ReplayedRegistration(first())  # a batch row's own earlier attempt
    if fingerprint is not None and stored is not None and rules.same_idempotency_key(stored, fingerprint):
        if not rules.same_secret(stored, fingerprint):
            raise IdempotencyKeyReused()
        raise ReplayedRegistration(first())
    raise AlreadyRegistered()


class ReplayedRegistration(Exception):
    """The answer a retried request gets again (the registration as it was answered first)."""

    def __init__(self, first: RegistrationView) -> None:
        super().__init__("replayed")
        self.view = first


def first_view(reg: Registration) -> RegistrationView:
    """The registration as its creating request answered it (status and rank at that time)."""
    status = Status.RESERVE if reg.ticket is not None else Status.CONFIRMED
    was = reg.model_copy(update={"status": status, "appointment": None})
    rank = reg.rank_at_start if status is Status.RESERVE else None
    return RegistrationView.of(was, rank, appointments.expected_date(was, rank))


def _registered(reg: Registration, rank: int | None) -> RegistrationView:
    metrics.add("Registration", status=reg.status.value, channel=reg.channel.value)
    logger.info(
        "registered",
        extra={"ref": code_ref(reg.registration_id), "status": reg.status.value, "channel": reg.channel.value},
    )
    if reg.status is Status.CONFIRMED:
        removals.note(reg.registration_id)
    return RegistrationView.of(reg, rank, appointments.expected_date(reg, rank))


def _give_back_ticket(reg: Registration, written: bool) -> None:
    """Undo a reserve entry that could not be stored: the ticket leaves the reserve (ranks behind
    move up), and its counts are taken back."""
    st = stores()
    ticket = reg.ticket
    assert ticket is not None  # narrows the type; the caller took one  # nosec B101
    holder = reg.registration_id if written else None
    best_effort(lambda: st.reserve.void_ticket(ticket, holder), "void ticket")
    best_effort(lambda: st.reserve.reserve_exit(f"ticket-{ticket}", ticket), "reserve exit")
    best_effort(lambda: st.statistics.count({k: -v for k, v in counters.registered_deltas(reg).items()}), "counters")


def view(reg: Registration) -> RegistrationView:
    rank = stores().reserve.rank(reg.ticket) if reg.status is Status.RESERVE and reg.ticket else None
    return RegistrationView.of(reg, rank, appointments.expected_date(reg, rank))


def get(registration_id: str) -> RegistrationView:
    """Raises NotFound."""
    reg = stores().registrations.get(registration_id)
    if reg is None:
        raise NotFound()
    return view(reg)


def lookup(req: LookupRequest) -> RegistrationView:
    """The person's active registration, else their latest. Raises NotFound (also for a wrong birth date)."""
    found = stores().registrations.current(rules.person_pointer(req.national_id, hmac_key()))
    if found is None or not rules.same_secret(found[0].birth_date.isoformat(), req.birth_date):
        raise NotFound()
    return view(found[0])


def cancel(registration_id: str, birth_date: str) -> RegistrationView:
    """Cancel a registration; its place goes to reserve rank 1 (or back to newcomers).

    A cancel that was interrupted (its release could not be queued: 429) is finished by the retry:
    the cancelled registration lists what is left to do, and each step is done once.
    Raises NotFound (also for a wrong birth date), Overloaded.
    """
    st = stores()
    now = datetime.now(UTC)
    for _ in range(5):
        reg = st.registrations.get(registration_id)
        if reg is None or not rules.same_secret(reg.birth_date.isoformat(), birth_date):
            raise NotFound()
        if reg.status is Status.CANCELLED:
            hand_on(reg)
            return view(st.registrations.get(registration_id) or reg)
        try:
            cancelled = st.registrations.cancel(reg, now)
            break
        except Conflict:
            continue  # promoted meanwhile: cancel what it is now
    else:
        raise Conflict("registration kept changing")
    logger.info("cancelled", extra={"ref": code_ref(registration_id), "was": reg.status.value})
    hand_on(cancelled)
    return view(cancelled)


def hand_on(cancelled: Registration) -> None:
    """What follows a cancellation (by the person, or a no-show), each step once: counters, the
    booked appointments' places (``appointments.release``: a compare-and-set that succeeds once),
    the place itself (reserve rank 1 first, through the promotion service's release job).
    Raises Overloaded when the release cannot be queued (a retried cancel, or the sweep, sends it),
    or the phone's share cannot be given back (a retried cancel, or reconciliation, gives it back)."""
    st = stores()
    was = Status.CONFIRMED if cancelled.held == "primary" else Status.RESERVE
    if "counts" in cancelled.todo and st.registrations.take_step(cancelled.registration_id, "counts"):
        best_effort(lambda: counters.cancelled(was, cancelled), "counters")
    # Nothing else recounts a phone's share, so it is not best effort: when it cannot be given
    # back now, the step stays listed and the caller is told (429), after the other steps.
    phone_owed = False
    if "phone" in cancelled.todo:
        try:
            give_back_phone_share(cancelled)
        except Overloaded:
            phone_owed = True
    best_effort(lambda: appointments.release(cancelled), "appointment slot")
    if cancelled.release_pending:
        if cancelled.held == "reserve":
            # Leaving the reserve is two idempotent writes: ranks behind move up at once.
            if cancelled.ticket:
                st.reserve.reserve_exit(cancelled.registration_id, cancelled.ticket)
            st.registrations.finish_release(cancelled.registration_id)
        else:
            # Raises Overloaded (429): a retried cancel sends it again; the minute sweep does too.
            st.promotions.send(Release(registration_id=cancelled.registration_id).model_dump(mode="json"))
    if phone_owed:
        raise Overloaded(retry_after=1)


def give_back_phone_share(cancelled: Registration) -> bool:
    """A cancelled app registration's share of its phone, back once: the phone item marks it given
    (a crash before the step is taken, and the retried cancel, find the mark), then the step is
    taken so that a retry need not ask. True if this call gave it back. Raises Overloaded: the
    step stays listed, and a retried cancel or the next reconciliation gives it back."""
    given = stores().phones.give_back(phone_key(cancelled.phone), cancelled.registration_id)
    stores().registrations.take_step(cancelled.registration_id, "phone")
    return given


def campaign() -> CampaignView:
    settings = get_settings()
    counts = stores().quota.counts()
    states = channel_states()
    return CampaignView(
        name=settings.campaign_name,
        min_age=settings.min_age,
        primary=Places(
            capacity=settings.primary_capacity,
            remaining=max(0, settings.primary_capacity - counts.primary_used),
        ),
        reserve=Places(
            capacity=settings.reserve_capacity,
            remaining=max(0, settings.reserve_capacity - counts.reserve_active),
        ),
        channels=ChannelsView(**{k: "open" if v else "closed" for k, v in states.items()}),
    )
