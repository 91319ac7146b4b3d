"""Many concurrent HTTP clients against the local stack: exact capacities, one registration per person."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from chalicelib.services import registrations
from chalicelib.services.in_flight import Flight, InFlight
from tests.helpers import body

CLIENTS = 32


def run_concurrently(n_clients: int, jobs: list[Any]) -> list[Any]:
    """Release all clients at once (a barrier) and collect every response."""
    barrier = threading.Barrier(n_clients)
    sessions = [requests.Session() for _ in range(n_clients)]
    per_client = [jobs[i::n_clients] for i in range(n_clients)]

    def client(i: int) -> list[Any]:
        barrier.wait()
        return [job(sessions[i]) for job in per_client[i]]

    with ThreadPoolExecutor(max_workers=n_clients) as pool:
        results = list(pool.map(client, range(n_clients)))
    return [r for chunk in results for r in chunk]


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clients_racing_for_the_last_places_take_exactly_the_capacities(local_stack: Any, seed: int) -> None:
    rng = random.Random(seed)
    primary, reserve = rng.randint(5, 15), rng.randint(3, 10)
    stack = local_stack(primary=primary, reserve=reserve, shards=rng.randint(1, 5))
    people = rng.sample(range(10_000), 4 * CLIENTS)

    responses = run_concurrently(CLIENTS, [register_job(stack.url, n) for n in people])
    outcomes = Counter(r.json().get("status") if r.status_code == 201 else r.json()["error"]["code"] for r in responses)
    assert outcomes == {
        "confirmed": primary,
        "reserve": reserve,
        "registration_full": len(people) - primary - reserve,
    }
    ranks = sorted(r.json()["reserve_rank"] for r in responses if r.status_code == 201 and r.json()["reserve_rank"])
    assert ranks == list(range(1, reserve + 1))
    campaign = requests.get(f"{stack.url}/v1/campaign", timeout=10).json()
    assert campaign["primary"]["remaining"] == 0 and campaign["reserve"]["remaining"] == 0


class EveryoneLeads(InFlight):
    """No request waits for another of the same person: every one races to the tables (as requests
    in different containers do)."""

    def join(self, person: bytes) -> tuple[Flight, bool]:
        return Flight(), True


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("containers", ["one", "each its own"])
def test_concurrent_attempts_for_one_person_make_one_registration(
    local_stack: Any, seed: int, containers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In one container a person's requests wait for the first; across containers only the
    # tables' conditional writes keep one registration.
    if containers == "each its own":
        monkeypatch.setattr(registrations, "_in_flight", EveryoneLeads())
    stack = local_stack(primary=100, reserve=10)
    rng = random.Random(seed)
    person = rng.randint(0, 10_000)
    attempts = 24

    def attempt(_: int) -> Any:
        # Some retries carry an Idempotency-Key, some do not: neither may register twice.
        def go(s: Any) -> Any:
            headers = {"Idempotency-Key": f"key-{rng.randint(0, 2)}"} if rng.random() < 0.5 else {}
            return s.post(f"{stack.url}/v1/registrations", json=body(person), headers=headers, timeout=30)

        return go

    responses = run_concurrently(16, [attempt(i) for i in range(attempts)])
    created = {r.json()["registration_id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert all(r.status_code in (201, 409) for r in responses)
    campaign = requests.get(f"{stack.url}/v1/campaign", timeout=10).json()
    assert campaign["primary"]["remaining"] == 99


@pytest.mark.race
def test_cancellations_racing_with_newcomers_never_oversell(local_stack: Any) -> None:
    primary, reserve = 10, 5
    stack = local_stack(primary=primary, reserve=reserve, shards=3)
    first = [requests.post(f"{stack.url}/v1/registrations", json=body(n), timeout=30).json() for n in range(15)]
    cancels = [cancel_job(stack.url, reg["registration_id"]) for reg in first[:8]]
    newcomers = [register_job(stack.url, n) for n in range(100, 124)]
    jobs = cancels + newcomers
    random.Random(7).shuffle(jobs)
    run_concurrently(CLIENTS, jobs)
    stack.workers.queues.settle()
    counts = _status_counts(stack)
    assert counts["confirmed"] <= primary
    assert counts["reserve"] <= reserve
    if counts["reserve"]:
        # Nobody waits on the reserve while a primary place is free.
        assert counts["confirmed"] == primary


def register_job(url: str, n: int) -> Any:
    return lambda s: s.post(f"{url}/v1/registrations", json=body(n), timeout=30)


def cancel_job(url: str, registration_id: str) -> Any:
    return lambda s: s.post(
        f"{url}/v1/registrations/{registration_id}/cancel", json={"birth_date": "1980-01-31"}, timeout=30
    )


def _status_counts(stack: Any) -> Counter[str]:
    from chalicelib.store import clients

    db = clients.dynamodb()
    table = os.environ["REGISTRATIONS_TABLE"]
    counts: Counter[str] = Counter()
    for page in db.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
    ):
        counts.update(item["status"]["S"] for item in page["Items"])
    return counts
