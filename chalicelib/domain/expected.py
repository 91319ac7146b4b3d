"""The day a registration without appointments can expect dose 1, from the plan alone (no read)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from chalicelib.domain.doses import first_dose_day
from chalicelib.domain.models import Registration, Status
from chalicelib.domain.schedule import Schedule


class Plan(Protocol):
    """What the estimate needs of the campaign's settings (``config.Settings`` is one)."""

    @property
    def schedule(self) -> Schedule: ...
    @property
    def primary_capacity(self) -> int: ...
    @property
    def doses(self) -> int: ...
    @property
    def dose_interval_days(self) -> int: ...


def expected_date(reg: Registration, rank: int | None, plan: Plan, today: date) -> date | None:
    """The estimated day of dose 1, from the schedule, the capacity and the rank alone.

    A confirmed person without an appointment: the day of the last primary place, by which everyone
    confirmed is placed. A reserve person: the day of place ``primary capacity + rank``, the day
    they would get if promoted. Later doses take their share of each day (``first_dose_day``).
    None once appointments are given, or when the schedule ends first.
    """
    if reg.appointment is not None or reg.visits:
        return None
    start = plan.schedule.first_open_from(today)
    if reg.status is Status.CONFIRMED:
        index = max(0, plan.primary_capacity - 1)
    elif reg.status is Status.RESERVE and rank:
        index = plan.primary_capacity + rank - 1
    else:
        return None
    return first_dose_day(plan.schedule, index, start, plan.doses, plan.dose_interval_days)
