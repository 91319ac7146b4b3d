"""The one retry policy of the services' compare-and-set writes (services.retry)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.services.retry import LostRace, compare_and_set, kept_changing


class Attempts:
    """An attempt that loses its race ``losses`` times, then answers "written"."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        if self.runs <= self.losses:
            raise LostRace()
        return "written"


def test_an_attempt_that_loses_a_race_is_run_again_until_it_wins() -> None:
    # Given an attempt that loses twice
    attempt = Attempts(losses=2)
    # When it has five tries
    result = compare_and_set(attempt, 5, on_exhausted=lambda: "gave up")
    # Then its third run's answer is the answer
    assert result == "written" and attempt.runs == 3


def test_after_its_last_try_the_caller_answers() -> None:
    # Given an attempt that always loses
    attempt = Attempts(losses=99)
    # When it has three tries / Then it runs three times and the caller's answer is given
    assert compare_and_set(attempt, 3, on_exhausted=lambda: "gave up") == "gave up"
    assert attempt.runs == 3


def test_a_request_that_keeps_losing_answers_conflict() -> None:
    # Given an attempt that always loses / When a request gives up / Then Conflict (429) names what changed
    with pytest.raises(Conflict, match="registration kept changing"):
        compare_and_set(Attempts(losses=99), 2, kept_changing("registration"))


@pytest.mark.parametrize("error", [NotFound(), Conflict("refused elsewhere")], ids=["NotFound", "Conflict"])
def test_any_other_error_ends_the_run_at_once(error: Exception) -> None:
    # Given an attempt that raises something other than LostRace (a Conflict included: only the
    # attempt knows which refusal is its own compare-and-set)
    runs = []

    def attempt() -> str:
        runs.append(1)
        raise error

    # When it runs / Then the error reaches the caller unchanged, after one run
    with pytest.raises(type(error)) as raised:
        compare_and_set(attempt, 5, on_exhausted=lambda: "gave up")
    assert raised.value is error and len(runs) == 1
