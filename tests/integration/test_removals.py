"""Removal from Mor Phrom and Khon Kaen Phrom, reconciliation and the daily report."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.config import get_settings
from chalicelib.domain import rules
from chalicelib.domain.errors import RegistrationFull
from chalicelib.domain.reports import Findings
from chalicelib.services import reconcile, removals
from chalicelib.store.factory import stores
from tests.conftest import REGION
from tests.helpers import JSON, body, national_id, raising, register

# Seeded in both stand-ins (IDs n with n % 6 == 0), in Mor Phrom only (n % 2 == 0), in neither (n % 6 == 1).
IN_BOTH, IN_MOR_PHROM_ONLY, IN_NEITHER = 0, 2, 1


def findings(run_id: str) -> Findings:
    found = reconcile.status(run_id).findings
    assert found is not None
    return found


def removal_states(reg: dict[str, Any]) -> dict[str, str]:
    return stores().registrations.get(reg["registration_id"]).removals


def control(stand_in: Any, **change: Any) -> None:
    import requests

    requests.post(f"{stand_in.url}/_control", json=change, timeout=5).raise_for_status()


def summary_removals() -> dict[str, dict[str, int]]:
    from chalicelib.services import staff

    return staff.summary().model_dump()["removals"]


def dlq_depth(name: str) -> int:
    from chalicelib.store import clients

    sqs = clients.sqs()
    url = sqs.get_queue_url(QueueName=f"kkreg-test-{name}-dlq")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_a_confirmed_person_is_removed_or_found_absent_in_each_registry(
    client: Any, queues: Any, stand_ins: dict[str, Any]
) -> None:
    both, mor_only = register(client, IN_BOTH), register(client, IN_MOR_PHROM_ONLY)
    assert removal_states(both) == {"mor_phrom": "pending", "khon_kaen_phrom": "pending"}
    queues.drain()
    assert removal_states(both) == {"mor_phrom": "removed", "khon_kaen_phrom": "removed"}
    assert removal_states(mor_only) == {"mor_phrom": "removed", "khon_kaen_phrom": "not_found"}
    assert national_id(IN_BOTH) not in stand_ins["mor_phrom"].state.people
    assert national_id(IN_BOTH) not in stand_ins["khon_kaen_phrom"].state.people
    assert summary_removals() == {
        "mor_phrom": {"pending": 0, "removed": 2, "not_found": 0, "failed": 0},
        "khon_kaen_phrom": {"pending": 0, "removed": 1, "not_found": 1, "failed": 0},
    }


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_5xx_is_retried_until_the_registry_answers(client: Any, queues: Any, stand_ins: dict[str, Any]) -> None:
    # Given Mor Phrom failing the next 4 calls: the client's 3 tries fail, the registry backs off
    control(stand_ins["mor_phrom"], fail_next=4)
    reg = register(client, IN_BOTH)
    queues.drain()
    assert removal_states(reg) == {"mor_phrom": "pending", "khon_kaen_phrom": "removed"}
    # When the sweep runs after the backoff, Mor Phrom answers (its 4th call fails, the 5th succeeds)
    removals.sweep(later(2))
    queues.drain()
    assert removal_states(reg)["mor_phrom"] == "removed"
    assert stand_ins["mor_phrom"].state.calls["DELETE"] == 5
    assert summary_removals()["mor_phrom"] == {"pending": 0, "removed": 1, "not_found": 0, "failed": 0}


@pytest.mark.parametrize("fault", [{"fail_rate": 1.0}, {"down": True}, {"garbage": True}])
def test_a_registry_that_never_answers_properly_ends_failed_and_in_the_dead_letter_queue(
    client: Any, queues: Any, stand_ins: dict[str, Any], fault: dict[str, Any]
) -> None:
    control(stand_ins["khon_kaen_phrom"], **fault)
    reg = register(client, IN_BOTH)
    queues.drain()
    # When the sweep tries again after each backoff (1, 2, 4, 8 minutes: five tries in all)
    for minutes in (2, 4, 8, 16):
        removals.sweep(later(minutes))
        queues.drain()
    # Then the removal is given up as failed (nothing sent to a dead-letter queue: the sweep did not fail)
    assert removal_states(reg) == {"mor_phrom": "removed", "khon_kaen_phrom": "failed"}
    assert national_id(IN_BOTH) in stand_ins["khon_kaen_phrom"].state.people  # never taken for a success
    assert dlq_depth("removals") == 0
    assert summary_removals()["khon_kaen_phrom"] == {"pending": 0, "removed": 0, "not_found": 0, "failed": 1}
    # When the registry is back, reconciliation re-drives the failed removal (once its backoff has passed)
    control(stand_ins["khon_kaen_phrom"], fail_rate=0.0, down=False, garbage=False)
    reconcile.start(full=False)
    queues.drain()
    removals.sweep(later(60))
    queues.drain()
    assert removal_states(reg)["khon_kaen_phrom"] == "removed"
    assert summary_removals()["khon_kaen_phrom"] == {"pending": 0, "removed": 1, "not_found": 0, "failed": 0}


def test_every_job_delivered_twice_changes_nothing_more(client: Any, queues: Any, stand_ins: dict[str, Any]) -> None:
    register(client, IN_BOTH)
    removals.sweep()  # a second sweep at once
    queues.drain()
    removals.sweep()  # and a third, after they finished
    queues.drain()
    calls = {name: stand_ins[name].state.calls["DELETE"] for name in ("mor_phrom", "khon_kaen_phrom")}
    assert calls == {"mor_phrom": 1, "khon_kaen_phrom": 1}
    assert summary_removals()["mor_phrom"] == {"pending": 0, "removed": 1, "not_found": 0, "failed": 0}


def test_the_reserve_is_not_removed_and_a_promoted_person_is(
    client: Any, queues: Any, stand_ins: dict[str, Any], campaign_env: Any
) -> None:
    campaign_env(primary=1, reserve=1)
    first = register(client, IN_NEITHER)
    waiting = register(client, IN_BOTH)
    queues.drain()
    assert waiting["status"] == "reserve" and removal_states(waiting) == {}
    assert national_id(IN_BOTH) in stand_ins["mor_phrom"].state.people
    client.http.post(
        f"/v1/registrations/{first['registration_id']}/cancel",
        body=json.dumps({"birth_date": "1980-01-31"}),
        headers=JSON,
    )
    queues.drain()
    assert removal_states(waiting) == {"mor_phrom": "removed", "khon_kaen_phrom": "removed"}


def test_a_death_before_the_removal_jobs_are_queued_is_repaired(
    client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the process dies right after writing the confirmed registration (before its kick)
    monkeypatch.setattr(stores().removal_jobs, "send", raising(SystemExit()))
    with pytest.raises(SystemExit):
        from chalicelib.domain.models import Channel, RegistrationRequest
        from chalicelib.services import registrations

        registrations.register(RegistrationRequest.model_validate(body(IN_BOTH)), Channel.APP)
    monkeypatch.undo()
    queues.drain()
    assert national_id(IN_BOTH) in stand_ins["mor_phrom"].state.people
    # When the minute sweep runs past the grace it leaves to lists still being sent
    assert removals.sweep(datetime.now(UTC) + timedelta(minutes=3)) == 1
    queues.drain()
    assert national_id(IN_BOTH) not in stand_ins["mor_phrom"].state.people
    assert national_id(IN_BOTH) not in stand_ins["khon_kaen_phrom"].state.people


def test_full_reconciliation_removes_again_someone_booked_again(
    client: Any, queues: Any, stand_ins: dict[str, Any]
) -> None:
    reg = register(client, IN_BOTH)
    queues.drain()
    control(stand_ins["mor_phrom"], add=[national_id(IN_BOTH)])  # booked there again
    run_id = reconcile.start(full=True)
    queues.drain()
    assert national_id(IN_BOTH) not in stand_ins["mor_phrom"].state.people
    assert removal_states(reg)["mor_phrom"] == "removed"
    assert findings(run_id).registries == {"reappeared_mor_phrom": 1}


def _confirmed_count() -> int:
    return stores().statistics.stats().get("status_confirmed", 0)


def _confirmed_items() -> int:
    """Confirmed registrations as stored (a scan), not as counted."""
    db = boto3.client("dynamodb", region_name=REGION)
    pages = db.get_paginator("scan").paginate(
        TableName=get_settings().registrations_table,
        FilterExpression="#s = :c",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "confirmed"}},
    )
    return sum(page["Count"] for page in pages)


def test_a_counter_made_too_high_is_put_right_and_live_registrations_never_oversell(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_env(primary=30, reserve=0, shards=3)
    for n in range(10):
        register(client, 100 + n)
    # Given 5 places counted that nobody holds, as requests that died between taking their place and
    # storing their registration leave them (taken as the service takes a place, so no shard is ever
    # counted above its capacity: raise_primary on shard 0 could be, and then the leak returned
    # would give back more places than the 5 ever held back)
    for _ in range(5):
        assert stores().quota.take_primary()
    # When reconciliation runs while registrations keep arriving
    from chalicelib.domain.models import Channel, RegistrationRequest
    from chalicelib.services import registrations

    results: list[str] = []

    def live() -> None:
        for n in range(40):
            try:
                view = registrations.register(RegistrationRequest.model_validate(body(200 + n)), Channel.APP)
                results.append(view.status.value)
            except Exception as exc:  # registration_full once the places run out
                results.append(type(exc).__name__)

    traffic = threading.Thread(target=live)
    traffic.start()
    reconcile.start(full=False)
    queues.drain()
    traffic.join()
    # Then no oversell, whatever the interleaving
    assert results.count("confirmed") <= 20
    # and once traffic is quiet (its removals done too), a run sees the leak, and the next one
    # (a while later) returns it
    queues.drain()
    first = reconcile.start(full=False)
    queues.drain()
    assert findings(first).drift["primary_leaked"] == 5
    monkeypatch.setattr(reconcile, "LEAK_CONFIRM_SECONDS", 0)
    run_id = reconcile.start(full=False)
    queues.drain()
    assert findings(run_id).repaired == ["5 leaked places returned"]
    for n in range(20):
        with contextlib.suppress(RegistrationFull):  # full is the expected end
            registrations.register(RegistrationRequest.model_validate(body(300 + n)), Channel.APP)
    queues.drain()  # a direct confirmation is counted by the removal sweep
    assert _confirmed_count() == 30
    assert _confirmed_items() == 30
    assert stores().quota.counts().primary_taken - stores().quota.counts().parked == 30


class MovedClock:
    """The places' and the ledger's clock, moved by hand (both stores read it through their ``time`` module)."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def test_a_place_kept_in_hand_by_repeats_goes_stale_before_reconciliation_hands_it_on(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.errors import AlreadyRegistered
    from chalicelib.domain.models import Channel, RegistrationRequest
    from chalicelib.services import registrations
    from chalicelib.store import ledger, quota

    clock = MovedClock()
    monkeypatch.setattr(quota, "time", clock)
    monkeypatch.setattr(ledger, "time", clock)
    campaign_env(primary=81, reserve=0, shards=1)

    def attempt(n: int) -> None:
        with contextlib.suppress(AlreadyRegistered, RegistrationFull):
            registrations.register(RegistrationRequest.model_validate(body(n)), Channel.APP)

    # Given a container holding the 16 places it took in one write with the first registration
    register(client, 700)
    queues.drain()
    assert stores().quota.counts().in_hand == 16
    # and the first person trying again every 50 s: each repeat takes a place in hand, is refused
    # and puts it back (the campaign's counters stay still the whole time)
    first = None
    for minute in range(8):
        clock.now += 50
        attempt(700)
        if minute == 1:
            first = reconcile.start(full=False)
            queues.drain()
    assert first is not None and findings(first).drift["primary_leaked"] == 16
    # When reconciliation sees the same leak again, more than LEAK_CONFIRM_SECONDS later, and hands it on
    run_id = reconcile.start(full=False)
    queues.drain()
    assert findings(run_id).repaired == ["16 leaked places returned"]
    # Then no place that went back is also used from the container's hand: the campaign fills to its
    # capacity, not one more
    for n in range(90):
        attempt(701 + n)
    queues.drain()  # a direct confirmation is counted by the removal sweep
    assert _confirmed_items() == 81


