"""Remove: what the removal sweep asks the registries and records (services.removals)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.jobs import RemovalSweep
from chalicelib.domain.models import Registration
from chalicelib.services import removals
from tests.helpers import national_id
from tests.unit.fakes import FakeRegistry, FakeStores
from tests.unit.steps import register


def stored(st: FakeStores, code: str) -> Registration:
    reg = st.registrations.get(code)
    assert reg is not None
    return reg


def sweep_list(*codes: str) -> int:
    return removals.run(RemovalSweep(codes=list(codes)))


def sweep_index(at: datetime | None = None, chain: str = "s_test") -> int:
    """An index sweep as of ``at`` (default: past the grace of every registration made so far)."""
    return removals.run(RemovalSweep(chain=chain, as_of=at or datetime.now(UTC) + timedelta(minutes=5)))


def test_a_person_booked_in_one_registry_is_removed_there_and_not_found_in_the_other(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given a confirmed person booked in Mor Phrom only
    st = campaign()
    registries["mor_phrom"].booked.add(national_id(1))
    x = register(1)
    # When their list is swept
    settled = sweep_list(x.registration_id)
    # Then removed from Mor Phrom, not found in Khon Kaen Phrom, and nothing is due any more
    assert settled == 2
    assert stored(st, x.registration_id).removals == {"mor_phrom": "removed", "khon_kaen_phrom": "not_found"}
    assert x.registration_id not in st.registrations.removal_due


def test_the_sweep_counts_a_direct_confirmation_once(campaign: Any, registries: dict[str, FakeRegistry]) -> None:
    # Given a confirmed person swept once
    st = campaign()
    x = register(1)
    sweep_list(x.registration_id)
    # When the list is swept again (a duplicate delivery)
    assert sweep_list(x.registration_id) == 0
    # Then the statistics count the confirmation and each outcome once, and no registry was asked again
    stats = st.statistics.stats()
    assert stats["status_confirmed"] == 1 and stats["channel_app"] == 1
    assert stats["removal_mor_phrom_not_found"] == 1 and stats.get("removal_mor_phrom_pending", 0) == 0
    assert registries["mor_phrom"].calls == 1


def test_a_registry_that_is_down_is_backed_off_while_the_other_is_served(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given Mor Phrom down
    st = campaign()
    registries["mor_phrom"].down = True
    x = register(1)
    # When the list is swept
    before = time.time()
    sweep_list(x.registration_id)
    # Then Khon Kaen Phrom answered, Mor Phrom stays pending with one try, and is left alone a minute
    reg = stored(st, x.registration_id)
    assert reg.removals == {"mor_phrom": "pending", "khon_kaen_phrom": "not_found"}
    assert reg.tries == {"mor_phrom": 1}
    control = st.removal_control.removal_control()
    assert control["fails_mor_phrom"] == 1 and control["down_mor_phrom"] >= before + 59
    assert st.registrations.removal_due[x.registration_id].timestamp() >= before + 59


def test_a_registry_down_costs_one_call_per_batch_not_one_per_person(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given Mor Phrom down and three confirmed people
    campaign(primary=3)
    registries["mor_phrom"].down = True
    codes = [register(n).registration_id for n in (1, 2, 3)]
    # When their list is swept / Then Mor Phrom was called once, Khon Kaen Phrom three times
    sweep_list(*codes)
    assert (registries["mor_phrom"].calls, registries["khon_kaen_phrom"].calls) == (1, 3)


def test_a_registry_in_its_backoff_is_not_called(campaign: Any, registries: dict[str, FakeRegistry]) -> None:
    # Given Mor Phrom backed off after a failure
    campaign(primary=2)
    registries["mor_phrom"].down = True
    sweep_list(register(1).registration_id)
    registries["mor_phrom"].down = False
    # When another confirmation is swept within the backoff / Then Mor Phrom is not asked
    sweep_list(register(2).registration_id)
    assert registries["mor_phrom"].calls == 1


def test_the_backoff_doubles_with_each_failure_in_a_row(campaign: Any, registries: dict[str, FakeRegistry]) -> None:
    # Given Mor Phrom failed once, and its backoff has passed
    st = campaign(primary=2)
    registries["mor_phrom"].down = True
    x = register(1)
    sweep_list(x.registration_id)
    st.removal_control.item["down_mor_phrom"] = 0.0
    # When it fails again
    before = time.time()
    sweep_list(x.registration_id)
    # Then it is left alone two minutes
    control = st.removal_control.removal_control()
    assert control["fails_mor_phrom"] == 2 and control["down_mor_phrom"] >= before + 119


def test_an_answer_clears_the_registry_backoff(campaign: Any, registries: dict[str, FakeRegistry]) -> None:
    # Given Mor Phrom failed once, now back, its backoff passed
    st = campaign()
    registries["mor_phrom"].down = True
    x = register(1)
    sweep_list(x.registration_id)
    registries["mor_phrom"].down = False
    st.removal_control.item["down_mor_phrom"] = 0.0
    # When the person is swept again / Then removed there, and its health is reset
    sweep_list(x.registration_id)
    assert stored(st, x.registration_id).removals["mor_phrom"] == "not_found"
    assert st.removal_control.removal_control()["fails_mor_phrom"] == 0


def test_after_max_tries_a_removal_is_failed_and_due_again_in_a_day(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given Mor Phrom down through MAX_TRIES sweeps, each after its backoff
    st = campaign()
    registries["mor_phrom"].down = True
    x = register(1)
    for _ in range(removals.MAX_TRIES):
        st.removal_control.item["down_mor_phrom"] = 0.0
        sweep_list(x.registration_id)
    # Then the removal is failed, and due again only in a day
    assert stored(st, x.registration_id).removals["mor_phrom"] == "failed"
    due = st.registrations.removal_due[x.registration_id]
    assert due >= datetime.now(UTC) + timedelta(hours=23)
    assert st.statistics.stats()["removal_mor_phrom_failed"] == 1


def test_the_index_sweep_settles_what_is_due_and_goes_on_with_the_next_batch(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given two confirmations due
    st = campaign()
    codes = [register(n).registration_id for n in (1, 2)]
    # When an index sweep runs
    assert sweep_index() == 4
    # Then both are settled, the lease is kept across the chain, and the next batch is queued
    assert all(stored(st, c).removals["mor_phrom"] == "not_found" for c in codes)
    assert st.removal_control.item["holder"] == "s_test"
    assert st.removal_jobs.sent[-1]["chain"] == "s_test"


def test_an_index_sweep_with_nothing_due_gives_the_lease_back(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given nothing due / When an index sweep runs / Then nothing is called and the lease is free
    st = campaign()
    assert sweep_index() == 0
    assert "holder" not in st.removal_control.item and st.removal_jobs.sent == []


def test_a_sweep_leaves_alone_while_another_holds_the_lease(campaign: Any, registries: dict[str, FakeRegistry]) -> None:
    # Given a confirmation due and another sweep holding the lease
    st = campaign()
    register(1)
    assert st.removal_control.lease_removals("s_other", time.time(), 120) is not None
    # When a sweep of its own chain runs / Then it settles nothing and asks no registry
    assert sweep_index(datetime.now(UTC) + timedelta(seconds=30), chain="s_mine") == 0
    assert registries["mor_phrom"].calls == 0


def test_the_index_sweep_leaves_registrations_younger_than_the_grace_to_their_lists(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given a confirmation made just now / When the minute schedule's sweep runs (as of a minute ago)
    st = campaign()
    x = register(1)
    removals.run(RemovalSweep(chain="s_now"))
    # Then it is left for its container's list
    assert stored(st, x.registration_id).removals["mor_phrom"] == "pending"


def test_the_daily_redrive_makes_failed_removals_due_now(campaign: Any, registries: dict[str, FakeRegistry]) -> None:
    # Given a removal failed for good
    st = campaign()
    registries["mor_phrom"].down = True
    x = register(1)
    for _ in range(removals.MAX_TRIES):
        st.removal_control.item["down_mor_phrom"] = 0.0
        sweep_list(x.registration_id)
    # When reconciliation re-drives / Then it is due now and a sweep is kicked
    now = datetime.now(UTC)
    assert removals.redrive(now) == 1
    assert st.registrations.removal_due[x.registration_id] == now
    assert any("chain" in job for job in st.removal_jobs.sent)


def test_a_pending_removal_is_not_redriven_before_its_backoff(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    # Given a removal pending behind a registry's backoff / When reconciliation re-drives / Then it is left
    campaign()
    registries["mor_phrom"].down = True
    sweep_list(register(1).registration_id)
    assert removals.redrive() == 0


def test_confirmations_are_handed_to_a_sweep_in_one_list(campaign: Any, monkeypatch: Any) -> None:
    # Given a container that hands lists over every few seconds
    st = campaign(primary=3)
    monkeypatch.setenv("REMOVAL_KICK_SECONDS", "3600")
    removals.forget()
    register(1)  # the first goes at once, and starts the clock
    st.removal_jobs.take()
    codes = [register(n).registration_id for n in (2, 3)]
    assert st.removal_jobs.sent == []
    # When one is forced out (a promotion) / Then every code noted leaves in one message
    removals.note(force=True)
    assert st.removal_jobs.sent == [{"kind": "removals", "codes": codes}]


def test_the_summary_says_up_to_when_its_figures_are_complete(
    campaign: Any, registries: dict[str, FakeRegistry]
) -> None:
    from chalicelib.services import staff

    # Given a confirmation whose container kept its list (no request came after it)
    st = campaign()
    x = register(1)
    made = datetime.fromisoformat(x.registered_at.replace("Z", "+00:00"))
    # When the summary is read before any sweep has ended / Then it claims no completeness at all
    first = staff.summary()
    assert first.as_of is None and first.registrations.by_status["confirmed"] == 0
    # When the minute sweep ends within the grace (the person is too young for it)
    assert removals.run(RemovalSweep(chain="s_minute")) == 0
    # Then the summary still leaves the person out, and says so: its as_of is before they registered
    young = staff.summary()
    assert young.registrations.by_status["confirmed"] == 0
    assert young.as_of is not None and datetime.fromisoformat(young.as_of.replace("Z", "+00:00")) < made
    # When a sweep past the grace counts them, and its next batch finds nothing due
    sweep_index(chain="s_later")
    sweep_index(chain="s_later")
    # Then they are counted, and the summary is complete up to (at least) when they registered
    later = staff.summary()
    assert later.registrations.by_status["confirmed"] == 1 and later.registrations.by_channel["app"] == 1
    assert later.as_of is not None and datetime.fromisoformat(later.as_of.replace("Z", "+00:00")) >= made
    assert stored(st, x.registration_id).counted
