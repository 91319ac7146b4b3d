"""Register, read, look up and cancel registrations; the campaign's figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings, hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import ChannelClosed, Conflict, NotEligible, NotFound, Overloaded, RegistrationFull
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
from chalicelib.services import appointments, counters, removals
from chalicelib.store.factory import stores

logger = Logger(child=True)

# A closed channel must be seen "within 5 seconds everywhere" without a read per request.
CHANNEL_CACHE_SECONDS = 3.0
_channel_cache: dict[str, tuple[float, dict[str, bool]]] = {}


def channel_states(fresh: bool = False) -> dict[str, bool]:
    cached = _channel_cache.get("states")
    if not fresh and cached and time.monotonic() - cached[0] < CHANNEL_CACHE_SECONDS:
        return cached[1]
    states = stores().campaign.channels()
    _channel_cache["states"] = (time.monotonic(), states)
    return states


def register(
    req: RegistrationRequest,
    channel: Channel,
    label: str | None = None,
    registration_id: str | None = None,
) -> RegistrationView:
    """Register one person on the first free place: primary, else reserve. Every channel comes here.

    ``registration_id`` lets a batch row retry with the ID it used before (see services.batches).
    Raises ChannelClosed, NotEligible, AlreadyRegistered, RegistrationFull, Overloaded.
    """
    settings = get_settings()
    now = datetime.now(UTC)
    if not channel_states()[channel.value]:
        raise ChannelClosed()
    if rules.age_on(req.birth, rules.today_in_bangkok(now)) < settings.min_age:
        raise NotEligible()
    st = stores()
    key = rules.person_key(req.national_id, hmac_key())
    rid = registration_id or rules.new_registration_id()
    st.registrations.claim_person(key, rid, now, settings.stale_claim_seconds)
    ticket = None
    try:
        if not st.campaign.take_primary():
            overflow = st.campaign.take_overflow()
            if overflow is None:
                raise RegistrationFull()
            ticket = overflow.ticket
    except Exception:
        # No place was taken: the person may try again at once.
        st.registrations.release_claim(key, rid)
        raise
    status = Status.CONFIRMED if ticket is None else Status.RESERVE
    if ticket is not None:
        try:
            st.campaign.put_ticket(ticket, rid, now.timestamp())
        except Overloaded:
            _give_back(ticket, rid, key, ticket_written=False)
            raise
    confirmed = status is Status.CONFIRMED
    reg = Registration(
        registration_id=rid,
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
        ticket=ticket,
        label=label,
        removals=dict.fromkeys(REGISTRIES, "pending") if confirmed else {},
    )
    _store_or_give_back(reg, key)
    # The registration stands from here on: what follows must not turn it into an error.
    _best_effort(lambda: counters.registered(reg), "counters")
    metrics.add("Registration", status=status.value, channel=channel.value)
    if confirmed:
        removals.queue(reg)  # a failure to queue is left to the sweep (the item says pending)
    logger.info("registered", extra={"registration_id": rid, "status": status.value, "channel": channel.value})
    return view(reg)


def _store_or_give_back(reg: Registration, person: str) -> None:
    """Write the registration, retrying a throttled write; if it cannot be written, give its place
    back (to newcomers if nobody waits, else reconciliation finds it) and free the person."""
    st = stores()
    for attempt in range(3):
        try:
            st.registrations.put(reg)
            return
        except Overloaded:
            time.sleep(0.1 * 2**attempt)
    _give_back(reg.ticket, reg.registration_id, person, ticket_written=True)
    raise Overloaded(retry_after=2)


def _give_back(ticket: int | None, rid: str, person: str, ticket_written: bool) -> None:
    """Undo a registration that could not be completed: its place, then the person's claim."""
    st = stores()
    if ticket is not None:
        holder = rid if ticket_written else None
        _best_effort(lambda: st.campaign.void_ticket(ticket, holder), "void ticket")
        _best_effort(lambda: st.campaign.reserve_exit(f"ticket-{ticket}", ticket), "reserve exit")
    else:
        _best_effort(lambda: st.campaign.park(rid), "give back")
    _best_effort(lambda: st.registrations.release_claim(person, rid), "claim")