def test_a_counter_made_too_low_is_raised_so_nothing_is_sold_twice(client: Any, queues: Any, campaign_env: Any) -> None:
    campaign_env(primary=10, reserve=0, shards=2)
    for n in range(8):
        register(client, 400 + n)
    queues.drain()  # their removals are done: the run sees still counters
    stores().quota.raise_primary(-4)  # the counter now says 4 taken, 8 are held
    run_id = reconcile.start(full=False)
    queues.drain()
    assert "primary counter raised by 4" in findings(run_id).repaired
    outcomes = [
        client.http.post("/v1/registrations", body=json.dumps(body(500 + n)), headers=JSON).status_code
        for n in range(5)
    ]
    assert outcomes == [201, 201, 409, 409, 409]
    queues.drain()  # a direct confirmation is counted by the removal sweep
    assert _confirmed_count() == 10


def test_statistics_drift_is_corrected_when_two_quiet_runs_see_it(client: Any, queues: Any) -> None:
    register(client, 600)
    queues.drain()  # its removals are done: the counters are still during the run
    stores().statistics.adjust_stat("channel_app", 7)
    first = reconcile.start(full=False)
    queues.drain()
    assert findings(first).drift["channel_app"] == -7
    assert stores().statistics.stats()["channel_app"] == 8
    run_id = reconcile.start(full=False)
    queues.drain()
    assert "channel_app -7" in findings(run_id).repaired
    assert stores().statistics.stats()["channel_app"] == 1


