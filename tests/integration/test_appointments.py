"""Appointments day by day: allocation order and capacity, idempotency, cancellations, SMS, estimates."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.domain import rules
from chalicelib.services import appointments
from chalicelib.store.factory import stores
from tests.helpers import JSON, register

TOMORROW = rules.today_in_bangkok() + timedelta(days=1)
SITES = [{"name": "ศาลาว่าการ", "capacity": 2}, {"name": "สนามกีฬา", "capacity": 1}]


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch, campaign_env: Any) -> list[date]:
    """3 places a day at two sites from tomorrow; the day after tomorrow has no vaccination."""
    closed = TOMORROW + timedelta(days=1)
    monkeypatch.setenv("VACCINATION_FIRST_DAY", TOMORROW.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps(SITES, ensure_ascii=False))
    monkeypatch.setenv("VACCINATION_CLOSED_DAYS", closed.isoformat())
    campaign_env(primary=8, reserve=2)
    return [TOMORROW, TOMORROW + timedelta(days=2), TOMORROW + timedelta(days=3)]


def get(client: Any, reg: dict[str, Any]) -> dict[str, Any]:
    return dict(client.http.get(f"/v1/registrations/{reg['registration_id']}").json_body)


def test_allocation_follows_registration_order_and_skips_closed_days(
    client: Any, queues: Any, schedule: list[date]
) -> None:
    regs = [register(client, n) for n in range(7)]
    appointments.start()
    queues.drain()
    got = [(get(client, r)["appointment"]["date"], get(client, r)["appointment"]["site"]) for r in regs]
    day1, day2, day3 = (d.isoformat() for d in schedule)
    assert got == [
        (day1, "ศาลาว่าการ"),
        (day1, "ศาลาว่าการ"),
        (day1, "สนามกีฬา"),
        (day2, "ศาลาว่าการ"),
        (day2, "ศาลาว่าการ"),
        (day2, "สนามกีฬา"),
        (day3, "ศาลาว่าการ"),
    ]
    assert get(client, regs[0])["expected_date"] is None


def test_a_second_run_changes_nothing_and_each_allocation_sends_one_sms(
    client: Any, queues: Any, schedule: list[date], stand_ins: dict[str, Any]
) -> None:
    regs = [register(client, n) for n in range(4)]
    appointments.start()
    queues.drain()
    first = [get(client, r)["appointment"] for r in regs]
    appointments.start()
    queues.drain()
    assert [get(client, r)["appointment"] for r in regs] == first
    # each SMS job delivered a second time
    for reg in regs:
        stores().sms_jobs.send({"kind": "appointment_sms", "registration_id": reg["registration_id"]})
    queues.drain()
    sms = stand_ins["sms"]
    assert len(sms.messages) == 4 and sms.calls == 4
    text = next(iter(sms.messages.values()))["text"]
    assert text.startswith("เทศบาลนครขอนแก่น") and schedule[0].isoformat() in text


def test_two_allocators_at_once_never_overfill_a_day(client: Any, schedule: list[date]) -> None:
    regs = [register(client, n) for n in range(8)]
    barrier = threading.Barrier(2)

    def allocator() -> None:
        barrier.wait()
        appointments.allocate_chunk(None)

    threads = [threading.Thread(target=allocator) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_slot = Counter((get(client, r)["appointment"]["date"], get(client, r)["appointment"]["site"]) for r in regs)
    capacity = {s["name"]: s["capacity"] for s in SITES}
    assert all(n <= capacity[site] for (_, site), n in per_slot.items())
    assert sum(per_slot.values()) == 8


def test_a_cancellations_place_is_reused(client: Any, queues: Any, schedule: list[date]) -> None:
    regs = [register(client, n) for n in range(3)]  # fill the first day
    appointments.start()
    queues.drain()
    client.http.post(
        f"/v1/registrations/{regs[0]['registration_id']}/cancel",
        body=json.dumps({"birth_date": "1980-01-31"}),
        headers=JSON,
    )
    late = register(client, 50)
    appointments.start()
    queues.drain()
    assert get(client, late)["appointment"] == {"date": schedule[0].isoformat(), "site": "ศาลาว่าการ"}


def test_expected_dates_follow_the_schedule(client: Any, schedule: list[date]) -> None:
    regs = [register(client, n) for n in range(10)]  # 8 confirmed, ranks 1 and 2 on the reserve
    # The last of 8 primary places is slot 7: day 3 (3 a day, the second day closed)
    assert get(client, regs[0])["expected_date"] == schedule[2].isoformat()
    # Reserve rank 1 would take slot 8 (day 3), rank 2 slot 9 (day 4)
    assert get(client, regs[8])["expected_date"] == schedule[2].isoformat()
    assert get(client, regs[9])["expected_date"] == (schedule[2] + timedelta(days=1)).isoformat()


def test_the_days_list_for_a_vaccination_team(
    client: Any, queues: Any, schedule: list[date], tokens: dict[str, str]
) -> None:
    for n in range(4):
        register(client, n)
    appointments.start()
    queues.drain()
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    resp = client.http.get(
        f"/v1/admin/appointments.csv?date={schedule[0].isoformat()}&site=%E0%B8%AA%E0%B8%99%E0%B8%B2%E0%B8%A1%E0%B8%81%E0%B8%B5%E0%B8%AC%E0%B8%B2",
        headers=auth,
    )
    text = resp.body.decode("utf-8-sig") if isinstance(resp.body, bytes) else resp.body.lstrip("\ufeff")
    rows = text.strip().splitlines()
    assert rows[0].startswith("date,site,registration_id") and len(rows) == 2 and "สนามกีฬา" in rows[1]
    everyone = client.http.get(f"/v1/admin/appointments.csv?date={schedule[0].isoformat()}", headers=auth)
    assert len((everyone.body if isinstance(everyone.body, str) else everyone.body.decode()).strip().splitlines()) == 4
    bad = client.http.get("/v1/admin/appointments.csv?date=2026-13-01", headers=auth)
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VACCINATION_SITES": "[]"}, "at least one site"),
        ({"VACCINATION_SITES": '[{"name": "Hall", "capacity": 0}]'}, "capacity above 0"),
        ({"VACCINATION_SITES": "not json"}, "must be JSON"),
        ({"VACCINATION_CLOSED_DAYS": "tomorrow"}, "not a YYYY-MM-DD"),
    ],
)
def test_a_schedule_that_makes_no_sense_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    from chalicelib.config import get_settings

    for key, val in env.items():
        monkeypatch.setenv(key, val)
    get_settings.cache_clear()
    with pytest.raises(RuntimeError, match=message):
        get_settings()
    get_settings.cache_clear()


@pytest.mark.parametrize("offset_days", [-30, -1, 0])
def test_a_first_day_that_has_passed_or_is_today_keeps_the_service_serving(
    monkeypatch: pytest.MonkeyPatch, client: Any, campaign_env: Any, offset_days: int
) -> None:
    """Given a first vaccination day weeks ago, yesterday or today (the campaign runs for weeks after it)."""
    today = rules.today_in_bangkok()
    monkeypatch.setenv("VACCINATION_FIRST_DAY", (today + timedelta(days=offset_days)).isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps([{"name": "ศาลาว่าการ", "capacity": 5}], ensure_ascii=False))
    campaign_env(primary=3, reserve=1)
    # When a new container reads its settings and a person registers, then allocation runs
    from chalicelib.config import get_settings

    assert get_settings().schedule.first_day == today + timedelta(days=offset_days)
    reg = register(client, 1)
    assert reg["status"] == "confirmed"
    assert client.http.get("/v1/campaign").status_code == 200
    appointments.allocate(stores().registrations.get(reg["registration_id"]))
    # Then the appointment is given from today on, never on a day that has passed
    got = get(client, reg)["appointment"]
    assert got is not None and got["date"] == today.isoformat()
