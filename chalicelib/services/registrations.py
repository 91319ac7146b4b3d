"""Register: one person on the first free place (primary, else reserve), or why not; a retried request
answered as it was first. Every channel comes here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings, hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import (
    AlreadyRegistered,
    ChannelClosed,
    Conflict,
    IdempotencyKeyReused,
    NotEligible,
    Overloaded,
    RegistrationFull,
)
from chalicelib.domain.expected import expected_date
from chalicelib.domain.models import (
    REGISTRIES,
    Channel,
    Registration,
    RegistrationRequest,
    RegistrationView,
    Status,
)
from chalicelib.logs import code_ref
from chalicelib.services import campaign, counters, phone_shares, removals
from chalicelib.services.in_flight import InFlight
from chalicelib.services.phone_shares import Hold
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores
from chalicelib.store.types import Taken

logger = Logger(child=True)

# One person's requests at once in this container: the first answers the others (services.in_flight).
_in_flight = InFlight()


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
    states = campaign.cached_channel_states()
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
    phone = phone_shares.phone_key(req.phone) if channel is Channel.APP else None
    # A place in hand costs nothing to take: the phone's share (a phone at a limit is refused there,
    # before the person is looked at, and the place stays in hand), then the registration's put,
    # which also tells a repeat.
    if states is not None and st.quota.take_primary(in_hand_only=True):
        hold = phone_shares.take(phone, code, channel, st.quota.keep)
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
        campaign.keep_channel_states(look.channels)
        if not look.channels[channel.value]:
            raise ChannelClosed()
    if look.phone is not None and look.phone.refuses(code, *phone_shares.limits()):
        phone_shares.limit_reached(channel)  # before the person: the answer says nothing about the ID
    if look.gate is not None:
        st.quota.see_gate(look.gate)
    found = look.current
    if found is not None and found[0].status is not Status.CANCELLED:
        _refuse_or_replay_stored(*found, fingerprint, code)
    if st.quota.take_primary():
        hold = phone_shares.take(phone, code, channel, st.quota.keep)
        return _confirmed(req, code, channel, label, now, pointer, fingerprint, hold)
    if full_at_look or st.quota.known_full():
        raise RegistrationFull()
    # The share before the gate: a phone found over a limit here (it raced its own registrations
    # past the look) takes no ticket, and writes nothing shared.
    hold = phone_shares.take(phone, code, channel)
    return _overflow(_new(req, code, Status.RESERVE, channel, label, now), pointer, fingerprint, hold)


def _overflow(reg: Registration, pointer: bytes, fingerprint: str | None, hold: Hold | None) -> RegistrationView:
    """Once the primary shards are full: a parked place, else a reserve ticket, for ``reg`` (its
    phone's share taken). A share whose registration is not stored goes back."""
    st = stores()
    code = reg.registration_id
    try:
        overflow = st.quota.take_overflow(counters.registered_deltas(reg))
    except Exception:
        phone_shares.give_back(hold, code)
        raise
    if overflow is None:
        phone_shares.give_back(hold, code)
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
        phone_shares.give_back(hold, code)  # the registration is not written, whatever became of the ticket
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
    hold: Hold | None,
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
    reg: Registration,
    pointer: bytes,
    fingerprint: str | None,
    hold: Hold | None,
    undo_place: Callable[[], None],
) -> None:
    """Store a registration on the place (and the phone's share) just taken for it. If it is not
    stored, the place goes where ``undo_place`` puts it (in hand for the next newcomer, or the
    reserve ticket given back) and the share goes back; if the write may have landed, both are left
    to it. Raises AlreadyRegistered (or replays), Conflict, Overloaded, PhoneLimitReached."""
    try:
        stores().registrations.create(reg, pointer, fingerprint)
    except Taken as taken:
        undo_place()
        phone_shares.give_back(hold, reg.registration_id)
        _refuse_or_replay_stored(taken.current, taken.fingerprint, fingerprint, reg.registration_id)
    except Overloaded as exc:
        if not exc.maybe_applied:
            undo_place()
            phone_shares.give_back(hold, reg.registration_id)
        raise
    except Conflict:
        phone_shares.give_back(hold, reg.registration_id)  # not stored; its place, if any, is a leak
        raise
    if hold is not None and hold.share.held_by is not None:
        _adopt_share(reg, pointer, hold, undo_place)


def _adopt_share(reg: Registration, pointer: bytes, hold: Hold, undo_place: Callable[[], None]) -> None:
    """The stored registration takes over the share its person held of this phone
    (``phone_shares.adopt``); if the phone is at a limit instead, it is undone (``_withdraw``).
    Raises PhoneLimitReached, Overloaded."""
    try:
        held = phone_shares.adopt(hold, reg.registration_id)
    except Overloaded as exc:
        if not exc.maybe_applied:
            _withdraw(reg, pointer, undo_place)
        raise
    if not held and _withdraw(reg, pointer, undo_place):
        phone_shares.limit_reached(reg.channel)


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
    return RegistrationView.of(was, rank, expected_date(was, rank, get_settings(), rules.today_in_bangkok()))


def _registered(reg: Registration, rank: int | None) -> RegistrationView:
    metrics.add("Registration", status=reg.status.value, channel=reg.channel.value)
    logger.info(
        "registered",
        extra={"ref": code_ref(reg.registration_id), "status": reg.status.value, "channel": reg.channel.value},
    )
    if reg.status is Status.CONFIRMED:
        removals.note(reg.registration_id)
    return RegistrationView.of(reg, rank, expected_date(reg, rank, get_settings(), rules.today_in_bangkok()))


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
