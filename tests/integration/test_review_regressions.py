"""Faults found in review: each test fails on the code before its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.errors import Overloaded
from chalicelib.domain.models import Status
from chalicelib.services import promotion
from chalicelib.store.factory import stores
from tests.helpers import JSON, body, post_registration, raising

BIRTH = json.dumps({"birth_date": "1980-01-31"})


def status(rid: str) -> Status:
    return stores().registrations.get(rid).status


def test_a_vacancy_whose_promoted_person_cancelled_before_the_job_finished_promotes_nobody_else(
    client: Any, queues: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_env(primary=2, reserve=3)
    regs = [post_registration(client, n).json_body["registration_id"] for n in range(5)]  # 2 confirmed, 3 reserve
    x, y = regs[0], regs[2]
    client.http.post(f"/v1/registrations/{x}/cancel", body=BIRTH, headers=JSON)
    # Given X's job promotes Y and dies before finishing
    real = stores().registrations.finish_release
    monkeypatch.setattr(stores().registrations, "finish_release", raising(RuntimeError()))
    with pytest.raises(RuntimeError):
        promotion.release(x)
    monkeypatch.setattr(stores().registrations, "finish_release", real)
    assert status(y) is Status.CONFIRMED
    # and Y cancels, whose own place goes to the next person
    client.http.post(f"/v1/registrations/{y}/cancel", body=BIRTH, headers=JSON)
    promotion.release(y)
    # When X's job is delivered again
    promotion.release(x)
    # Then only two are confirmed: X's place went to Y once, Y's to regs[3]
    confirmed = [r for r in regs if status(r) is Status.CONFIRMED]
    assert confirmed == [regs[1], regs[3]]
    assert status(regs[4]) is Status.RESERVE


def test_a_registration_that_cannot_be_written_gives_its_place_back_and_frees_the_person(
    client: Any, campaign_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_env(primary=1, reserve=0)
    monkeypatch.setattr(stores().registrations, "create", raising(Overloaded()))
    refused = post_registration(client, 1)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    monkeypatch.undo()
    again = post_registration(client, 1)
    assert again.status_code == 201 and again.json_body["status"] == "confirmed"


def test_a_cancellation_that_failed_half_way_can_be_repeated_and_frees_the_person(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import cancellations

    rid = post_registration(client, 2).json_body["registration_id"]
    monkeypatch.setattr(stores().registrations, "take_step", raising(RuntimeError()))
    with pytest.raises(RuntimeError):
        cancellations.cancel(rid, "1980-01-31")
    monkeypatch.undo()
    assert status(rid) is Status.CANCELLED
    assert post_registration(client, 2).status_code == 201  # the cancelled registration is replaced (and kept)
    assert client.http.post(f"/v1/registrations/{rid}/cancel", body=BIRTH, headers=JSON).status_code == 200


def test_a_registration_whose_answer_was_lost_is_one_registration_on_retry(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a registration that was written but whose answer was lost (no claim in between: the
    # claim is the registration, so there is no window where a stale claim could be taken over)
    store = stores().registrations
    real = store.create

    def lost_answer(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise Overloaded(retry_after=1, maybe_applied=True)

    monkeypatch.setattr(store, "create", lost_answer)
    keyed = {**JSON, "Idempotency-Key": "lost-1"}
    assert client.http.post("/v1/registrations", body=json.dumps(body(3)), headers=keyed).status_code == 429
    monkeypatch.undo()
    # When the caller retries with its key, and somebody else without
    retry = client.http.post("/v1/registrations", body=json.dumps(body(3)), headers=keyed)
    other = post_registration(client, 3)
    # Then the retry gets the registration that was written, the other attempt is a repeat
    assert retry.status_code == 201
    assert other.status_code == 409 and other.json_body["error"]["code"] == "already_registered"
    assert status(retry.json_body["registration_id"]) is Status.CONFIRMED


def test_a_5000_digit_integer_is_a_validation_error(client: Any) -> None:
    resp = client.http.post("/v1/registrations", body='{"national_id": ' + "9" * 5000 + "}", headers=JSON)
    assert resp.status_code == 400 and resp.json_body["error"]["fields"] == ["body"]


def test_a_batch_row_larger_than_a_registration_body_is_refused(client: Any, tokens: dict[str, str]) -> None:
    row = body(4, eligibility={"basis": "house_registration", "detail": "x" * 20_000})
    resp = client.http.post(
        "/v1/org/batches",
        body=json.dumps({"organisation": "ACME", "rows": [row]}),
        headers={**JSON, "Authorization": f"Bearer {tokens['org']}"},
    )
    assert resp.status_code == 400 and resp.json_body["error"]["fields"] == ["rows"]


def test_a_batch_whose_chunk_messages_were_lost_is_healed_when_read_after_the_stall_period(
    client: Any, queues: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import batches

    # Given a batch whose chunk messages never reached the queue
    monkeypatch.setattr(stores().batch_jobs, "send_many", lambda jobs: None)
    auth = {**JSON, "Authorization": f"Bearer {tokens['org']}"}
    resp = client.http.post(
        "/v1/org/batches", body=json.dumps({"organisation": "ACME", "rows": [body(70)]}), headers=auth
    )
    batch_id = resp.json_body["batch_id"]
    monkeypatch.undo()
    queues.drain()
    assert client.http.get(f"/v1/org/batches/{batch_id}", headers=auth).json_body["processed"] == 0
    # When it is read after the stall period, its chunks are queued again and processed
    monkeypatch.setattr(batches, "STALLED_AFTER", batches.timedelta(seconds=-1))
    client.http.get(f"/v1/org/batches/{batch_id}", headers=auth)
    queues.drain()
    done = client.http.get(f"/v1/org/batches/{batch_id}", headers=auth).json_body
    assert done["status"] == "done" and done["results"][0]["outcome"] == "confirmed"
