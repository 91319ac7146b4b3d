"""The day a registration without appointments can expect dose 1 (domain.expected), from the plan alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.doses import Visit, VisitStatus
from chalicelib.domain.expected import expected_date
from chalicelib.domain.models import Basis, Channel, Registration, Status
from chalicelib.domain.schedule import Schedule, Site

FIRST = date(2026, 7, 1)


@dataclass(frozen=True)
class Plan:
    schedule: Schedule
    primary_capacity: int
    doses: int = 1
    dose_interval_days: int = 28


PLAN = Plan(Schedule(FIRST, (Site("Hall", 2), Site("Stadium", 1)), frozenset()), primary_capacity=5)  # 3 a day


def registration(status: Status, visits: list[Visit] | None = None) -> Registration:
    return Registration(
        registration_id="r_test",
        status=status,
        channel=Channel.APP,
        registered_at=datetime(2026, 6, 1, tzinfo=UTC),
        national_id="1101700230705",
        first_name="สมชาย",
        last_name="ใจดี",
        birth_date=date(1980, 1, 31),
        phone="0812345678",
        basis=Basis.HOUSE_REGISTRATION,
        detail="",
        visits=visits or [],
    )


def test_a_confirmed_person_expects_the_day_of_the_last_primary_place() -> None:
    # Given 5 primary places and 3 places a day / When a confirmed person asks before the first day
    # Then places 4 and 5 are on the second day
    assert expected_date(registration(Status.CONFIRMED), None, PLAN, FIRST - timedelta(days=3)) == FIRST + timedelta(1)


def test_a_reserve_person_expects_the_day_of_their_place_after_the_primary_ones() -> None:
    # Given reserve rank 2: place 5 + 2 = 7 / When asked on the first day / Then the third day
    assert expected_date(registration(Status.RESERVE), 2, PLAN, FIRST) == FIRST + timedelta(2)
    # And counted from today once the schedule has started
    assert expected_date(registration(Status.RESERVE), 2, PLAN, FIRST + timedelta(1)) == FIRST + timedelta(3)


@pytest.mark.parametrize(
    ("reg", "rank"),
    [
        (registration(Status.RESERVE), None),
        (registration(Status.CANCELLED), None),
        (registration(Status.CONFIRMED, [Visit(dose=1, date=FIRST, site="Hall", status=VisitStatus.BOOKED)]), None),
    ],
    ids=["reserve without a rank", "cancelled", "appointments given"],
)
def test_no_estimate_without_a_place_or_once_appointments_are_given(reg: Registration, rank: int | None) -> None:
    assert expected_date(reg, rank, PLAN, FIRST) is None
