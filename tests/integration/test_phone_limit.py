"""At most PHONE_REGISTRATION_LIMIT (4) active app-channel registrations per phone (contract v1.1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.errors import Overloaded
from tests.helpers import JSON, body, raising, reconciled

PHONE = "0812345678"
OTHER_PHONE = "0898765432"
BIRTH = {"birth_date": "1980-01-31"}


@pytest.fixture(autouse=True)
def limit_of_four(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default limit (the v1 suites run with a high one: their people share one phone)."""
    from chalicelib.caches import reset_caches

    monkeypatch.setenv("PHONE_REGISTRATION_LIMIT", "4")
    reset_caches()


def post(client: Any, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(path, body=json.dumps(data, ensure_ascii=False), headers={**JSON, **(headers or {})})


def register(client: Any, n: int, phone: str = PHONE, headers: dict[str, str] | None = None) -> Any:
    return post(client, "/v1/registrations", body(n, phone=phone), headers)


def counted(phone: str = PHONE) -> int:
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import phone_hash
    from chalicelib.store.factory import stores

    return stores().phones.count(phone_hash(phone, verification_keys()))


def assert_limit_reached(resp: Any) -> None:
    assert resp.status_code == 409, resp.body
    err = resp.json_body["error"]
    assert err["code"] == "phone_limit_reached"
    assert err["message"] and err["message_th"]


def test_four_app_registrations_on_one_phone_then_409(client: Any) -> None:
    # Given four people registered through the app with one phone
    for n in range(4):
        assert register(client, n).status_code == 201
    # When a fifth person registers with that phone
    fifth = register(client, 4)
    # Then 409 phone_limit_reached, nothing of the fifth is stored, and another phone is not affected
    assert_limit_reached(fifth)
    lookup = post(client, "/v1/registrations/lookup", {"national_id": body(4)["national_id"], **BIRTH})
    assert lookup.status_code == 404
    assert counted() == 4
    assert register(client, 4, OTHER_PHONE).status_code == 201
    assert counted(OTHER_PHONE) == 1


def test_counter_and_employer_registrations_are_not_counted(client: Any, tokens: dict[str, str], queues: Any) -> None:
    # Given a phone at its limit through the app
    for n in range(4):
        assert register(client, n).status_code == 201
    # When the counter and an employer register more people with that phone
    desk = {"Authorization": f"Bearer {tokens['counter']}"}
    assert post(client, "/v1/counter/registrations", body(10, phone=PHONE), desk).status_code == 201
    org = {"Authorization": f"Bearer {tokens['org']}"}
    rows = [body(20, phone=PHONE), body(21, phone=PHONE)]
    assert post(client, "/v1/org/batches", {"organisation": "ACME", "rows": rows}, org).status_code == 202
    queues.drain()
    # Then they are registered, and the phone's count is still the app's four
    for n in (10, 20, 21):
        found = post(client, "/v1/registrations/lookup", {"national_id": body(n)["national_id"], **BIRTH})
        assert found.status_code == 200 and found.json_body["status"] == "confirmed", n
    assert counted() == 4
    # and a counter registration's cancellation gives nothing back
    counter_reg = post(client, "/v1/registrations/lookup", {"national_id": body(10)["national_id"], **BIRTH})
    assert counter_reg.status_code == 200
    assert_limit_reached(register(client, 5))


def test_a_cancellation_frees_one_share_once(client: Any, queues: Any) -> None:
    # Given a phone at its limit
    regs = [register(client, n).json_body for n in range(4)]
    assert_limit_reached(register(client, 4))
    # When one registration is cancelled, and the cancel is sent again
    path = f"/v1/registrations/{regs[0]['registration_id']}/cancel"
    assert post(client, path, BIRTH).status_code == 200
    assert post(client, path, BIRTH).status_code == 200
    queues.drain()
    # Then exactly one share is free: one more person registers, the next is refused
    assert counted() == 3
    assert register(client, 4).status_code == 201
    assert_limit_reached(register(client, 5))
    assert counted() == 4


def test_a_share_is_given_back_once_even_if_the_step_was_not_recorded(client: Any, monkeypatch: Any) -> None:
    # Given a cancelled registration whose step "phone" could not be recorded (its todo still lists it)
    from chalicelib.services import registrations
    from chalicelib.store.factory import stores

    regs = [register(client, n).json_body for n in range(2)]
    st = stores()
    monkeypatch.setattr(type(st.registrations), "take_step", lambda *a, **k: False)
    assert post(client, f"/v1/registrations/{regs[0]['registration_id']}/cancel", BIRTH).status_code == 200
    cancelled = st.registrations.get(regs[0]["registration_id"])
    assert cancelled is not None and "phone" in cancelled.todo
    assert counted() == 1
    # When what follows the cancellation runs again (a retried cancel, the sweep)
    registrations.hand_on(cancelled)
    registrations.hand_on(cancelled)
    # Then the share was given back once
    assert counted() == 1


def test_a_share_the_cancel_could_not_give_back_is_given_back_by_reconciliation(
    client: Any, queues: Any, monkeypatch: Any
) -> None:
    # Given a phone at its limit, and a cancellation whose share could not be given back (429),
    # which the person never sends again
    from chalicelib.store.phones import PhoneStore

    regs = [register(client, n).json_body for n in range(4)]
    real = PhoneStore.give_back
    monkeypatch.setattr(PhoneStore, "give_back", raising(Overloaded()))
    assert post(client, f"/v1/registrations/{regs[0]['registration_id']}/cancel", BIRTH).status_code == 429
    monkeypatch.setattr(PhoneStore, "give_back", real)
    queues.drain()
    assert counted() == 4
    assert_limit_reached(register(client, 4))

    # When reconciliation runs, twice
    first, second = reconciled(queues), reconciled(queues)
    # Then the share is back once, and the phone takes one more person (not two)
    assert "1 phone shares given back" in first["repaired"]
    assert not [r for r in second["repaired"] if "phone" in r]
    assert counted() == 3
    assert register(client, 4).status_code == 201
    assert_limit_reached(register(client, 5))


def test_a_refused_registration_leaves_the_count_as_it_was(client: Any, campaign_env: Any) -> None:
    # Given two places, no reserve, and a phone with one registration
    campaign_env(primary=2, reserve=0)
    assert register(client, 0).status_code == 201
    # When the same person registers again (409 already_registered), the last place goes to
    # another phone, and then a newcomer finds everything full
    assert register(client, 0).json_body["error"]["code"] == "already_registered"
    assert register(client, 1, OTHER_PHONE).status_code == 201
    full = register(client, 2)
    # Then the refusals cost the phone nothing
    assert full.json_body["error"]["code"] == "registration_full"
    assert counted() == 1


def test_refused_at_the_limit_the_primary_place_goes_to_the_next_newcomer(client: Any, campaign_env: Any) -> None:
    # Given five places and four of them taken through one phone
    campaign_env(primary=5, reserve=1)
    for n in range(4):
        assert register(client, n).json_body["status"] == "confirmed"
    # When a fifth person on that phone is refused
    assert_limit_reached(register(client, 4))
    # Then the fifth place is still there for the next newcomer, and the one after goes to the reserve
    assert register(client, 5, OTHER_PHONE).json_body["status"] == "confirmed"
    after = register(client, 6, OTHER_PHONE).json_body
    assert (after["status"], after["reserve_rank"]) == ("reserve", 1)
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 0


def test_refused_at_the_limit_on_the_reserve_gives_the_ticket_back(client: Any, campaign_env: Any, tokens: Any) -> None:
    # Given a full primary list (through the counter) and a phone with four reserve registrations
    campaign_env(primary=1, reserve=6)
    desk = {"Authorization": f"Bearer {tokens['counter']}"}
    assert post(client, "/v1/counter/registrations", body(100, phone=OTHER_PHONE), desk).status_code == 201
    ranks = [register(client, n).json_body["reserve_rank"] for n in range(4)]
    assert ranks == [1, 2, 3, 4]
    # When a fifth person on that phone is refused
    assert_limit_reached(register(client, 4))
    # Then the reserve and the statistics are as they were: the next newcomer is rank 5
    nxt = register(client, 5, OTHER_PHONE).json_body
    assert (nxt["status"], nxt["reserve_rank"]) == ("reserve", 5)
    assert client.http.get("/v1/campaign").json_body["reserve"]["remaining"] == 1
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    summary = client.http.get("/v1/admin/summary", headers=admin).json_body
    assert summary["registrations"]["by_status"]["reserve"] == 5, summary


def test_a_share_write_that_fails_undoes_the_registration(client: Any, monkeypatch: Any) -> None:
    # Given the phone count's write refused (throttled, nothing applied)
    from chalicelib.store.phones import PhoneStore

    real = PhoneStore.take
    monkeypatch.setattr(PhoneStore, "take", raising(Overloaded()))
    # When a person registers
    first = register(client, 0)
    # Then 429, nothing stored, and the retry registers them
    assert first.status_code == 429
    assert post(client, "/v1/registrations/lookup", {"national_id": body(0)["national_id"], **BIRTH}).status_code == 404
    monkeypatch.setattr(PhoneStore, "take", real)
    assert register(client, 0).status_code == 201
    assert counted() == 1


def test_a_crash_between_the_registration_and_its_share_leaves_the_count_low(client: Any, monkeypatch: Any) -> None:
    # Given the share's write lost after the registration was stored (its answer lost, not applied)
    from chalicelib.store.phones import PhoneStore

    real = PhoneStore.take
    monkeypatch.setattr(PhoneStore, "take", raising(Overloaded(maybe_applied=True)))
    keyed = {"Idempotency-Key": "k-1"}
    # When the person registers and the app retries with the same key
    assert register(client, 0, headers=keyed).status_code == 429
    monkeypatch.setattr(PhoneStore, "take", real)
    again = register(client, 0, headers=keyed)
    # Then the retry gets the registration, and the phone's count is low by one (never high)
    assert again.status_code == 201
    assert counted() == 0


def test_a_counter_reclaim_gives_the_squatters_phone_its_share_back(client: Any, tokens: dict[str, str]) -> None:
    # Given a phone at its limit, one of its four registrations squatting somebody else's ID
    for n in range(4):
        assert register(client, n).status_code == 201
    # When the ID's owner reclaims it at the counter with their own phone
    desk = {"Authorization": f"Bearer {tokens['counter']}"}
    reclaimed = post(client, "/v1/counter/reclaims", body(3, phone=OTHER_PHONE), desk)
    # Then the registration is the counter's, and the squatter's phone has a share free again
    assert reclaimed.status_code == 200, reclaimed.body
    assert reclaimed.json_body["channel"] == "counter"
    assert counted() == 3 and counted(OTHER_PHONE) == 0
    assert register(client, 4).status_code == 201
    assert_limit_reached(register(client, 5))


def test_a_refused_registration_changed_before_its_undo_keeps_its_one_place(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.models import RegistrationRequest
    from chalicelib.services import reclaims
    from chalicelib.store.factory import stores
    from chalicelib.store.phones import PhoneStore

    # Given a phone at its limit
    for n in range(4):
        assert register(client, n).status_code == 201
    real_take = PhoneStore.take

    def take_after_a_reclaim(self: Any, phone_hash: str, registration_id: str, limit: int) -> bool:
        # the desk reclaims the ID in the moment between the registration's two writes
        reclaims.reclaim(RegistrationRequest.model_validate(body(4, phone=OTHER_PHONE)), "desk")
        return bool(real_take(self, phone_hash, registration_id, limit))

    monkeypatch.setattr(PhoneStore, "take", take_after_a_reclaim)
    # When a fifth person registers with that phone, and the share is refused after the reclaim
    answer = register(client, 4)
    monkeypatch.setattr(PhoneStore, "take", real_take)
    # Then the registration stands as the desk made it, on one place: none was kept for a newcomer
    assert answer.status_code == 201, answer.body
    found = post(client, "/v1/registrations/lookup", {"national_id": body(4)["national_id"], **BIRTH})
    assert found.status_code == 200 and found.json_body["channel"] == "counter"
    assert stores().quota.counts().primary_used == 5
    assert counted() == 4 and counted(OTHER_PHONE) == 0
