"""Reconcile: what a recount repairs, and what it only reports until it is sure (services.reconcile)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.domain.models import Status
from chalicelib.services import appointments, cancellations, reconcile
from tests.unit.fakes import FakeRegistry, FakeStores
from tests.unit.steps import BIRTH, register


def run(st: FakeStores, full: bool = False) -> dict[str, Any]:
    """A whole run: its segment jobs delivered in order; its findings."""
    run_id = reconcile.start(full)
    for job in st.reconcile_jobs.take():
        reconcile.segment(job["run_id"], job["segment"], job["full"], job.get("cursor"), job.get("tally", {}), None)
    found = st.ledger.run(run_id)
    assert found["status"] == "done"
    return dict(found["findings"])


def later(st: FakeStores, seconds: int) -> None:
    st.ledger.now = (st.ledger.now or time.time()) + seconds


def test_a_campaign_whose_counters_agree_has_nothing_to_repair(campaign: Any) -> None:
    # Given confirmed, reserve and cancelled registrations
    st = campaign(primary=2, reserve=2)
    register(1)
    register(2)
    y = register(3)
    cancellations.cancel(y.registration_id, BIRTH)
    # When a run recounts / Then no drift, no repair, and the run is quiescent
    findings = run(st)
    assert findings["quiescent"] and findings["repaired"] == [] and findings["drift"] == {}


def test_a_primary_counter_found_too_low_is_raised_at_once(campaign: Any) -> None:
    # Given two confirmed people and a counter that says one
    st = campaign(primary=3)
    register(1)
    register(2)
    st.quota.taken -= 1
    # When a run recounts / Then the counter is raised by one
    findings = run(st)
    assert findings["repaired"] == ["primary counter raised by 1"] and st.quota.taken == 2


def test_a_leak_seen_once_is_only_reported(campaign: Any) -> None:
    # Given a place counted as taken that nobody holds
    st = campaign(primary=3)
    register(1)
    st.quota.taken += 1
    # When a run recounts / Then it is reported, and the counter is left as it is
    findings = run(st)
    assert findings["drift"] == {"primary_leaked": 1} and st.gate.parked == 0


def test_a_leak_seen_again_soon_after_is_still_not_repaired(campaign: Any) -> None:
    # Given a leak seen by a run a minute ago
    st = campaign(primary=3)
    register(1)
    st.quota.taken += 1
    st.ledger.now = time.time()
    run(st)
    later(st, 60)
    # When the next run sees it / Then it is still only reported (it may be a registration in flight)
    assert run(st)["drift"] == {"primary_leaked": 1} and st.gate.parked == 0


def test_a_leak_seen_twice_far_enough_apart_goes_back_to_newcomers(campaign: Any) -> None:
    # Given a leak seen by a run, unchanged LEAK_CONFIRM_SECONDS later, with nobody waiting
    st = campaign(primary=3)
    register(1)
    st.quota.taken += 1
    st.ledger.now = time.time()
    run(st)
    later(st, reconcile.LEAK_CONFIRM_SECONDS)
    # When the next run sees it / Then the place is parked for the next newcomer
    findings = run(st)
    assert findings["repaired"] == ["1 leaked places returned"] and st.gate.parked == 1


def test_a_leak_confirmed_while_someone_waits_goes_to_reserve_rank_1(campaign: Any) -> None:
    # Given a full primary list with one leaked place, and someone on the reserve
    st = campaign(primary=2, reserve=2)
    register(1)
    st.quota.taken += 1
    y = register(2)
    st.ledger.now = time.time()
    run(st)
    later(st, reconcile.LEAK_CONFIRM_SECONDS)
    # When the next run confirms the leak / Then rank 1 is promoted by it
    findings = run(st)
    assert findings["repaired"] == ["1 leaked places given to the reserve"]
    promoted = st.registrations.get(y.registration_id)
    assert promoted is not None and promoted.status is Status.CONFIRMED


def test_a_leak_whose_counters_moved_between_runs_starts_over(campaign: Any) -> None:
    # Given a leak seen by a run, then another registration (the counters moved)
    st = campaign(primary=4)
    register(1)
    st.quota.taken += 1
    st.ledger.now = time.time()
    run(st)
    register(2)
    later(st, reconcile.LEAK_CONFIRM_SECONDS)
    # When the next run sees the same leak / Then it is a new sighting: reported, not repaired
    assert run(st)["drift"] == {"primary_leaked": 1} and st.gate.parked == 0


def test_a_statistics_drift_is_repaired_when_the_next_run_sees_it_unchanged(campaign: Any) -> None:
    # Given a reserve entry counted, and its channel counter off by 5
    st = campaign(primary=1, reserve=1)
    register(1)
    register(2)
    st.statistics.adjust_stat("channel_app", 5)
    # When a run recounts / Then the drift is reported only
    first = run(st)
    assert first["drift"] == {"channel_app": -5} and st.statistics.stats()["channel_app"] == 6
    # When the next run sees the same drift / Then it is corrected
    second = run(st)
    assert second["repaired"] == ["channel_app -5"] and st.statistics.stats()["channel_app"] == 1


def test_a_statistics_drift_that_changed_between_runs_is_not_repaired(campaign: Any) -> None:
    # Given a drift seen by a run, that changes before the next
    st = campaign(primary=1, reserve=2)
    register(1)
    register(2)
    st.statistics.adjust_stat("channel_app", 5)
    run(st)
    st.statistics.adjust_stat("channel_app", 1)
    # When the next run sees it / Then it is reported, not repaired
    findings = run(st)
    assert findings["drift"] == {"channel_app": -6} and findings["repaired"] == []


def test_a_segment_delivered_twice_is_counted_once_and_the_run_settles_once(campaign: Any) -> None:
    # Given a run whose segment jobs are each delivered twice
    st = campaign(primary=3)
    register(1)
    run_id = reconcile.start(False)
    jobs = st.reconcile_jobs.take()
    for job in jobs + jobs:
        reconcile.segment(job["run_id"], job["segment"], False, None, {}, None)
    # Then the run counted every segment once and found nothing
    run_ = st.ledger.run(run_id)
    assert run_["done_count"] == reconcile.SEGMENTS and run_["t_held_primary"] == 1
    assert run_["findings"]["drift"] == {}


def test_a_slot_counter_below_its_bookings_is_raised(campaign: Any) -> None:
    # Given a booked appointment whose day counter lost it
    st = campaign()
    x = register(1)
    reg = st.registrations.get(x.registration_id)
    assert reg is not None and appointments.allocate(reg)
    day, site = next(iter(k for k, v in st.slots.used.items() if v))
    st.slots.used[(day, site)] -= 1
    # When a run recounts / Then the counter is raised at once
    findings = run(st)
    assert any(r.startswith(f"bookings of {day}/") for r in findings["repaired"])
    assert st.slots.used[(day, site)] == 1


def test_a_full_run_asks_again_for_someone_removed_and_booked_there_again(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given a confirmed person removed from both registries, then booked in Mor Phrom again
    from chalicelib.domain.jobs import RemovalSweep
    from chalicelib.services import removals
    from tests.helpers import national_id

    st = campaign()
    x = register(1)
    removals.run(RemovalSweep(codes=[x.registration_id]))
    registries["mor_phrom"].booked.add(national_id(1))
    # When a full run recounts / Then that removal is pending again
    findings = run(st, full=True)
    assert findings["registries"] == {"reappeared_mor_phrom": 1}
    reg = st.registrations.get(x.registration_id)
    assert reg is not None and reg.removals["mor_phrom"] == "pending"


def test_the_status_of_an_unknown_run_is_not_found(campaign: Any) -> None:
    # Given no run / When its status is asked / Then not found
    campaign()
    with pytest.raises(NotFound):
        reconcile.status("rc_nothing")


def test_a_run_keeps_the_places_left_of_the_day(campaign: Any) -> None:
    # Given 3 primary places and one taken / When a run finishes / Then today's places left are kept
    from chalicelib.domain import rules

    st = campaign(primary=3, reserve=2)
    register(1)
    run(st)
    snap = st.ledger.places_snapshot(rules.today_in_bangkok().isoformat())
    assert snap is not None and (snap["primary"], snap["reserve"]) == (2, 2)