def test_a_registration_counted_just_after_a_quiet_run_is_not_counted_twice(client: Any, queues: Any) -> None:
    register(client, 610)
    queues.drain()
    # Given a registration whose item is written but whose statistics are not counted yet (its
    # request is between the two writes while the run scans)
    stores().statistics.adjust_stat("channel_app", -1)
    first = reconcile.start(full=False)
    queues.drain()
    assert findings(first).drift["channel_app"] == 1
    # When the request finishes its count, and the next run looks
    stores().statistics.adjust_stat("channel_app", 1)
    run_id = reconcile.start(full=False)
    queues.drain()
    # Then the count is right, not corrected twice
    assert findings(run_id).repaired == []
    assert stores().statistics.stats()["channel_app"] == 1


def test_the_daily_report_of_a_scripted_day(
    client: Any, queues: Any, campaign_env: Any, tokens: dict[str, str]
) -> None:
    campaign_env(primary=2, reserve=2)
    a = register(client, IN_BOTH)
    register(client, IN_NEITHER, eligibility={"basis": "works_in_municipality", "detail": "ACME"})
    counter = client.http.post(
        "/v1/counter/registrations",
        body=json.dumps(body(IN_MOR_PHROM_ONLY)),
        headers={**JSON, "Authorization": f"Bearer {tokens['counter']}"},
    )
    assert counter.json_body["status"] == "reserve"
    client.http.post(
        f"/v1/registrations/{a['registration_id']}/cancel", body=json.dumps({"birth_date": "1980-01-31"}), headers=JSON
    )
    queues.drain()
    day = rules.today_in_bangkok().isoformat()
    report = client.http.get(
        f"/v1/admin/reports/daily?date={day}", headers={"Authorization": f"Bearer {tokens['admin']}"}
    ).json_body
    assert report["registrations"] == {
        "total": 3,
        "by_channel": {"app": 2, "counter": 1, "org": 0},
        "by_basis": {"house_registration": 2, "works_in_municipality": 1, "lives_without_house_number": 0},
    }
    assert report["confirmations"]["total"] == 3  # two at once, one by promotion
    assert report["promotions"]["by_channel"] == {"app": 0, "counter": 1, "org": 0}
    assert report["cancellations"]["total"] == 1
    assert report["removals"] == {
        "mor_phrom": {"removed": 2, "not_found": 1, "failed": 0},
        "khon_kaen_phrom": {"removed": 1, "not_found": 2, "failed": 0},
    }
    assert report["places_left"]["primary"] == 0 and report["places_left"]["reserve"] == 2
    other = client.http.get(
        "/v1/admin/reports/daily?date=2026-02-30", headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert other.status_code == 400


def test_poison_messages_end_in_the_dead_letter_queue_without_blocking_the_queue(
    client: Any, queues: Any, stand_ins: dict[str, Any]
) -> None:
    from chalicelib.store import clients

    sqs = clients.sqs()
    for queue in ("removals", "promotion", "batches", "reconcile"):
        url = sqs.get_queue_url(QueueName=f"kkreg-test-{queue}")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="{not json")
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "unknown"}))
    reg = register(client, IN_BOTH)
    queues.drain()
    assert removal_states(reg) == {"mor_phrom": "removed", "khon_kaen_phrom": "removed"}
    assert [dlq_depth(q) for q in ("removals", "promotion", "batches", "reconcile")] == [2, 2, 2, 2]


