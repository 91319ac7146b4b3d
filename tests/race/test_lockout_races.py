"""Bursts of birth-date guesses over HTTP: at most five comparisons, whatever the concurrency.

Each burst is 40 requests at once for one person (lookups) or one registration (cancels): the right
birth date at a random position, 39 wrong ones. Every comparison the service makes is recorded in
order, so the test counts comparisons themselves, not only answers.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import requests

from chalicelib.services import cancellations, lookups
from tests.helpers import body
from tests.race.test_races import run_concurrently

BURST = 40
RIGHT = "1980-01-31"
WRONG = [f"19{y}-01-15" for y in range(30, 30 + BURST - 1)]


class Comparisons:
    """The birth dates the service compared, in the order it compared them (wraps one service call)."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, service: ModuleType, name: str, date_of: Callable[..., str]
    ) -> None:
        self.dates: list[str] = []
        self._lock = threading.Lock()
        inner = getattr(service, name)

        def recorded(*args: Any) -> Any:
            with self._lock:
                self.dates.append(date_of(*args))
            return inner(*args)

        monkeypatch.setattr(service, name, recorded)


def burst(rng: random.Random, send: Callable[[str], Callable[[Any], Any]]) -> tuple[int, list[Any]]:
    """(the right date's position, the answers in job order): 39 wrong dates and the right one, at once."""
    right_at = rng.randrange(BURST)
    dates = [*WRONG[:right_at], RIGHT, *WRONG[right_at:]]
    assert len(set(dates)) == BURST
    return right_at, run_concurrently(BURST, [send(d) for d in dates])


def assert_at_most_five_failed(answers: list[Any], right_at: int, compared: list[str]) -> None:
    outcomes = Counter(r.status_code for r in answers)
    wrong_compared = [d for d in compared if d != RIGHT]
    # At most five dates were compared (the right one included), each wrong one answered 404
    assert len(compared) <= 5, compared
    assert outcomes[404] == len(wrong_compared), (outcomes, compared)
    # Every other request was refused without comparing: 429 with Retry-After
    refused = [r for r in answers if r.status_code == 429]
    assert all(r.json()["error"]["code"] == "too_many_attempts" and int(r.headers["Retry-After"]) > 0 for r in refused)
    assert len(refused) + len(compared) == BURST, (outcomes, compared)
    # The right date was answered 200 exactly when it was compared, and then among the first five
    assert (answers[right_at].status_code == 200) == (RIGHT in compared), (answers[right_at].status_code, compared)
    if RIGHT in compared:
        assert compared.index(RIGHT) < 5, compared


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_burst_of_lookups_compares_at_most_five_birth_dates(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Given a registered person
    stack = local_stack(primary=10, reserve=0)
    person = body(seed)
    assert requests.post(f"{stack.url}/v1/registrations", json=person, timeout=30).status_code == 201
    compared = Comparisons(monkeypatch, lookups, "lookup", lambda req: req.birth_date)

    def lookup(birth_date: str) -> Callable[[Any], Any]:
        data = {"national_id": person["national_id"], "birth_date": birth_date}
        return lambda s: s.post(f"{stack.url}/v1/registrations/lookup", json=data, timeout=30)

    # When 40 lookups arrive at once, the right birth date among them at a random position
    right_at, answers = burst(random.Random(seed), lookup)

    # Then at most five dates were compared, and the right one only among the first five
    assert_at_most_five_failed(answers, right_at, compared.dates)


@pytest.mark.race
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_burst_of_cancels_compares_at_most_five_birth_dates(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # Given a registration
    stack = local_stack(primary=10, reserve=0)
    reg = requests.post(f"{stack.url}/v1/registrations", json=body(seed), timeout=30).json()
    compared = Comparisons(monkeypatch, cancellations, "cancel", lambda _rid, birth_date: birth_date)

    def cancel(birth_date: str) -> Callable[[Any], Any]:
        url = f"{stack.url}/v1/registrations/{reg['registration_id']}/cancel"
        return lambda s: s.post(url, json={"birth_date": birth_date}, timeout=30)

    # When 40 cancels arrive at once, the right birth date among them at a random position
    right_at, answers = burst(random.Random(seed), cancel)

    # Then at most five dates were compared, and it is cancelled only if the right one was
    # among the first five
    assert_at_most_five_failed(answers, right_at, compared.dates)
    status = requests.get(f"{stack.url}/v1/registrations/{reg['registration_id']}", timeout=30).json()["status"]
    assert (status == "cancelled") == (RIGHT in compared.dates)
