"""Allocate: which days and sites a confirmed person's doses get (services.appointments)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.domain import rules
from chalicelib.domain.doses import VisitStatus
from chalicelib.domain.models import Registration
from chalicelib.domain.schedule import MAX_DAYS
from chalicelib.services import appointments, cancellations
from tests.unit.fakes import FakeStores
from tests.unit.steps import BIRTH, register


def tomorrow() -> date:
    """The schedule's first day (the ``campaign`` fixture starts it tomorrow, Bangkok time)."""
    return rules.today_in_bangkok() + timedelta(days=1)


def stored(st: FakeStores, code: str) -> Registration:
    reg = st.registrations.get(code)
    assert reg is not None
    return reg


def booked(reg: Registration) -> list[tuple[int, date, str]]:
    return sorted((v.dose, v.date, v.site) for v in reg.visits if v.status is VisitStatus.BOOKED)


def allocate(st: FakeStores, code: str) -> bool:
    return appointments.allocate(stored(st, code))


def test_a_confirmed_person_gets_dose_1_on_the_first_day_and_dose_2_after_the_interval(campaign: Any) -> None:
    # Given a confirmed person and a schedule from tomorrow
    st = campaign()
    x = register(1)
    # When appointments are allocated
    assert allocate(st, x.registration_id)
    # Then dose 1 is tomorrow at the first site, dose 2 28 days later at the same site
    reg = stored(st, x.registration_id)
    assert booked(reg) == [(1, tomorrow(), "Hall"), (2, tomorrow() + timedelta(days=28), "Hall")]
    assert reg.appointment is not None and reg.appointment.date == tomorrow()


def test_a_full_site_sends_the_next_person_to_the_next_site_that_day(campaign: Any) -> None:
    # Given the first site's 2 places of tomorrow taken
    st = campaign(primary=4)
    codes = [register(n).registration_id for n in (1, 2, 3)]
    for code in codes[:2]:
        allocate(st, code)
    # When the third person is allocated / Then the second site, the same day
    allocate(st, codes[2])
    assert booked(stored(st, codes[2]))[0] == (1, tomorrow(), "Stadium")


def test_a_full_day_sends_the_next_person_to_the_next_open_day(campaign: Any) -> None:
    # Given tomorrow full at both sites (3 places)
    st = campaign(primary=4)
    codes = [register(n).registration_id for n in (1, 2, 3, 4)]
    for code in codes[:3]:
        allocate(st, code)
    # When the fourth is allocated / Then the day after, at the first site
    allocate(st, codes[3])
    assert booked(stored(st, codes[3]))[0] == (1, tomorrow() + timedelta(days=1), "Hall")


def test_dose_2_moves_to_the_next_day_with_room_at_its_site(campaign: Any) -> None:
    # Given the Stadium's day of dose 2 already full
    st = campaign(primary=4)
    st.slots.used[((tomorrow() + timedelta(days=28)).isoformat(), 1)] = 1
    codes = [register(n).registration_id for n in (1, 2, 3)]
    for code in codes:
        allocate(st, code)
    # Then the Stadium's person gets dose 2 a day later, at the Stadium
    assert booked(stored(st, codes[2])) == [
        (1, tomorrow(), "Stadium"),
        (2, tomorrow() + timedelta(days=29), "Stadium"),
    ]


def test_a_closed_day_is_skipped(campaign: Any) -> None:
    # Given tomorrow closed
    st = campaign(VACCINATION_CLOSED_DAYS=tomorrow().isoformat())
    x = register(1)
    # When appointments are allocated / Then dose 1 is the day after
    allocate(st, x.registration_id)
    assert booked(stored(st, x.registration_id))[0][1] == tomorrow() + timedelta(days=1)


def test_a_reserve_person_gets_no_appointment(campaign: Any) -> None:
    # Given a person on the reserve / When allocation looks at them / Then nothing is booked
    st = campaign(primary=1, reserve=1)
    register(1)
    y = register(2)
    assert not allocate(st, y.registration_id) and not st.slots.used


def test_allocating_twice_books_nothing_more(campaign: Any) -> None:
    # Given a person with both doses booked / When allocation runs again / Then no place is taken
    st = campaign()
    x = register(1)
    allocate(st, x.registration_id)
    assert not allocate(st, x.registration_id)
    assert sum(st.slots.used.values()) == 2


def test_a_person_cancelled_while_being_allocated_gives_the_places_back(campaign: Any) -> None:
    # Given a confirmed person read by the allocator, then cancelled
    st = campaign()
    x = register(1)
    read = stored(st, x.registration_id)
    cancellations.cancel(x.registration_id, BIRTH)
    # When the allocator books from what it read / Then its write is refused and the places go back
    assert not appointments.allocate(read)
    assert sum(st.slots.used.values()) == 0


def test_no_room_left_in_the_schedule_books_nothing(campaign: Any) -> None:
    # Given a schedule whose every day is full at both sites
    st = campaign()
    for day in range(MAX_DAYS):
        iso = (tomorrow() + timedelta(days=day)).isoformat()
        st.slots.used[(iso, 0)], st.slots.used[(iso, 1)] = 2, 1
    x = register(1)
    # When allocation runs / Then nothing is booked and the person still waits
    assert not allocate(st, x.registration_id)
    assert x.registration_id in st.registrations.waiting


def test_an_allocation_sends_its_sms_job(campaign: Any) -> None:
    # Given a confirmed person / When allocated / Then the appointment SMS is queued
    st = campaign()
    x = register(1)
    allocate(st, x.registration_id)
    assert st.sms_jobs.sent == [{"kind": "appointment_sms", "registration_id": x.registration_id}]


def test_allocation_goes_in_registration_order_a_chunk_at_a_time(campaign: Any, monkeypatch: Any) -> None:
    # Given three confirmed people and chunks of two
    st = campaign(primary=3)
    monkeypatch.setattr(appointments, "CHUNK", 2)
    codes = [register(n).registration_id for n in (1, 2, 3)]
    # When the first chunk runs / Then the first two are placed, and the rest is queued
    assert appointments.allocate_chunk(None) == 2
    assert [booked(stored(st, c))[0][2] for c in codes[:2]] == ["Hall", "Hall"]
    (job,) = st.appointment_jobs.take()
    assert job["cursor"] is not None
    # When the next chunk runs / Then the third is placed at the next site
    assert appointments.allocate_chunk(job["cursor"]) == 1
    assert booked(stored(st, codes[2]))[0] == (1, tomorrow(), "Stadium")


def test_a_confirmed_person_waiting_is_told_the_day_of_the_last_primary_place(campaign: Any) -> None:
    # Given 3 primary places per day and 6 places in all / When a confirmed person is read
    campaign(primary=6)
    view = register(1)
    # Then the expected day is that of place 6: with 2 doses sharing the days, not tomorrow
    assert view.expected_date is not None and view.expected_date > tomorrow()
