"""Hand on the place of a cancelled registration: to reserve rank 1, else back to newcomers.

A job may run twice, concurrently or after a crash at any point, and still moves one place to one
person: the vacancy records its chosen target with a compare-and-set, the promotion itself is a
conditional write on the reserve registration (reserve -> confirmed, ``promoted_by`` = vacancy),
a reserve exit counts once per ticket (``store.reserve``), and a place goes back to newcomers only
after the vacancy handed it to them with a compare-and-set (one run parks it; a run that dies in
between leaves a leak for reconciliation, never a place parked twice). The gate keeps no mark per
event.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib.config import get_settings
from chalicelib.domain.errors import Conflict, Overloaded
from chalicelib.domain.jobs import Release
from chalicelib.domain.models import Registration, Status
from chalicelib.logs import code_ref
from chalicelib.services import counters, removals
from chalicelib.store.factory import stores
from chalicelib.store.protocols import Stores

logger = Logger(child=True)

SWEEP_AFTER_SECONDS = 60


class RetryLater(Exception):
    """The reserve is in flux (a ticket being written, an exit being recorded); try again soon."""


def release(registration_id: str, attempts: int = 20) -> None:
    """Hand on the place held by a cancelled registration. Idempotent.

    Raises RetryLater when the reserve has a ticket in flight; the message is then redelivered.
    """
    st = stores()
    for attempt in range(attempts):
        vacancy = st.registrations.get(registration_id)
        if vacancy is None or not vacancy.release_pending:
            return
        if vacancy.held == "reserve":
            if vacancy.ticket:
                st.reserve.reserve_exit(vacancy.registration_id, vacancy.ticket)
            st.registrations.finish_release(vacancy.registration_id)
            return
        if vacancy.release_target:
            if _give_to_target(st, vacancy):
                return
            continue
        try:
            candidate = first_waiting(st)
        except RetryLater:
            time.sleep(min(0.05 * (attempt + 1), 0.5))
            continue
        if candidate is None:
            if _park(st, vacancy):
                return
            time.sleep(min(0.05 * (attempt + 1), 0.5))  # an exit or a new reserve entry is landing
            continue
        with contextlib.suppress(Conflict):
            st.registrations.set_release_target(vacancy.registration_id, candidate, expected=None)
    raise RetryLater(registration_id)


def _park(st: Stores, vacancy: Registration) -> bool:
    """Nobody waits: the vacancy's place goes back to newcomers. The vacancy hands it over first (a
    compare-and-set: one run wins), then the gate parks it, so a place is parked once, and a run that
    dies in between leaves a place held by nobody (a leak reconciliation hands on). False when the
    release must be looked at again: another run handed it over or chose somebody for it, or somebody
    joined the reserve meanwhile (the place is theirs: the release is pending again). Raises Overloaded."""
    if not st.registrations.hand_to_newcomers(vacancy.registration_id, datetime.now(UTC)):
        return False
    try:
        parked = st.quota.park()
    except Overloaded as exc:
        if not exc.maybe_applied:  # not parked: pending again, for the redelivered message
            st.registrations.reopen_release(vacancy.registration_id, datetime.now(UTC))
        raise
    if parked:
        logger.info("place returned to newcomers", extra={"vacancy_ref": code_ref(vacancy.registration_id)})
        return True
    st.registrations.reopen_release(vacancy.registration_id, datetime.now(UTC))
    return False


def _give_to_target(st: Stores, vacancy: Registration) -> bool:
    assert vacancy.release_target is not None  # narrows the type; the caller checked it  # nosec B101
    # ``find``: the target may have been given a new code at a counter since it was chosen.
    target = st.registrations.find(vacancy.release_target)
    if target is not None and target.status is Status.RESERVE:
        try:
            target = st.registrations.promote(target.registration_id, vacancy.registration_id, datetime.now(UTC))
            counters.promoted(target)
            removals.note(target.registration_id, force=True)
        except Conflict:
            target = st.registrations.find(vacancy.release_target)
    # Promoted by this vacancy means done, whatever the target became since (it may have cancelled already):
    # never choose a second person for one place.
    if target is not None and target.promoted_by == vacancy.registration_id:
        if target.ticket:
            st.reserve.reserve_exit(target.registration_id, target.ticket)
        st.registrations.finish_release(vacancy.registration_id)
        logger.info(
            "promoted",
            extra={"vacancy_ref": code_ref(vacancy.registration_id), "promoted_ref": code_ref(target.registration_id)},
        )
        return True
    # The target left the reserve another way (cancelled, promoted by another vacancy): choose again.
    with contextlib.suppress(Conflict):
        st.registrations.set_release_target(vacancy.registration_id, None, expected=vacancy.release_target)
    return False


def first_waiting(st: Stores) -> str | None:
    """The registration holding the lowest ticket still on the reserve, or None if nobody waits."""
    for number in st.reserve.waiting_tickets(limit=50):
        holder = settle_ticket(st, number)
        if holder is not None:
            return holder
    return None


def settle_ticket(st: Stores, number: int) -> str | None:
    """The reserve registration holding ticket ``number``; None once a ticket that no longer holds
    anyone waiting (its holder left, or its request died before storing it) has left the reserve.

    Raises RetryLater while the ticket's registration may still be being written.
    """
    ticket = st.reserve.ticket(number)
    if ticket.void:
        st.reserve.reserve_exit(f"ticket-{number}", number)
        return None
    # The holder's code as it took the ticket: ``find`` follows a counter reclaim since.
    holder = st.registrations.find(ticket.registration_id) if ticket.registration_id else None
    if holder is not None:
        if holder.status is Status.RESERVE:
            return holder.registration_id
        # It left the reserve but its exit was not recorded yet; recording it is idempotent.
        st.reserve.reserve_exit(holder.registration_id, number)
        return None
    # A ticket without a stored registration: still being written, or its request died.
    now = time.time()
    first_seen = st.reserve.watch_ticket(number, now)
    if now - max(first_seen, ticket.issued_at or 0) < get_settings().stale_claim_seconds:
        raise RetryLater(f"ticket {number} in flight")
    try:
        st.reserve.void_ticket(number, ticket.registration_id)
    except Conflict:
        raise RetryLater(f"ticket {number} changed") from None
    st.reserve.reserve_exit(f"ticket-{number}", number)
    logger.warning("abandoned reserve ticket voided", extra={"ticket": number})
    return None


def sweep() -> int:
    """Every minute: re-queue releases a lost message or a crash left pending."""
    st = stores()
    now = datetime.now(UTC)
    pending = st.registrations.pending_releases(datetime.fromtimestamp(now.timestamp() - SWEEP_AFTER_SECONDS, UTC))
    for rid in pending:
        st.promotions.send(Release(registration_id=rid).model_dump())
    logger.info("release sweep", extra={"requeued": len(pending)})
    return len(pending)
