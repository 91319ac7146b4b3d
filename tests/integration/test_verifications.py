"""Phone verification on the app channel (contract v1.1): codes by SMS, limits, tokens, registration."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from chalicelib.caches import reset_caches
from tests.helpers import body, raw_bytes
from tests.integration.conftest import Clock
from tests.integration.test_public_api import assert_envelope, post

pytestmark = pytest.mark.usefixtures("verification_required")


def sms_to(stand_ins: dict[str, Any], phone: str) -> list[str]:
    return [m["text"] for m in stand_ins["sms"].messages.values() if m["to"] == phone]


def code_sent(stand_ins: dict[str, Any], queues: Any, phone: str) -> str:
    """The last code the SMS gateway got for ``phone``, read from the message as a person would."""
    queues.drain()
    texts = sms_to(stand_ins, phone)
    assert texts, "no SMS was sent"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


def verify(client: Any, queues: Any, stand_ins: dict[str, Any], phone: str) -> dict[str, Any]:
    """Through the API: ask for a code, read it from the SMS, confirm it. Returns the 200 body."""
    started = post(client, "/v1/verifications", {"phone": phone})
    assert started.status_code == 202, started.body
    code = code_sent(stand_ins, queues, phone)
    confirmed = post(client, f"/v1/verifications/{started.json_body['verification_id']}/confirm", {"code": code})
    assert confirmed.status_code == 200, confirmed.body
    return dict(confirmed.json_body)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_goes_by_sms_and_its_confirmation_gives_a_token_for_that_phone(
    client: Any, queues: Any, stand_ins: dict[str, Any], aws: dict[str, str]
) -> None:
    # When a person asks for a code (any accepted way of writing the number)
    started = post(client, "/v1/verifications", {"phone": "+66 81-234-5678"})
    # Then the answer says how long it is good for and when another may be asked for
    assert started.status_code == 202
    assert set(started.json_body) == {"verification_id", "expires_in", "resend_after"}
    assert started.json_body["verification_id"].startswith("v_")
    assert (started.json_body["expires_in"], started.json_body["resend_after"]) == (600, 60)
    # And a 6-digit code goes by SMS to the number in its 10-digit form
    code = code_sent(stand_ins, queues, "0812345678")
    # And the code is stored nowhere, not even as a hash: no item holds it
    items = boto3.client("dynamodb").scan(TableName=aws["ATTEMPTS_TABLE"])["Items"]
    assert items and not any(code.encode() in raw_bytes(i) for i in items)
    # When they confirm it
    vid = started.json_body["verification_id"]
    confirmed = post(client, f"/v1/verifications/{vid}/confirm", {"code": code})
    # Then they get a token for that phone, good for 24 hours
    assert confirmed.status_code == 200
    assert confirmed.json_body["phone"] == "0812345678"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", confirmed.json_body["expires_at"])
    assert "0812345678" not in confirmed.json_body["verification_token"]


def test_a_redelivered_sms_job_is_one_sms(client: Any, queues: Any, stand_ins: dict[str, Any]) -> None:
    from chalicelib.services import verifications

    vid = post(client, "/v1/verifications", {"phone": "0811111111"}).json_body["verification_id"]
    queues.drain()
    verifications.send_code(vid)  # the same job again
    assert len(sms_to(stand_ins, "0811111111")) == 1


def test_one_code_a_minute_and_five_a_day_per_phone(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    phone = {"phone": "0899999999"}
    # Given a code was just sent
    assert post(client, "/v1/verifications", phone).status_code == 202
    queues.drain()
    # When another is asked for within the minute: 429 with the wait
    again = post(client, "/v1/verifications", phone)
    assert_envelope(again, 429, "too_many_attempts")
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    # But another phone is not held up
    assert post(client, "/v1/verifications", {"phone": "0899999998"}).status_code == 202
    # When four more are asked for a minute apart: each is sent
    for _ in range(4):
        clock.advance(61)
        assert post(client, "/v1/verifications", phone).status_code == 202
        queues.drain()
    # Then the sixth of the day is refused until the day since the first is over
    clock.advance(61)
    sixth = post(client, "/v1/verifications", phone)
    assert_envelope(sixth, 429, "too_many_attempts")
    assert 86_400 - 5 * 61 - 1 <= int(sixth.headers["Retry-After"]) <= 86_400 - 5 * 61 + 1
    clock.advance(86_400 - 5 * 61)
    assert post(client, "/v1/verifications", phone).status_code == 202
    queues.drain()
    assert len(sms_to(stand_ins, "0899999999")) == 6


def test_a_code_that_expired_before_its_sms_could_go_is_not_sent(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    assert post(client, "/v1/verifications", {"phone": "0877777777"}).status_code == 202
    clock.advance(601)  # the SMS worker was down for the code's ten minutes
    queues.drain()
    assert sms_to(stand_ins, "0877777777") == []


@pytest.mark.parametrize(
    "data",
    [{"phone": "0212345678"}, {"phone": "081234567"}, {"phone": 812345678}, {}, {"phone": "0812345678", "x": 1}],
)
def test_a_bad_phone_is_400(client: Any, data: dict[str, Any]) -> None:
    assert_envelope(post(client, "/v1/verifications", data), 400, "validation_error")


def test_a_wrong_or_expired_code_is_422_and_an_unknown_verification_404(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    started = post(client, "/v1/verifications", {"phone": "0822222222"}).json_body
    code = code_sent(stand_ins, queues, "0822222222")
    url = f"/v1/verifications/{started['verification_id']}/confirm"
    assert_envelope(post(client, url, {"code": wrong(code)}), 422, "invalid_code")
    unknown = "/v1/verifications/v_doesnotexist0000000000/confirm"
    assert_envelope(post(client, unknown, {"code": code}), 404, "not_found")
    assert_envelope(post(client, "/v1/verifications/nothing/confirm", {"code": code}), 404, "not_found")
    for bad in ({"code": "12345"}, {"code": 123456}, {}, {"code": code, "phone": "0822222222"}):
        assert_envelope(post(client, url, bad), 400, "validation_error")
    # When the ten minutes are over, the right code is refused too
    clock.advance(601)
    assert_envelope(post(client, url, {"code": code}), 422, "invalid_code")


def test_five_wrong_codes_spend_the_verification(client: Any, queues: Any, stand_ins: dict[str, Any]) -> None:
    started = post(client, "/v1/verifications", {"phone": "0833333333"}).json_body
    code = code_sent(stand_ins, queues, "0833333333")
    url = f"/v1/verifications/{started['verification_id']}/confirm"
    # Given four wrong codes, the right one still works
    for _ in range(4):
        assert_envelope(post(client, url, {"code": wrong(code)}), 422, "invalid_code")
    assert post(client, url, {"code": code}).status_code == 200
    # And a fifth wrong one spends it: the right code is refused from then on
    assert_envelope(post(client, url, {"code": wrong(code)}), 422, "invalid_code")
    assert_envelope(post(client, url, {"code": code}), 422, "invalid_code")


def test_registration_on_the_app_needs_a_token_for_its_phone(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    token = verify(client, queues, stand_ins, "0812345678")["verification_token"]
    other = verify(client, queues, stand_ins, "0898765432")["verification_token"]
    person = body(1)
    # Missing, null, malformed, for another phone, signed with another key: 422 phone_not_verified
    from chalicelib.domain import verification as v

    forged = v.sign_token("0812345678", int(clock.now) + 3600, v.Keys.derive(b"not the service's key"))
    for bad in ({}, {"verification_token": None}, {"verification_token": "x"}, {"verification_token": other},
                {"verification_token": forged}, {"verification_token": token + "x"}):  # fmt: skip
        assert_envelope(post(client, "/v1/registrations", {**person, **bad}), 422, "phone_not_verified")
    # 400 still wins over 422
    err = assert_envelope(post(client, "/v1/registrations", {**person, "consent": False}), 400, "validation_error")
    assert err["fields"] == ["consent"]
    assert_envelope(post(client, "/v1/registrations", {**person, "verification_token": 5}), 400, "validation_error")
    # Nothing was registered by the refused attempts
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 50_000
    # The token for the body's phone, however the phone is written: 201
    made = post(client, "/v1/registrations", {**person, "phone": "+66812345678", "verification_token": token})
    assert made.status_code == 201, made.body
    # One token serves every registration of that phone (a family) within its 24 hours, then expires
    assert post(client, "/v1/registrations", {**body(2), "verification_token": token}).status_code == 201
    clock.advance(86_400)
    assert_envelope(
        post(client, "/v1/registrations", {**body(3), "verification_token": token}), 422, "phone_not_verified"
    )


def test_a_closed_app_channel_still_answers_403_first(client: Any, tokens: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {tokens['admin']}", "Content-Type": "application/json"}
    assert client.http.put("/v1/admin/channels/app", body=json.dumps({"open": False}), headers=admin).status_code == 200
    from chalicelib.services import campaign

    campaign.forget_channel_states()
    assert_envelope(post(client, "/v1/registrations", body(4)), 403, "channel_closed")


def test_counter_and_employer_take_no_token(client: Any, tokens: dict[str, str], queues: Any) -> None:
    counter = {"Authorization": f"Bearer {tokens['counter']}"}
    assert post(client, "/v1/counter/registrations", body(5), counter).status_code == 201
    with_token = {**body(6), "verification_token": "x"}
    err = assert_envelope(post(client, "/v1/counter/registrations", with_token, counter), 400, "validation_error")
    assert err["fields"] == ["verification_token"]
    org = {"Authorization": f"Bearer {tokens['org']}"}
    batch = post(client, "/v1/org/batches", {"organisation": "ACME", "rows": [body(7)]}, org).json_body
    queues.drain()
    result = client.http.get(f"/v1/org/batches/{batch['batch_id']}", headers=org).json_body
    assert result["results"][0]["outcome"] == "confirmed"


def test_with_verification_off_the_app_registers_without_a_token(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHONE_VERIFICATION", "off")
    reset_caches()
    assert post(client, "/v1/registrations", body(8)).status_code == 201
    assert post(client, "/v1/registrations", {**body(9), "verification_token": "ignored"}).status_code == 201


def test_a_setting_that_is_neither_required_nor_off_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.config import get_settings

    monkeypatch.setenv("PHONE_VERIFICATION", "maybe")
    get_settings.cache_clear()
    with pytest.raises(RuntimeError, match="PHONE_VERIFICATION"):
        get_settings()
    get_settings.cache_clear()


def test_the_token_check_adds_no_aws_call_to_a_registration(
    client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = verify(client, queues, stand_ins, "0812345678")["verification_token"]
    calls: list[str] = []
    real_call = BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        # A container's data key (KMS, its datakey# item) is taken once an hour, not per request.
        pk = str((params.get("Key") or params.get("Item") or {}).get("pk", {}).get("S"))
        if self.meta.service_model.service_name != "kms" and not pk.startswith("datakey#"):
            calls.append(operation)
        return real_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    # Given one registration with the token checked, and one of the same kind with verification off
    assert post(client, "/v1/registrations", {**body(10), "verification_token": token}).status_code == 201
    with_check = list(calls)
    calls.clear()
    monkeypatch.setenv("PHONE_VERIFICATION", "off")
    reset_caches()
    assert post(client, "/v1/registrations", body(11)).status_code == 201
    # Then the checked one made exactly the calls of the unchecked one (the cold start's queue URL and
    # data key aside)
    assert [c for c in with_check if c != "GetQueueUrl"] == [c for c in calls if c != "GetQueueUrl"]


@pytest.mark.parametrize(
    "token",
    [
        "",
        " ",
        "pv1." + "0" * 64 + ".99999999999.x",
        "pv1.\u0e01.1.x",
        "pv1..." * 1000,
        "${jndi:x}",
        "<script>",
        "ข" * 3000,
    ],
)
def test_a_hostile_token_is_422_and_registers_nobody(client: Any, token: str) -> None:
    assert_envelope(
        post(client, "/v1/registrations", {**body(12), "verification_token": token}), 422, "phone_not_verified"
    )
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 50_000


@pytest.mark.parametrize("token", ["\u202e", "\x00", "pv1.a.1.b\n", "pv1.a\u200b.1.b"])
def test_a_token_with_hidden_characters_is_400_as_every_text_field(client: Any, token: str) -> None:
    # Given a token hiding a control or format character (a trailing newline too) / When registering
    # Then 400 naming the field, as for every text field (hygiene, contract v1.1), and nobody registered
    err = assert_envelope(
        post(client, "/v1/registrations", {**body(12), "verification_token": token}), 400, "validation_error"
    )
    assert err["fields"] == ["verification_token"]
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 50_000


@pytest.mark.parametrize("token", [1, 1.5, True, [], {}, ["pv1"]])
def test_a_token_that_is_not_a_string_is_400(client: Any, token: Any) -> None:
    err = assert_envelope(
        post(client, "/v1/registrations", {**body(13), "verification_token": token}), 400, "validation_error"
    )
    assert err["fields"] == ["verification_token"]


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_call = BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return real_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    return calls


def test_a_code_costs_one_write_and_a_queue_send_and_its_confirmation_one_write(
    client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a warm container (the queue's URL is known)
    post(client, "/v1/verifications", {"phone": "0810000001"})
    calls = _counting(monkeypatch)
    # When a new phone asks for a code
    started = post(client, "/v1/verifications", {"phone": "0810000002"})
    assert started.status_code == 202
    # Then the send limit and the verification are one write to the phone's item, and one SMS job
    assert calls == ["PutItem", "SendMessage"]
    code = code_sent(stand_ins, queues, "0810000002")
    calls.clear()
    # When the code is confirmed: one write, and the verification ID led to the phone's item
    vid = started.json_body["verification_id"]
    assert post(client, f"/v1/verifications/{vid}/confirm", {"code": code}).status_code == 200
    assert calls == ["UpdateItem"]


def test_an_earlier_code_still_works_after_another_was_sent(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    # Given a code, and a minute later another for the same phone
    first = post(client, "/v1/verifications", {"phone": "0866666666"}).json_body["verification_id"]
    first_code = code_sent(stand_ins, queues, "0866666666")
    clock.advance(61)
    second = post(client, "/v1/verifications", {"phone": "0866666666"}).json_body["verification_id"]
    second_code = code_sent(stand_ins, queues, "0866666666")
    assert first != second
    # Then each verification takes its own code only, and the first, still within its ten minutes, works
    assert_envelope(post(client, f"/v1/verifications/{second}/confirm", {"code": first_code}), 422, "invalid_code")
    assert post(client, f"/v1/verifications/{first}/confirm", {"code": first_code}).status_code == 200
    assert post(client, f"/v1/verifications/{second}/confirm", {"code": second_code}).status_code == 200


def test_a_verification_id_for_a_phone_that_asked_for_nothing_is_404(client: Any) -> None:
    from chalicelib.config import verification_keys
    from chalicelib.domain import verification as v

    # Given a well-formed ID pointing at a phone that never asked for a code (or at another's item)
    post(client, "/v1/verifications", {"phone": "0877700000"})
    for phone in ("0877711111", "0877700000"):
        vid = v.new_verification_id(v.phone_hash(phone, verification_keys()))
        # Then it is unknown: 404, not 422
        assert_envelope(post(client, f"/v1/verifications/{vid}/confirm", {"code": "123456"}), 404, "not_found")


def test_concurrent_codes_for_one_phone_send_one(
    client: Any, queues: Any, stand_ins: dict[str, Any], clock: Clock
) -> None:
    from chalicelib.domain.verification import VerificationRequest
    from chalicelib.services import verifications
    from tests.integration.test_lockouts import run_together

    def ask() -> Any:
        return verifications.start(VerificationRequest(phone="0888888888"))

    # Given a phone with a code sent a day and a minute ago (its item exists, its window is over)
    assert run_together([ask]) == ["ok"]
    queues.drain()
    clock.advance(86_460)
    # When eight requests for a code of that phone come at once, twice a minute apart
    first = run_together([ask] * 8)
    queues.drain()
    clock.advance(61)
    second = run_together([ask] * 8)
    # Then exactly one of each eight is sent, the others are told to wait
    assert sorted(first) == sorted(second) == ["TooManyAttempts"] * 7 + ["ok"]
    queues.drain()
    assert len(sms_to(stand_ins, "0888888888")) == 3


def test_a_batch_of_code_sms_reads_its_phones_in_one_request(
    client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given codes asked for by three phones
    phones = ["0820000001", "0820000002", "0820000003"]
    for phone in phones:
        assert post(client, "/v1/verifications", {"phone": phone}).status_code == 202
    calls = _counting(monkeypatch)
    # When the SMS worker takes the batch
    queues.drain()
    # Then the phones are read in one BatchGetItem, none one by one, and each phone got its code
    assert calls.count("BatchGetItem") == 1 and "GetItem" not in calls
    assert all(len(sms_to(stand_ins, p)) == 1 for p in phones)


def test_a_closed_app_channel_answers_403_before_the_token_is_asked_for(client: Any, tokens: dict[str, str]) -> None:
    # Given the app channel closed by an admin
    closed = client.http.put(
        "/v1/admin/channels/app",
        body=json.dumps({"open": False}),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {tokens['admin']}"},
    )
    assert closed.status_code == 200, closed.body
    # When somebody registers through the app without a verification token
    refused = post(client, "/v1/registrations", body(1))
    # Then the answer is the closed channel (403), not the missing verification (422)
    assert refused.status_code == 403, refused.body
    assert refused.json_body["error"]["code"] == "channel_closed"
