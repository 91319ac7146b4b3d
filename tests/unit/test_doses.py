"""Calendar rules of the doses: open days, intervals, month and year ends, check-in decisions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain import doses
from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.errors import AlreadyDone, NotConfirmed, NotDue
from chalicelib.domain.schedule import Schedule, Site

HALL, STADIUM = "Hall", "Stadium"


def schedule(first: date, closed: tuple[date, ...] = (), caps: tuple[int, int] = (2, 1)) -> Schedule:
    return Schedule(first, (Site(HALL, caps[0]), Site(STADIUM, caps[1])), frozenset(closed))


def visit(dose: int, day: date, status: VisitStatus = VisitStatus.BOOKED, given: date | None = None) -> Visit:
    return Visit(dose=dose, date=day, site=HALL, status=status, given_on=given)


@pytest.mark.parametrize(
    ("dose1", "interval", "closed", "expected"),
    [
        (date(2026, 7, 20), 28, (), date(2026, 8, 17)),  # across a month end
        (date(2026, 12, 20), 28, (), date(2027, 1, 17)),  # across a year end
        (date(2028, 2, 1), 28, (), date(2028, 2, 29)),  # a leap day is a day like any other
        (date(2027, 2, 1), 28, (), date(2027, 3, 1)),  # no 29 February in 2027
        (date(2026, 12, 4), 28, (date(2027, 1, 1),), date(2027, 1, 2)),  # New Year's Day closed: the next open day
        (date(2026, 7, 20), 21, (date(2026, 8, 10), date(2026, 8, 11)), date(2026, 8, 12)),  # two closed days
    ],
)
def test_the_later_dose_takes_the_first_open_day_on_or_after_dose_1_plus_the_interval(
    dose1: date, interval: int, closed: tuple[date, ...], expected: date
) -> None:
    # Given dose 1 booked on a day and a calendar with closed days
    plan = schedule(date(2026, 7, 1), closed)
    earliest = doses.earliest_day([visit(1, dose1)], 2, interval, dose1)
    # When the candidate places for dose 2 are listed at dose 1's site
    first_day, first_site = next(doses.candidates(plan, earliest, [0]))
    # Then the first is the first open day on or after dose 1 + the interval
    assert (first_day, first_site) == (expected, 0)


def test_the_interval_counts_from_the_day_dose_1_was_given_when_it_was_given_early() -> None:
    given = visit(1, date(2026, 7, 20), VisitStatus.DONE, given=date(2026, 7, 15))
    assert doses.earliest_day([given], 2, 28, date(2026, 7, 1)) == date(2026, 8, 12)
    # and never before the day booking starts from
    assert doses.earliest_day([given], 2, 28, date(2026, 9, 1)) == date(2026, 9, 1)
    assert doses.earliest_day([], 1, 28, date(2026, 9, 1)) == date(2026, 9, 1)


def test_candidates_skip_closed_days_and_try_the_preferred_site_first() -> None:
    plan = schedule(date(2026, 12, 30), (date(2026, 12, 31),))
    order = doses.site_order(plan, STADIUM)
    assert order == [1, 0]
    got = [c for _, c in zip(range(4), doses.candidates(plan, date(2026, 12, 30), order), strict=False)]
    assert got == [(date(2026, 12, 30), 1), (date(2026, 12, 30), 0), (date(2027, 1, 1), 1), (date(2027, 1, 1), 0)]
    assert doses.site_order(plan, "Gone") == [0, 1]


def test_missing_doses_are_those_neither_done_nor_booked() -> None:
    day = date(2026, 7, 20)
    assert doses.missing_doses([], 2) == [1, 2]
    assert doses.missing_doses([visit(1, day, VisitStatus.MISSED)], 2) == [1, 2]
    assert doses.missing_doses([visit(1, day, VisitStatus.DONE, day)], 2) == [2]
    assert doses.missing_doses([visit(1, day, VisitStatus.DONE, day), visit(2, day)], 2) == []
    assert doses.missing_doses([], 1) == [1]


def test_the_next_appointment_is_the_lowest_dose_still_booked() -> None:
    d = date(2026, 7, 20)
    history = [visit(1, d, VisitStatus.MISSED), visit(2, d + timedelta(days=40)), visit(1, d + timedelta(days=2))]
    assert doses.next_booked(history) == history[2]
    assert doses.times_missed(history, 1) == 1
    assert doses.next_booked([visit(1, d, VisitStatus.DONE, d)]) is None


@pytest.mark.parametrize(
    ("history", "confirmed", "today", "error"),
    [
        ([visit(1, date(2026, 7, 20))], False, date(2026, 7, 20), NotConfirmed),
        ([], True, date(2026, 7, 20), NotDue),  # no appointment yet
        (
            [visit(1, date(2026, 7, 20), VisitStatus.DONE, date(2026, 7, 20)), visit(2, date(2026, 8, 17))],
            True,
            date(2026, 8, 16),  # one day short of the interval
            NotDue,
        ),
        (
            [
                visit(1, date(2026, 7, 20), VisitStatus.DONE, date(2026, 7, 20)),
                visit(2, date(2026, 8, 17), VisitStatus.DONE, date(2026, 8, 17)),
            ],
            True,
            date(2026, 9, 1),
            AlreadyDone,
        ),
        (
            [visit(1, date(2026, 7, 20), VisitStatus.MISSED), visit(2, date(2026, 8, 17))],
            True,
            date(2026, 9, 1),
            NotDue,
        ),
    ],
)
def test_check_in_refusals(history: list[Visit], confirmed: bool, today: date, error: type[Exception]) -> None:
    with pytest.raises(error):
        doses.check_in_target(history, confirmed, 2, 28, today)


def test_check_in_takes_the_next_dose_on_its_day_early_or_late() -> None:
    d1 = visit(1, date(2026, 7, 20))
    assert doses.check_in_target([d1], True, 2, 28, date(2026, 7, 20)) == d1
    assert doses.check_in_target([d1], True, 2, 28, date(2026, 7, 18)) == d1  # early
    done = doses.mark([d1, visit(2, date(2026, 8, 17))], d1, VisitStatus.DONE, date(2026, 7, 20))
    assert doses.check_in_target(done, True, 2, 28, date(2026, 8, 17)).dose == 2


def test_a_dose_given_before_its_day_gives_that_days_place_back() -> None:
    d = date(2026, 7, 20)
    assert doses.holds_slot(visit(1, d))
    assert doses.holds_slot(visit(1, d, VisitStatus.MISSED))
    assert doses.holds_slot(visit(1, d, VisitStatus.DONE, d))
    assert doses.holds_slot(visit(1, d, VisitStatus.DONE, d + timedelta(days=1)))  # late: the day was kept
    assert not doses.holds_slot(visit(1, d, VisitStatus.DONE, d - timedelta(days=1)))


def test_the_expected_first_dose_day_leaves_room_for_the_later_doses() -> None:
    # Given 3 places a day from 1 December, closed on 1 January, doses 28 days apart
    plan = schedule(date(2026, 12, 1), (date(2027, 1, 1),))
    # Then the first 28 days go to dose 1s only: person 83 (0-based) is on day 28 (28 December)
    assert doses.first_dose_day(plan, 83, date(2026, 12, 1), 2, 28) == date(2026, 12, 28)
    # And from day 29 on, the dose 2s of 1 December onwards take every place; with one dose there is room
    assert doses.first_dose_day(plan, 84, date(2026, 12, 1), 2, 28) > date(2027, 1, 1)
    assert doses.first_dose_day(plan, 84, date(2026, 12, 1), 1, 28) == date(2026, 12, 29)
    # And a line longer than the schedule has no day
    assert doses.first_dose_day(schedule(date(2026, 12, 1), caps=(1, 1)), 10**6, date(2026, 12, 1), 2, 28) is None
