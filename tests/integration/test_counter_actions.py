"""The counter acting for the person in front of it (contract v1.1): reclaiming a national ID that
somebody else registered, and cancelling for the person."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain import rules
from chalicelib.domain.models import RegistrationRequest
from chalicelib.services import appointments, promotion, reclaims
from chalicelib.store.factory import stores
from tests.helpers import JSON, body, raising, register

BIRTH = {"birth_date": "1980-01-31"}
# The real owner of a national ID that a squatter registered with made-up details
OWNER = {
    "first_name": "สมหญิง",
    "last_name": "เจ้าของบัตร",
    "birth_date": "1975-05-05",
    "phone": "0899999999",
    "eligibility": {"basis": "works_in_municipality", "detail": "ตลาดเทศบาล 1"},
}


def staff(client: Any, token: str, path: str, data: Any) -> Any:
    raw = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return client.http.post(path, body=raw, headers={**JSON, "Authorization": f"Bearer {token}"})


def reclaim(client: Any, token: str, n: int, **changes: Any) -> Any:
    return staff(client, token, "/v1/counter/reclaims", body(n, **{**OWNER, **changes}))


def counter_cancel(client: Any, token: str, n: int) -> Any:
    from tests.helpers import national_id

    return staff(client, token, "/v1/counter/cancellations", {"national_id": national_id(n)})


def read(client: Any, code: str) -> Any:
    return client.http.get(f"/v1/registrations/{code}")


def public_cancel(client: Any, code: str, birth_date: str) -> Any:
    return client.http.post(
        f"/v1/registrations/{code}/cancel", body=json.dumps({"birth_date": birth_date}), headers=JSON
    )


def error(resp: Any) -> tuple[int, str]:
    return resp.status_code, resp.json_body["error"]["code"]


@pytest.fixture
def small(client: Any, campaign_env: Any) -> list[dict[str, Any]]:
    """Given 2 confirmed people and 3 on the reserve (ranks 1..3), all through the app."""
    campaign_env(primary=2, reserve=3)
    return [register(client, n) for n in range(5)]


def test_a_reclaim_keeps_the_place_and_rank_and_gives_a_new_code(
    client: Any, tokens: dict[str, str], small: list[dict[str, Any]]
) -> None:
    squatted_confirmed, squatted_reserve = small[1], small[3]  # rank 2
    # When the real owners reclaim both IDs at a counter
    confirmed = reclaim(client, tokens["counter"], 1)
    reserve = reclaim(client, tokens["counter"], 3)
    # Then each keeps its status, place and rank, with a new receipt code, now on the counter channel
    assert confirmed.status_code == 200, confirmed.body
    assert reserve.status_code == 200, reserve.body
    for before, after in ((squatted_confirmed, confirmed.json_body), (squatted_reserve, reserve.json_body)):
        assert after["registration_id"] != before["registration_id"]
        assert after["registration_id"].startswith("r_") and len(after["registration_id"]) == 45
        assert (after["status"], after["reserve_rank"], after["registered_at"]) == (
            before["status"],
            before["reserve_rank"],
            before["registered_at"],
        )
        assert after["channel"] == "counter"
        assert read(client, after["registration_id"]).json_body == after
    assert reserve.json_body["reserve_rank"] == 2
    # And the registration carries the owner's details and the counter's label
    stored = stores().registrations.get(confirmed.json_body["registration_id"])
    assert stored is not None
    assert (stored.first_name, stored.last_name, stored.birth_date.isoformat(), stored.phone) == (
        "สมหญิง",
        "เจ้าของบัตร",
        "1975-05-05",
        "0899999999",
    )
    assert (stored.basis.value, stored.detail, stored.label) == (
        "works_in_municipality",
        "ตลาดเทศบาล 1",
        "counter desk 1",
    )
    # And the places are as they were: nothing taken, nothing given back
    campaign = client.http.get("/v1/campaign").json_body
    assert (campaign["primary"]["remaining"], campaign["reserve"]["remaining"]) == (0, 0)
    assert stores().quota.counts().reserve_active == 3


def test_the_old_code_is_dead_for_every_request(
    client: Any, tokens: dict[str, str], small: list[dict[str, Any]]
) -> None:
    old = small[0]["registration_id"]
    new = reclaim(client, tokens["counter"], 0).json_body["registration_id"]
    # The squatter's code: not found to read, to cancel (with either birth date), to check in
    assert error(read(client, old)) == (404, "not_found")
    assert error(public_cancel(client, old, "1980-01-31")) == (404, "not_found")
    assert error(public_cancel(client, old, "1975-05-05")) == (404, "not_found")
    assert error(staff(client, tokens["site"], "/v1/site/check-ins", {"registration_id": old})) == (404, "not_found")
    # The squatter's birth date no longer finds the person; the owner's does, without the code
    lookup = client.http.post(
        "/v1/registrations/lookup", body=json.dumps({"national_id": body(0)["national_id"], **BIRTH}), headers=JSON
    )
    assert error(lookup) == (404, "not_found")
    mine = {"national_id": body(0)["national_id"], "birth_date": "1975-05-05"}
    found = client.http.post("/v1/registrations/lookup", body=json.dumps(mine), headers=JSON)
    assert found.status_code == 200 and "registration_id" not in found.json_body
    # And the new code is the registration, cancelled by its owner's birth date
    assert read(client, new).json_body["status"] == "confirmed"
    assert public_cancel(client, new, "1975-05-05").json_body["status"] == "cancelled"


def test_the_squatters_idempotent_retry_does_not_get_the_new_code(client: Any, tokens: dict[str, str]) -> None:
    # Given a squatter's registration sent with an Idempotency-Key, then reclaimed by the owner
    squatter = json.dumps(body(7))
    keyed = {**JSON, "Idempotency-Key": "squat-1"}
    first = client.http.post("/v1/registrations", body=squatter, headers=keyed)
    assert first.status_code == 201
    new = reclaim(client, tokens["counter"], 7).json_body["registration_id"]
    # When the squatter replays the same request with the same key
    again = client.http.post("/v1/registrations", body=squatter, headers=keyed)
    # Then it is told the person is registered, and learns no receipt code
    assert error(again) == (409, "already_registered")
    assert new not in json.dumps(again.json_body)


def test_no_active_registration_is_not_found(client: Any, queues: Any, tokens: dict[str, str]) -> None:
    # Nobody registered with this national ID
    assert error(reclaim(client, tokens["counter"], 40)) == (404, "not_found")
    assert error(counter_cancel(client, tokens["counter"], 40)) == (404, "not_found")
    # A cancelled registration (its cancellation finished) is not active either
    reg = register(client, 41)
    assert public_cancel(client, reg["registration_id"], "1980-01-31").status_code == 200
    queues.drain()
    assert error(reclaim(client, tokens["counter"], 41)) == (404, "not_found")
    assert error(counter_cancel(client, tokens["counter"], 41)) == (404, "not_found")
    assert read(client, reg["registration_id"]).json_body["status"] == "cancelled"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "สมหญิง\n"}, "first_name"),
        ({"last_name": "ab\u202ecd"}, "last_name"),
        ({"eligibility": {"basis": "house_registration", "detail": "12\u200b ถ.หน้าเมือง"}}, "eligibility.detail"),
        ({"phone": "12345"}, "phone"),
        ({"national_id": "1101700230709"}, "national_id"),
        ({"consent": 1}, "consent"),
        ({"verification_token": "pv1.x"}, "verification_token"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
    ],
)
def test_hostile_bodies_are_refused_and_change_nothing(
    client: Any, tokens: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    reg = register(client, 50)
    resp = staff(client, tokens["counter"], "/v1/counter/reclaims", body(50, **{**OWNER, **changes}))
    assert error(resp) == (400, "validation_error")
    assert field in resp.json_body["error"]["fields"]
    assert read(client, reg["registration_id"]).json_body == reg


@pytest.mark.parametrize("raw", ["not json", "[]", "42", '{"national_id": 1101700230708}', "{}"])
def test_malformed_bodies_are_refused(client: Any, tokens: dict[str, str], raw: str) -> None:
    for path in ("/v1/counter/reclaims", "/v1/counter/cancellations"):
        assert error(staff(client, tokens["counter"], path, raw)) == (400, "validation_error")
    assert error(staff(client, tokens["counter"], "/v1/counter/cancellations", {"national_id": "x", "more": 1})) == (
        400,
        "validation_error",
    )


def test_a_reclaim_under_the_minimum_age_is_not_eligible(client: Any, tokens: dict[str, str]) -> None:
    reg = register(client, 51)
    young = (rules.today_in_bangkok() - timedelta(days=365 * 10)).isoformat()
    assert error(reclaim(client, tokens["counter"], 51, birth_date=young)) == (422, "not_eligible")
    assert read(client, reg["registration_id"]).json_body == reg


def test_both_work_while_the_app_and_counter_channels_are_closed(client: Any, tokens: dict[str, str]) -> None:
    regs = [register(client, n) for n in (60, 61)]
    for channel in ("app", "counter"):
        resp = client.http.put(
            f"/v1/admin/channels/{channel}",
            body=json.dumps({"open": False}),
            headers={**JSON, "Authorization": f"Bearer {tokens['admin']}"},
        )
        assert resp.status_code == 200
    from chalicelib.services import campaign

    campaign.channel_states(fresh=True)
    assert reclaim(client, tokens["counter"], 60).status_code == 200
    assert counter_cancel(client, tokens["counter"], 61).json_body["status"] == "cancelled"
    assert error(read(client, regs[0]["registration_id"])) == (404, "not_found")


def test_both_are_in_the_audit_trail_with_the_tokens_label_and_no_personal_data(
    client: Any, tokens: dict[str, str]
) -> None:
    register(client, 70)
    register(client, 71)
    reclaimed = reclaim(client, tokens["counter"], 70).json_body
    cancelled = counter_cancel(client, tokens["admin"], 71).json_body  # an admin may too
    counter_cancel(client, tokens["counter"], 72)  # nobody: 404, recorded too
    staff(client, tokens["org"], "/v1/counter/reclaims", body(70))  # wrong role: 403, recorded
    day = rules.today_in_bangkok().isoformat()
    log = client.http.get(f"/v1/admin/audit?date={day}", headers={"Authorization": f"Bearer {tokens['admin']}"})
    got = [(e["label"], e["action"], e["status"], e["target"]) for e in log.json_body["entries"]]
    assert got[-4:] == [
        ("counter desk 1", "counter.reclaim", 200, f"registration_id={reclaimed['registration_id']}"),
        ("admin desk 1", "counter.cancel", 200, f"registration_id={cancelled['registration_id']}"),
        ("counter desk 1", "counter.cancel", 404, None),
        ("org desk 1", "counter.reclaim", 403, None),
    ]
    text = log.body if isinstance(log.body, str) else log.body.decode()
    for n in (70, 71, 72):
        assert body(n)["national_id"] not in text
    assert "สมหญิง" not in text and "0899999999" not in text


def test_a_counter_cancel_frees_the_place_for_reserve_rank_1(
    client: Any, queues: Any, tokens: dict[str, str], small: list[dict[str, Any]]
) -> None:
    # When the counter cancels for a confirmed person
    resp = counter_cancel(client, tokens["counter"], 0)
    # Then it answers the cancelled registration, and its place goes to reserve rank 1
    assert resp.status_code == 200, resp.body
    assert resp.json_body["registration_id"] == small[0]["registration_id"]
    assert resp.json_body["status"] == "cancelled" and resp.json_body["reserve_rank"] is None
    queues.drain()
    assert read(client, small[2]["registration_id"]).json_body["status"] == "confirmed"
    assert [read(client, r["registration_id"]).json_body["reserve_rank"] for r in small[3:]] == [1, 2]
    # And a second cancel finds no active registration
    assert error(counter_cancel(client, tokens["counter"], 0)) == (404, "not_found")
    # And cancelling someone on the reserve moves those behind up at once
    assert counter_cancel(client, tokens["counter"], 3).json_body["status"] == "cancelled"
    assert read(client, small[4]["registration_id"]).json_body["reserve_rank"] == 1
    assert stores().quota.counts().reserve_active == 1


def test_a_counter_cancel_whose_release_could_not_be_queued_is_finished_by_its_retry(
    client: Any, queues: Any, tokens: dict[str, str], small: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.domain.errors import Overloaded

    monkeypatch.setattr(stores().promotions, "send", raising(Overloaded(retry_after=1)))
    assert error(counter_cancel(client, tokens["counter"], 1)) == (429, "rate_limited")
    monkeypatch.undo()
    retry = counter_cancel(client, tokens["counter"], 1)
    assert retry.status_code == 200 and retry.json_body["status"] == "cancelled"
    queues.drain()
    assert read(client, small[2]["registration_id"]).json_body["status"] == "confirmed"
    summary = client.http.get("/v1/admin/summary", headers={"Authorization": f"Bearer {tokens['admin']}"}).json_body
    assert summary["registrations"]["by_status"]["cancelled"] == 1


def test_a_reclaimed_reserve_registration_is_promoted(
    client: Any, queues: Any, tokens: dict[str, str], small: list[dict[str, Any]]
) -> None:
    # Given rank 1 reclaimed by its owner (its ticket still names the squatter's code)
    new = reclaim(client, tokens["counter"], 2).json_body["registration_id"]
    # When a confirmed person cancels
    assert public_cancel(client, small[0]["registration_id"], "1980-01-31").status_code == 200
    queues.drain()
    # Then the reclaimed registration is promoted under its new code, and removed from the registries
    after = read(client, new).json_body
    assert (after["status"], after["channel"]) == ("confirmed", "counter")
    reg = stores().registrations.get(new)
    assert reg is not None and reg.promoted_by == small[0]["registration_id"]
    assert set(reg.removals.values()) <= {"removed", "not_found"}
    assert [read(client, r["registration_id"]).json_body["reserve_rank"] for r in small[3:]] == [1, 2]
    assert stores().quota.counts().reserve_active == 2


def test_a_target_chosen_before_the_reclaim_is_still_the_one_promoted(
    client: Any, tokens: dict[str, str], small: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    vacancy = small[0]["registration_id"]
    assert public_cancel(client, vacancy, "1980-01-31").status_code == 200
    # Given a release that chose rank 1 (by its code) and died before promoting
    monkeypatch.setattr(stores().registrations, "promote", raising(RuntimeError("process died")))
    with pytest.raises(RuntimeError):
        promotion.release(vacancy)
    monkeypatch.undo()
    assert stores().registrations.get(vacancy).release_target == small[2]["registration_id"]  # type: ignore[union-attr]
    # When rank 1 is reclaimed, then the release is redelivered
    new = reclaim(client, tokens["counter"], 2).json_body["registration_id"]
    promotion.release(vacancy)
    # Then that person is promoted (under the new code), nobody else, and the exit counted once
    assert read(client, new).json_body["status"] == "confirmed"
    assert [read(client, r["registration_id"]).json_body["reserve_rank"] for r in small[3:]] == [1, 2]
    assert stores().quota.counts().reserve_active == 2


def test_an_exit_reported_under_the_old_and_the_new_code_is_counted_once(
    client: Any, tokens: dict[str, str], small: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    vacancy = small[0]["registration_id"]
    assert public_cancel(client, vacancy, "1980-01-31").status_code == 200
    # Given a promotion that recorded rank 1's exit and died before finishing its release
    monkeypatch.setattr(stores().registrations, "finish_release", raising(RuntimeError()))
    with pytest.raises(RuntimeError):
        promotion.release(vacancy)
    monkeypatch.undo()
    assert stores().quota.counts().reserve_active == 2
    # When the promoted person reclaims their ID, and the release is redelivered
    new = reclaim(client, tokens["counter"], 2).json_body["registration_id"]
    promotion.release(vacancy)
    promotion.release(vacancy)
    # Then the exit was counted once: two still wait, ranks 1 and 2
    assert read(client, new).json_body["status"] == "confirmed"
    assert stores().quota.counts().reserve_active == 2
    assert [read(client, r["registration_id"]).json_body["reserve_rank"] for r in small[3:]] == [1, 2]


def test_a_confirmation_reclaimed_before_its_removal_sweep_is_removed_and_counted_on_the_counter_channel(
    client: Any, queues: Any, tokens: dict[str, str], stand_ins: dict[str, Any]
) -> None:
    # Given an app registration whose removal sweep has not run yet (its list names the old code)
    reg = register(client, 80)
    new = reclaim(client, tokens["counter"], 80).json_body["registration_id"]
    # (a removal list naming the old code finds the registration under its new one)
    listed = stores().registrations.by_codes([reg["registration_id"]])
    assert [r.registration_id for r in listed] == [new]
    # When the background work runs
    queues.drain()
    # Then the person is removed from both registries, and counted once, on the counter channel
    stored = stores().registrations.get(new)
    assert stored is not None and stored.counted
    assert set(stored.removals.values()) <= {"removed", "not_found"}
    summary = client.http.get("/v1/admin/summary", headers={"Authorization": f"Bearer {tokens['admin']}"}).json_body
    assert summary["registrations"]["by_channel"] == {"app": 0, "counter": 1, "org": 0}
    assert summary["registrations"]["by_status"]["confirmed"] == 1
    assert reg["registration_id"] != new


def test_a_counted_registration_moves_to_the_counter_channel_in_the_statistics(
    client: Any, queues: Any, tokens: dict[str, str]
) -> None:
    register(client, 81)
    queues.drain()  # counted by the sweep, on the app channel
    reclaim(client, tokens["counter"], 81)
    queues.drain()
    summary = client.http.get("/v1/admin/summary", headers={"Authorization": f"Bearer {tokens['admin']}"}).json_body
    assert summary["registrations"]["by_channel"] == {"app": 0, "counter": 1, "org": 0}
    assert summary["registrations"]["by_status"]["confirmed"] == 1


@pytest.fixture
def site_today(monkeypatch: pytest.MonkeyPatch, campaign_env: Any) -> None:
    """Given one vaccination site with 5 places a day from today, and 5 primary places."""
    monkeypatch.setenv("VACCINATION_FIRST_DAY", rules.today_in_bangkok().isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps([{"name": "ศาลาว่าการ", "capacity": 5}], ensure_ascii=False))
    campaign_env(primary=5, reserve=2)


def test_check_in_after_a_reclaim(client: Any, queues: Any, tokens: dict[str, str], site_today: None) -> None:
    today = rules.today_in_bangkok()
    # Given three people with appointments today: one checked in already, all reclaimed afterwards
    regs = [register(client, n) for n in (90, 91, 93)]
    appointments.start()
    queues.drain()
    early = staff(client, tokens["site"], "/v1/site/check-ins", {"registration_id": regs[2]["registration_id"]})
    assert early.status_code == 200
    new = [reclaim(client, tokens["counter"], n).json_body for n in (90, 91, 93)]
    assert [r["appointments"][0]["date"] for r in new] == [today.isoformat()] * 3
    site = tokens["site"]
    # When one is checked in by the new receipt code, the other by national ID; the old code is refused
    assert error(staff(client, site, "/v1/site/check-ins", {"registration_id": regs[0]["registration_id"]})) == (
        404,
        "not_found",
    )
    by_code = staff(client, site, "/v1/site/check-ins", {"registration_id": new[0]["registration_id"]})
    by_id = staff(client, site, "/v1/site/check-ins", {"national_id": body(91)["national_id"]})
    # Then each gets dose 1, recorded under the new code
    assert by_code.status_code == 200, by_code.body
    assert by_code.json_body["registration_id"] == new[0]["registration_id"] and by_code.json_body["dose"] == 1
    assert by_id.status_code == 200 and by_id.json_body["registration_id"] == new[1]["registration_id"]
    assert [a["status"] for a in read(client, new[0]["registration_id"]).json_body["appointments"]] == [
        "done",
        "booked",
    ]
    # And the day's list shows each person once (the early one recorded under the old code), as the owner
    csv = appointments.day_list(today.isoformat(), None)
    assert csv.count("สมหญิง") == 3 and "สมชาย" not in csv
    assert regs[2]["registration_id"] not in csv and new[2]["registration_id"] in csv


def test_a_check_in_racing_a_reclaim_is_recorded(
    client: Any, queues: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, site_today: None
) -> None:
    reg = register(client, 92)
    appointments.start()
    queues.drain()
    # Given a check-in that read the registration just before the owner reclaimed it
    real = stores().registrations.set_visits
    reclaimed: list[str] = []

    def reclaim_first(*args: Any, **kwargs: Any) -> Any:
        if not reclaimed:
            owner = RegistrationRequest.model_validate(body(92, **OWNER))
            reclaimed.append(reclaims.reclaim(owner, "counter desk 2").registration_id)
        return real(*args, **kwargs)

    monkeypatch.setattr(stores().registrations, "set_visits", reclaim_first)
    resp = staff(client, tokens["site"], "/v1/site/check-ins", {"registration_id": reg["registration_id"]})
    # Then the dose is recorded on the person's registration, under its new code
    assert resp.status_code == 200, resp.body
    assert resp.json_body["registration_id"] == reclaimed[0]
    assert read(client, reclaimed[0]).json_body["appointments"][0]["status"] == "done"
