"""Lookups without the receipt code, the receipt code by SMS, and wrong-birth-date lockouts (v1.1)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.helpers import body
from tests.integration.conftest import Clock
from tests.integration.test_public_api import assert_envelope, post
from tests.integration.test_verifications import code_sent, sms_to, wrong

WRONG_DATES = [f"1970-01-{d:02d}" for d in range(1, 29)]


def ident(n: int, birth_date: str = "1980-01-31") -> dict[str, str]:
    return {"national_id": body(n)["national_id"], "birth_date": birth_date}


def test_five_wrong_birth_dates_lock_the_national_id_for_the_hour(client: Any, clock: Clock) -> None:
    reg = post(client, "/v1/registrations", body(1)).json_body
    post(client, "/v1/registrations", body(2))
    # Given five wrong birth dates: each looks exactly like "not found"
    for day in WRONG_DATES[:5]:
        assert_envelope(post(client, "/v1/registrations/lookup", ident(1, day)), 404, "not_found")
    # Then every lookup for that ID is 429, the right birth date included
    locked = post(client, "/v1/registrations/lookup", ident(1))
    assert_envelope(locked, 429, "too_many_attempts")
    assert 3590 <= int(locked.headers["Retry-After"]) <= 3600
    # And nobody else is held up: another person's lookup, and the registration's own cancel
    assert post(client, "/v1/registrations/lookup", ident(2)).status_code == 200
    # When the hour since the first failure is over, the right birth date works again
    clock.advance(3601)
    assert post(client, "/v1/registrations/lookup", ident(1)).json_body["status"] == reg["status"]


def test_five_comparisons_an_hour_lock_the_id_right_dates_included(client: Any, clock: Clock) -> None:
    # Given a person who looks their registration up four times, then once with a wrong date
    post(client, "/v1/registrations", body(13))
    answers = [post(client, "/v1/registrations/lookup", ident(13)).status_code for _ in range(4)]
    answers.append(post(client, "/v1/registrations/lookup", ident(13, WRONG_DATES[0])).status_code)
    assert answers == [200] * 4 + [404]
    # When they look it up again within the hour / Then five comparisons are spent (contract v1.2)
    assert_envelope(post(client, "/v1/registrations/lookup", ident(13)), 429, "too_many_attempts")
    # And after the hour the right date works again
    clock.advance(3601)
    assert post(client, "/v1/registrations/lookup", ident(13)).status_code == 200


def test_receipt_requests_neither_count_as_failures_nor_are_refused_by_a_lock(
    client: Any, queues: Any, stand_ins: dict[str, Any]
) -> None:
    # Given a registration, and ten receipt requests with wrong birth dates: each looks like success
    post(client, "/v1/registrations", body(3, phone="0863333333"))
    for day in WRONG_DATES[:10]:
        resp = post(client, "/v1/registrations/receipt", ident(3, day))
        assert (resp.status_code, resp.json_body) == (202, {"status": "sent"})
    # Then they did not count: the right date still looks the registration up
    assert post(client, "/v1/registrations/lookup", ident(3)).status_code == 200
    # When four wrong lookups (the fifth comparison of the hour) lock the national ID
    for day in WRONG_DATES[:4]:
        assert_envelope(post(client, "/v1/registrations/lookup", ident(3, day)), 404, "not_found")
    assert_envelope(post(client, "/v1/registrations/lookup", ident(3)), 429, "too_many_attempts")
    # Then the owner still gets their receipt code, on the registration's phone
    resp = post(client, "/v1/registrations/receipt", ident(3))
    queues.drain()
    assert (resp.status_code, resp.json_body) == (202, {"status": "sent"})
    assert len(sms_to(stand_ins, "0863333333")) == 1


def test_an_unregistered_national_id_locks_the_same_way(client: Any) -> None:
    # Else five probes and a sixth would tell which IDs are registered.
    for day in WRONG_DATES[:5]:
        assert_envelope(post(client, "/v1/registrations/lookup", ident(4, day)), 404, "not_found")
    assert_envelope(post(client, "/v1/registrations/lookup", ident(4)), 429, "too_many_attempts")


def test_five_wrong_birth_dates_lock_cancelling_that_registration_only(client: Any, clock: Clock) -> None:
    reg = post(client, "/v1/registrations", body(5)).json_body
    other = post(client, "/v1/registrations", body(6)).json_body
    url = f"/v1/registrations/{reg['registration_id']}/cancel"
    for day in WRONG_DATES[:5]:
        assert_envelope(post(client, url, {"birth_date": day}), 404, "not_found")
    assert_envelope(post(client, url, {"birth_date": "1980-01-31"}), 429, "too_many_attempts")
    # The person's lookups and another registration's cancel are not held up
    assert post(client, "/v1/registrations/lookup", ident(5)).status_code == 200
    other_url = f"/v1/registrations/{other['registration_id']}/cancel"
    assert post(client, other_url, {"birth_date": "1980-01-31"}).json_body["status"] == "cancelled"
    assert client.http.get(f"/v1/registrations/{reg['registration_id']}").json_body["status"] == "confirmed"
    clock.advance(3601)
    assert post(client, url, {"birth_date": "1980-01-31"}).json_body["status"] == "cancelled"


def test_a_malformed_body_is_400_before_any_lockout(client: Any) -> None:
    for day in WRONG_DATES[:5]:
        post(client, "/v1/registrations/lookup", ident(7, day))
    bad = {"national_id": body(7)["national_id"], "birth_date": "31/01/1980"}
    assert_envelope(post(client, "/v1/registrations/lookup", bad), 400, "validation_error")
    assert_envelope(post(client, "/v1/registrations/receipt", {"national_id": "1"}), 400, "validation_error")


def test_the_receipt_code_goes_by_sms_to_the_registrations_phone(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    reg = post(client, "/v1/registrations", body(8, phone="0861234567")).json_body
    # When the person asks for their receipt code
    resp = post(client, "/v1/registrations/receipt", ident(8))
    queues.drain()
    # Then 202, and the code goes to the registration's phone
    assert (resp.status_code, resp.json_body) == (202, {"status": "sent"})
    texts = sms_to(stand_ins, "0861234567")
    assert len(texts) == 1 and reg["registration_id"] in texts[0]
    # A second request within the minute sends nothing more; after it, another SMS
    assert post(client, "/v1/registrations/receipt", ident(8)).status_code == 202
    queues.drain()
    assert len(sms_to(stand_ins, "0861234567")) == 1
    clock.advance(61)
    assert post(client, "/v1/registrations/receipt", ident(8)).status_code == 202
    queues.drain()
    assert len(sms_to(stand_ins, "0861234567")) == 2
    # A cancelled registration's code is not sent; an unknown person gets the same 202
    post(client, f"/v1/registrations/{reg['registration_id']}/cancel", {"birth_date": "1980-01-31"})
    clock.advance(61)
    assert post(client, "/v1/registrations/receipt", ident(8)).json_body == {"status": "sent"}
    assert post(client, "/v1/registrations/receipt", ident(9)).json_body == {"status": "sent"}
    queues.drain()
    assert len(sms_to(stand_ins, "0861234567")) == 2


def test_at_most_three_receipt_sms_a_registration_a_day(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    # Given a registration whose receipt code is asked for every two minutes for a day
    post(client, "/v1/registrations", body(14, phone="0864444444"))
    answers = set()
    for _ in range(12):
        answers.add(post(client, "/v1/registrations/receipt", ident(14)).status_code)
        clock.advance(120)
    queues.drain()
    # Then every answer is 202, and three SMS went
    assert answers == {202}
    assert len(sms_to(stand_ins, "0864444444")) == 3
    # And a day after the first, three more may go
    clock.advance(86_400 - 12 * 120)
    for _ in range(4):
        post(client, "/v1/registrations/receipt", ident(14))
        clock.advance(61)
    queues.drain()
    assert len(sms_to(stand_ins, "0864444444")) == 6


def test_counters_hold_no_national_id_or_receipt_code(client: Any, aws: dict[str, str]) -> None:
    reg = post(client, "/v1/registrations", body(10)).json_body
    post(client, "/v1/registrations/lookup", ident(10, WRONG_DATES[0]))
    post(client, f"/v1/registrations/{reg['registration_id']}/cancel", {"birth_date": WRONG_DATES[0]})
    post(client, "/v1/registrations/receipt", ident(10))
    items = boto3.client("dynamodb").scan(TableName=aws["ATTEMPTS_TABLE"])["Items"]
    text = json.dumps(items)
    assert len(items) == 3  # fail#id#…, fail#reg#…, receipt#…
    assert body(10)["national_id"] not in text and reg["registration_id"] not in text
    assert all("expires_at" in i for i in items)  # every item expires (TTL)


def run_together(actions: list[Callable[[], Any]]) -> list[str]:
    """Start every action at once (a barrier), each in its own thread; what each raised or returned."""
    barrier = threading.Barrier(len(actions))
    results: list[str] = [""] * len(actions)

    def run(i: int) -> None:
        barrier.wait()
        try:
            actions[i]()
            results[i] = "ok"
        except Exception as exc:
            results[i] = type(exc).__name__

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


def test_concurrent_guesses_never_get_past_five_and_lock_only_their_target(client: Any) -> None:
    from chalicelib.domain.models import LookupRequest
    from chalicelib.services import lockouts, lookups
    from chalicelib.store.factory import stores

    post(client, "/v1/registrations", body(11))
    post(client, "/v1/registrations", body(12))

    def lookup(n: int, birth_date: str) -> Callable[[], Any]:
        req = LookupRequest.model_validate(ident(n, birth_date))
        return lambda: lockouts.guarded(lockouts.of_person(req.national_id), lambda: lookups.lookup(req))

    # Given 24 wrong guesses and the right birth date for one person, and 5 lookups of another
    # person with the right birth date, all at once
    target = [lookup(11, d) for d in WRONG_DATES[:24]] + [lookup(11, "1980-01-31")]
    bystander = [lookup(12, "1980-01-31") for _ in range(5)]
    results = run_together(target + bystander)
    wrong_guesses, right_guess, others = results[:24], results[24], results[25:]
    # Then five comparisons happened, the right date's among them if it got one, the rest refused
    failed = Counter(wrong_guesses)["NotFound"]
    assert Counter(wrong_guesses) == {"NotFound": failed, "TooManyAttempts": 24 - failed}
    assert failed + (right_guess == "ok") == 5
    assert right_guess in ("ok", "TooManyAttempts")
    item = stores().attempts._t.get(f"fail#{lockouts.of_person(body(11)['national_id'])}")
    assert item["n"] == 5
    # And the other person was never held up
    assert others == ["ok"] * 5
    # And with five spent, the right birth date is refused too
    assert run_together([lookup(11, "1980-01-31")]) == ["TooManyAttempts"]


def test_concurrent_wrong_codes_never_get_past_five(client: Any, queues: Any, stand_ins: dict[str, Any]) -> None:
    from chalicelib.domain.verification import ConfirmRequest
    from chalicelib.services import verifications
    from chalicelib.store.factory import stores

    vid = post(client, "/v1/verifications", {"phone": "0844444444"}).json_body["verification_id"]
    code = code_sent(stand_ins, queues, "0844444444")
    guesses = sorted({wrong(code), *(f"{(int(code) + k) % 1_000_000:06d}" for k in range(2, 30))})[:20]

    def confirm(c: str) -> Callable[[], Any]:
        return lambda: verifications.confirm(vid, ConfirmRequest(code=c))

    # Given 20 wrong codes at once
    results = run_together([confirm(c) for c in guesses])
    # Then each is refused, five of them counted, and the verification is spent: the right code fails
    assert Counter(results) == {"InvalidCode": 20}
    assert stores().verifications.entry(vid)["wrong"] == 5
    assert run_together([confirm(code)]) == ["InvalidCode"]


def test_a_right_code_racing_wrong_ones_wins_only_ahead_of_the_fifth(
    client: Any, queues: Any, stand_ins: dict[str, Any]
) -> None:
    from chalicelib.domain.verification import ConfirmRequest
    from chalicelib.services import verifications
    from chalicelib.store.factory import stores

    vid = post(client, "/v1/verifications", {"phone": "0855555555"}).json_body["verification_id"]
    code = code_sent(stand_ins, queues, "0855555555")
    actions = [lambda: verifications.confirm(vid, ConfirmRequest(code=wrong(code))) for _ in range(8)]
    actions.append(lambda: verifications.confirm(vid, ConfirmRequest(code=code)))
    results = run_together(actions)
    item = stores().verifications.entry(vid)
    assert item["wrong"] == 5 and results[:8] == ["InvalidCode"] * 8
    # The right code got a token only if it was settled before the fifth wrong one
    assert results[8] == ("ok" if "confirmed_at" in item else "InvalidCode")


@pytest.mark.parametrize("rid", ["r_\ud800", "\U0001f600" * 40, "r_" + "x" * 3000, "%00", "r_/../x"])
def test_a_hostile_registration_id_on_cancel_is_counted_under_a_hash(rid: str) -> None:
    from chalicelib.services import lockouts

    key = lockouts.of_registration(rid)
    assert key.startswith("reg#") and len(key) == 4 + 64
