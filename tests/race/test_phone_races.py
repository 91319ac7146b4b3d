"""One phone's registrations racing against its limit (PHONE_REGISTRATION_LIMIT, 4)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import requests

from tests.helpers import body
from tests.race.test_races import CLIENTS, cancel_job, run_concurrently

PHONE = "0812345678"
LIMIT = 4


def _register_job(url: str, n: int) -> Any:
    return lambda s: s.post(f"{url}/v1/registrations", json=body(n, phone=PHONE), timeout=30)


def _active_on_phone(stack: Any) -> tuple[int, int]:
    """(active app registrations with the phone, the phone's count item)."""
    import os

    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import phone_hash
    from chalicelib.store import clients
    from chalicelib.store.factory import stores

    db = clients.dynamodb()
    active = 0
    for page in db.get_paginator("scan").paginate(TableName=os.environ["REGISTRATIONS_TABLE"]):
        for item in page["Items"]:
            if (
                item.get("phone", {}).get("S") == PHONE
                and item["channel"]["S"] == "app"
                and item["status"]["S"] != "cancelled"
                and not item.get("archived")
            ):
                active += 1
    return active, stores().phones.count(phone_hash(PHONE, verification_keys()))


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_many_people_on_one_phone_at_once_never_pass_the_limit(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Given more places than the limit (the primary list ends among the racers), and the default limit of 4
    monkeypatch.setenv("PHONE_REGISTRATION_LIMIT", str(LIMIT))
    rng = random.Random(seed)
    stack = local_stack(primary=rng.randint(2, 6), reserve=rng.randint(3, 4), shards=rng.randint(1, 3))
    people = rng.sample(range(10_000), 2 * CLIENTS)

    # When every client registers a different person with the same phone at once
    responses = run_concurrently(CLIENTS, [_register_job(stack.url, n) for n in people])

    # Then exactly 4 are accepted (more places than that), every other one is refused (for the phone,
    # or full while places were held by racers the phone then refused), and the count item equals
    # the active app registrations on that phone
    outcomes = Counter(r.status_code if r.status_code == 201 else r.json()["error"]["code"] for r in responses)
    assert set(outcomes) <= {201, "phone_limit_reached", "registration_full"}, outcomes
    assert outcomes[201] == LIMIT, outcomes
    active, count = _active_on_phone(stack)
    assert active == outcomes[201] == count


@pytest.mark.race
def test_cancellations_racing_with_registrations_keep_the_count_exact(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a phone at its limit
    monkeypatch.setenv("PHONE_REGISTRATION_LIMIT", str(LIMIT))
    stack = local_stack(primary=100, reserve=10)
    first = [requests.post(f"{stack.url}/v1/registrations", json=body(n, phone=PHONE), timeout=30) for n in range(4)]
    assert [r.status_code for r in first] == [201] * LIMIT
    # When its registrations are cancelled (each twice) while newcomers on the phone register
    cancels = [cancel_job(stack.url, r.json()["registration_id"]) for r in first[:3] for _ in range(2)]
    newcomers = [_register_job(stack.url, n) for n in range(100, 126)]
    jobs = cancels + newcomers
    random.Random(5).shuffle(jobs)
    run_concurrently(CLIENTS, jobs)
    stack.workers.queues.settle()
    # Then never more than 4 active, and the count item equals them
    active, count = _active_on_phone(stack)
    assert active <= LIMIT
    assert active == count
