"""Doses: booking every dose of a confirmed person, check-in at the sites, closing a day.

Places stay exact without transactions. A place is taken with a conditional ``ADD used :1 IF used
< capacity`` on ``slot#<day>#<site>`` (dose 1 and later doses on the same counter), never by reading
the count first. A registration's appointments change only by a compare-and-set on its version
(``appt_rev``) that also requires the status the change is for (confirmed; cancelled to drop the
bookings of a cancellation). Places are taken before that write and given back if it loses a race;
a booking's place is given back only after the write that dropped the booking, which succeeds
once, so no race between allocation, check-in, closing, rebooking, cancellation or promotion
counts a place twice or frees it twice. A crash between the two leaves a place counted that nobody
holds: never an oversold day, and reconciliation reports it.
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
from chalicelib.services import counters
from chalicelib.services.secondary import best_effort
from chalicelib.store.factory import stores

logger = Logger(child=True)

CLOSE_CHUNK = 100
_ATTEMPTS = 5


# -- booking ---------------------------------------------------------------------------------------


def site_names() -> list[str]:
    return [s.name for s in get_settings().schedule.sites]


def site_index(name: str) -> int | None:
    names = site_names()
    return names.index(name) if name in names else None


def book(
    visits: list[Visit],
    start: date,
    preferred: str | None,
    full: set[tuple[str, int]],
    taken: list[tuple[str, int]],
) -> list[Visit] | None:
    """The appointments with every dose neither done nor booked booked, in dose order: the first of
    them on the first open day with room from ``start`` (the ``preferred`` site first within a day),
    each later one at the site of the dose before it, on the first open day with room on or after
    that dose's day plus the interval. Places taken are appended to ``taken`` (the caller gives them
    back if its write fails). None when the schedule has no room left for one of them.
    """
    settings = get_settings()
    schedule = settings.schedule
    out = list(visits)
    for dose in doses.missing_doses(out, settings.doses):
        before = [v for v in out if v.dose == dose - 1 and v.status is not VisitStatus.MISSED]
        order = doses.site_order(schedule, before[-1].site if before else preferred)
        if before:
            order = order[:1]  # a later dose at the site of the dose before it
        earliest = doses.earliest_day(out, dose, settings.dose_interval_days, start)
        place = _take_first(earliest, order, full, taken)
        if place is None:
            return None
        out.append(Visit(dose=dose, date=place[0], site=schedule.sites[place[1]].name, status=VisitStatus.BOOKED))
    return out


def _take_first(
    start: date, order: list[int], full: set[tuple[str, int]], taken: list[tuple[str, int]]
) -> tuple[date, int] | None:
    schedule = get_settings().schedule
    st = stores()
    for day, site in doses.candidates(schedule, start, order):
        iso = day.isoformat()
        if (iso, site) in full:
            continue
        if st.slots.take_slot(iso, site, schedule.sites[site].capacity):
            taken.append((iso, site))
            return day, site
        full.add((iso, site))
    return None


def give_back(places: list[tuple[str, int]]) -> None:
    for day, site in places:
        stores().slots.free_slot(day, site)


def free_visits(visits: list[Visit]) -> None:
    """Give back the places of bookings that a successful write has just dropped."""
    give_back([(v.date.isoformat(), i) for v in visits if (i := site_index(v.site)) is not None])


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
    for _ in range(_ATTEMPTS):
        target = doses.check_in_target(
            reg.visits, reg.status is Status.CONFIRMED, settings.doses, settings.dose_interval_days, today
        )
        try:
            st.registrations.set_visits(reg, doses.mark(reg.visits, target, VisitStatus.DONE, given_on=today))
            break
        except Conflict:
            again = st.registrations.find(reg.registration_id)  # reclaimed meanwhile: its new code
            if again is None:
                raise NotFound() from None
            reg = again
    else:
        raise Conflict("appointments kept changing")
    site = site_index(target.site)
    if site is not None:
        if target.date > today:
            give_back([(target.date.isoformat(), site)])  # came early: the booked day gets its place back
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
    for _ in range(_ATTEMPTS):
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
                planned = book(kept, tomorrow, missed.site, set(), taken)
                # No room left in the schedule: it waits for allocation, like a new confirmation.
                st.registrations.set_visits(reg, planned or kept, waiting=planned is None)
                outcome = "rebooked" if planned else "missed"
        except Conflict:
            give_back(taken)
            continue
        free_visits(dropped)
        _after_miss(reg, missed, outcome)
        if outcome == "noshow":
            from chalicelib.services import registrations  # it imports this module's callers

            registrations.hand_on(cancelled)
        elif outcome == "rebooked":
            st.sms_jobs.send(AppointmentSms(registration_id=reg.registration_id).model_dump(mode="json"))
        return True
    raise Conflict("appointments kept changing")


def _after_miss(reg: Registration, missed: Visit, outcome: str) -> None:
    site = site_index(missed.site)
    if site is None:
        return
    day = missed.date.isoformat()
    member = f"{reg.registration_id}:{missed.dose}"
    best_effort(lambda: stores().slots.record_visit(day, site, "missed", member), "missed record")
    events = ["missed"] + ([outcome] if outcome != "missed" else [])
    best_effort(lambda: counters.dose_events(day, site, *events), "counters")
    metrics.add("DoseMissed", outcome=outcome)
    logger.info("appointment missed", extra={"ref": code_ref(reg.registration_id), "outcome": outcome})
