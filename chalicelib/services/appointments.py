"""Appointments, day by day: allocation in registration order, SMS, expected days, the day's list.

Room is taken with conditional writes on one counter per day and site (``slot#<day>#<site>``), so
allocators running at once never overfill a day; a registration gets its appointment with a
conditional write too, so running allocation twice gives nobody a second one. Allocation walks
the confirmed registrations waiting for one in registration order, a chunk per SQS message, each
chunk handing the rest to the next message.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import metrics
from chalicelib.config import get_settings
from chalicelib.domain import rules
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.jobs import Allocate, AppointmentSms
from chalicelib.domain.models import Registration, Status
from chalicelib.notify.sms import SmsClient, appointment_text
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
    """The earliest day and site with room, from today on. False if it has one, or none is left."""
    if reg.status is not Status.CONFIRMED or reg.appointment is not None:
        return False
    schedule = get_settings().schedule
    st = stores()
    full = set() if full is None else full
    for day in schedule.open_days(schedule.first_open_from(rules.today_in_bangkok())):
        iso = day.isoformat()
        for i, site in enumerate(schedule.sites):
            if (iso, i) in full:
                continue
            if not st.campaign.take_slot(iso, i, site.capacity):
                full.add((iso, i))
                continue
            if st.registrations.set_appointment(reg.registration_id, iso, site.name):
                st.sms_jobs.send(AppointmentSms(registration_id=reg.registration_id).model_dump(mode="json"))
                metrics.add("AppointmentAllocated")
                return True
            st.campaign.free_slot(
                iso, i, reg.registration_id
            )  # it got one meanwhile, or was cancelled: give the place back
            return False
    return False


def release(reg: Registration) -> None:
    """A cancelled registration's appointment frees its place on that day."""
    if reg.appointment is None:
        return
    names = [s.name for s in get_settings().schedule.sites]
    if reg.appointment.site in names:
        day = reg.appointment.date.isoformat()
        stores().campaign.free_slot(day, names.index(reg.appointment.site), reg.registration_id)


def send_sms(registration_id: str) -> None:
    """One SMS per appointment, however often the job is delivered. Raises SmsUnavailable."""
    st = stores()
    reg = st.registrations.get(registration_id)
    if reg is None or reg.appointment is None or reg.status is not Status.CONFIRMED:
        return
    key = f"{registration_id}:{reg.appointment.date.isoformat()}:{reg.appointment.site}"
    if reg.sms_sent_for == key:
        return
    # The gateway keeps one message per key, so a send repeated after a crash is not a second SMS.
    header_key = hashlib.sha256(key.encode("utf-8")).hexdigest()  # site names are Thai: not header-safe
    _sms().send(reg.phone, appointment_text(reg.appointment.date.isoformat(), reg.appointment.site), header_key)
    st.registrations.mark_sms(registration_id, key)
    metrics.add("AppointmentSms")


def _sms() -> SmsClient:
    settings = get_settings()
    if not settings.sms_url:
        raise RuntimeError("SMS_GATEWAY_URL is not configured")
    key = settings.sms_api_key
    if settings.sms_api_key_secret:
        from chalicelib.store.secrets import secret

        key = secret(settings.sms_api_key_secret)
    return _sms_client(settings.sms_url, key)


@lru_cache(maxsize=4)
def _sms_client(url: str, key: str) -> SmsClient:
    return SmsClient(url, key)


def expected_date(reg: Registration, rank: int | None) -> date | None:
    """The estimated day, from the schedule, the capacity and the rank alone (no read at all).

    A confirmed person without an appointment: the day of the last primary place, by which everyone
    confirmed is placed. A reserve person: the day of slot ``primary capacity + rank``, the day
    they would get if promoted.
    """
    settings = get_settings()
    if reg.appointment is not None:
        return None
    start = settings.schedule.first_open_from(rules.today_in_bangkok())
    if reg.status is Status.CONFIRMED:
        return settings.schedule.slot_day(max(0, settings.primary_capacity - 1), start)
    if reg.status is Status.RESERVE and rank:
        return settings.schedule.slot_day(settings.primary_capacity + rank - 1, start)
    return None


def day_list(day: str, site: str | None) -> str:
    """The list a vaccination team works from: CSV (UTF-8 with BOM)."""
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ValidationFailed(["date"]) from None
    sites = [s.name for s in get_settings().schedule.sites]
    if site is not None and site not in sites:
        raise ValidationFailed(["site"])
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["date", "site", "registration_id", "national_id", "first_name", "last_name", "birth_date", "phone"]
    )
    for reg in stores().registrations.appointments_on(day):
        if reg.status is not Status.CONFIRMED or reg.appointment is None:
            continue
        if site is not None and reg.appointment.site != site:
            continue
        writer.writerow(
            [
                day,
                reg.appointment.site,
                reg.registration_id,
                reg.national_id,
                reg.first_name,
                reg.last_name,
                reg.birth_date.isoformat(),
                reg.phone,
            ]
        )
    return out.getvalue()
