"""How long personal data are kept (contract v1.2, "Retention"), as pure functions.

A registration's personal fields are erased ``RETENTION_DAYS`` after the campaign's last vaccination
day: the day the operator sets (``VACCINATION_LAST_DAY``), else the schedule's own estimate, the day
the last place (primary and reserve) would get its last dose. No registration is erased before
``RETENTION_DAYS`` after its own last day either (its latest appointment or dose, its cancellation,
its registration), so a dose given after the estimate keeps its record the full period.
"""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.domain import rules
from chalicelib.domain.doses import day_of, first_dose_day
from chalicelib.domain.models import Registration
from chalicelib.domain.schedule import Schedule


def campaign_last_day(schedule: Schedule, places: int, doses: int, interval_days: int, configured: date | None) -> date:
    """The campaign's last vaccination day: ``configured``, else the day the ``places``-th person in
    line would get dose 1, plus the intervals of the later doses (the schedule's first day when it
    cannot place them all)."""
    if configured is not None:
        return configured
    first = first_dose_day(schedule, max(0, places - 1), schedule.first_day, doses, interval_days)
    if first is None:
        return schedule.first_day
    return first + timedelta(days=interval_days * (doses - 1))


def own_last_day(reg: Registration) -> date:
    """The last day anything happened to ``reg`` (Asia/Bangkok): a visit's day, its cancellation, its registration."""
    days = [rules.today_in_bangkok(reg.registered_at)]
    if reg.cancelled_at is not None:
        days.append(rules.today_in_bangkok(reg.cancelled_at))
    days += [day_of(v) for v in reg.visits]
    return max(days)


def erase_on(reg: Registration, last_day: date, retention_days: int) -> date:
    """The day ``reg``'s personal fields are erased."""
    return max(last_day, own_last_day(reg)) + timedelta(days=retention_days)


def due(reg: Registration, today: date, last_day: date, retention_days: int) -> bool:
    """Whether the retention job erases ``reg`` on ``today`` (an erased one never again)."""
    return not reg.erased and erase_on(reg, last_day, retention_days) <= today


def nothing_due(today: date, last_day: date, retention_days: int) -> bool:
    """Before this, no registration can be due: the job reads nothing."""
    return today < last_day + timedelta(days=retention_days)
