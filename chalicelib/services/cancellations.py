"""A cancellation and what follows it: the counters, the phone's share back, the appointments'
places freed, and the place itself handed on (reserve rank 1 first, else back to newcomers).

The person's own cancel comes here; the counter's (``services.reclaims``) and a no-show's
(``services.doses``) write their cancellation and then hand on the same way. Each step is done once:
the cancelled registration lists what is left to do (``todo``, ``release_pending``), and a retried
cancel, the minute sweep or reconciliation finishes what an interrupted one left.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib.domain import rules
from chalicelib.domain.errors import Conflict, NotFound, Overloaded
from chalicelib.domain.jobs import Release
from chalicelib.domain.models import Registration, RegistrationView, Status
from chalicelib.logs import code_ref
from chalicelib.services import appointments, counters, lookups
from chalicelib.services.phone_shares import phone_key
from chalicelib.services.retry import LostRace, compare_and_set, kept_changing
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores

logger = Logger(child=True)

ATTEMPTS = 5  # of the cancel's compare-and-set (services.retry)


def cancel(registration_id: str, birth_date: str) -> RegistrationView:
    """Cancel a registration; its place goes to reserve rank 1 (or back to newcomers).

    A cancel that was interrupted (its release could not be queued: 429) is finished by the retry:
    the cancelled registration lists what is left to do, and each step is done once.
    Raises NotFound (also for a wrong birth date), Conflict (it kept changing: 429), Overloaded.
    """
    st = stores()
    now = datetime.now(UTC)

    def attempt() -> tuple[Registration, Registration | None]:
        """The registration as read, and as cancelled here (None: cancelled already)."""
        reg = st.registrations.get(registration_id)
        if reg is None or not rules.same_secret(reg.birth_date.isoformat(), birth_date):
            raise NotFound()
        if reg.status is Status.CANCELLED:
            return reg, None
        try:
            return reg, st.registrations.cancel(reg, now)
        except Conflict:
            raise LostRace() from None  # promoted meanwhile: cancel what it is now

    reg, cancelled = compare_and_set(attempt, ATTEMPTS, kept_changing("registration"))
    if cancelled is None:
        hand_on(reg)  # what an interrupted cancel left undone, if anything
        return lookups.view(st.registrations.get(registration_id) or reg)
    logger.info("cancelled", extra={"ref": code_ref(registration_id), "was": reg.status.value})
    hand_on(cancelled)
    return lookups.view(cancelled)


def hand_on(cancelled: Registration) -> None:
    """What follows a cancellation (by the person, the counter, or a no-show), each step once:
    counters, the phone's share, the booked appointments' places (``appointments.release``: a
    compare-and-set that succeeds once), the place itself (reserve rank 1 first, through the
    promotion service's release job).
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
