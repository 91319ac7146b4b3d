"""One phone's registrations racing against its limits (PHONE_REGISTRATION_LIMIT, 4 active, and
PHONE_LIFETIME_LIMIT, 6 different people)."""

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
LIFETIME = 6


def _register_job(url: str, n: int) -> Any:
    return lambda s: s.post(f"{url}/v1/registrations", json=body(n, phone=PHONE), timeout=30)


def _app_registrations_on_phone() -> list[dict[str, Any]]:
    """Every app registration stored (superseded ones too): each of these tests registers on the one
    phone, whose field is encrypted at rest, so the channel tells them."""
    import os

    from chalicelib.store import clients

    db = clients.dynamodb()
    found = []
    for page in db.get_paginator("scan").paginate(TableName=os.environ["REGISTRATIONS_TABLE"]):
        for item in page["Items"]:
            if item["channel"]["S"] == "app":
                found.append(item)
    return found


def _phone_hash() -> str:
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import phone_hash

    return phone_hash(PHONE, verification_keys())


def _active_on_phone(stack: Any) -> tuple[int, int]:
    """(active app registrations with the phone, the phone's count item)."""
    from chalicelib.store.factory import stores

    active = sum(
        1 for item in _app_registrations_on_phone() if item["status"]["S"] != "cancelled" and not item.get("archived")
    )
    return active, stores().phones.count(_phone_hash())


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


@pytest.mark.race
def test_different_people_racing_with_cancels_never_pass_the_lifetime_limit(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.factory import stores

    # Given the default limits: four active, six different people a phone
    monkeypatch.setenv("PHONE_REGISTRATION_LIMIT", str(LIMIT))
    monkeypatch.setenv("PHONE_LIFETIME_LIMIT", str(LIFETIME))
    stack = local_stack(primary=300, reserve=10)
    people = iter(range(20_000, 30_000))
    cancels: list[Any] = []
    accepted = 0
    # When, round after round, many different people register with one phone at once while what the
    # round before registered is cancelled (each twice)
    for round_ in range(4):
        jobs = [_register_job(stack.url, next(people)) for _ in range(CLIENTS)] + cancels
        random.Random(round_).shuffle(jobs)
        responses = run_concurrently(CLIENTS, jobs)
        made = [r.json()["registration_id"] for r in responses if r.status_code == 201]
        accepted += len(made)
        cancels = [cancel_job(stack.url, code) for code in made for _ in range(2)]
        refused = Counter(r.json()["error"]["code"] for r in responses if r.status_code >= 400)
        assert set(refused) <= {"phone_limit_reached"}, refused
    run_concurrently(CLIENTS, cancels)
    stack.workers.queues.settle()
    # Then six different people at most were ever registered with the phone, each counted once, and
    # the phone's counts equal what is stored
    from chalicelib.store.registrations.keys import key_of

    # (The national ID is encrypted at rest: the person is the key their receipt code names.)
    different = {key_of(item["code"]["S"]) for item in _app_registrations_on_phone()}
    assert accepted == len(different) <= LIFETIME
    assert stores().phones.people(_phone_hash()) == len(different)
    active, count = _active_on_phone(stack)
    assert active == count == 0
    # And the phone takes the rest of its six, one by one, and no more
    left = LIFETIME - len(different)
    rest = [_register_job(stack.url, next(people))(requests) for _ in range(left + 1)]
    assert [r.status_code for r in rest] == [201] * left + [409]
