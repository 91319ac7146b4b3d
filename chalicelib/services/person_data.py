"""The person's data (contract v1.2, Thai PDPA): the consent text, a copy of everything held about a
registration, and its erasure. Both take the registration's birth date, as a cancel does, and the
view guards them with the same lockout (``lockouts.of_registration``).

Erasure is a cancellation (as the person's own: ``cancellations.hand_on`` hands the place on), then
one conditional write that removes the personal fields (``Registrations.erase``): an item is never
half-erased. Its cancellation is itself conditional on the appointments as read, so a dose given in
between (a check-in racing the erasure) stops it before anything changes: 409 medical_record_kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain.consent import ConsentText, consent_text
from chalicelib.domain.doses import done_doses
from chalicelib.domain.errors import Conflict, MedicalRecordKept, NotFound
from chalicelib.domain.models import Status
from chalicelib.domain.person_data import Erased, PersonalData
from chalicelib.logs import code_ref
from chalicelib.services import cancellations
from chalicelib.services.retry import LostRace, compare_and_set, kept_changing
from chalicelib.services.staff import registration_target
from chalicelib.store.factory import stores

logger = Logger(child=True)

# Compare-and-set rounds (services.retry): each loses only to a write that landed between its read and its write
# (a promotion, a removal sweep's answer, the release of the place it held).
ATTEMPTS = 8


def consent() -> ConsentText:
    """The consent text a registration agrees to now, with the data protection officer's contact."""
    return consent_text(get_settings().dpo_contact)


def data(registration_id: str, birth_date: str) -> PersonalData:
    """Every field held about the registration, its removals, appointments and audit entries.

    Raises NotFound (unknown, erased, or a wrong birth date), Overloaded.
    """
    st = stores()
    reg = st.registrations.get(registration_id)
    if reg is None or not reg.born_on(birth_date):
        raise NotFound()
    rank = st.reserve.rank(reg.ticket) if reg.status is Status.RESERVE and reg.ticket else None
    audit = st.staff.audit_of(registration_target(reg.registration_id))
    metrics.add("PersonDataServed")
    return PersonalData.of(reg, rank, audit)


def erase(registration_id: str, birth_date: str) -> Erased:
    """Cancel the registration if it is active (its place goes on as on cancel), then remove its
    personal fields; status, channel, dates, visits and counts stay. An erased one answers as it is
    (a retry: its birth date is gone, so there is nothing left to check it against).

    Raises NotFound (unknown, or a wrong birth date), MedicalRecordKept (a dose was given: nothing
    changes), Overloaded (429: a step of the cancellation could not be done now; a retry finishes it
    and erases), Conflict (it kept changing: 429).
    """
    st = stores()
    now = datetime.now(UTC)

    def attempt() -> Erased:
        reg = st.registrations.get(registration_id)
        if reg is not None and reg.erased:
            return Erased.of(reg)
        if reg is None or not reg.born_on(birth_date):
            raise NotFound()
        if done_doses(reg.visits):
            raise MedicalRecordKept()
        if reg.status is not Status.CANCELLED:
            try:
                reg = st.registrations.cancel(reg, now, unchanged_visits=True)
            except Conflict:
                raise LostRace() from None  # promoted, checked in or reclaimed meanwhile: judge it again
            logger.info("cancelled for erasure", extra={"ref": code_ref(registration_id)})
        # What a cancel does next, each step once (counters, slots, the phone's share, the place):
        # it needs the phone, so it is done before the fields go. Raises Overloaded: a retry finishes.
        cancellations.hand_on(reg)
        current = st.registrations.get(registration_id)
        if current is None:
            raise NotFound()
        try:
            erased = st.registrations.erase(current, now)
        except Conflict:
            raise LostRace() from None  # its release moved on meanwhile: read it again
        metrics.add("Erased", by="person")
        logger.info("erased", extra={"ref": code_ref(registration_id)})
        return Erased.of(erased)

    return compare_and_set(attempt, ATTEMPTS, kept_changing("registration"))
