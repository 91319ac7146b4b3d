"""Doses: check-in at the sites, and closing a day (missed appointments booked again, no-shows).

Both change a registration's appointments by a compare-and-set on its version and take or give
back places the way ``services.slots`` states, so neither counts a place twice nor frees it twice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings, hmac_key
from chalicelib.domain import doses, rules
from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.errors import Conflict, DayNotOver, NotFound, ValidationFailed
from chalicelib.domain.jobs import AppointmentSms, CloseDay
from chalicelib.domain.models import CheckIn, CheckInRequest, DayClosing, Registration, Status
from chalicelib.logs import code_ref
from chalicelib.services import cancellations, counters, slots
from chalicelib.services.retry import LostRace, compare_and_set, kept_changing
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores

logger = Logger(child=True)

CLOSE_CHUNK = 100
_ATTEMPTS = 5


# -- check-in ---------------------------------------------------------------------------------------


def check_in(req: CheckInRequest) -> CheckIn:
    """Record the person's next dose as given today, at the site of its appointment.

    Raises ValidationFailed (neither or both of the two keys), NotFound, NotConfirmed, AlreadyDone,
    NotDue. Nothing is recorded when it raises.
    """
    if (req.registration_id is None) == (req.national_id is None):
        raise ValidationFailed(["registration_id", "national_id"])
    settings = get_settings()
    st = stores()
    today = rules.today_in_bangkok()
    reg = _find(req)

    def attempt() -> Visit:
        nonlocal reg
        target = doses.check_in_target(
            reg.visits, reg.status is Status.CONFIRMED, settings.doses, settings.dose_interval_days, today
        )
        try:
            st.registrations.set_visits(reg, doses.mark(reg.visits, target, VisitStatus.DONE, given_on=today))
        except Conflict:
            again = st.registrations.find(reg.registration_id)  # reclaimed meanwhile: its new code
            if again is None:
                raise NotFound() from None
            reg = again
            raise LostRace() from None
        return target

    target = compare_and_set(attempt, _ATTEMPTS, kept_changing("appointments"))
    site = slots.site_index(target.site)
    if site is not None:
        if target.date > today:
            slots.give_back([(target.date.isoformat(), site)])  # came early: the booked day gets its place back
        member = f"{reg.registration_id}:{target.dose}"
        best_effort(lambda: st.slots.record_visit(today.isoformat(), site, "came", member), "check-in record")
        best_effort(lambda: counters.dose_events(today.isoformat(), site, f"given_{target.dose}"), "counters")
    metrics.add("DoseGiven", dose=str(target.dose))
    logger.info("checked in", extra={"ref": code_ref(reg.registration_id), "dose": target.dose})
    return CheckIn(registration_id=reg.registration_id, dose=target.dose, date=today, site=target.site)


def _find(req: CheckInRequest) -> Registration:
    st = stores()
    if req.registration_id is not None:
        reg = st.registrations.get(req.registration_id) if req.registration_id.startswith("r_") else None
    else:
        assert req.national_id is not None  # narrows the type; check_in checked it  # nosec B101
        found = st.registrations.current(rules.person_pointer(req.national_id, hmac_key()))
        reg = found[0] if found else None
    if reg is None:
        raise NotFound()
    return reg


# -- closing a day ----------------------------------------------------------------------------------


def close(day: str) -> DayClosing:
    """Start closing ``day`` (today or a past day): its appointments still booked become missed.

    Today may be closed: a site closes its day in the evening, once its last person has come.
    Raises ValidationFailed (not a date), DayNotOver (a day after today). Closing a day again
    changes nothing: only appointments still booked on it are touched, each by a compare-and-set.
    """
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise ValidationFailed(["date"]) from None
    if when > rules.today_in_bangkok():
        raise DayNotOver()
    stores().appointment_jobs.send(CloseDay(day=when).model_dump(mode="json"))
    return DayClosing(date=when, status="closing")


def close_yesterday() -> None:
    """The morning schedule: close the day before."""
    close((rules.today_in_bangkok() - timedelta(days=1)).isoformat())


def close_chunk(day: str, cursor: dict[str, Any] | None) -> int:
    """Close the appointments of one page of the day's index; queue the next page. Returns how
    many appointments this page found missed."""
    st = stores()
    ids, next_cursor = st.registrations.appointments_page(day, cursor, CLOSE_CHUNK)
    missed = sum(1 for rid in ids if close_one(rid, date.fromisoformat(day)))
    if next_cursor:
        st.appointment_jobs.send(CloseDay(day=date.fromisoformat(day), cursor=next_cursor).model_dump(mode="json"))
    logger.info("day closing chunk", extra={"day": day, "missed": missed, "more": bool(next_cursor)})
    return missed


def close_one(registration_id: str, day: date) -> bool:
    """The registration's appointment on ``day``, if still booked, becomes missed; a first missed
    dose 1 and any missed later dose are booked again from tomorrow, a second missed dose 1 cancels
    the registration (a no-show) and its place goes to reserve rank 1. True if it was missed here.
    """
    st = stores()
    settings = get_settings()
    tomorrow = settings.schedule.first_open_from(rules.today_in_bangkok() + timedelta(days=1))

    def attempt() -> bool:
        reg = st.registrations.find(registration_id)  # the day's index may name a code reclaimed since
        if reg is None or reg.status is not Status.CONFIRMED:
            return False
        booked = [v for v in reg.visits if v.status is VisitStatus.BOOKED and v.date == day]
        if not booked:
            return False
        missed = booked[0]
        visits = doses.mark(reg.visits, missed, VisitStatus.MISSED)
        # Later doses are booked again after the new one (their interval counts from it).
        dropped = [v for v in visits if v.status is VisitStatus.BOOKED and v.dose > missed.dose]
        kept = [v for v in visits if v not in dropped]
        taken: list[tuple[str, int]] = []
        try:
            if missed.dose == 1 and doses.times_missed(visits, 1) >= doses.NO_SHOW_AFTER_MISSED:
                cancelled = st.registrations.cancel_no_show(reg, kept, datetime.now(UTC))
                outcome = "noshow"
            else:
                planned = slots.book(kept, tomorrow, missed.site, set(), taken)
                # No room left in the schedule: it waits for allocation, like a new confirmation.
                st.registrations.set_visits(reg, planned or kept, waiting=planned is None)
                outcome = "rebooked" if planned else "missed"
        except Conflict:
            slots.give_back(taken)
            raise LostRace() from None
        slots.free_visits(dropped)
        _after_miss(reg, missed, outcome)
        if outcome == "noshow":
            cancellations.hand_on(cancelled)
        elif outcome == "rebooked":
            st.sms_jobs.send(AppointmentSms(registration_id=reg.registration_id).model_dump(mode="json"))
        return True

    return compare_and_set(attempt, _ATTEMPTS, kept_changing("appointments"))


def _after_miss(reg: Registration, missed: Visit, outcome: str) -> None:
    site = slots.site_index(missed.site)
    if site is None:
        return
    day = missed.date.isoformat()
    member = f"{reg.registration_id}:{missed.dose}"
    best_effort(lambda: stores().slots.record_visit(day, site, "missed", member), "missed record")
    events = ["missed"] + ([outcome] if outcome != "missed" else [])
    best_effort(lambda: counters.dose_events(day, site, *events), "counters")
    metrics.add("DoseMissed", outcome=outcome)
    logger.info("appointment missed", extra={"ref": code_ref(reg.registration_id), "outcome": outcome})
