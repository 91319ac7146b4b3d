"""The person's data (contract v1.2, PDPA): consent on record, access, erasure, retention, and the
working records that expire on their own."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
import yaml

from chalicelib.domain import rules
from chalicelib.domain.consent import CONSENT_VERSION
from chalicelib.logs import code_ref
from chalicelib.services import appointments, removals
from chalicelib.store.factory import stores
from infra.stack import TEMPLATE
from tests.conftest import REGION
from tests.helpers import JSON, body, national_id, reconciled, register

D0 = rules.today_in_bangkok()
SITES = [{"name": "ศาลาว่าการ", "capacity": 2}, {"name": "สนามกีฬา", "capacity": 2}]
PERSONAL = ("national_id", "first_name", "last_name", "birth_date", "phone", "detail")
# What an item holds that is the service's own bookkeeping, not something about the person: where
# the item lives (the keyed hash), versions, index keys, the steps and places of a cancellation.
BOOKKEEPING = {
    "registration_id",  # the key: the keyed hash of the national ID (the code is ``code``)
    "ver",
    "idem",
    "counted",
    "appt_rev",
    "appt_date",  # the next booked appointment, also in ``visits``
    "appt_site",
    "appt_pending",
    "appt_shard",
    "removal_due",
    "removal_shard",
    "release_pending",
    "release_shard",
    "release_target",
    "held",
    "todo",
    "tries_mor_phrom",
    "tries_khon_kaen_phrom",
    "rank_at_start",
    "promoted_by",
    "reclaimed",
    "archived",
}


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> dict[str, date]:
    """Today in Bangkok as the services see it (``today["now"]``, moved by the tests)."""
    clock = {"now": D0}
    real = rules.today_in_bangkok
    monkeypatch.setattr(rules, "today_in_bangkok", lambda now=None: clock["now"] if now is None else real(now))
    return clock


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch, campaign_env: Any, today: dict[str, date]) -> None:
    """4 places a day at two sites from today, doses 7 days apart; 4 primary places, 2 reserve."""
    monkeypatch.setenv("VACCINATION_FIRST_DAY", D0.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps(SITES, ensure_ascii=False))
    monkeypatch.setenv("DOSE_INTERVAL_DAYS", "7")
    campaign_env(primary=4, reserve=2)


def post(client: Any, path: str, data: Any, token: str | None = None) -> Any:
    headers = {**JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    return client.http.post(path, body=json.dumps(data, ensure_ascii=False), headers=headers)


def raw_item(code: str) -> dict[str, Any]:
    """The registration's item as stored (its person's, or its own once superseded), its sealed
    personal fields opened."""
    from chalicelib.store.registrations.keys import key_of

    store: Any = stores().registrations
    return dict(store.codec.opened(store.table.get(key_of(code)) or store.table.get(code)))


def check_in(client: Any, reg: dict[str, Any], token: str) -> Any:
    return post(client, "/v1/site/check-ins", {"registration_id": reg["registration_id"]}, token)


def erase(client: Any, code: str, birth_date: str = "1980-01-31") -> Any:
    return post(client, f"/v1/registrations/{code}/erase", {"birth_date": birth_date})


def text_of(resp: Any) -> str:
    raw = resp.body
    return (raw.decode("utf-8") if isinstance(raw, bytes) else raw).lstrip("\ufeff")


def test_the_consent_text_is_served_and_every_channel_records_who_confirmed_it(
    client: Any, queues: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a data protection officer's contact
    monkeypatch.setenv("DPO_CONTACT", "dpo@khonkaen.go.th, 043-221-000")
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    # When the consent text is asked for
    text = client.http.get("/v1/consent").json_body
    # Then it is the versioned text in Thai and English, with the contact
    assert text["version"] == CONSENT_VERSION and "ยินยอม" in text["text_th"] and "I agree" in text["text_en"]
    assert text["dpo_contact"] == "dpo@khonkaen.go.th, 043-221-000"
    # When a person registers on the app, a counter registers another, an employer a third
    app = register(client, 0)
    counter = post(client, "/v1/counter/registrations", body(1), tokens["counter"]).json_body
    batch = post(client, "/v1/org/batches", {"organisation": "ACME", "rows": [body(2)]}, tokens["org"]).json_body
    queues.drain()
    org_auth = {"Authorization": f"Bearer {tokens['org']}"}
    row = client.http.get(f"/v1/org/batches/{batch['batch_id']}", headers=org_auth).json_body["results"][0]
    # Then each resource shows the consent record: this version, when, and who confirmed it
    for code, channel in (
        (app["registration_id"], "app"),
        (counter["registration_id"], "counter"),
        (row["registration_id"], "org"),
    ):
        consent = client.http.get(f"/v1/registrations/{code}").json_body["consent"]
        assert consent["version"] == CONSENT_VERSION and consent["channel"] == channel
        assert consent["at"].endswith("Z") and consent["at"] >= app["registered_at"]
    assert raw_item(app["registration_id"])["consent"]["version"] == CONSENT_VERSION


def test_a_registration_made_before_consent_was_recorded_reads_unrecorded(client: Any) -> None:
    # Given a registration stored as before v1.2 (no consent record)
    reg = register(client, 0)
    item = raw_item(reg["registration_id"])
    table = stores().registrations.table  # type: ignore[attr-defined]
    table.overwrite({k: v for k, v in item.items() if k != "consent"})
    # When it is read
    consent = client.http.get(f"/v1/registrations/{reg['registration_id']}").json_body["consent"]
    # Then its consent is "unrecorded", given when it registered, on its channel
    assert consent == {"version": "unrecorded", "at": reg["registered_at"], "channel": "app"}


def test_access_answers_every_field_the_service_stores_about_the_registration(
    client: Any, queues: Any, tokens: dict[str, str], schedule: None, stand_ins: dict[str, Any]
) -> None:
    # Given a counter registration with its appointments, removals and SMS done, and a check-in
    person = body(0, phone="0891234567")
    reg = post(client, "/v1/counter/registrations", person, tokens["counter"]).json_body
    appointments.start()
    queues.drain()
    checked = post(client, "/v1/site/check-ins", {"registration_id": reg["registration_id"]}, tokens["site"])
    assert checked.status_code == 200, checked.body
    # When the person asks for their data with their birth date
    got = post(client, f"/v1/registrations/{reg['registration_id']}/data", {"birth_date": person["birth_date"]})
    assert got.status_code == 200, got.body
    data = got.json_body
    item = raw_item(reg["registration_id"])
    # Then every attribute the item holds is in the answer, or is the service's own bookkeeping
    shown = {
        "code": data["registration_id"],
        "status": data["status"],
        "channel": data["channel"],
        "registered_at": data["registered_at"],
        "national_id": data["national_id"],
        "first_name": data["first_name"],
        "last_name": data["last_name"],
        "birth_date": data["birth_date"],
        "phone": data["phone"],
        "basis": data["eligibility"]["basis"],
        "detail": data["eligibility"]["detail"],
        "label": data["label"],
        "rm_mor_phrom": data["removals"]["mor_phrom"],
        "rm_khon_kaen_phrom": data["removals"]["khon_kaen_phrom"],
        "sms_sent_for": data["appointment_sms_sent"],
        "visits": data["appointments"],
        "consent": data["consent"],
    }
    assert set(item) - BOOKKEEPING <= set(shown), set(item) - BOOKKEEPING - set(shown)
    for name in ("code", "status", "channel", "national_id", "first_name", "last_name", "phone", "label"):
        assert shown[name] == item[name], name
    assert shown["birth_date"] == item["birth_date"] and shown["detail"] == item["detail"]
    assert shown["rm_mor_phrom"] == item["rm_mor_phrom"] and shown["sms_sent_for"] is True
    assert [(v["dose"], v["date"], v["status"], v.get("given_on")) for v in data["appointments"]] == [
        (v["dose"], v["date"], v["status"], v.get("given_on")) for v in item["visits"]
    ]
    assert data["consent"]["version"] == item["consent"]["version"]
    assert data["registered_at"][:19] == item["registered_at"][:19]
    # And its audit entries: the counter's registration and the site's check-in, by desk
    assert [(e["action"], e["label"]) for e in data["audit"]] == [
        ("counter.register", "counter desk 1"),
        ("site.check_in", "site desk 1"),
    ]


def test_access_with_a_wrong_birth_date_is_not_found_and_counts_as_for_cancel(client: Any) -> None:
    reg = register(client, 0)
    path = f"/v1/registrations/{reg['registration_id']}"
    answers = [post(client, f"{path}/data", {"birth_date": f"1970-01-0{n}"}).status_code for n in range(1, 6)]
    assert answers == [404] * 5
    # The registration's five comparisons of the hour are spent: cancel, data and erase are locked
    assert post(client, f"{path}/cancel", {"birth_date": "1980-01-31"}).status_code == 429
    assert post(client, f"{path}/data", {"birth_date": "1980-01-31"}).status_code == 429
    assert erase(client, reg["registration_id"]).status_code == 429


def test_the_audit_trail_names_a_registration_by_a_keyed_reference(client: Any, tokens: dict[str, str]) -> None:
    # Given a counter registration
    reg = post(client, "/v1/counter/registrations", body(0), tokens["counter"]).json_body
    # When the day's audit trail is read
    trail = client.http.get(
        f"/v1/admin/audit?date={D0.isoformat()}", headers={"Authorization": f"Bearer {tokens['admin']}"}
    ).json_body
    # Then the entry names it by its keyed reference, never by the receipt code
    assert [e["target"] for e in trail["entries"] if e["action"] == "counter.register"] == [
        f"registration_ref={code_ref(reg['registration_id'])}"
    ]
    assert reg["registration_id"] not in json.dumps(trail)


def test_an_erased_person_is_in_no_export_lookup_day_list_sms_or_removal_call(
    client: Any, queues: Any, tokens: dict[str, str], schedule: None, stand_ins: dict[str, Any]
) -> None:
    import requests

    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    # Given three confirmed people with appointments today; Mor Phrom down while they register, so
    # their removals there are still pending
    requests.post(f"{stand_ins['mor_phrom'].url}/_control", json={"down": True}, timeout=5).raise_for_status()
    people = [body(n, first_name=name, phone=f"08{n:08d}") for n, name in ((0, "มานี"), (6, "ปิติ"), (12, "ชูใจ"))]
    regs = [post(client, "/v1/registrations", p).json_body for p in people]
    appointments.start()
    queues.drain()
    gone, kept = regs[0], regs[1]
    sms_before = len(stand_ins["sms"].messages)
    # When the first erases their data
    answer = erase(client, gone["registration_id"])
    # Then it is cancelled and erased
    assert answer.status_code == 200, answer.body
    assert answer.json_body["status"] == "cancelled" and answer.json_body["erased_at"].endswith("Z")
    assert erase(client, gone["registration_id"]).json_body == answer.json_body  # again: the same answer
    item = raw_item(gone["registration_id"])
    assert not set(PERSONAL) & set(item) and "idem" not in item
    assert item["status"] == "cancelled" and item["channel"] == "app" and item["basis"] == "house_registration"
    # And Mor Phrom, back up, is never asked about them: their pending removal is not needed any more
    requests.post(f"{stand_ins['mor_phrom'].url}/_control", json={"down": False}, timeout=5).raise_for_status()
    deletes_before = stand_ins["mor_phrom"].state.calls["DELETE"]
    removals.sweep(now=datetime.now(UTC) + timedelta(hours=2))  # past Mor Phrom's backoff
    queues.drain()
    assert stores().registrations.get(gone["registration_id"]).removals["mor_phrom"] == "not_needed"
    assert stores().registrations.get(kept["registration_id"]).removals["mor_phrom"] == "removed"
    assert stand_ins["mor_phrom"].state.calls["DELETE"] == deletes_before + 2  # the other two only
    # And no lookup, data answer, export, day list or SMS shows them again
    lookup = {"national_id": people[0]["national_id"], "birth_date": people[0]["birth_date"]}
    assert post(client, "/v1/registrations/lookup", lookup).status_code == 404
    assert (
        post(client, f"/v1/registrations/{gone['registration_id']}/data", {"birth_date": "1980-01-31"}).status_code
        == 404
    )
    assert post(client, "/v1/registrations/receipt", lookup).status_code == 202
    stores().sms_jobs.send({"kind": "appointment_sms", "registration_id": gone["registration_id"]})
    queues.drain()
    sent = list(stand_ins["sms"].messages.values())[sms_before:]
    assert not any(m["to"] == people[0]["phone"] for m in sent)
    export = text_of(client.http.get("/v1/admin/registrations.csv", headers=admin))
    day_list = text_of(client.http.get(f"/v1/admin/appointments.csv?date={D0.isoformat()}", headers=admin))
    for shown in (export, day_list):
        assert gone["registration_id"] not in shown and people[0]["national_id"] not in shown
        assert "มานี" not in shown and kept["registration_id"] in shown
    # And the statistics still count them, as cancelled
    summary = client.http.get("/v1/admin/summary", headers=admin).json_body
    assert summary["registrations"]["by_status"] == {"confirmed": 2, "reserve": 0, "cancelled": 1}
    assert reconciled(queues)["drift"] == {}


def test_erasing_a_confirmed_person_promotes_reserve_rank_1(client: Any, queues: Any, campaign_env: Any) -> None:
    # Given one place, taken, and two people on the reserve
    campaign_env(primary=1, reserve=2)
    first, rank1, rank2 = (register(client, n) for n in range(3))
    assert (first["status"], rank1["reserve_rank"], rank2["reserve_rank"]) == ("confirmed", 1, 2)
    # When the confirmed person erases their data
    assert erase(client, first["registration_id"]).status_code == 200
    queues.drain()
    # Then reserve rank 1 has the place and rank 2 moves up
    assert client.http.get(f"/v1/registrations/{rank1['registration_id']}").json_body["status"] == "confirmed"
    assert client.http.get(f"/v1/registrations/{rank2['registration_id']}").json_body["reserve_rank"] == 1
    assert reconciled(queues)["drift"] == {}


def test_erasing_after_a_dose_answers_409_and_changes_nothing(
    client: Any, queues: Any, tokens: dict[str, str], schedule: None
) -> None:
    # Given a person whose first dose was given today
    reg = register(client, 0)
    appointments.start()
    queues.drain()
    assert check_in(client, reg, tokens["site"]).status_code == 200
    before = raw_item(reg["registration_id"])
    # When they ask for erasure
    answer = erase(client, reg["registration_id"])
    # Then it is 409 medical_record_kept in the envelope, and the registration is exactly as it was
    assert answer.status_code == 409
    assert answer.json_body["error"]["code"] == "medical_record_kept" and answer.json_body["error"]["message_th"]
    assert raw_item(reg["registration_id"]) == before
    data = post(client, f"/v1/registrations/{reg['registration_id']}/data", {"birth_date": "1980-01-31"})
    assert data.status_code == 200


def test_retention_erases_exactly_the_registrations_past_their_day_and_again_changes_nothing(
    client: Any,
    queues: Any,
    tokens: dict[str, str],
    schedule: None,
    today: dict[str, date],
    monkeypatch: pytest.MonkeyPatch,
    app: Any,
) -> None:
    from chalicelib.config import get_settings
    from local.driver import Schedules

    # Given the campaign's last vaccination day today, kept 30 days; four people, two of them with
    # appointments (their own last day: dose 2 a week from now), one given dose 1 today
    monkeypatch.setenv("VACCINATION_LAST_DAY", D0.isoformat())
    monkeypatch.setenv("RETENTION_DAYS", "30")
    get_settings.cache_clear()
    regs = [register(client, n) for n in range(4)]
    for reg in regs[:2]:
        assert appointments.allocate(stores().registrations.get(reg["registration_id"]))
    assert check_in(client, regs[0], tokens["site"]).status_code == 200
    queues.drain()
    stats_before = stores().statistics.stats()
    schedules = Schedules(app, REGION)

    def run_job(on: date) -> None:
        today["now"] = on
        schedules.fire("retention_daily")
        queues.drain()

    # When the daily job runs on day 29: nothing is due, and it reads nothing
    run_job(D0 + timedelta(days=29))
    assert all(not stores().registrations.get(r["registration_id"]).erased for r in regs)
    # When it runs on day 30: the two without appointments are erased, the two with later doses kept
    run_job(D0 + timedelta(days=30))
    erased = [stores().registrations.get(r["registration_id"]).erased for r in regs]
    assert erased == [False, False, True, True]
    # When it runs again that day: nothing changes
    items = [raw_item(r["registration_id"]) for r in regs]
    run_job(D0 + timedelta(days=30))
    assert [raw_item(r["registration_id"]) for r in regs] == items
    # When it runs 30 days after their own last day: they are erased too, the dose given kept as a count
    run_job(D0 + timedelta(days=37))
    assert all(stores().registrations.get(r["registration_id"]).erased for r in regs)
    vaccinated = raw_item(regs[0]["registration_id"])
    assert not set(PERSONAL) & set(vaccinated) and vaccinated["status"] == "confirmed"
    assert [v["status"] for v in vaccinated["visits"]] == ["done", "booked"]
    assert stores().statistics.stats() == stats_before


def test_working_records_carry_a_ttl_the_template_turns_on(
    client: Any, queues: Any, tokens: dict[str, str], aws: dict[str, str]
) -> None:
    # Given the flows that leave working records: a verification, a lockout, a receipt, a batch, a key
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import code_for

    vid = post(client, "/v1/verifications", {"phone": "0812345678"}).json_body["verification_id"]
    post(client, f"/v1/verifications/{vid}/confirm", {"code": code_for(vid, verification_keys())})
    reg = register(client, 0)
    post(client, f"/v1/registrations/{reg['registration_id']}/cancel", {"birth_date": "1970-01-01"})
    post(client, "/v1/registrations/receipt", {"national_id": national_id(0), "birth_date": "1980-01-31"})
    org = {**JSON, "Authorization": f"Bearer {tokens['org']}", "Idempotency-Key": "batch-1"}
    batch = {"organisation": "ACME", "rows": [body(1)]}
    assert client.http.post("/v1/org/batches", body=json.dumps(batch), headers=org).status_code == 202
    queues.drain()
    # When the working tables are read
    db = boto3.client("dynamodb", region_name=REGION)
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8").replace("!", ""))
    resources = template["Resources"]
    for env_name, resource, attribute in (
        ("ATTEMPTS_TABLE", "AttemptsTable", "expires_at"),
        ("BATCHES_TABLE", "BatchesTable", "expires_at"),
        ("IDEMPOTENCY_TABLE", "IdempotencyTable", "expiration"),
    ):
        # Then the template turns TTL on for the table, on the attribute each item carries
        spec = resources[resource]["Properties"]["TimeToLiveSpecification"]
        assert spec == {"AttributeName": attribute, "Enabled": True}, resource
        items = [i for page in db.get_paginator("scan").paginate(TableName=aws[env_name]) for i in page["Items"]]
        assert items, env_name
        assert all("N" in i.get(attribute, {}) for i in items), (env_name, [i for i in items if attribute not in i])
