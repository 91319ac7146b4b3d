"""Register, read, look up and cancel registrations; the campaign's figures."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain import rules
from chalicelib.domain.errors import ChannelClosed, Conflict, NotEligible, NotFound, RegistrationFull
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
from chalicelib.services import counters, removals
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
    key = rules.person_key(req.national_id, settings.hmac_key)
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
        st.campaign.put_ticket(ticket, rid, now.timestamp())
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
    st.registrations.put(reg)
    counters.registered(reg)
    metrics.add("Registration", status=status.value, channel=channel.value)
    if confirmed:
        removals.queue(reg)
    logger.info("registered", extra={"registration_id": rid, "status": status.value, "channel": channel.value})
    return view(reg)


def view(reg: Registration) -> RegistrationView:
    rank = stores().campaign.rank(reg.ticket) if reg.status is Status.RESERVE and reg.ticket else None
    return RegistrationView.of(reg, rank)


def get(registration_id: str) -> RegistrationView:
    """Raises NotFound."""
    reg = stores().registrations.get(registration_id) if registration_id.startswith("r_") else None
    if reg is None:
        raise NotFound()
    return view(reg)


def lookup(req: LookupRequest) -> RegistrationView:
    """The person's active registration, else their latest. Raises NotFound (also for a wrong birth date)."""
    st = stores()
    person = st.registrations.person(rules.person_key(req.national_id, get_settings().hmac_key))
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
            return view(reg)
        try:
            cancelled = st.registrations.cancel(reg, now)
            break
        except Conflict:
            continue  # promoted meanwhile: cancel what it is now
    else:
        raise Conflict("registration kept changing")
    counters.cancelled(reg.status, cancelled)
    st.registrations.end_claim(rules.person_key(cancelled.national_id, get_settings().hmac_key), registration_id)
    if reg.status is Status.RESERVE and reg.ticket:
        # Leaving the reserve is two idempotent writes: ranks behind move up at once.
        st.campaign.reserve_exit(registration_id, reg.ticket)
        st.registrations.finish_release(registration_id)
    else:
        # The scheduled sweep re-sends this if the process dies before it is queued.
        st.promotions.send({"kind": "release", "registration_id": registration_id})
    logger.info("cancelled", extra={"registration_id": registration_id, "was": reg.status.value})
    return view(cancelled)


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
