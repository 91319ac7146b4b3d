"""The walk-in counter acting for the person in front of it (ID card seen): reclaim a national ID
somebody else registered, or cancel the person's registration.

A reclaim is one compare-and-set on the person's item (``RegistrationStore.reclaim``): the details
become the person's, the receipt code a new one, and the place, rank and appointments stay. The old
code is dead for every request; the jobs that still hold it (a reserve ticket, a removal list, a
promotion's target, an SMS job) follow it with ``find``. Neither action looks at channel states:
the counters work while the app (or the counter channel itself) is closed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings, hmac_key
from chalicelib.domain import rules
from chalicelib.domain.errors import Conflict, NotEligible, NotFound
from chalicelib.domain.models import Channel, Registration, RegistrationRequest, RegistrationView, Status
from chalicelib.logs import code_ref
from chalicelib.services import cancellations, counters, lookups, removals
from chalicelib.services.phone_shares import phone_key
from chalicelib.services.retry import LostRace, compare_and_set, kept_changing
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores

logger = Logger(child=True)

ATTEMPTS = 8  # of each compare-and-set (services.retry)
ACTIVE = (Status.CONFIRMED, Status.RESERVE)


def reclaim(req: RegistrationRequest, label: str) -> RegistrationView:
    """The national ID's active registration takes the details of ``req`` and a new receipt code.

    Raises NotEligible (under the minimum age), NotFound (no active registration), Conflict (it
    kept changing: 429), Overloaded.
    """
    now = datetime.now(UTC)
    if rules.age_on(req.birth, rules.today_in_bangkok(now)) < get_settings().min_age:
        raise NotEligible()
    st = stores()
    pointer = rules.person_pointer(req.national_id, hmac_key())
    details = {
        "first_name": req.first_name,
        "last_name": req.last_name,
        "birth_date": req.birth_date,
        "phone": req.phone,
        "basis": req.eligibility.basis.value,
        "detail": req.eligibility.detail,
    }

    def attempt() -> tuple[Registration, Registration]:
        was = _active(pointer)
        try:
            return was, st.registrations.reclaim(was, rules.receipt_code(pointer), details, label, now)
        except Conflict:
            raise LostRace() from None  # changed since read (promoted, cancelled, a removal recorded): read it again

    was, reg = compare_and_set(attempt, ATTEMPTS, kept_changing("registration"))
    _follow_up(was, reg)
    metrics.add("CounterReclaim", status=reg.status.value)
    logger.info("reclaimed at a counter", extra={"ref": code_ref(reg.registration_id), "status": reg.status.value})
    return lookups.view(reg)


def cancel(national_id: str) -> RegistrationView:
    """Cancel the person's active registration, as their own cancel would (``cancellations.hand_on``:
    the place goes to reserve rank 1). A cancel interrupted after its write (429 when the release
    could not be queued) is finished by the retry, which answers the cancelled registration.

    Raises NotFound (no active registration), Conflict (it kept changing: 429), Overloaded.
    """
    st = stores()
    pointer = rules.person_pointer(national_id, hmac_key())
    now = datetime.now(UTC)

    def attempt() -> tuple[Registration, Registration | None]:
        """The registration as read, and as cancelled here (None: an interrupted cancel to finish)."""
        found = st.registrations.current(pointer)
        reg = found[0] if found else None
        if reg is not None and reg.status is Status.CANCELLED and (reg.release_pending or reg.todo):
            return reg, None
        if reg is None or reg.status not in ACTIVE:
            raise NotFound()
        try:
            return reg, st.registrations.cancel(reg, now)
        except Conflict:
            raise LostRace() from None  # promoted or reclaimed meanwhile: cancel what it is now

    reg, cancelled = compare_and_set(attempt, ATTEMPTS, kept_changing("registration"))
    if cancelled is None:
        cancellations.hand_on(reg)  # what an interrupted cancel left undone
        return lookups.view(st.registrations.get(reg.registration_id) or reg)
    metrics.add("CounterCancel", was=reg.status.value)
    logger.info("cancelled at a counter", extra={"ref": code_ref(cancelled.registration_id), "was": reg.status.value})
    cancellations.hand_on(cancelled)
    return lookups.view(cancelled)


def _active(pointer: bytes) -> Registration:
    found = stores().registrations.current(pointer)
    if found is None or found[0].status not in ACTIVE:
        raise NotFound()
    return found[0]


def _follow_up(was: Registration, reg: Registration) -> None:
    """After the reclaim's write: the share of the phone that registered it on the app (the
    registration is the counter's now), the statistics by channel (if they include it already;
    otherwise the removal sweep counts it with its new channel), and a removal sweep for the new code."""
    # The reclaim happened whatever these do: a failure is logged (a phone keeps a share too many,
    # or reconciliation repairs the counts).
    if was.channel is Channel.APP:
        best_effort(
            lambda: stores().phones.give_back(phone_key(was.phone), was.registration_id),
            "released share",
        )
    if was.counted and was.channel is not Channel.COUNTER:
        best_effort(
            lambda: counters.add({f"channel_{was.channel.value}": -1, f"channel_{Channel.COUNTER.value}": 1}),
            "counters",
        )
    if reg.status is Status.CONFIRMED and (not reg.counted or any(s in removals.OPEN for s in reg.removals.values())):
        # A sweep that read it under its old code has lost its write: list it again.
        removals.note(reg.registration_id, force=True)
