"""Promotion from the reserve: duplicates, retries and crashes never give one place to two people."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.models import Status
from chalicelib.services import promotion
from chalicelib.store.factory import stores
from tests.helpers import JSON, raising, register

BIRTH = {"birth_date": "1980-01-31"}


def cancel(client: Any, reg: dict[str, Any]) -> None:
    resp = client.http.post(f"/v1/registrations/{reg['registration_id']}/cancel", body=json.dumps(BIRTH), headers=JSON)
    assert resp.status_code == 200


def state(reg: dict[str, Any]) -> tuple[str, int | None]:
    from chalicelib.services import lookups

    view = lookups.get(reg["registration_id"])
    return view.status.value, view.reserve_rank


def confirmed_count(regs: list[dict[str, Any]]) -> int:
    return sum(1 for r in regs if state(r)[0] == "confirmed")


@pytest.fixture
def full_campaign(client: Any, campaign_env: Any) -> list[dict[str, Any]]:
    """Given 2 confirmed and 3 on the reserve (ranks 1..3)."""
    campaign_env(primary=2, reserve=3)
    return [register(client, i) for i in range(5)]


def test_a_duplicate_release_message_promotes_one_person(client: Any, queues: Any, full_campaign: Any) -> None:
    regs = full_campaign
    cancel(client, regs[0])
    # Given the same release job delivered three times
    for _ in range(2):
        stores().promotions.send({"kind": "release", "registration_id": regs[0]["registration_id"]})
    queues.drain()
    # Then exactly one person was promoted, and it was rank 1
    assert state(regs[2]) == ("confirmed", None)
    assert [state(r) for r in regs[3:]] == [("reserve", 1), ("reserve", 2)]
    assert confirmed_count(regs) == 2


def test_two_cancellations_promote_ranks_1_and_2_in_order(client: Any, queues: Any, full_campaign: Any) -> None:
    regs = full_campaign
    cancel(client, regs[0])
    cancel(client, regs[1])
    queues.drain()
    assert [state(r)[0] for r in regs[2:]] == ["confirmed", "confirmed", "reserve"]
    assert state(regs[4]) == ("reserve", 1)


def test_a_crash_after_choosing_the_target_resumes_with_the_same_person(
    client: Any, queues: Any, full_campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    regs = full_campaign
    vacancy = regs[0]["registration_id"]
    cancel(client, regs[0])

    # Given a worker that dies right after recording whom it promotes
    monkeypatch.setattr(stores().registrations, "promote", raising(RuntimeError("process died")))
    queues.drain()
    assert stores().registrations.get(vacancy).release_target == regs[2]["registration_id"]
    assert state(regs[2]) == ("reserve", 1)
    # When the message is redelivered to a healthy worker
    monkeypatch.undo()
    promotion.release(vacancy)
    # Then the same person is promoted, once
    assert state(regs[2]) == ("confirmed", None)
    assert confirmed_count(regs) == 2
    assert stores().quota.counts().reserve_active == 2


def test_a_crash_after_promoting_counts_the_exit_once(
    client: Any, full_campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    regs = full_campaign
    vacancy = regs[0]["registration_id"]
    cancel(client, regs[0])
    real_finish = stores().registrations.finish_release
    monkeypatch.setattr(stores().registrations, "finish_release", raising(RuntimeError()))
    with pytest.raises(RuntimeError):
        promotion.release(vacancy)
    assert state(regs[2]) == ("confirmed", None)
    monkeypatch.setattr(stores().registrations, "finish_release", real_finish)
    # Redelivered twice more
    promotion.release(vacancy)
    promotion.release(vacancy)
    assert confirmed_count(regs) == 2
    assert stores().quota.counts().reserve_active == 2
    assert [state(r) for r in regs[3:]] == [("reserve", 1), ("reserve", 2)]


def test_rank_1_cancelling_while_being_promoted_passes_the_place_to_rank_2(
    client: Any, full_campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    regs = full_campaign
    vacancy = regs[0]["registration_id"]
    cancel(client, regs[0])
    # Given the job chose rank 1 and, before it promotes, rank 1 cancels
    real_set = stores().registrations.set_release_target

    def set_then_cancel(rid: str, target: str | None, expected: str | None) -> None:
        real_set(rid, target, expected)
        if target == regs[2]["registration_id"]:
            cancel(client, regs[2])

    monkeypatch.setattr(stores().registrations, "set_release_target", set_then_cancel)
    promotion.release(vacancy)
    assert state(regs[2]) == ("cancelled", None)
    assert state(regs[3]) == ("confirmed", None)
    assert state(regs[4]) == ("reserve", 1)
    assert stores().quota.counts().reserve_active == 1


def test_a_lost_message_is_re_sent_by_the_sweep(
    client: Any, queues: Any, full_campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    regs = full_campaign
    # Given the process died before the release job was queued
    monkeypatch.setattr(stores().promotions, "send", lambda job: None)
    cancel(client, regs[0])
    monkeypatch.undo()
    queues.drain()
    assert state(regs[2]) == ("reserve", 1)
    # When the scheduled sweep runs once the release is overdue
    monkeypatch.setattr(promotion, "SWEEP_AFTER_SECONDS", -1)
    assert promotion.sweep() == 1
    queues.drain()
    assert state(regs[2]) == ("confirmed", None)
    assert stores().registrations.pending_releases(datetime.now(UTC)) == []


def test_an_abandoned_reserve_ticket_is_voided_after_the_stale_period(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_env(primary=2, reserve=3)
    regs = [register(client, i) for i in range(4)]  # 2 confirmed, tickets 1 and 2 on the reserve
    st = stores()
    # Given a request that took reserve ticket 3 and died before writing anything else
    overflow = st.quota.take_overflow()
    assert overflow is not None and overflow.ticket == 3
    # When two places free up, tickets 1 and 2 are promoted as usual
    for reg in regs[:2]:
        cancel(client, reg)
        promotion.release(reg["registration_id"])
    assert [state(r)[0] for r in regs] == ["cancelled", "cancelled", "confirmed", "confirmed"]
    # and a third vacancy waits (retries) rather than skip a ticket whose request may still be running
    cancel(client, regs[2])
    with pytest.raises(promotion.RetryLater):
        promotion.release(regs[2]["registration_id"], attempts=2)
    # Then after the stale period the ghost is voided and the place goes back to newcomers
    real_time = promotion.time.time
    monkeypatch.setattr(promotion.time, "time", lambda: real_time() + 3600)
    promotion.release(regs[2]["registration_id"])
    counts = st.quota.counts()
    assert (counts.reserve_active, counts.parked) == (0, 1)
    assert register(client, 10)["status"] == "confirmed"


def test_promotion_never_exceeds_the_primary_capacity(client: Any, queues: Any, full_campaign: Any) -> None:
    regs = full_campaign
    for reg in regs[:2]:
        cancel(client, reg)
    for reg in regs[:2]:
        promotion.release(reg["registration_id"])
    queues.drain()
    confirmed = [r for r in regs if stores().registrations.get(r["registration_id"]).status is Status.CONFIRMED]
    assert len(confirmed) == 2


def test_a_place_parked_once_and_a_park_refused_for_a_newcomer_on_the_reserve(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.registrations import RegistrationStore
    from tests.helpers import campaign_item

    # Given two vacancies and nobody on the reserve; somebody joins it just after the second vacancy
    # handed its place to newcomers
    campaign_env(primary=2, reserve=1)
    regs = [register(client, i) for i in range(2)]
    for reg in regs:
        cancel(client, reg)
    hand_over = RegistrationStore.hand_to_newcomers
    joined: list[dict[str, Any]] = []

    def and_then_somebody_joins(self: Any, registration_id: str, now: datetime) -> bool:
        handed = hand_over(self, registration_id, now)
        if registration_id == regs[1]["registration_id"] and not joined:
            # the first vacancy's place is parked: that newcomer takes it, the next joins the reserve
            joined.extend([register(client, 2), register(client, 3)])
        return handed

    monkeypatch.setattr(RegistrationStore, "hand_to_newcomers", and_then_somebody_joins)
    # When the first release runs twice, then the second
    promotion.release(regs[0]["registration_id"])
    promotion.release(regs[0]["registration_id"])
    promotion.release(regs[1]["registration_id"])
    queues.drain()
    # Then the first place was parked once (the newcomer took it), the second went to the person
    # who joined the reserve, and the gate keeps counters only: no mark of either release
    assert [r["status"] for r in joined] == ["confirmed", "reserve"]
    assert state(joined[1]) == ("confirmed", None)
    gate = campaign_item("gate")
    assert (gate["parked"], gate["ra"], gate["seq"], gate["xb"]) == (0, 0, 1, {"0": 1})
    assert all(not stores().registrations.get(r["registration_id"]).release_pending for r in regs)


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The service's log lines as JSON objects, formatted as Lambda would write them."""
    from chalicelib import logs

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.logger.registered_formatter)
    service = logging.getLogger(logs.logger.name)
    service.addHandler(handler)

    def read() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        out.seek(0)
        out.truncate()
        return lines

    yield read
    service.removeHandler(handler)


def test_a_cancellation_s_correlation_id_follows_it_into_the_promotion_job(
    client: Any, queues: Any, full_campaign: list[dict[str, Any]], log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    # Given a caller that names its correlation ID
    rid = full_campaign[0]["registration_id"]
    log_lines()
    # When it cancels a confirmed registration, and the promotion job runs
    resp = client.http.post(
        f"/v1/registrations/{rid}/cancel", body=json.dumps(BIRTH), headers={**JSON, "X-Correlation-Id": "cancel-42"}
    )
    assert resp.status_code == 200
    queues.drain()
    # Then the request's log line and the job's both carry it
    by_message = {line["message"]: line for line in log_lines()}
    assert by_message["cancelled"]["correlation_id"] == "cancel-42"
    assert by_message["promoted"]["correlation_id"] == "cancel-42"
    # And a request without one gets its own, not the previous request's
    register(client, 9)
    registered = [line for line in log_lines() if line["message"] == "registered"]
    assert registered and registered[0]["correlation_id"] not in (None, "cancel-42")
