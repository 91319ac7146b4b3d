"""At most PHONE_REGISTRATION_LIMIT (4) active app-channel registrations per phone (contract v1.1), and
at most PHONE_LIFETIME_LIMIT (6) different people per phone over the campaign (v1.2)."""

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
def default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default limits (the v1 suites run with high ones: their people share one phone)."""
    from chalicelib.caches import reset_caches

    monkeypatch.setenv("PHONE_REGISTRATION_LIMIT", "4")
    monkeypatch.setenv("PHONE_LIFETIME_LIMIT", "6")
    reset_caches()


def post(client: Any, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(path, body=json.dumps(data, ensure_ascii=False), headers={**JSON, **(headers or {})})


def register(client: Any, n: int, phone: str = PHONE, headers: dict[str, str] | None = None) -> Any:
    return post(client, "/v1/registrations", body(n, phone=phone), headers)


def counted(phone: str = PHONE) -> int:
    from chalicelib.store.factory import stores

    return stores().phones.count(_hash(phone))


def people(phone: str = PHONE) -> int:
    from chalicelib.store.factory import stores

    return stores().phones.people(_hash(phone))


def _hash(phone: str) -> str:
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import phone_hash

    return phone_hash(phone, verification_keys())


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
    from chalicelib.services import cancellations
    from chalicelib.store.factory import stores

    regs = [register(client, n).json_body for n in range(2)]
    st = stores()
    monkeypatch.setattr(type(st.registrations), "take_step", lambda *a, **k: False)
    assert post(client, f"/v1/registrations/{regs[0]['registration_id']}/cancel", BIRTH).status_code == 200
    cancelled = st.registrations.get(regs[0]["registration_id"])
    assert cancelled is not None and "phone" in cancelled.todo
    assert counted() == 1
    # When what follows the cancellation runs again (a retried cancel, the sweep)
    cancellations.hand_on(cancelled)
    cancellations.hand_on(cancelled)
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


def test_refused_at_the_limit_on_the_reserve_takes_no_ticket(client: Any, campaign_env: Any, tokens: Any) -> None:
    # Given a full primary list (through the counter) and a phone with four reserve registrations
    from tests.helpers import campaign_item

    campaign_env(primary=1, reserve=6)
    desk = {"Authorization": f"Bearer {tokens['counter']}"}
    assert post(client, "/v1/counter/registrations", body(100, phone=OTHER_PHONE), desk).status_code == 201
    ranks = [register(client, n).json_body["reserve_rank"] for n in range(4)]
    assert ranks == [1, 2, 3, 4]
    gate = campaign_item("gate")
    # When a fifth person on that phone is refused
    assert_limit_reached(register(client, 4))
    # Then the gate was not written, and the reserve and the statistics are as they were: the next
    # newcomer is rank 5
    assert campaign_item("gate") == gate
    nxt = register(client, 5, OTHER_PHONE).json_body
    assert (nxt["status"], nxt["reserve_rank"]) == ("reserve", 5)
    assert client.http.get("/v1/campaign").json_body["reserve"]["remaining"] == 1
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    summary = client.http.get("/v1/admin/summary", headers=admin).json_body
    assert summary["registrations"]["by_status"]["reserve"] == 5, summary


def test_a_share_write_that_fails_stores_nothing(client: Any, monkeypatch: Any) -> None:
    # Given the phone share's write refused (throttled, nothing applied)
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


def test_a_share_whose_answer_was_lost_is_given_back_and_the_retry_counts_once(client: Any, monkeypatch: Any) -> None:
    # Given the share's write applied but its answer lost
    from chalicelib.store.phones import PhoneStore

    real = PhoneStore.take

    def applied_then_lost(self: Any, *args: Any) -> Any:
        real(self, *args)
        raise Overloaded(maybe_applied=True)

    monkeypatch.setattr(PhoneStore, "take", applied_then_lost)
    # When a person registers, and the app retries
    assert register(client, 0).status_code == 429
    monkeypatch.setattr(PhoneStore, "take", real)
    # Then the share is back (whether the take added the person to the phone's people is not known:
    # they stay there, against the phone, never past its limit)
    assert (counted(), people()) == (0, 1)
    again = register(client, 0)
    # And the retry registers them, and the phone counts them once
    assert again.status_code == 201
    assert (counted(), people()) == (1, 1)


def test_a_registration_that_fails_after_its_share_gives_the_share_back(client: Any, monkeypatch: Any) -> None:
    # Given the registration's write refused (throttled, nothing applied) after the share was taken
    from chalicelib.store.registrations import RegistrationStore

    real = RegistrationStore.create
    monkeypatch.setattr(RegistrationStore, "create", raising(Overloaded()))
    # When a person registers
    assert register(client, 0).status_code == 429
    monkeypatch.setattr(RegistrationStore, "create", real)
    # Then the phone counts nothing of theirs, and the retry is counted once
    assert (counted(), people()) == (0, 0)
    assert register(client, 0).status_code == 201
    assert (counted(), people()) == (1, 1)


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


def test_sixteen_people_with_cancels_between_the_seventh_different_person_is_refused(client: Any, queues: Any) -> None:
    # Given one phone, four active at most and six different people over the campaign
    # When sixteen different people register with it, the oldest cancelled whenever four are active
    active: list[str] = []
    answers = []
    for n in range(16):
        if len(active) == 4:
            assert post(client, f"/v1/registrations/{active.pop(0)}/cancel", BIRTH).status_code == 200
        resp = register(client, n)
        answers.append(resp.status_code if resp.status_code == 201 else resp.json_body["error"]["code"])
        if resp.status_code == 201:
            active.append(resp.json_body["registration_id"])
    queues.drain()
    # Then the first six are registered, the seventh different person and every later one is refused
    assert answers == [201] * 6 + ["phone_limit_reached"] * 10
    assert (counted(), people()) == (3, 6)
    # And the registries lost six people, not sixteen
    for n in range(6, 16):
        found = post(client, "/v1/registrations/lookup", {"national_id": body(n)["national_id"], **BIRTH})
        assert found.status_code == 404, n


def test_a_phone_at_its_limit_answers_alike_for_a_registered_and_an_unregistered_id(client: Any) -> None:
    # Given an ID registered with another phone, and a phone at its limit of four
    assert register(client, 50, OTHER_PHONE).status_code == 201
    for n in range(4):
        assert register(client, n).status_code == 201
    # When that phone registers the registered ID, and an unregistered one
    registered, unregistered = register(client, 50), register(client, 51)
    # Then both answers are the same 409 phone_limit_reached: nothing about the ID
    assert_limit_reached(registered)
    assert (registered.status_code, registered.json_body["error"]["code"]) == (
        unregistered.status_code,
        unregistered.json_body["error"]["code"],
    )
