"""Appointments, day by day: allocation in registration order, SMS, expected days, the day's list.

Room is taken with conditional writes on one counter per day and site (``slot#<day>#<site>``), so
allocators running at once never overfill a day; a registration gets its appointments (every dose
at once, see ``services.slots``) with a compare-and-set, so running allocation twice gives nobody a
second one. Allocation walks the confirmed registrations waiting for one in registration order, a
chunk per SQS message, each chunk handing the rest to the next message.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain import rules
from chalicelib.domain.doses import VisitStatus, missing_doses
from chalicelib.domain.errors import Conflict, ValidationFailed
from chalicelib.domain.exports import CsvSheet
from chalicelib.domain.jobs import Allocate, AppointmentSms
from chalicelib.domain.models import Registration, Status
from chalicelib.notify.factory import sms
from chalicelib.notify.sms import appointment_text
from chalicelib.services import slots
from chalicelib.services.retry import LostRace, compare_and_set
from chalicelib.store.factory import stores

logger = Logger(child=True)

CHUNK = 200


def start() -> None:
    """Queue the first chunk of an allocation run."""
    stores().appointment_jobs.send(Allocate().model_dump(mode="json"))


def allocate_chunk(cursor: dict[str, Any] | None) -> int:
    """Allocate one chunk in registration order; queue the next chunk. Returns how many got one."""
    st = stores()
    regs, next_cursor = st.registrations.waiting_for_appointment(cursor, CHUNK)
    full: set[tuple[str, int]] = set()
    given = 0
    for reg in regs:
        if allocate(reg, full):
            given += 1
    if next_cursor:
        st.appointment_jobs.send(Allocate(cursor=next_cursor).model_dump(mode="json"))
    logger.info("allocation chunk", extra={"allocated": given, "more": bool(next_cursor)})
    return given


def allocate(reg: Registration, full: set[tuple[str, int]] | None = None) -> bool:
    """Book every dose not yet booked or given: dose 1 on the earliest day and site with room from
    today on, each later dose at the same site from the day before it plus the interval. False if
    there is nothing to book, no room is left, or the registration changed (cancelled) meanwhile."""
    st = stores()
    schedule = get_settings().schedule
    full = set() if full is None else full

    def attempt() -> bool:
        nonlocal reg
        if reg.status is not Status.CONFIRMED or not missing_doses(reg.visits, get_settings().doses):
            return False
        taken: list[tuple[str, int]] = []
        planned = slots.book(reg.visits, schedule.first_open_from(rules.today_in_bangkok()), None, full, taken)
        if planned is None:
            slots.give_back(taken)
            return False
        try:
            st.registrations.set_visits(reg, planned)
        except Conflict:
            slots.give_back(taken)  # it changed meanwhile (cancelled, booked by another run): look again
            again = st.registrations.find(reg.registration_id)  # reclaimed meanwhile: its new code
            if again is None:
                return False
            reg = again
            raise LostRace() from None
        st.sms_jobs.send(AppointmentSms(registration_id=reg.registration_id).model_dump(mode="json"))
        metrics.add("AppointmentAllocated")
        return True

    return compare_and_set(attempt, tries=3, on_exhausted=lambda: False)


def release(reg: Registration) -> None:
    """A cancelled registration's booked appointments give their places back, once: the write that
    drops the bookings succeeds once, and only after it are the places freed."""
    st = stores()

    def attempt() -> None:
        nonlocal reg
        booked = [v for v in reg.visits if v.status is VisitStatus.BOOKED]
        if reg.status is not Status.CANCELLED or not booked:
            return
        try:
            st.registrations.drop_visits(reg, [v for v in reg.visits if v.status is not VisitStatus.BOOKED])
        except Conflict:
            again = st.registrations.find(reg.registration_id)
            if again is None:
                return
            reg = again
            raise LostRace() from None
        slots.free_visits(booked)

    compare_and_set(attempt, tries=5, on_exhausted=lambda: None)


def send_sms(registration_id: str) -> None:
    """One SMS per set of booked appointments, however often the job is delivered. Raises SmsUnavailable."""
    st = stores()
    # A job queued before a counter reclaim: the SMS goes to the phone and with the code of now.
    reg = st.registrations.find(registration_id)
    if reg is None or reg.status is not Status.CONFIRMED:
        return
    registration_id = reg.registration_id
    booked = sorted((v for v in reg.visits if v.status is VisitStatus.BOOKED), key=lambda v: v.dose)
    if not booked:
        return
    key = registration_id + "".join(f":{v.dose}:{v.date.isoformat()}:{v.site}" for v in booked)
    if reg.sms_sent_for == key:
        return
    # The gateway keeps one message per key, so a send repeated after a crash is not a second SMS.
    header_key = hashlib.sha256(key.encode("utf-8")).hexdigest()  # site names are Thai: not header-safe
    link = f"{get_settings().public_url}/#code={registration_id}" if get_settings().public_url else None
    text = appointment_text([(v.dose, v.date.isoformat(), v.site) for v in booked], registration_id, link)
    sms().send(reg.phone, text, header_key)
    st.registrations.mark_sms(registration_id, key)
    metrics.add("AppointmentSms")


DAY_LIST_HEADER = (
    "date",
    "site",
    "registration_id",
    "national_id",
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "dose",
    "status",
    "given_on",
)


def day_list(day: str, site: str | None) -> str:
    """The list a vaccination team works from, and afterwards who came: CSV (UTF-8 with BOM), every cell safe
    for spreadsheets.

    One row per appointment of that day: booked, done (``given_on`` is the day it was given) or
    missed; and a dose given that day for an appointment of another day (early or late).
    """
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValidationFailed(["date"]) from None
    sites = [s.name for s in get_settings().schedule.sites]
    if site is not None and site not in sites:
        raise ValidationFailed(["site"])
    st = stores()
    wanted = [i for i, name in enumerate(sites) if site is None or name == site]
    slots = st.slots.slots([(day, i) for i in wanted])
    ids = [reg.registration_id for reg in st.registrations.appointments_on(day)]
    for slot in slots.values():
        ids += [member.split(":")[0] for member in slot.came | slot.missed]
    rows = []
    for reg in st.registrations.get_many(ids):
        for visit in reg.visits:
            on_day = visit.date.isoformat() == day or (visit.given_on and visit.given_on.isoformat() == day)
            if not on_day or (site is not None and visit.site != site):
                continue
            if visit.status is VisitStatus.BOOKED and reg.status is not Status.CONFIRMED:
                continue
            rows.append((reg.registered_at, visit.dose, reg, visit))
    sheet = CsvSheet(bom=True)
    sheet.row(DAY_LIST_HEADER)
    for _, _, reg, visit in sorted(rows, key=lambda r: (r[0], r[1])):
        sheet.row(
            [
                day,
                visit.site,
                reg.registration_id,
                reg.national_id,
                reg.first_name,
                reg.last_name,
                reg.birth_date.isoformat(),
                reg.phone,
                visit.dose,
                visit.status.value,
                visit.given_on.isoformat() if visit.given_on else "",
            ]
        )
    return sheet.text()