def _best_effort(action: Callable[[], object], what: str) -> None:
    """Secondary writes (counters, slots): a failure is logged and left to reconciliation."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - never fail a registration or a cancellation for these
        logger.warning("secondary write failed", extra={"what": what, "error_type": type(exc).__name__})


def view(reg: Registration) -> RegistrationView:
    rank = stores().campaign.rank(reg.ticket) if reg.status is Status.RESERVE and reg.ticket else None
    return RegistrationView.of(reg, rank, appointments.expected_date(reg, rank))


def get(registration_id: str) -> RegistrationView:
    """Raises NotFound."""
    reg = stores().registrations.get(registration_id) if registration_id.startswith("r_") else None
    if reg is None:
        raise NotFound()
    return view(reg)


def lookup(req: LookupRequest) -> RegistrationView:
    """The person's active registration, else their latest. Raises NotFound (also for a wrong birth date)."""
    st = stores()
    person = st.registrations.person(rules.person_key(req.national_id, hmac_key()))
    reg = None
    for rid in (person.active, person.latest) if person else ():
        if rid and (reg := st.registrations.get(rid)) is not None:
            break
    if reg is None or not rules.same_secret(reg.birth_date.isoformat(), req.birth_date):
        raise NotFound()
    return view(reg)


def cancel(registration_id: str, birth_date: str) -> RegistrationView:
    """Cancel a registration; its place goes to reserve rank 1 (or back to newcomers).

    Raises NotFound (also for a wrong birth date).
    """
    st = stores()
    now = datetime.now(UTC)
    for _ in range(5):
        reg = st.registrations.get(registration_id) if registration_id.startswith("r_") else None
        if reg is None or not rules.same_secret(reg.birth_date.isoformat(), birth_date):
            raise NotFound()
        if reg.status is Status.CANCELLED:
            # A repeat may follow a cancel that failed half-way: make sure the person is free again.
            st.registrations.end_claim(rules.person_key(reg.national_id, hmac_key()), registration_id)
            return view(reg)
        try:
            cancelled = st.registrations.cancel(reg, now)
            break
        except Conflict:
            continue  # promoted meanwhile: cancel what it is now
    else:
        raise Conflict("registration kept changing")
    hand_on(reg.status, cancelled)
    logger.info("cancelled", extra={"registration_id": registration_id, "was": reg.status.value})
    return view(cancelled)


def hand_on(was: Status, cancelled: Registration) -> None:
    """After a cancellation (by the person, or a no-show): the person may register again, the place
    moves on (reserve rank 1 first, through the release job), counters and appointments follow."""
    st = stores()
    registration_id = cancelled.registration_id
    # What matters to people first: they may register again, and the place moves on. The sweep
    # re-sends the release if the process dies before it is queued.
    st.registrations.end_claim(rules.person_key(cancelled.national_id, hmac_key()), registration_id)
    if was is Status.RESERVE and cancelled.ticket:
        # Leaving the reserve is two idempotent writes: ranks behind move up at once.
        st.campaign.reserve_exit(registration_id, cancelled.ticket)
        st.registrations.finish_release(registration_id)
    else:
        st.promotions.send({"kind": "release", "registration_id": registration_id})
    _best_effort(lambda: counters.cancelled(was, cancelled), "counters")
    _best_effort(lambda: appointments.release(cancelled), "appointment slot")


def campaign() -> CampaignView:
    settings = get_settings()
    counts = stores().campaign.counts()
    states = channel_states()
    return CampaignView(
        name=settings.campaign_name,
        min_age=settings.min_age,
        primary=Places(
            capacity=settings.primary_capacity,
            remaining=max(0, settings.primary_capacity - counts.primary_taken + counts.parked),
        ),
        reserve=Places(
            capacity=settings.reserve_capacity,
            remaining=max(0, settings.reserve_capacity - counts.reserve_active),
        ),
        channels=ChannelsView(**{k: "open" if v else "closed" for k, v in states.items()}),
    )
