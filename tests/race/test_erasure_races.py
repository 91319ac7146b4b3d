"""Erasures (contract v1.2) racing a check-in, a promotion and a counter reclaim of the same people,
over HTTP against the local stack: nothing is lost, and no item is ever half-erased."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
import requests

from chalicelib.domain import rules
from chalicelib.domain.doses import VisitStatus
from chalicelib.store.registrations.codec import PERSONAL_FIELDS
from tests.helpers import body, national_id
from tests.race.test_counter_races import owner
from tests.race.test_races import _status_counts, run_concurrently

BIRTH = "1980-01-31"


def every_item() -> list[dict[str, Any]]:
    """Every registration item as stored (persons' and superseded ones)."""
    from chalicelib.store.factory import stores

    table = stores().registrations.table  # type: ignore[attr-defined]
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = table.scan_page(cursor, 1000)
        items += page.items
        if page.cursor is None:
            return items
        cursor = page.cursor


def assert_none_half_erased() -> None:
    """Each item holds every personal field (and is not erased) or none of them (and is erased)."""
    for item in every_item():
        held = {f for f in PERSONAL_FIELDS if f in item}
        if "erased_at" in item:
            assert held == set(), item["code"]
        else:
            assert held == set(PERSONAL_FIELDS), item["code"]


def admin_summary(url: str) -> dict[str, Any]:
    admin = requests.post(f"{url}/_local/tokens", json={"role": "admin", "label": "race admin"}, timeout=10).json()
    answer = requests.get(f"{url}/v1/admin/summary", headers={"Authorization": f"Bearer {admin['token']}"}, timeout=10)
    return dict(answer.json())


def erase_job(url: str, tag: Any, code: str) -> Any:
    return lambda s: (
        "erase",
        tag,
        s.post(f"{url}/v1/registrations/{code}/erase", json={"birth_date": BIRTH}, timeout=30),
    )


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2])
def test_erasures_racing_check_ins_lose_no_dose_and_erase_nobody_vaccinated(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    from chalicelib.services import appointments
    from chalicelib.store.factory import stores

    today = rules.today_in_bangkok()
    monkeypatch.setenv("VACCINATION_FIRST_DAY", today.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps([{"name": "ศาลาว่าการ", "capacity": 10}], ensure_ascii=False))
    stack = local_stack(primary=10, reserve=2)
    url = stack.url
    site = requests.post(f"{url}/_local/tokens", json={"role": "site", "label": "race site"}, timeout=10).json()
    auth = {"Authorization": f"Bearer {site['token']}"}
    # Given 10 confirmed people, each with dose 1 booked today
    regs = [requests.post(f"{url}/v1/registrations", json=body(n), timeout=30).json() for n in range(10)]
    for reg in regs:
        assert appointments.allocate(stores().registrations.get(reg["registration_id"]))
    # When each is checked in at the site and erases their data at the same moment
    jobs = []
    for reg in regs:
        code = reg["registration_id"]
        jobs.append(erase_job(url, code, code))
        jobs.append(
            lambda s, code=code: (
                "check_in",
                code,
                s.post(f"{url}/v1/site/check-ins", json={"registration_id": code}, headers=auth, timeout=30),
            )
        )
    random.Random(seed).shuffle(jobs)
    answers = run_concurrently(len(jobs), jobs)
    stack.workers.queues.settle()
    # Then each person either got their dose (and the erasure was refused: 409 medical_record_kept)
    # or was erased (and the check-in refused: 409 not_confirmed), never both, never neither
    by_person: dict[str, dict[str, Any]] = {}
    for kind, code, answer in answers:
        by_person.setdefault(code, {})[kind] = answer
    outcomes: Counter[str] = Counter()
    for code, got in by_person.items():
        checked, erased = got["check_in"], got["erase"]
        stored = stores().registrations.get(code)
        assert stored is not None
        done = [v for v in stored.visits if v.status is VisitStatus.DONE]
        if checked.status_code == 200:
            assert erased.status_code == 409 and erased.json()["error"]["code"] == "medical_record_kept"
            assert len(done) == 1 and not stored.erased and stored.status.value == "confirmed"
            assert stored.national_id and stored.phone  # every field kept
            outcomes["vaccinated"] += 1
        else:
            assert erased.status_code == 200, erased.text
            assert checked.status_code == 409 and checked.json()["error"]["code"] == "not_confirmed"
            assert not done and stored.erased and stored.status.value == "cancelled"
            outcomes["erased"] += 1
    assert sum(outcomes.values()) == len(regs)
    assert_none_half_erased()
    # And the site's records are the doses given: one a person vaccinated, none for the erased
    slot = stores().slots.slots([(today.isoformat(), 0)])[(today.isoformat(), 0)]
    assert slot.came == {f"{code}:1" for code, got in by_person.items() if got["check_in"].status_code == 200}
    assert slot.used == outcomes["vaccinated"]


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2])
def test_erasures_racing_promotions_keep_every_place(local_stack: Any, seed: int) -> None:
    # Given 3 confirmed people and 6 on the reserve
    stack = local_stack(primary=3, reserve=6, shards=1)
    url = stack.url
    regs = [requests.post(f"{url}/v1/registrations", json=body(n), timeout=30).json() for n in range(9)]
    assert [r["status"] for r in regs] == ["confirmed"] * 3 + ["reserve"] * 6
    # When the 3 confirmed cancel (ranks 1-3 are promoted) while ranks 1-4 erase their data
    cancels = [
        (
            lambda s, r=r: (
                "cancel",
                r["registration_id"],
                s.post(f"{url}/v1/registrations/{r['registration_id']}/cancel", json={"birth_date": BIRTH}, timeout=30),
            )
        )
        for r in regs[:3]
    ]
    erasures = [erase_job(url, r["registration_id"], r["registration_id"]) for r in regs[3:7]]
    jobs = cancels + erasures
    random.Random(seed).shuffle(jobs)
    answers = run_concurrently(len(jobs), jobs)
    stack.workers.queues.settle()
    # Then every erasure and cancel was answered 200 (or 429 to retry), and the erased are cancelled
    assert all(r.status_code in (200, 429) for *_, r in answers), [r.text for *_, r in answers]
    from chalicelib.store.factory import stores

    for kind, code, answer in answers:
        stored = stores().registrations.get(code)
        assert stored is not None
        if kind == "erase" and answer.status_code == 200:
            assert stored.erased and stored.status.value == "cancelled"
    assert_none_half_erased()
    # And the places are exact: every freed place went to someone still waiting (nobody waits while
    # a place is free), an erased person holds none, and the counters agree with the table
    counts = _status_counts(stack)
    still_in = [stores().registrations.get(r["registration_id"]) for r in regs[3:]]
    wanting = [r for r in still_in if r is not None and r.status.value != "cancelled"]
    assert not any(r.erased for r in wanting)
    assert counts["confirmed"] == min(3, len(wanting)) and counts["reserve"] == len(wanting) - counts["confirmed"]
    campaign = requests.get(f"{url}/v1/campaign", timeout=10).json()
    assert campaign["primary"]["remaining"] == 3 - counts["confirmed"]
    assert campaign["reserve"]["remaining"] == 6 - counts["reserve"]
    summary = admin_summary(url)["registrations"]["by_status"]
    assert summary == {k: counts[k] for k in ("confirmed", "reserve", "cancelled")}


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2])
def test_erasures_racing_counter_reclaims_end_reclaimed_or_erased_never_mixed(local_stack: Any, seed: int) -> None:
    from chalicelib.store.factory import stores

    # Given 6 confirmed people (registered through the app by somebody using their IDs)
    stack = local_stack(primary=6, reserve=2, shards=1)
    url = stack.url
    issued = requests.post(f"{url}/_local/tokens", json={"role": "counter", "label": "race desk"}, timeout=10)
    auth = {"Authorization": f"Bearer {issued.json()['token']}"}
    regs = [requests.post(f"{url}/v1/registrations", json=body(n), timeout=30).json() for n in range(6)]
    # When each is erased by whoever registered it while the card holder reclaims it at a counter
    jobs = []
    for n, reg in enumerate(regs):
        jobs.append(erase_job(url, n, reg["registration_id"]))
        jobs.append(
            lambda s, n=n: (
                "reclaim",
                n,
                s.post(f"{url}/v1/counter/reclaims", json=owner(n, 1), headers=auth, timeout=30),
            )
        )
    random.Random(seed).shuffle(jobs)
    answers = run_concurrently(len(jobs), jobs)
    stack.workers.queues.settle()
    # Then for each person one won: the reclaim (a new code with the holder's details; the erasure
    # found nothing) or the erasure (cancelled and erased; the reclaim found no active registration)
    by_person: dict[int, dict[str, Any]] = {}
    for kind, n, answer in answers:
        by_person.setdefault(n, {})[kind] = answer
    for n, got in by_person.items():
        reclaimed, erased = got["reclaim"], got["erase"]
        assert {reclaimed.status_code, erased.status_code} in ({200, 404}, {200, 429}), (reclaimed.text, erased.text)
        found = stores().registrations.current(rules.person_pointer(national_id(n), _key()))
        assert found is not None
        current = found[0]
        if reclaimed.status_code == 200:
            assert current.registration_id == reclaimed.json()["registration_id"]
            assert not current.erased and current.phone == owner(n, 1)["phone"] and current.status.value == "confirmed"
            assert requests.get(f"{url}/v1/registrations/{regs[n]['registration_id']}", timeout=10).status_code == 404
        else:
            assert current.registration_id == regs[n]["registration_id"]
            assert current.erased and current.status.value == "cancelled" and current.phone == ""
    assert_none_half_erased()


def _key() -> bytes:
    from chalicelib.config import hmac_key

    return hmac_key()
