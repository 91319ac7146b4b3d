"""Birth-date attempts (services.lockouts) and receipt SMS (services.receipts): the decisions."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.errors import NotFound, Overloaded, TooManyAttempts
from chalicelib.domain.models import LookupRequest
from chalicelib.services import lockouts, receipts
from tests.helpers import body
from tests.unit.steps import BIRTH, register

KEY = "id#test"


def compare(right: bool, seen: list[bool]) -> Any:
    """An action that compares a birth date (recorded in ``seen``): found if ``right``."""

    def action() -> str:
        seen.append(right)
        if not right:
            raise NotFound()
        return "found"

    return action


def test_no_comparison_happens_once_five_have_failed(campaign: Any) -> None:
    # Given five wrong birth dates for one key
    campaign()
    seen: list[bool] = []
    for _ in range(5):
        with pytest.raises(NotFound):
            lockouts.guarded(KEY, compare(False, seen))
    # When the right one comes
    with pytest.raises(TooManyAttempts) as locked:
        lockouts.guarded(KEY, compare(True, seen))
    # Then it is refused without being compared, until the hour is over
    assert seen == [False] * 5
    assert 3590 <= locked.value.retry_after <= 3600


def test_every_comparison_counts_a_right_date_too(campaign: Any) -> None:
    # Given four right answers and one wrong one for a key, in one hour
    st = campaign()
    seen: list[bool] = []
    for _ in range(4):
        assert lockouts.guarded(KEY, compare(True, seen)) == "found"
    with pytest.raises(NotFound):
        lockouts.guarded(KEY, compare(False, seen))
    # When the right date comes a sixth time
    with pytest.raises(TooManyAttempts):
        lockouts.guarded(KEY, compare(True, seen))
    # Then it is refused without a comparison: five comparisons an hour, successes included (v1.2)
    assert seen == [True] * 4 + [False]
    assert st.attempts.windows[f"fail#{KEY}"][1] == 5


def test_a_request_whose_store_failed_keeps_its_attempt(campaign: Any) -> None:
    # Given a comparison whose action failed in the store (it may or may not have compared)
    st = campaign()

    def overloaded() -> None:
        raise Overloaded(retry_after=1)

    # When it runs / Then its attempt stays counted: the safe side of "at most five comparisons"
    with pytest.raises(Overloaded):
        lockouts.guarded(KEY, overloaded)
    assert st.attempts.windows[f"fail#{KEY}"][1] == 1


def test_receipt_requests_are_never_locked_and_send_at_most_three_a_day(campaign: Any, monkeypatch: Any) -> None:
    # Given a registration whose national ID is locked by five wrong dates
    st = campaign()
    register(1)
    for _ in range(5):
        with pytest.raises(NotFound):
            lockouts.guarded(lockouts.of_person(body(1)["national_id"]), compare(False, []))
    now = [1_000_000.0]
    monkeypatch.setattr(receipts.time, "time", lambda: now[0])
    right = LookupRequest.model_validate({"national_id": body(1)["national_id"], "birth_date": BIRTH})
    wrong = right.model_copy(update={"birth_date": "1980-02-01"})
    # When its receipt code is asked for with wrong dates and the right one, every two minutes for a day
    for _ in range(360):
        assert receipts.request(wrong).status == "sent"
        assert receipts.request(right).status == "sent"
        now[0] += 120
    # Then three SMS went; the lock neither refused them nor grew
    assert len(st.sms_jobs.sent) == 3
    assert st.attempts.windows[f"fail#{lockouts.of_person(body(1)['national_id'])}"][1] == 5
