"""Doses and their appointments: the calendar rules, as pure functions (no AWS, no Chalice).

A registration keeps the history of its appointments (``visits``): one per dose while all goes
well, and a missed one stays in the list when the dose is booked again. Each visit is ``booked``,
``done`` (the dose was given, ``given_on`` says when) or ``missed`` (its day was closed without a
check-in). The next appointment is the first one still booked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.errors import AlreadyDone, NotConfirmed, NotDue
from chalicelib.domain.schedule import Schedule

# A first missed dose 1 is booked again; the second one cancels the registration (a no-show).
NO_SHOW_AFTER_MISSED = 2


class VisitStatus(StrEnum):
    BOOKED = "booked"
    DONE = "done"
    MISSED = "missed"


class Visit(BaseModel):
    """One appointment for one dose, as stored (the resource shows it without ``given_on``)."""

    model_config = ConfigDict(frozen=True)

    dose: int
    date: date
    site: str
    status: VisitStatus
    given_on: dt.date | None = None


def next_booked(visits: Sequence[Visit]) -> Visit | None:
    """The next appointment not yet done: the lowest dose still booked."""
    booked = [v for v in visits if v.status is VisitStatus.BOOKED]
    return min(booked, key=lambda v: (v.dose, v.date), default=None)


def done_doses(visits: Iterable[Visit]) -> set[int]:
    return {v.dose for v in visits if v.status is VisitStatus.DONE}


def booked_doses(visits: Iterable[Visit]) -> set[int]:
    return {v.dose for v in visits if v.status is VisitStatus.BOOKED}


def missing_doses(visits: Sequence[Visit], doses: int) -> list[int]:
    """The doses neither done nor booked, in order (what an allocation has to book)."""
    have = done_doses(visits) | booked_doses(visits)
    return [d for d in range(1, doses + 1) if d not in have]


def times_missed(visits: Iterable[Visit], dose: int) -> int:
    return sum(1 for v in visits if v.dose == dose and v.status is VisitStatus.MISSED)


def day_of(visit: Visit) -> date:
    """The day a dose counts from: when it was given, else the day it is booked for."""
    return visit.given_on or visit.date


def earliest_day(visits: Sequence[Visit], dose: int, interval_days: int, start: date) -> date:
    """The first day ``dose`` may be given: ``start``, and for a later dose not before the day of
    the dose before it plus the interval."""
    if dose == 1:
        return start
    before = [v for v in visits if v.dose == dose - 1 and v.status is not VisitStatus.MISSED]
    if not before:
        return start
    return max(start, day_of(before[-1]) + timedelta(days=interval_days))


def candidates(schedule: Schedule, start: date, sites: Sequence[int]) -> Iterator[tuple[date, int]]:
    """(day, site index) in the order places are tried: open days from ``start``, and within a day
    the sites in the order given."""
    for day in schedule.open_days(start):
        for site in sites:
            yield day, site


def site_order(schedule: Schedule, preferred: str | None) -> list[int]:
    """Every site's index, the preferred one (a person's own site) first."""
    order = list(range(len(schedule.sites)))
    names = [s.name for s in schedule.sites]
    if preferred in names:
        first = names.index(preferred)
        order.remove(first)
        order.insert(0, first)
    return order


def check_in_target(visits: Sequence[Visit], confirmed: bool, doses: int, interval_days: int, today: date) -> Visit:
    """The appointment a check-in today records as given.

    Raises NotConfirmed (reserve, cancelled), AlreadyDone (every dose given), NotDue (no appointment
    yet, or a later dose before the day of the dose before it plus the interval).
    """
    if not confirmed:
        raise NotConfirmed()
    if len(done_doses(visits) & set(range(1, doses + 1))) >= doses:
        raise AlreadyDone()
    target = next_booked(visits)
    if target is None or not set(range(1, target.dose)) <= done_doses(visits):
        raise NotDue()
    if today < earliest_day(visits, target.dose, interval_days, date.min):
        raise NotDue()
    return target


def mark(visits: Sequence[Visit], target: Visit, status: VisitStatus, given_on: date | None = None) -> list[Visit]:
    """The list with ``target`` (an exact match) moved to ``status``."""
    out = list(visits)
    out[out.index(target)] = target.model_copy(update={"status": status, "given_on": given_on})
    return out


def holds_slot(visit: Visit) -> bool:
    """Whether a visit keeps its place counted on its day: booked or missed (the day was kept for
    them), or given on that day or later. A dose given before its day gave that place back."""
    if visit.status is VisitStatus.DONE and visit.given_on is not None:
        return visit.given_on >= visit.date
    return True


def first_dose_day(schedule: Schedule, index: int, start: date, doses: int, interval_days: int) -> date | None:
    """The day the ``index``-th person in line (0-based) would get dose 1, from the schedule alone.

    Each open day's places go first to the later doses due by then (booked earlier, with their dose
    1), the rest to dose 1s in order; each dose booked puts the next one ``interval_days`` later.
    Sites are pooled, so it is an estimate. None when the schedule ends first.
    """
    wanting: dict[tuple[date, int], int] = {}  # (from day, dose) -> later doses waiting for a place
    placed = 0
    for day in schedule.open_days(start):
        room = schedule.daily_capacity
        for key in sorted(k for k in wanting if k[0] <= day):
            count = wanting.pop(key)
            given = min(room, count)
            room -= given
            if count > given:
                wanting[(day + timedelta(days=1), key[1])] = count - given
            if given and key[1] < doses:
                _want(wanting, day + timedelta(days=interval_days), key[1] + 1, given)
        if index < placed + room:
            return day
        placed += room
        if room and doses > 1:
            _want(wanting, day + timedelta(days=interval_days), 2, room)
    return None


def _want(wanting: dict[tuple[date, int], int], day: date, dose: int, count: int) -> None:
    wanting[(day, dose)] = wanting.get((day, dose), 0) + count
