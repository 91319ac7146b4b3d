"""Check-ins, day closings (delivered twice), rebookings, cancellations and allocations at once,
against the local stack: each appointment ends done or missed, never both, and no day is overfilled."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import requests

from chalicelib.domain import rules
from chalicelib.domain.doses import VisitStatus, holds_slot
from tests.helpers import body
from tests.race.test_races import run_concurrently

SITES = [{"name": "ศาลาว่าการ", "capacity": 4}, {"name": "สนามกีฬา", "capacity": 3}]


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2])
def test_check_ins_and_closings_racing_leave_every_appointment_done_or_missed(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    from chalicelib.domain.staff import Role
    from chalicelib.services import appointments, doses, staff
    from chalicelib.store.factory import stores

    today = rules.today_in_bangkok()
    monkeypatch.setenv("VACCINATION_FIRST_DAY", today.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps(SITES, ensure_ascii=False))
    monkeypatch.setenv("DOSE_INTERVAL_DAYS", "3")
    stack = local_stack(primary=20, reserve=6)
    rng = random.Random(seed)
    # Given 26 people (20 confirmed, 6 on the reserve); 12 of the confirmed get appointments, 7 today
    regs = [requests.post(f"{stack.url}/v1/registrations", json=body(n), timeout=30).json() for n in range(26)]
    for reg in regs[:12]:
        assert appointments.allocate(stores().registrations.get(reg["registration_id"]))
    day0 = [r for r in regs[:12] if stores().registrations.get(r["registration_id"]).visits[0].date == today]
    assert len(day0) == 7
    site, _ = staff.issue_token(Role.SITE, "race site")
    admin, _ = staff.issue_token(Role.ADMIN, "race admin")
    # When the next day begins: late check-ins (each scanned twice), closings of day 0 (via the API,
    # and the job delivered twice more at once), cancellations, and allocation of everyone else
    real_today = rules.today_in_bangkok
    monkeypatch.setattr(rules, "today_in_bangkok", lambda now=None: real_today(now) + timedelta(days=1))
    came = rng.sample(day0, 4)
    cancelled = rng.sample([r for r in regs[:12] if r not in came], 2)
    checks = [
        (
            lambda s, r=r: s.post(
                f"{stack.url}/v1/site/check-ins",
                json={"registration_id": r["registration_id"]},
                headers={"Authorization": f"Bearer {site}"},
                timeout=30,
            )
        )
        for r in came * 2
    ]
    closes = [
        lambda s: s.post(
            f"{stack.url}/v1/admin/days/{today.isoformat()}/close",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        ),
        *[lambda s: doses.close_chunk(today.isoformat(), None) for _ in range(2)],
    ]
    cancels = [
        (
            lambda s, r=r: s.post(
                f"{stack.url}/v1/registrations/{r['registration_id']}/cancel",
                json={"birth_date": "1980-01-31"},
                timeout=30,
            )
        )
        for r in cancelled
    ]
    allocations = [lambda s: appointments.allocate_chunk(None) for _ in range(2)]
    jobs = checks + closes + cancels + allocations
    rng.shuffle(jobs)
    results = run_concurrently(len(jobs), jobs)
    stack.workers.queues.settle()

    # Then each person who came has dose 1 done, once (a second scan is refused: dose 2 not due)
    answers = [r for r in results if isinstance(r, requests.Response) and "/site/" in r.url]
    ok = Counter(r.json()["registration_id"] for r in answers if r.status_code == 200)
    assert set(ok.values()) <= {1}
    assert all(r.json()["error"]["code"] == "not_due" for r in answers if r.status_code != 200)
    final = {r["registration_id"]: stores().registrations.get(r["registration_id"]) for r in regs}
    for reg in day0:
        got = final[reg["registration_id"]]
        on_day0 = [v for v in got.visits if v.date == today and v.dose == 1]
        if got.status.value == "cancelled":
            # Cancelled before the closing (its booking dropped) or after it (missed stays)
            assert len(on_day0) <= 1 and not any(v.status is VisitStatus.BOOKED for v in got.visits)
            continue
        assert len(on_day0) == 1, got.visits  # done or missed, never both, never twice
        status = on_day0[0].status
        if reg["registration_id"] in ok:
            # Checked in before the closing reached it (day 0 done), or after (day 0 missed, and the
            # dose 1 it had been booked again for was given early): dose 1 given once, on the day
            given = [v for v in got.visits if v.dose == 1 and v.status is VisitStatus.DONE]
            assert [v.given_on for v in given] == [today + timedelta(days=1)]
            assert status in (VisitStatus.DONE, VisitStatus.MISSED)
        elif got.status.value == "confirmed":
            assert status is VisitStatus.MISSED
            assert [v.dose for v in got.visits if v.status is VisitStatus.BOOKED] == [1, 2]  # rebooked
    # And every day's bookings, dose 1 and 2 together, are what the slot counters say, within capacity
    held: Counter[tuple[str, int]] = Counter()
    names = [s["name"] for s in SITES]
    for got in final.values():
        for v in got.visits:
            if holds_slot(v):
                held[(v.date.isoformat(), names.index(v.site))] += 1
    keys = [((today + timedelta(days=n)).isoformat(), s) for n in range(30) for s in range(len(SITES))]
    used = {k: v.used for k, v in stores().slots.slots(keys).items() if v.used}
    assert used == dict(held)
    assert all(n <= SITES[s]["capacity"] for (_, s), n in used.items())
    # And the check-ins recorded are the doses given
    came_records = {m for k, v in stores().slots.slots(keys).items() for m in v.came}
    assert came_records == {f"{rid}:1" for rid in ok}
