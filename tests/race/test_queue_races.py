"""The waiting room under concurrency, on the local stack (its sequencer ticking every second beside
the test's own rounds): many phones in one second, one phone from many threads, admissions racing
the last places."""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import pytest
import requests

from tests.helpers import Clock, body
from tests.race.test_races import run_concurrently


@pytest.fixture
def line(local_stack: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``line(primary, reserve)``: the local stack with the waiting room on, open now, at 60,000 a
    minute, its clock frozen inside one second."""
    from chalicelib.services import waiting_room

    def start(primary: int = 1000, reserve: int = 100) -> tuple[Any, Clock]:
        monkeypatch.setenv("WAITING_ROOM", "on")
        monkeypatch.setenv("ADMIT_PER_MINUTE", "60000")
        clock = Clock(math.floor(time.time()) + 0.25)
        monkeypatch.setattr(waiting_room, "clock", clock)
        return local_stack(primary=primary, reserve=reserve), clock

    return start


def phone(n: int) -> str:
    return f"08{n:08d}"


def join_job(url: str, n: int) -> Any:
    return lambda s: s.post(f"{url}/v1/queue", json={"phone": phone(n)}, timeout=30)


def sequenced_past(clock: Clock, seconds: float) -> None:
    """Time moves on; the test runs rounds too, racing the stack's own sequencer."""
    from chalicelib.services import waiting_room

    clock.now += seconds
    while waiting_room.sequence_once().behind:
        pass
    waiting_room.sequence_once()


@pytest.mark.race
def test_64_phones_joining_in_one_second_get_positions_1_to_64(line: Any) -> None:
    # Given the line open, its clock inside one second
    stack, clock = line()
    # When 64 phones join at once
    responses = run_concurrently(64, [join_job(stack.url, n) for n in range(64)])
    assert Counter(r.status_code for r in responses) == {201: 64}, [r.text for r in responses if r.status_code != 201]
    tickets = [r.json()["ticket"] for r in responses]
    # And the second is sequenced (by the test and the stack's sequencer at once)
    sequenced_past(clock, 3)
    # Then the positions are 1..64, each once
    got = [requests.get(f"{stack.url}/v1/queue/{t}", timeout=30).json()["position"] for t in tickets]
    assert sorted(got) == list(range(1, 65))


@pytest.mark.race
def test_one_phone_joining_from_20_threads_gets_one_ticket_and_one_admission(line: Any) -> None:
    # Given the line open
    stack, clock = line()
    # When one phone joins from 20 threads at once
    responses = run_concurrently(20, [join_job(stack.url, 7) for _ in range(20)])
    # Then one ticket: one 201, nineteen 200 with the same ticket
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["ticket"] for r in responses}) == 1
    ticket = responses[0].json()["ticket"]
    # And once admitted, every read of it gives the same admission
    sequenced_past(clock, 3)
    reads = run_concurrently(20, [lambda s: s.get(f"{stack.url}/v1/queue/{ticket}", timeout=30) for _ in range(20)])
    grants = {(r.json()["status"], r.json()["admission_token"], r.json()["admitted_until"]) for r in reads}
    assert len(grants) == 1 and next(iter(grants))[0] == "admitted"


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2])
def test_admitted_households_racing_the_last_places_take_exactly_the_capacities(line: Any, seed: int) -> None:
    # Given 40 phones admitted, for 5 places and 3 on the reserve
    primary, reserve = 4 + seed, 3
    stack, clock = line(primary=primary, reserve=reserve)
    joined = run_concurrently(40, [join_job(stack.url, n) for n in range(40)])
    sequenced_past(clock, 3)
    tokens = {}
    for n, r in enumerate(joined):
        ticket = requests.get(f"{stack.url}/v1/queue/{r.json()['ticket']}", timeout=30).json()
        assert ticket["status"] == "admitted", ticket
        tokens[n] = ticket["admission_token"]

    # When each registers one person at once
    def register(n: int) -> Any:
        person = {**body(100 * seed + n, phone=phone(n)), "admission_token": tokens[n]}
        return lambda s: s.post(f"{stack.url}/v1/registrations", json=person, timeout=30)

    responses = run_concurrently(40, [register(n) for n in range(40)])
    outcomes = Counter(r.json().get("status") if r.status_code == 201 else r.json()["error"]["code"] for r in responses)
    # Then exactly the places and the reserve are taken, everyone else is told it is full
    assert outcomes == {"confirmed": primary, "reserve": reserve, "registration_full": 40 - primary - reserve}
    # And the line has stopped: full for everyone, and a new phone cannot join
    from chalicelib.services import waiting_room

    waiting_room.forget()
    assert requests.get(f"{stack.url}/v1/queue", timeout=30).json()["status"] == "full"
    late = requests.post(f"{stack.url}/v1/queue", json={"phone": phone(99)}, timeout=30)
    assert late.status_code == 409 and late.json()["error"]["code"] == "registration_full"
