"""Promote: where a cancelled confirmed person's place goes (services.promotion.release)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import Overloaded
from chalicelib.domain.models import Status
from chalicelib.services import cancellations, lookups, promotion
from tests.helpers import raising
from tests.unit.fakes import FakeStores
from tests.unit.steps import BIRTH, register, release_all


def _a_vacancy(campaign: Any) -> tuple[FakeStores, str]:
    """One place, its holder cancelled, nobody on the reserve (of one): the stores and the vacancy."""
    st: FakeStores = campaign(primary=1, reserve=1)
    x = register(1)
    cancellations.cancel(x.registration_id, BIRTH)
    return st, x.registration_id


def status(st: FakeStores, code: str) -> Status:
    reg = st.registrations.get(code)
    assert reg is not None
    return reg.status


def test_the_place_goes_to_reserve_rank_1_first(campaign: Any) -> None:
    # Given a full primary list and ranks 1 and 2
    st = campaign(primary=1, reserve=2)
    x = register(1)
    y = register(2)
    z = register(3)
    # When the confirmed person cancels and the release runs
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # Then rank 1 is confirmed by that vacancy, rank 2 is now rank 1
    promoted = st.registrations.get(y.registration_id)
    assert promoted is not None and promoted.status is Status.CONFIRMED
    assert promoted.promoted_by == x.registration_id
    assert lookups.get(z.registration_id).reserve_rank == 1


def test_a_promoted_person_waits_for_removal_and_an_appointment(campaign: Any) -> None:
    # Given a promotion
    st = campaign(primary=1, reserve=1)
    x = register(1)
    y = register(2)
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # Then both removals are pending, it is counted, waits for an appointment, and a removal list is sent
    promoted = st.registrations.get(y.registration_id)
    assert promoted is not None and promoted.counted
    assert promoted.removals == {"mor_phrom": "pending", "khon_kaen_phrom": "pending"}
    assert y.registration_id in st.registrations.waiting
    assert any(y.registration_id in job.get("codes", []) for job in st.removal_jobs.sent)


def test_a_promotion_moves_the_counters_from_reserve_to_confirmed(campaign: Any) -> None:
    # Given a promotion
    st = campaign(primary=1, reserve=1)
    x = register(1)
    register(2)
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # Then the reserve counts none, confirmed one more, cancelled one
    stats = st.statistics.stats()
    assert (stats["status_reserve"], stats["status_cancelled"]) == (0, 1)
    assert stats["status_confirmed"] == 0  # -1 for the cancel, +1 for the promotion (the sweep adds the direct one)


def test_with_nobody_waiting_the_place_is_parked_for_newcomers(campaign: Any) -> None:
    # Given a full primary list and an empty reserve
    st = campaign(primary=1, reserve=1)
    x = register(1)
    # When the confirmed person cancels and the release runs
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # Then the place is parked, and the vacancy is settled
    assert st.gate.parked == 1
    stored = st.registrations.get(x.registration_id)
    assert stored is not None and not stored.release_pending


def test_a_duplicate_release_promotes_one_person(campaign: Any) -> None:
    # Given a vacancy and two people waiting
    st = campaign(primary=1, reserve=2)
    x = register(1)
    y = register(2)
    z = register(3)
    cancellations.cancel(x.registration_id, BIRTH)
    # When its release message is delivered twice
    promotion.release(x.registration_id)
    promotion.release(x.registration_id)
    # Then one person was promoted
    assert status(st, y.registration_id) is Status.CONFIRMED
    assert status(st, z.registration_id) is Status.RESERVE


def test_a_duplicate_release_with_nobody_waiting_parks_one_place(campaign: Any) -> None:
    # Given a vacancy and an empty reserve / When its release runs twice / Then one place is parked
    st = campaign(primary=1, reserve=1)
    x = register(1)
    cancellations.cancel(x.registration_id, BIRTH)
    promotion.release(x.registration_id)
    promotion.release(x.registration_id)
    assert st.gate.parked == 1


def test_a_place_handed_to_newcomers_as_somebody_joins_the_reserve_goes_to_them(
    campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a vacancy, nobody waiting when its release looks, and somebody joining the reserve just
    # after the vacancy handed its place to newcomers
    st, vacancy_id = _a_vacancy(campaign)
    joined: list[str] = []
    hand_over = st.registrations.hand_to_newcomers

    def and_somebody_joins(registration_id: str, now: datetime) -> bool:
        handed = hand_over(registration_id, now)
        if not joined:
            joined.append(register(2).registration_id)
        return handed

    monkeypatch.setattr(st.registrations, "hand_to_newcomers", and_somebody_joins)
    # When the release runs / Then the park is refused, and the place goes to the person waiting
    promotion.release(vacancy_id)
    assert st.gate.parked == 0 and status(st, joined[0]) is Status.CONFIRMED
    vacancy = st.registrations.get(vacancy_id)
    assert vacancy is not None and not vacancy.release_pending


def test_a_throttled_park_leaves_the_release_pending_for_the_redelivered_message(
    campaign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a vacancy, nobody waiting, and the gate's write throttled
    st, vacancy_id = _a_vacancy(campaign)
    with monkeypatch.context() as throttled:
        throttled.setattr(st.quota, "park", raising(Overloaded()))
        # When the release runs / Then it fails, and the release is pending again
        with pytest.raises(Overloaded):
            promotion.release(vacancy_id)
    vacancy = st.registrations.get(vacancy_id)
    assert vacancy is not None and vacancy.release_pending and st.gate.parked == 0
    # And the redelivered message parks the place, once
    promotion.release(vacancy_id)
    promotion.release(vacancy_id)
    assert st.gate.parked == 1


def test_releases_delivered_out_of_order_promote_each_waiting_person_once(campaign: Any) -> None:
    # Given two vacancies and three people waiting
    st = campaign(primary=2, reserve=3)
    a = register(1)
    b = register(2)
    waiting = [register(n) for n in (3, 4, 5)]
    cancellations.cancel(a.registration_id, BIRTH)
    cancellations.cancel(b.registration_id, BIRTH)
    # When the second vacancy's release runs before the first's, then each again
    for code in (b.registration_id, a.registration_id, b.registration_id, a.registration_id):
        promotion.release(code)
    # Then ranks 1 and 2 are confirmed, rank 3 still waits, now rank 1
    assert [status(st, w.registration_id) for w in waiting] == [Status.CONFIRMED, Status.CONFIRMED, Status.RESERVE]
    assert lookups.get(waiting[2].registration_id).reserve_rank == 1


def test_a_release_for_a_registration_that_holds_nothing_does_nothing(campaign: Any) -> None:
    # Given a confirmed registration that was never cancelled, and someone waiting
    st = campaign(primary=1, reserve=1)
    x = register(1)
    y = register(2)
    # When a release for it arrives (a stray message) / Then nobody is promoted
    promotion.release(x.registration_id)
    assert status(st, y.registration_id) is Status.RESERVE and st.gate.parked == 0


def test_a_vacancy_whose_target_was_promoted_by_it_is_settled_without_a_second_promotion(campaign: Any) -> None:
    # Given a release that promoted its target and died before settling the vacancy
    st = campaign(primary=1, reserve=2)
    x = register(1)
    y = register(2)
    z = register(3)
    cancellations.cancel(x.registration_id, BIRTH)
    st.registrations.set_release_target(x.registration_id, y.registration_id, expected=None)
    st.registrations.promote(y.registration_id, x.registration_id, datetime.now(UTC))
    # When the release runs again
    promotion.release(x.registration_id)
    # Then the vacancy is settled and nobody else was promoted
    assert status(st, z.registration_id) is Status.RESERVE
    stored = st.registrations.get(x.registration_id)
    assert stored is not None and not stored.release_pending


def test_a_target_that_left_the_reserve_meanwhile_is_replaced_by_the_next_rank(campaign: Any) -> None:
    # Given a vacancy whose chosen target cancelled before being promoted
    st = campaign(primary=1, reserve=2)
    x = register(1)
    y = register(2)
    z = register(3)
    cancellations.cancel(x.registration_id, BIRTH)
    st.registrations.set_release_target(x.registration_id, y.registration_id, expected=None)
    cancellations.cancel(y.registration_id, BIRTH)
    # When the release runs / Then the next one waiting gets the place
    promotion.release(x.registration_id)
    assert status(st, z.registration_id) is Status.CONFIRMED


def test_a_reserve_cancellation_released_by_the_job_only_leaves_the_reserve(campaign: Any) -> None:
    # Given a cancelled reserve registration still marked pending (its cancel died before settling)
    st = campaign(primary=1, reserve=2)
    register(1)
    y = register(2)
    reg = st.registrations.get(y.registration_id)
    assert reg is not None
    st.registrations.cancel(reg, datetime.now(UTC))
    # When the release job runs for it / Then it leaves the reserve and nobody is promoted
    promotion.release(y.registration_id)
    assert st.quota.counts().reserve_active == 0 and st.gate.parked == 0


def test_a_ticket_still_being_written_makes_the_release_retry_later(campaign: Any) -> None:
    # Given a reserve ticket taken moments ago whose registration is not stored yet
    st = campaign(primary=1, reserve=2)
    register(1)
    overflow = st.quota.take_overflow()
    assert overflow is not None and overflow.ticket is not None
    # When the release job looks at it / Then it waits for it (RetryLater)
    with pytest.raises(promotion.RetryLater):
        promotion.settle_ticket(st, overflow.ticket)


def test_an_abandoned_ticket_is_voided_and_the_next_person_waiting_gets_the_place(campaign: Any) -> None:
    # Given a ticket whose request died long ago (before its registration was stored), then rank 2
    st = campaign(primary=1, reserve=3)
    x = register(1)
    overflow = st.quota.take_overflow()
    assert overflow is not None and overflow.ticket == 1
    z = register(3)
    st.reserve.tickets[1] = {"seen_empty_at": time.time() - 600}
    # When the confirmed person cancels and the release runs
    cancellations.cancel(x.registration_id, BIRTH)
    release_all(st)
    # Then the dead ticket is void and the person behind it is promoted
    assert st.reserve.ticket(1).void
    assert status(st, z.registration_id) is Status.CONFIRMED
    assert st.quota.counts().reserve_active == 0


def test_the_minute_sweep_requeues_a_release_left_pending(campaign: Any) -> None:
    # Given a cancellation whose release message was lost over a minute ago
    st = campaign(primary=1, reserve=1)
    x = register(1)
    cancellations.cancel(x.registration_id, BIRTH)
    st.promotions.take()
    st.registrations.releases[x.registration_id] -= timedelta(minutes=2)
    # When the minute sweep runs / Then the release is queued again
    assert promotion.sweep() == 1
    assert st.promotions.sent == [{"kind": "release", "registration_id": x.registration_id}]


def test_a_promotion_never_takes_the_primary_list_over_its_capacity(campaign: Any) -> None:
    # Given a full campaign in which every confirmed person cancels
    st = campaign(primary=2, reserve=2)
    confirmed = [register(n) for n in (1, 2)]
    [register(n) for n in (3, 4)]
    for c in confirmed:
        cancellations.cancel(c.registration_id, BIRTH)
    release_all(st)
    # Then exactly the capacity is confirmed
    held = [r for r in st.registrations.regs.values() if r.status is Status.CONFIRMED]
    assert len(held) == 2 and st.quota.counts().primary_used == 2
