"""Counter reclaims and cancellations of one person racing each other, and a promotion, over HTTP."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import requests

from tests.helpers import body, national_id
from tests.race.test_races import _status_counts, run_concurrently

PRIMARY, RESERVE = 3, 3


def owner(n: int, k: int) -> dict[str, Any]:
    """The k-th claimant of national ID n at a counter: a phone of their own says who won."""
    return body(n, first_name="เจ้าของ", phone=f"09{k:08d}", birth_date="1970-01-01")


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2])
def test_reclaims_and_cancels_of_one_person_end_in_one_consistent_state(local_stack: Any, seed: int) -> None:
    stack = local_stack(primary=PRIMARY, reserve=RESERVE, shards=1)
    url = stack.url
    issued = requests.post(f"{url}/_local/tokens", json={"role": "counter", "label": "race desk"}, timeout=10)
    auth = {"Authorization": f"Bearer {issued.json()['token']}"}
    # Given 3 confirmed people and 3 on the reserve, registered through the app
    first = [requests.post(f"{url}/v1/registrations", json=body(n), timeout=30).json() for n in range(6)]
    assert [r["status"] for r in first] == ["confirmed"] * 3 + ["reserve"] * 3

    def reclaim(n: int, k: int) -> Any:
        return lambda s: (
            "reclaim",
            n,
            k,
            s.post(f"{url}/v1/counter/reclaims", json=owner(n, k), headers=auth, timeout=30),
        )

    def cancel(n: int) -> Any:
        data = {"national_id": national_id(n)}
        return lambda s: (
            "cancel",
            n,
            None,
            s.post(f"{url}/v1/counter/cancellations", json=data, headers=auth, timeout=30),
        )

    # When person 0 (confirmed) is reclaimed and cancelled at several counters at once, person 1 is
    # cancelled (so reserve rank 1, person 3, is promoted) while person 3 is reclaimed
    jobs = [reclaim(0, k) for k in range(10)] + [cancel(0) for _ in range(4)]
    jobs += [cancel(1)] + [reclaim(3, k) for k in range(10, 16)]
    random.Random(seed).shuffle(jobs)
    answers = run_concurrently(16, jobs)
    stack.workers.queues.settle()

    # Then every answer is one the contract allows
    assert all(r.status_code in (200, 404, 429) for *_, r in answers), [r.text for *_, r in answers]
    for who in (0, 3):
        won = {k: r.json() for kind, n, k, r in answers if kind == "reclaim" and n == who and r.status_code == 200}
        codes = {v["registration_id"] for v in won.values()}
        assert len(codes) == len(won)  # each reclaim a new code
        assert all(v["status"] in ("confirmed", "reserve") for v in won.values())  # never a cancelled one
        person = requests.post(
            f"{url}/v1/registrations/lookup",
            json={"national_id": national_id(who), "birth_date": "1970-01-01" if won else "1980-01-31"},
            timeout=10,
        )
        assert person.status_code == 200
        # The one registration's code is the last reclaim's (or the first code if none won); every other is dead
        live = [
            c
            for c in codes | {first[who]["registration_id"]}
            if requests.get(f"{url}/v1/registrations/{c}", timeout=10).status_code == 200
        ]
        assert len(live) == 1
        resource = requests.get(f"{url}/v1/registrations/{live[0]}", timeout=10).json()
        assert {k: v for k, v in resource.items() if k != "reserve_rank"} == {
            k: v for k, v in person.json().items() if k != "reserve_rank"
        } | {"registration_id": live[0]}
        if won:
            # and it carries the details of the reclaim that answered with that code
            winner = next(k for k, v in won.items() if v["registration_id"] == live[0])
            from chalicelib.store.factory import stores

            stored = stores().registrations.get(live[0])
            assert stored is not None and stored.phone == owner(who, winner)["phone"]
    cancelled_0 = [r for kind, n, _, r in answers if kind == "cancel" and n == 0 and r.status_code == 200]
    state_0 = requests.post(
        f"{url}/v1/registrations/lookup", json={"national_id": national_id(0), "birth_date": "1970-01-01"}, timeout=10
    )
    if state_0.status_code != 200:
        state_0 = requests.post(
            f"{url}/v1/registrations/lookup",
            json={"national_id": national_id(0), "birth_date": "1980-01-31"},
            timeout=10,
        )
    assert state_0.json()["status"] == ("cancelled" if cancelled_0 else "confirmed")
    # And the places are exact: the primary full, the reserve as the table holds it, ranks 1..k
    counts = _status_counts(stack)
    assert counts["confirmed"] == PRIMARY
    assert counts["reserve"] == 6 - PRIMARY - counts["cancelled"]
    campaign = requests.get(f"{url}/v1/campaign", timeout=10).json()
    assert campaign["primary"]["remaining"] == 0
    assert campaign["reserve"]["remaining"] == RESERVE - counts["reserve"]
    promoted = requests.post(
        f"{url}/v1/registrations/lookup", json={"national_id": national_id(3), "birth_date": "1970-01-01"}, timeout=10
    )
    assert promoted.json()["status"] == "confirmed"  # rank 1 took person 1's place, reclaimed or not
    # And the statistics agree with the table: by status, and by channel (reclaimed ones moved to counter)
    admin = requests.post(f"{url}/_local/tokens", json={"role": "admin", "label": "race admin"}, timeout=10).json()
    summary = requests.get(
        f"{url}/v1/admin/summary", headers={"Authorization": f"Bearer {admin['token']}"}, timeout=10
    ).json()["registrations"]
    assert summary["by_status"] == {k: counts[k] for k in ("confirmed", "reserve", "cancelled")}
    assert summary["by_channel"] == {k: _channel_counts()[k] for k in ("app", "counter", "org")}
    waiting = [requests.get(f"{url}/v1/registrations/{first[n]['registration_id']}", timeout=10).json() for n in (4, 5)]
    ranks = [r["reserve_rank"] for r in waiting if r["status"] == "reserve"]
    assert ranks == list(range(1, counts["reserve"] + 1))


def _channel_counts() -> Counter[str]:
    from chalicelib.store.factory import stores

    regs, _ = stores().registrations.page(None, None, 100)
    return Counter(r.channel.value for r in regs)
