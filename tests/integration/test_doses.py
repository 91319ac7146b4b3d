"""Two doses: booking both at once, check-in at the sites, closing a day, rebooking, no-shows."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.domain import doses as dose_rules
from chalicelib.domain import rules
from chalicelib.services import appointments, doses
from chalicelib.store.factory import stores
from tests.helpers import body, campaign_table, reconciled
from tests.integration.test_appointments import get, register

JSON = {"Content-Type": "application/json"}
D0 = rules.today_in_bangkok()
SITES = [{"name": "ศาลาว่าการ", "capacity": 2}, {"name": "สนามกีฬา", "capacity": 1}]
INTERVAL = 7


class Clock:
    """Today in Bangkok, as the services see it; tests move it on."""

    def __init__(self) -> None:
        self.today = D0

    def __call__(self, now: Any = None) -> date:
        return self.today


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    real = rules.today_in_bangkok
    monkeypatch.setattr(rules, "today_in_bangkok", lambda now=None: fake.today if now is None else real(now))
    return fake


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch, campaign_env: Any, clock: Clock) -> None:
    """3 places a day at two sites from today; tomorrow has no vaccination; doses 7 days apart."""
    monkeypatch.setenv("VACCINATION_FIRST_DAY", D0.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps(SITES, ensure_ascii=False))
    monkeypatch.setenv("VACCINATION_CLOSED_DAYS", (D0 + timedelta(days=1)).isoformat())
    monkeypatch.setenv("DOSE_INTERVAL_DAYS", str(INTERVAL))
    campaign_env(primary=6, reserve=2)


def day(n: int) -> str:
    return (D0 + timedelta(days=n)).isoformat()


def visits(client: Any, reg: dict[str, Any]) -> list[tuple[int, str, str, str]]:
    return [(a["dose"], a["date"], a["site"], a["status"]) for a in get(client, reg)["appointments"]]


def check_in(client: Any, token: str, **key: str) -> Any:
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    return client.http.post("/v1/site/check-ins", body=json.dumps(key), headers=headers)


def close(client: Any, token: str, which: str) -> Any:
    return client.http.post(f"/v1/admin/days/{which}/close", headers={"Authorization": f"Bearer {token}"})


def slot_use() -> dict[tuple[str, int], int]:
    """Bookings per (day, site) as the slot counters have them."""
    keys = [(day(n), s) for n in range(40) for s in range(len(SITES))]
    return {k: v.used for k, v in stores().slots.slots(keys).items() if v.used}


def held() -> Counter[tuple[str, int]]:
    """Bookings per (day, site) as the registrations hold them."""
    names = [s["name"] for s in SITES]
    found: Counter[tuple[str, int]] = Counter()
    for reg in stores().registrations.page(None, None, 1000)[0]:
        for v in reg.visits:
            if dose_rules.holds_slot(v) and (
                v.status is not dose_rules.VisitStatus.BOOKED or reg.status.value == "confirmed"
            ):
                found[(v.date.isoformat(), names.index(v.site))] += 1
    return found


def test_both_doses_are_booked_at_once_at_one_site_and_share_each_days_places(
    client: Any, queues: Any, schedule: None
) -> None:
    # Given four confirmed people and 3 places a day (2 + 1)
    regs = [register(client, n) for n in range(4)]
    # When appointments are given
    appointments.start()
    queues.drain()
    # Then each has dose 1 and, at the same site, dose 2 on the first open day from dose 1 + 7 days
    hall, stadium = (s["name"] for s in SITES)
    assert visits(client, regs[0]) == [(1, day(0), hall, "booked"), (2, day(7), hall, "booked")]
    assert visits(client, regs[2]) == [(1, day(0), stadium, "booked"), (2, day(7), stadium, "booked")]
    assert visits(client, regs[3]) == [(1, day(2), hall, "booked"), (2, day(9), hall, "booked")]
    assert get(client, regs[3])["appointment"] == {"date": day(2), "site": hall}
    # And day 7 is full with the dose 2s of day 0: a newcomer's dose 1 goes elsewhere
    assert slot_use()[(day(7), 0)] == 2 and slot_use()[(day(7), 1)] == 1
    assert slot_use() == dict(held())


def test_dose_2_takes_the_first_open_day_with_room_after_the_interval(
    client: Any, queues: Any, schedule: None, monkeypatch: pytest.MonkeyPatch, campaign_env: Any
) -> None:
    # Given doses 1 day apart, so that a dose 2 would fall on the closed day
    monkeypatch.setenv("DOSE_INTERVAL_DAYS", "1")
    campaign_env(primary=6, reserve=2)
    regs = [register(client, n) for n in range(5)]
    appointments.start()
    queues.drain()
    hall, stadium = (s["name"] for s in SITES)
    # Then day 0's dose 2s skip the closed day 1 and fill day 2 at their site (dose 1 and 2 together)
    assert visits(client, regs[0]) == [(1, day(0), hall, "booked"), (2, day(2), hall, "booked")]
    assert visits(client, regs[2]) == [(1, day(0), stadium, "booked"), (2, day(2), stadium, "booked")]
    # And the next person's dose 1 finds day 2 full (3 dose 2s): day 3, dose 2 on day 4
    assert visits(client, regs[3]) == [(1, day(3), hall, "booked"), (2, day(4), hall, "booked")]
    assert all(n <= SITES[s]["capacity"] for (_, s), n in slot_use().items())


def test_check_in_gives_the_next_dose_and_refuses_what_is_not_due(
    client: Any, queues: Any, schedule: None, clock: Clock, tokens: dict[str, str], stand_ins: dict[str, Any]
) -> None:
    regs = [register(client, n) for n in range(7)]  # 6 confirmed, 1 on the reserve
    appointments.start()
    queues.drain()
    site = tokens["site"]
    code = regs[0]["registration_id"]
    # When the person's receipt code is scanned at the site on the day
    first = check_in(client, site, registration_id=code)
    # Then dose 1 is recorded as given today, at the site of the appointment
    assert first.status_code == 200, first.body
    assert first.json_body == {"registration_id": code, "dose": 1, "date": day(0), "site": SITES[0]["name"]}
    assert [a["status"] for a in get(client, regs[0])["appointments"]] == ["done", "booked"]
    assert get(client, regs[0])["appointment"] == {"date": day(7), "site": SITES[0]["name"]}
    # And the same person again: dose 2 is not due before dose 1's day + 7
    again = check_in(client, site, registration_id=code)
    assert (again.status_code, again.json_body["error"]["code"]) == (409, "not_due")
    clock.today = D0 + timedelta(days=6)
    assert check_in(client, site, registration_id=code).json_body["error"]["code"] == "not_due"
    # When it is due (by national ID this time, an admin token may too)
    clock.today = D0 + timedelta(days=7)
    second = check_in(client, tokens["admin"], national_id=body(0)["national_id"])
    assert second.status_code == 200 and second.json_body["dose"] == 2
    assert get(client, regs[0])["appointment"] is None
    # Then a third: every dose is done
    done = check_in(client, site, registration_id=code)
    assert (done.status_code, done.json_body["error"]["code"]) == (409, "already_done")
    # The day lists show who came: day 0's list and day 7's
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    listed = client.http.get(f"/v1/admin/appointments.csv?date={day(0)}", headers=admin).body
    rows = [
        r.split(",")
        for r in (listed if isinstance(listed, str) else listed.decode()).lstrip("\ufeff").split("\r\n")
        if r
    ]
    assert rows[0][-3:] == ["dose", "status", "given_on"]
    assert (rows[1][2], *rows[1][-3:]) == (code, "1", "done", day(0))
    assert sorted(r[-2] for r in rows[1:]) == ["booked", "booked", "done"]
    report = client.http.get(f"/v1/admin/reports/daily?date={day(7)}", headers=admin).json_body["doses"]
    assert report["given"] == {"1": 0, "2": 1} and report["by_site"][SITES[0]["name"]]["given"]["2"] == 1


def test_check_in_refusals_record_nothing(client: Any, queues: Any, schedule: None, tokens: dict[str, str]) -> None:
    regs = [register(client, n) for n in range(7)]  # the 7th is on the reserve
    appointments.start()
    queues.drain()
    cancel = json.dumps({"birth_date": "1980-01-31"})
    client.http.post(f"/v1/registrations/{regs[1]['registration_id']}/cancel", body=cancel, headers=JSON)
    before = {r["registration_id"]: get(client, r) for r in regs}
    site = tokens["site"]
    cases = [
        ({"registration_id": "r_thisisnoreceiptcode00"}, 404, "not_found"),
        ({"registration_id": "no-such-code"}, 404, "not_found"),
        ({"national_id": body(500)["national_id"]}, 404, "not_found"),
        ({"registration_id": regs[6]["registration_id"]}, 409, "not_confirmed"),  # reserve
        ({"registration_id": regs[1]["registration_id"]}, 409, "not_confirmed"),  # cancelled
        ({"national_id": body(1)["national_id"]}, 409, "not_confirmed"),  # cancelled, by ID
        ({}, 400, "validation_error"),
        (
            {"registration_id": regs[0]["registration_id"], "national_id": body(0)["national_id"]},
            400,
            "validation_error",
        ),
        ({"national_id": "1101700230709"}, 400, "validation_error"),
        ({"registration_id": 12}, 400, "validation_error"),
    ]
    for key, status, code in cases:
        resp = check_in(client, site, **key)
        assert (resp.status_code, resp.json_body["error"]["code"]) == (status, code), key
    assert {r["registration_id"]: get(client, r) for r in regs} == before
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    report = client.http.get(f"/v1/admin/reports/daily?date={day(0)}", headers=admin).json_body["doses"]
    assert report["given"] == {"1": 0, "2": 0}


def test_closing_a_day_rebooks_a_first_miss_and_cancels_a_second_as_a_no_show(
    client: Any, queues: Any, schedule: None, clock: Clock, tokens: dict[str, str], stand_ins: dict[str, Any]
) -> None:
    hall = SITES[0]["name"]
    regs = [register(client, n) for n in range(8)]  # 6 confirmed; ranks 1 and 2 on the reserve
    appointments.start()
    queues.drain()
    admin = tokens["admin"]
    assert check_in(client, tokens["site"], registration_id=regs[1]["registration_id"]).status_code == 200
    # Given day 0 is over, and person 0 did not come
    clock.today = D0 + timedelta(days=1)
    # When the admin closes day 0
    resp = close(client, admin, day(0))
    assert (resp.status_code, resp.json_body) == (202, {"date": day(0), "status": "closing"})
    queues.drain()
    # Then dose 1 is missed and booked again on the next open day with room (day 2 after the closed
    # day 1 is full? day 2 holds persons 3-5: the first day with room at any site), dose 2 after it
    after = visits(client, regs[0])
    assert after[0] == (1, day(0), hall, "missed")
    rebooked = [v for v in after if v[3] == "booked"]
    assert [v[0] for v in rebooked] == [1, 2]
    assert date.fromisoformat(rebooked[1][1]) >= date.fromisoformat(rebooked[0][1]) + timedelta(days=INTERVAL)
    assert get(client, regs[0])["status"] == "confirmed"
    # and the person who came is untouched, and an SMS with the receipt code went out for the new day
    assert [a["status"] for a in get(client, regs[1])["appointments"]] == ["done", "booked"]
    texts = [m["text"] for m in stand_ins["sms"].messages.values()]
    assert any(rebooked[0][1] in t and regs[0]["registration_id"] in t for t in texts)
    assert slot_use() == dict(held())
    # When day 0 is closed a second time
    snapshot = {r["registration_id"]: get(client, r) for r in regs}
    close(client, admin, day(0))
    queues.drain()
    # Then nothing changes
    assert {r["registration_id"]: get(client, r) for r in regs} == snapshot
    # When the person misses the new day too
    clock.today = date.fromisoformat(rebooked[0][1]) + timedelta(days=1)
    close(client, admin, rebooked[0][1])
    queues.drain()
    # Then the registration is cancelled as a no-show, its dose 2 place is freed, and its place goes
    # to reserve rank 1 (person 2, who missed day 0 at the other site, missed that day too: rank 2)
    gone = get(client, regs[0])
    assert gone["status"] == "cancelled" and gone["cancel_reason"] == "no_show"
    assert [a["status"] for a in gone["appointments"]] == ["missed", "missed"]
    assert get(client, regs[2])["cancel_reason"] == "no_show"
    assert get(client, regs[6])["status"] == "confirmed" and get(client, regs[7])["status"] == "confirmed"
    assert {stores().registrations.get(r["registration_id"]).promoted_by for r in regs[6:]} == {
        regs[0]["registration_id"],
        regs[2]["registration_id"],
    }
    report = client.http.get(f"/v1/admin/reports/daily?date={day(0)}", headers={"Authorization": f"Bearer {admin}"})
    assert report.json_body["doses"] == {
        "given": {"1": 1, "2": 0},
        "missed": 2,  # persons 0 and 2 (stadium) did not come
        "rebooked": 2,
        "no_show_cancelled": 0,
        "by_site": report.json_body["doses"]["by_site"],
    }
    later = client.http.get(
        f"/v1/admin/reports/daily?date={rebooked[0][1]}", headers={"Authorization": f"Bearer {admin}"}
    ).json_body["doses"]
    assert later["no_show_cancelled"] == 2 and later["missed"] == 2
    # And the promoted person gets appointments at the next allocation, within capacity
    appointments.start()
    queues.drain()
    assert get(client, regs[6])["appointment"] is not None
    assert slot_use() == dict(held())


def test_a_missed_dose_2_is_booked_again(
    client: Any, queues: Any, schedule: None, clock: Clock, tokens: dict[str, str]
) -> None:
    reg = register(client, 1)
    appointments.start()
    queues.drain()
    assert check_in(client, tokens["site"], registration_id=reg["registration_id"]).status_code == 200
    clock.today = D0 + timedelta(days=INTERVAL + 1)
    close(client, tokens["admin"], day(INTERVAL))
    queues.drain()
    # Then it is booked again at its site, on the first open day with room after today
    assert visits(client, reg) == [
        (1, day(0), SITES[0]["name"], "done"),
        (2, day(INTERVAL), SITES[0]["name"], "missed"),
        (2, day(INTERVAL + 2), SITES[0]["name"], "booked"),
    ]
    booked = [v for v in visits(client, reg) if v[3] == "booked"]
    # a second miss of dose 2 is booked again too (no no-show for a later dose)
    clock.today = date.fromisoformat(booked[0][1]) + timedelta(days=1)
    close(client, tokens["admin"], booked[0][1])
    queues.drain()
    assert get(client, reg)["status"] == "confirmed"
    assert [v[3] for v in visits(client, reg)].count("booked") == 1


def test_today_can_be_closed_in_the_evening(client: Any, queues: Any, schedule: None, tokens: dict[str, str]) -> None:
    # Given two people with dose 1 today, one of whom came
    regs = [register(client, n) for n in range(2)]
    appointments.start()
    queues.drain()
    assert check_in(client, tokens["site"], registration_id=regs[0]["registration_id"]).status_code == 200
    # When the admin closes today, in the evening
    resp = close(client, tokens["admin"], day(0))
    queues.drain()
    # Then it is accepted, and only the one who did not come is missed and booked again from tomorrow
    assert (resp.status_code, resp.json_body) == (202, {"date": day(0), "status": "closing"})
    hall = SITES[0]["name"]
    assert visits(client, regs[0]) == [(1, day(0), hall, "done"), (2, day(7), hall, "booked")]
    assert visits(client, regs[1]) == [
        (1, day(0), hall, "missed"),
        (1, day(2), hall, "booked"),
        (2, day(9), hall, "booked"),
    ]


def test_only_today_or_an_earlier_day_can_be_closed(client: Any, schedule: None, tokens: dict[str, str]) -> None:
    admin = tokens["admin"]
    for which in (day(1), day(400)):
        resp = close(client, admin, which)
        assert (resp.status_code, resp.json_body["error"]["code"]) == (409, "day_not_over"), which
    for which in ("2026-02-30", "yesterday", "2026-1-1"):
        assert close(client, admin, which).status_code == 400, which
    assert close(client, tokens["site"], day(-1)).status_code == 403


def test_a_cancellation_gives_back_both_doses_places(client: Any, queues: Any, schedule: None) -> None:
    regs = [register(client, n) for n in range(3)]
    appointments.start()
    queues.drain()
    assert slot_use()[(day(7), 0)] == 2
    client.http.post(
        f"/v1/registrations/{regs[0]['registration_id']}/cancel",
        body=json.dumps({"birth_date": "1980-01-31"}),
        headers=JSON,
    )
    assert slot_use()[(day(0), 0)] == 1 and slot_use()[(day(7), 0)] == 1
    assert get(client, regs[0])["appointments"] == [] and slot_use() == dict(held())


def test_the_scheduled_close_runs_for_yesterday(
    client: Any, queues: Any, schedule: None, clock: Clock, app: Any
) -> None:
    from local.driver import Schedules
    from tests.conftest import REGION

    reg = register(client, 1)
    appointments.start()
    queues.drain()
    clock.today = D0 + timedelta(days=1)
    Schedules(app, REGION).fire("close_daily")
    queues.drain()
    assert visits(client, reg)[0][3] == "missed"
    assert doses.close_one(reg["registration_id"], D0) is False  # a duplicate delivery changes nothing


def test_reconciliation_checks_bookings_against_the_slot_counters_and_doses_against_check_ins(
    client: Any, queues: Any, schedule: None, tokens: dict[str, str]
) -> None:
    regs = [register(client, n) for n in range(4)]
    appointments.start()
    queues.drain()
    assert check_in(client, tokens["site"], registration_id=regs[0]["registration_id"]).status_code == 200

    # Given a campaign whose counters agree: nothing about the days is found
    clean = reconciled(queues)
    assert not [k for k in clean["drift"] if k.startswith(("slot", "check_ins"))] and clean["repaired"] == []
    # When a day's counter lost a booking (too low), a place is counted that nobody holds, and a
    # check-in record is lost
    stores().slots.free_slot(day(7), 0)
    assert stores().slots.take_slot(day(2), 1, 1)
    campaign_table().update((f"slot#{day(0)}#0",), "DELETE came :m", None, {":m": {f"{regs[0]['registration_id']}:1"}})
    found = reconciled(queues)
    # Then the low counter is raised at once, the others are reported
    assert found["repaired"] == [f"bookings of {day(7)}/{SITES[0]['name']} raised by 1"]
    assert found["drift"][f"slot_unheld {day(2)}/{SITES[1]['name']}"] == 1
    assert found["drift"][f"check_ins {day(0)}/{SITES[0]['name']}"] == 1
    assert slot_use()[(day(7), 0)] == 2
