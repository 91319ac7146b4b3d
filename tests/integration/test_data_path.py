"""The lean data path: one write for the claim and the registration, replays without records, the
removal sweep (both registries, one write per person, backoff per registry), a retried cancel that
finishes what the first left undone."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.domain.errors import Overloaded
from chalicelib.domain.models import Status
from chalicelib.services import campaign, registrations, staff
from chalicelib.store.factory import stores
from tests.helpers import Calls, body, campaign_item, campaign_table, national_id, raising

JSON = {"Content-Type": "application/json"}
BIRTH = json.dumps({"birth_date": "1980-01-31"})


def post(client: Any, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(path, body=json.dumps(data), headers={**JSON, **(headers or {})})


def control(stand_in: Any, **change: Any) -> None:
    import requests

    requests.post(f"{stand_in.url}/_control", json=change, timeout=5).raise_for_status()


def counted_campaign(monkeypatch: pytest.MonkeyPatch, campaign_env: Any, **capacities: int) -> None:
    """A campaign whose requests are counted one by one: the sweep kicked only by the test, and the
    channel states read once (a slow machine must not see them go stale mid-test)."""
    monkeypatch.setenv("REMOVAL_KICK_SECONDS", "3600")
    monkeypatch.setattr(campaign, "CHANNEL_CACHE_SECONDS", 3600.0)
    campaign_env(**capacities)


def test_a_retried_cancel_finishes_what_a_failed_queue_send_left_undone(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a confirmed person with an appointment, and one person on the reserve
    from chalicelib.services import appointments

    campaign_env(primary=1, reserve=1)
    x = post(client, "/v1/registrations", body(1)).json_body["registration_id"]
    y = post(client, "/v1/registrations", body(2)).json_body["registration_id"]
    appointments.allocate(stores().registrations.get(x))
    appt = stores().registrations.get(x).appointment
    assert appt is not None
    slot = f"slot#{appt.date.isoformat()}#0"
    used_before = campaign_item(slot)["used"]
    # When the cancel's release job cannot be queued (429), and the person tries again
    real_send = stores().promotions.send
    monkeypatch.setattr(stores().promotions, "send", raising(Overloaded(retry_after=1)))
    first = post(client, f"/v1/registrations/{x}/cancel", {"birth_date": "1980-01-31"})
    assert first.status_code == 429
    monkeypatch.setattr(stores().promotions, "send", real_send)
    again = post(client, f"/v1/registrations/{x}/cancel", {"birth_date": "1980-01-31"})
    assert again.status_code == 200 and again.json_body["status"] == "cancelled"
    queues.drain()
    # Then the slot is free once, the counters moved once, and the place went to the reserve
    assert campaign_item(slot)["used"] == used_before - 1
    by_status = staff.summary().registrations.by_status
    assert (by_status["cancelled"], by_status["confirmed"], by_status["reserve"]) == (1, 1, 0)
    assert stores().registrations.get(y).status is Status.CONFIRMED
    # And a third cancel changes nothing more
    assert post(client, f"/v1/registrations/{x}/cancel", {"birth_date": "1980-01-31"}).status_code == 200
    queues.drain()
    assert campaign_item(slot)["used"] == used_before - 1
    assert staff.summary().registrations.by_status["cancelled"] == 1


def test_a_confirmed_registration_is_three_requests_and_a_repeat_one(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an open campaign far from full (places are taken a few at a time)
    counted_campaign(monkeypatch, campaign_env, primary=50_000, reserve=10_000, shards=4)
    post(client, "/v1/registrations", body(1), {"Idempotency-Key": "warm"})
    calls = Calls()
    # When people register with an Idempotency-Key, and one of them again
    for n in range(2, 12):
        calls.made.clear()
        assert post(client, "/v1/registrations", body(n), {"Idempotency-Key": f"k{n}"}).status_code == 201
        # Then each costs at most three requests (the phone's share, the registration, now and then
        # the quota), no query
        assert len(calls.made) <= 3 and "Query" not in calls.made and "Scan" not in calls.made, calls.made
        assert calls.made[:2] == ["UpdateItem", "PutItem"], calls.made
    calls.made.clear()
    repeat = post(client, "/v1/registrations", body(5), {"Idempotency-Key": "another"})
    assert repeat.status_code == 409 and repeat.json_body["error"]["code"] == "already_registered"
    # And a repeat from the phone that registered them is two: the share's write finds the person
    # holds one already (nothing to give back), the refused put answers
    assert calls.made == ["UpdateItem", "PutItem"]
    # And from another phone three: the share taken for them goes back
    calls.made.clear()
    repeat = post(client, "/v1/registrations", body(5, phone="0898765432"))
    assert repeat.status_code == 409 and repeat.json_body["error"]["code"] == "already_registered"
    assert calls.made == ["UpdateItem", "PutItem", "UpdateItem"]


def _two_at_once(
    monkeypatch: pytest.MonkeyPatch, seconds: list[tuple[dict[str, Any], str | None]], hold_first: bool = False
) -> Any:
    """A person's first request held just before its registration's write while ``seconds`` (bodies
    and Idempotency-Keys of the same person) arrive in this container; then the first goes on (with
    ``hold_first``, once the others have their answers). Returns the first's answer, the others'
    answers (a view or the error raised) and the AWS requests each of them made."""
    from chalicelib.domain.models import Channel, RegistrationRequest
    from chalicelib.domain.rules import idempotency_fingerprint
    from chalicelib.services import in_flight

    held, go_on = threading.Event(), threading.Event()
    real_create = stores().registrations.create

    def create(*args: Any, **kwargs: Any) -> Any:
        held.set()
        go_on.wait(10)
        return real_create(*args, **kwargs)

    monkeypatch.setattr(stores().registrations, "create", create)
    waiting = threading.Semaphore(0)
    real_wait = in_flight.Flight.wait

    def wait(flight: Any) -> Any:
        waiting.release()
        return real_wait(flight)

    monkeypatch.setattr(in_flight.Flight, "wait", wait)
    calls_by_thread: dict[str, list[str]] = {}

    def count(event_name: str, **_: Any) -> None:
        calls_by_thread.setdefault(threading.current_thread().name, []).append(event_name.split(".", 2)[2])

    from chalicelib.store import clients

    clients.dynamodb().meta.events.register("before-parameter-build.*.*", count)

    def attempt(data: dict[str, Any], key: str | None) -> Any:
        fingerprint = idempotency_fingerprint("app", key, data) if key else None
        request = RegistrationRequest.model_validate(data)
        try:
            return registrations.register(request, Channel.APP, fingerprint=fingerprint)
        except Exception as exc:  # the answer under test
            return exc

    first_data, first_key = seconds[0]
    with ThreadPoolExecutor(max_workers=len(seconds), thread_name_prefix="person") as pool:
        first = pool.submit(attempt, first_data, first_key)
        assert held.wait(10)
        others = [pool.submit(attempt, data, key) for data, key in seconds[1:]]
        for _ in others:
            assert waiting.acquire(timeout=10)
        if not hold_first:
            go_on.set()
        answers = [f.result(timeout=30) for f in others]
        go_on.set()
    # The pool's first thread is the first request's (threads are started as work arrives).
    return first.result(), answers, {k: v for k, v in calls_by_thread.items() if k != "person_0"}


def test_a_second_request_of_a_person_in_flight_is_answered_by_the_first_with_no_request(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.errors import AlreadyRegistered, IdempotencyKeyReused

    # Given a person's keyed request on its way to its registration's write
    counted_campaign(monkeypatch, campaign_env, primary=10, reserve=5)
    # When the same request, the same key with another body, and another key arrive meanwhile
    changed = body(1, first_name="Other")
    first, (same, reused, other), calls = _two_at_once(
        monkeypatch, [(body(1), "k1"), (body(1), "k1"), (changed, "k1"), (body(1), "k2")]
    )
    # Then the first registers the person; the same request gets the same answer, the reused key
    # is refused and the other key is told the person is registered, as the stored registration
    # would answer them, and none of them made a request
    assert first.status.value == "confirmed"
    assert same == first
    assert isinstance(reused, IdempotencyKeyReused)
    assert isinstance(other, AlreadyRegistered)
    assert calls == {}
    assert staff.summary().primary.used == 1


def test_a_second_request_gets_request_in_progress_when_the_first_is_still_running(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.errors import RequestInProgress
    from chalicelib.services import in_flight

    # Given a person's keyed request that does not finish while a retry waits for it
    counted_campaign(monkeypatch, campaign_env, primary=10, reserve=5)
    monkeypatch.setattr(in_flight, "WAIT_SECONDS", 0.2)
    first, (retry,), calls = _two_at_once(monkeypatch, [(body(1), "k1"), (body(1), "k1")], hold_first=True)
    # Then the retry is told the first is still running (409 request_in_progress, Retry-After),
    # having made no request, and the first registers the person once it goes on
    assert isinstance(retry, RequestInProgress) and retry.retry_after == 1
    assert calls == {}
    assert first.status.value == "confirmed"
    assert staff.summary().primary.used == 1


def test_a_second_request_goes_on_by_itself_when_the_first_made_no_registration(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.registrations import RegistrationStore

    # Given a person's first request whose registration's write will be refused by the engine
    counted_campaign(monkeypatch, campaign_env, primary=10, reserve=5)
    real = RegistrationStore.create
    failures = iter([Overloaded(retry_after=1)])

    def create_once_refused(self: Any, *args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RegistrationStore, "create", create_once_refused)
    # When a second request of that person arrives while the first is in flight
    first, (second,), calls = _two_at_once(monkeypatch, [(body(1), None), (body(1), None)])
    # Then the first fails (429) and the second registers the person by itself
    assert isinstance(first, Overloaded)
    assert second.status.value == "confirmed"
    assert "PutItem" in next(iter(calls.values()))
    assert staff.summary().primary.used == 1


def test_a_replay_answers_the_first_response_from_the_registration_itself(client: Any, campaign_env: Any) -> None:
    # Given a reserve registration made with a key
    campaign_env(primary=1, reserve=5)
    post(client, "/v1/registrations", body(1))
    first = post(client, "/v1/registrations", body(2), {"Idempotency-Key": "k-r"})
    assert first.status_code == 201 and first.json_body["reserve_rank"] == 1
    # When the container forgets every key it answered (another container), and the request is retried
    from chalicelib.api import idempotency

    idempotency.forget_all()
    again = post(client, "/v1/registrations", body(2), {"Idempotency-Key": "k-r"})
    # Then the same answer comes back, and nothing changed
    assert again.status_code == 201 and again.json_body == first.json_body
    assert staff.summary().reserve.used == 1


def test_a_keyed_counter_registration_writes_no_idempotency_record_and_replays_from_the_registration(
    client: Any, campaign_env: Any, tokens: dict[str, str]
) -> None:
    # Given a counter desk registering a walk-in person with an Idempotency-Key
    campaign_env(primary=10, reserve=0)
    desk = {"Authorization": f"Bearer {tokens['counter']}", "Idempotency-Key": "desk-1"}
    calls = Calls()
    first = post(client, "/v1/counter/registrations", body(7), desk)
    assert first.status_code == 201
    # Then the registration, the places and the audit trail are written, and no idempotency record
    written = {t for op, t in calls.tables if op in ("PutItem", "UpdateItem")}
    assert written <= {"registrations", "campaign", "staff"}, calls.tables
    # When another container (which never saw the key) gets the retry, and then the key with another person
    from chalicelib.api import idempotency

    idempotency.forget_all()
    again = post(client, "/v1/counter/registrations", body(7), desk)
    other = post(client, "/v1/counter/registrations", {**body(7), "first_name": "Other"}, desk)
    # Then the retry is the first answer, and another body with the same key is refused
    assert again.status_code == 201 and again.json_body == first.json_body
    assert other.status_code == 422 and other.json_body["error"]["code"] == "idempotency_key_reused"


def test_a_superseded_receipt_code_still_resolves_after_the_person_registers_again(
    client: Any, queues: Any, campaign_env: Any
) -> None:
    campaign_env(primary=10, reserve=0)
    old = post(client, "/v1/registrations", body(3)).json_body["registration_id"]
    assert post(client, f"/v1/registrations/{old}/cancel", {"birth_date": "1980-01-31"}).status_code == 200
    new = post(client, "/v1/registrations", body(3))
    assert new.status_code == 201 and new.json_body["registration_id"] != old
    queues.drain()
    assert client.http.get(f"/v1/registrations/{old}").json_body["status"] == "cancelled"
    assert client.http.get(f"/v1/registrations/{new.json_body['registration_id']}").json_body["status"] == "confirmed"
    lookup = post(client, "/v1/registrations/lookup", {"national_id": national_id(3), "birth_date": "1980-01-31"})
    # (a lookup answers without the receipt code: the person's current registration is the new one)
    assert lookup.json_body["status"] == "confirmed" and "registration_id" not in lookup.json_body
    assert lookup.json_body["registered_at"] == new.json_body["registered_at"]
    # A guessed code with the right pointer and the wrong secret is nobody's
    forged = new.json_body["registration_id"][:24] + ("A" if new.json_body["registration_id"][24] != "A" else "B")
    forged += new.json_body["registration_id"][25:]
    assert client.http.get(f"/v1/registrations/{forged}").status_code == 404


def test_the_sweep_writes_each_registration_once_for_both_registries(
    client: Any, queues: Any, campaign_env: Any, stand_ins: dict[str, Any]
) -> None:
    # Given five confirmed people
    campaign_env(primary=10, reserve=0)
    for n in range(5):
        post(client, "/v1/registrations", body(n))
    calls = Calls()
    # When the background drains
    queues.drain()
    # Then each person was written once, and all are settled
    assert calls.tables.count(("UpdateItem", "registrations")) == 5, calls.tables
    removals = staff.summary().removals
    assert all(r.removed + r.not_found == 5 and r.pending == 0 for r in removals.values())
    assert staff.summary().registrations.by_status["confirmed"] == 5


def test_a_registry_that_is_down_backs_off_while_the_other_is_served(
    client: Any, queues: Any, campaign_env: Any, stand_ins: dict[str, Any]
) -> None:
    # Given Mor Phrom down
    campaign_env(primary=10, reserve=0)
    control(stand_ins["mor_phrom"], down=True)
    for n in range(3):
        post(client, "/v1/registrations", body(n))
    # When the background drains, and the sweep is kicked again at once
    queues.drain()
    calls_before = stand_ins["mor_phrom"].state.calls["DELETE"]
    from chalicelib.services import removals

    removals.sweep()
    queues.drain()
    # Then Khon Kaen Phrom settled everyone, Mor Phrom was not asked again during its backoff
    summary = staff.summary().removals
    assert summary["khon_kaen_phrom"].removed + summary["khon_kaen_phrom"].not_found == 3
    assert summary["mor_phrom"].pending == 3
    assert stand_ins["mor_phrom"].state.calls["DELETE"] == calls_before
    # And once it is back and its backoff has passed, it is served
    control(stand_ins["mor_phrom"], down=False)
    campaign_table().update(("removals",), "SET down_mor_phrom = :zero", None, {":zero": 0})
    from datetime import UTC, datetime, timedelta

    removals.sweep(datetime.now(UTC) + timedelta(hours=2))
    queues.drain()
    summary = staff.summary().removals
    assert summary["mor_phrom"].removed + summary["mor_phrom"].not_found == 3 and summary["mor_phrom"].pending == 0


def test_the_last_places_and_the_reserve_cost_no_refused_write(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a small campaign whose shards are taken from one place at a time
    counted_campaign(monkeypatch, campaign_env, primary=6, reserve=2, shards=3)
    calls = Calls()
    for n in range(1, 7):
        calls.made.clear()
        assert post(client, "/v1/registrations", body(n)).status_code == 201
        # Then every primary place is one write to its shard, never a refused one (the write that
        # takes a shard's last place says so)
        assert calls.made.count("UpdateItem") == 2, (n, calls.made)  # the shard and the phone's share
    # When the reserve fills
    for n in (7, 8):
        calls.made.clear()
        created = post(client, "/v1/registrations", body(n))
        assert created.status_code == 201 and created.json_body["status"] == "reserve"
        # Then each costs five requests: the look (with the phone's item), the phone's share, the gate
        # (created by the first, no put of its own), the ticket's holder and the registration
        assert calls.made == ["BatchGetItem", "UpdateItem", "UpdateItem", "UpdateItem", "PutItem"], (n, calls.made)
    # And a refusal once the reserve is full is the look alone
    calls.made.clear()
    refused = post(client, "/v1/registrations", body(9))
    assert refused.status_code == 409 and refused.json_body["error"]["code"] == "registration_full"
    assert calls.made == ["BatchGetItem"]
    # And the gate the first ticket created has the shape every other gate write expects
    gate = campaign_item("gate")
    assert (gate["ra"], gate["seq"], gate["parked"], gate["xb"]) == (2, 2, 0, {})