def test_a_list_out_of_time_leaves_the_rest_to_the_index_sweep(
    client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a list sweep whose Lambda runs out of time after its first few registry calls
    regs = [register(client, n) for n in range(120, 180)]
    budget = iter([60_000] * 10)
    run_list = removals._run_list
    monkeypatch.setattr(removals, "_run_list", lambda codes, remaining: run_list(codes, lambda: next(budget, 0)))
    queues.drain()
    monkeypatch.undo()
    left = [r for r in regs if "pending" in removal_states(r).values()]
    assert left
    # When the minute sweep runs past the grace it leaves to lists
    removals.sweep(later(3))
    queues.drain()
    # Then every removal is settled, and counted once
    assert not [r for r in regs if "pending" in removal_states(r).values()]
    assert sum(summary_removals()["mor_phrom"].values()) == len(regs)
    assert summary_removals()["mor_phrom"]["pending"] == 0


def test_the_admin_summary_says_as_of_when_its_figures_are_complete(
    client: Any, queues: Any, tokens: dict[str, str]
) -> None:
    from chalicelib.domain.jobs import RemovalSweep

    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    # Given no removal sweep has ended yet / Then the summary claims no completeness (as_of left out)
    assert "as_of" not in client.http.get("/v1/admin/summary", headers=admin).json_body
    # When a person is confirmed, their list is swept, and the minute sweep then finds nothing due
    register(client, IN_NEITHER)
    queues.drain()
    removals.run(RemovalSweep(chain="s_minute"))
    # Then the summary counts them and says up to when it is complete (a minute's grace back)
    summary = client.http.get("/v1/admin/summary", headers=admin).json_body
    assert summary["registrations"]["by_status"]["confirmed"] == 1
    as_of = datetime.fromisoformat(summary["as_of"].replace("Z", "+00:00"))
    assert timedelta(seconds=50) < datetime.now(UTC) - as_of < timedelta(minutes=5)
    # And the document declares it: optional, a string, never null
    schema = client.http.get("/v1/openapi.json").json_body["components"]["schemas"]["Summary"]
    assert schema["properties"]["as_of"]["type"] == "string" and "as_of" not in schema["required"]
