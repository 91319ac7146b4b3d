"""Every row of the public endpoint table, through Chalice's test client on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import JSON, body


def post(client: Any, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    raw = data if isinstance(data, str | bytes) else json.dumps(data, ensure_ascii=False)
    return client.http.post(path, body=raw, headers={**JSON, **(headers or {})})


def assert_envelope(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.body
    err = resp.json_body["error"]
    assert err["code"] == code
    assert err["message"] and err["message_th"]
    assert set(err) <= {"code", "message", "message_th", "fields"}
    assert ("fields" in err) == (code == "validation_error")
    assert "Traceback" not in resp.body.decode()
    return err


def test_health(client: Any) -> None:
    resp = client.http.get("/v1/health")
    assert resp.status_code == 200 and resp.json_body == {"status": "ok"}


def test_campaign_shows_capacities_and_open_channels(client: Any, campaign_env: Any) -> None:
    campaign_env(primary=3, reserve=2)
    resp = client.http.get("/v1/campaign")
    assert resp.status_code == 200
    assert resp.json_body == {
        "name": resp.json_body["name"],
        "min_age": 18,
        "primary": {"capacity": 3, "remaining": 3},
        "reserve": {"capacity": 2, "remaining": 2},
        "channels": {"app": "open", "counter": "open", "org": "open"},
    }


def test_register_returns_the_confirmed_resource(client: Any) -> None:
    resp = post(client, "/v1/registrations", body(1))
    assert resp.status_code == 201
    reg = resp.json_body
    assert set(reg) == {
        "registration_id",
        "status",
        "reserve_rank",
        "channel",
        "registered_at",
        "appointment",
        "appointments",
        "cancel_reason",
        "expected_date",
        "consent",  # v1.2
    }
    assert reg["status"] == "confirmed" and reg["reserve_rank"] is None and reg["channel"] == "app"
    assert reg["registration_id"].startswith("r_") and reg["registered_at"].endswith("Z")
    assert reg["appointment"] is None
    again = client.http.get(f"/v1/registrations/{reg['registration_id']}")
    assert again.status_code == 200 and again.json_body == reg


def test_a_person_registers_once_across_formats_of_their_id(client: Any) -> None:
    assert post(client, "/v1/registrations", body(national_id="1101700230708")).status_code == 201
    for variant in ("1-1017-00230-70-8", "๑๑๐๑๗๐๐๒๓๐๗๐๘", "1 1017 00230 70 8"):
        assert_envelope(post(client, "/v1/registrations", body(national_id=variant)), 409, "already_registered")


def test_full_then_reserve_then_registration_full(client: Any, campaign_env: Any) -> None:
    campaign_env(primary=2, reserve=2, shards=3)
    statuses = [post(client, "/v1/registrations", body(i)).json_body for i in range(4)]
    assert [s["status"] for s in statuses] == ["confirmed", "confirmed", "reserve", "reserve"]
    assert [s["reserve_rank"] for s in statuses] == [None, None, 1, 2]
    assert_envelope(post(client, "/v1/registrations", body(99)), 409, "registration_full")
    camp = client.http.get("/v1/campaign").json_body
    assert camp["primary"]["remaining"] == 0 and camp["reserve"]["remaining"] == 0


def test_cancel_promotes_reserve_rank_1_and_ranks_move_up(client: Any, campaign_env: Any, queues: Any) -> None:
    campaign_env(primary=2, reserve=3)
    regs = [post(client, "/v1/registrations", body(i)).json_body for i in range(5)]
    first, r1, r2, r3 = regs[0], regs[2], regs[3], regs[4]
    assert [r1["reserve_rank"], r2["reserve_rank"], r3["reserve_rank"]] == [1, 2, 3]

    resp = post(client, f"/v1/registrations/{first['registration_id']}/cancel", {"birth_date": "1980-01-31"})
    assert resp.status_code == 200 and resp.json_body["status"] == "cancelled"
    queues.drain()

    def now(reg: dict[str, Any]) -> dict[str, Any]:
        return client.http.get(f"/v1/registrations/{reg['registration_id']}").json_body

    assert now(r1)["status"] == "confirmed" and now(r1)["reserve_rank"] is None
    assert (now(r2)["status"], now(r2)["reserve_rank"]) == ("reserve", 1)
    assert (now(r3)["status"], now(r3)["reserve_rank"]) == ("reserve", 2)
    # The freed place went to the reserve, not to a newcomer: a newcomer joins the reserve.
    newcomer = post(client, "/v1/registrations", body(50)).json_body
    assert (newcomer["status"], newcomer["reserve_rank"]) == ("reserve", 3)


def test_cancelling_a_reserve_registration_moves_those_behind_up_at_once(client: Any, campaign_env: Any) -> None:
    campaign_env(primary=1, reserve=3)
    regs = [post(client, "/v1/registrations", body(i)).json_body for i in range(4)]
    post(client, f"/v1/registrations/{regs[2]['registration_id']}/cancel", {"birth_date": "1980-01-31"})
    ranks = [client.http.get(f"/v1/registrations/{r['registration_id']}").json_body["reserve_rank"] for r in regs]
    assert ranks == [None, 1, None, 2]
    assert client.http.get("/v1/campaign").json_body["reserve"]["remaining"] == 1


def test_a_freed_place_goes_to_newcomers_when_nobody_waits(client: Any, campaign_env: Any, queues: Any) -> None:
    campaign_env(primary=2, reserve=1)
    a = post(client, "/v1/registrations", body(1)).json_body
    post(client, "/v1/registrations", body(2))
    post(client, f"/v1/registrations/{a['registration_id']}/cancel", {"birth_date": "1980-01-31"})
    queues.drain()
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 1
    assert post(client, "/v1/registrations", body(3)).json_body["status"] == "confirmed"
    assert post(client, "/v1/registrations", body(4)).json_body["status"] == "reserve"


def test_cancel_is_idempotent_and_the_person_may_register_again(client: Any) -> None:
    reg = post(client, "/v1/registrations", body(7)).json_body
    path = f"/v1/registrations/{reg['registration_id']}/cancel"
    assert post(client, path, {"birth_date": "1980-01-31"}).json_body["status"] == "cancelled"
    again = post(client, path, {"birth_date": "1980-01-31"})
    assert again.status_code == 200 and again.json_body["status"] == "cancelled"
    fresh = post(client, "/v1/registrations", body(7))
    assert fresh.status_code == 201 and fresh.json_body["registration_id"] != reg["registration_id"]


def test_cancel_with_a_wrong_birth_date_is_not_found_and_changes_nothing(client: Any) -> None:
    reg = post(client, "/v1/registrations", body(8)).json_body
    assert_envelope(
        post(client, f"/v1/registrations/{reg['registration_id']}/cancel", {"birth_date": "1980-02-01"}),
        404,
        "not_found",
    )
    assert client.http.get(f"/v1/registrations/{reg['registration_id']}").json_body["status"] == "confirmed"


def test_lookup_finds_active_else_latest_and_hides_behind_birth_date(client: Any) -> None:
    # v1.1: the lookup answers the resource without its receipt code (registration_id)
    ident = {"national_id": body(9)["national_id"], "birth_date": "1980-01-31"}
    assert_envelope(post(client, "/v1/registrations/lookup", ident), 404, "not_found")
    reg = post(client, "/v1/registrations", body(9)).json_body
    found = post(client, "/v1/registrations/lookup", ident).json_body
    assert "registration_id" not in found
    assert found == {k: v for k, v in reg.items() if k != "registration_id"}
    assert_envelope(post(client, "/v1/registrations/lookup", {**ident, "birth_date": "1981-01-31"}), 404, "not_found")
    post(client, f"/v1/registrations/{reg['registration_id']}/cancel", {"birth_date": "1980-01-31"})
    latest = post(client, "/v1/registrations/lookup", ident).json_body
    assert latest["status"] == "cancelled" and latest["registered_at"] == reg["registered_at"]
    again = post(client, "/v1/registrations", body(9)).json_body
    active = post(client, "/v1/registrations/lookup", ident).json_body
    assert active["status"] == again["status"] and active["registered_at"] == again["registered_at"]


def test_unknown_registration_is_not_found(client: Any) -> None:
    assert_envelope(client.http.get("/v1/registrations/r_doesnotexist0000000000"), 404, "not_found")
    assert_envelope(client.http.get("/v1/registrations/anything"), 404, "not_found")
    assert_envelope(post(client, "/v1/registrations/r_nope/cancel", {"birth_date": "1980-01-31"}), 404, "not_found")


def test_under_age_is_not_eligible_and_nothing_is_stored(client: Any, campaign_env: Any) -> None:
    campaign_env(primary=5, reserve=0, min_age=18)
    assert_envelope(post(client, "/v1/registrations", body(10, birth_date="2020-01-01")), 422, "not_eligible")
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 5
    assert post(client, "/v1/registrations", body(10)).status_code == 201


def test_invalid_beats_ineligible(client: Any) -> None:
    err = assert_envelope(
        post(client, "/v1/registrations", body(11, birth_date="2020-01-01", phone="12")), 400, "validation_error"
    )
    assert err["fields"] == ["phone"]


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ("{not json", ["body"]),
        ("[1, 2]", ["body"]),
        ("42", ["body"]),
        ('"text"', ["body"]),
        ("null", ["body"]),
        ("", ["body"]),
        ({}, ["birth_date", "consent", "eligibility", "first_name", "last_name", "national_id", "phone"]),
        (body(1, extra="x"), ["extra"]),
        (body(1, national_id="1101700230709"), ["national_id"]),
        (body(1, national_id=1101700230708), ["national_id"]),
        (body(1, consent=False), ["consent"]),
        (body(1, consent="true"), ["consent"]),
        (body(1, birth_date="2999-01-01"), ["birth_date"]),
        (body(1, birth_date="1980-02-30"), ["birth_date"]),
        (body(1, first_name="   "), ["first_name"]),
        (body(1, last_name="ใจดี\u200b"), ["last_name"]),
        (body(1, eligibility={"basis": "tourist", "detail": ""}), ["eligibility.basis", "eligibility.detail"]),
        (body(1, eligibility={"basis": "house_registration", "detail": "x", "more": 1}), ["eligibility.more"]),
        (body(1, eligibility="house"), ["eligibility"]),
        (body(1, phone=812345678), ["phone"]),
    ],
)
def test_bad_bodies_name_every_bad_field_and_store_nothing(client: Any, data: Any, fields: list[str]) -> None:
    err = assert_envelope(post(client, "/v1/registrations", data), 400, "validation_error")
    assert err["fields"] == fields
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 50_000


def test_a_body_over_16_kb_is_too_large(client: Any) -> None:
    data = body(1, eligibility={"basis": "house_registration", "detail": "ก" * 6000})
    assert_envelope(post(client, "/v1/registrations", data), 413, "payload_too_large")


def test_a_non_json_content_type_is_unsupported(client: Any) -> None:
    resp = client.http.post("/v1/registrations", body="a=b", headers={"Content-Type": "text/plain"})
    assert_envelope(resp, 415, "unsupported_media_type")


def test_wrong_method_gets_the_envelope(client: Any) -> None:
    assert_envelope(client.http.delete("/v1/health"), 405, "method_not_allowed")


def test_lookup_and_cancel_refuse_malformed_bodies(client: Any) -> None:
    assert_envelope(post(client, "/v1/registrations/lookup", "[]"), 400, "validation_error")
    err = assert_envelope(post(client, "/v1/registrations/lookup", {"national_id": "1"}), 400, "validation_error")
    assert err["fields"] == ["birth_date", "national_id"]
    assert_envelope(post(client, "/v1/registrations/r_x/cancel", "{"), 400, "validation_error")


def test_idempotent_replay_returns_the_first_response_and_registers_once(client: Any) -> None:
    first = post(client, "/v1/registrations", body(20), {"Idempotency-Key": "k-1"})
    reordered = json.dumps(dict(reversed(list(body(20).items()))), ensure_ascii=False)
    again = post(client, "/v1/registrations", reordered, {"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json_body == again.json_body
    assert client.http.get("/v1/campaign").json_body["primary"]["remaining"] == 49_999


def test_idempotency_key_with_another_body_is_refused(client: Any) -> None:
    post(client, "/v1/registrations", body(21), {"Idempotency-Key": "k-2"})
    assert_envelope(
        post(client, "/v1/registrations", body(22), {"Idempotency-Key": "k-2"}), 422, "idempotency_key_reused"
    )


def test_409_outcomes_are_replayed_but_other_errors_are_not(client: Any) -> None:
    reg = post(client, "/v1/registrations", body(23))
    dup = post(client, "/v1/registrations", body(23), {"Idempotency-Key": "k-3"})
    assert_envelope(dup, 409, "already_registered")
    # The first registration is cancelled, yet the key replays its 409.
    post(client, f"/v1/registrations/{reg.json_body['registration_id']}/cancel", {"birth_date": "1980-01-31"})
    assert_envelope(post(client, "/v1/registrations", body(23), {"Idempotency-Key": "k-3"}), 409, "already_registered")
    # A 422 is not kept: the same key works once the person is old enough under another body.
    young = body(24, birth_date="2020-01-01")
    assert_envelope(post(client, "/v1/registrations", young, {"Idempotency-Key": "k-4"}), 422, "not_eligible")


def test_idempotency_keys_are_validated(client: Any) -> None:
    err = assert_envelope(
        post(client, "/v1/registrations", body(25), {"Idempotency-Key": "x" * 65}), 400, "validation_error"
    )
    assert err["fields"] == ["Idempotency-Key"]
