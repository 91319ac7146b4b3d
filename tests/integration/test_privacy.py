"""No personal data in logs, nor in clear in any table.

The main flows run (app, counter and employer registrations, lookup, cancellation, promotion,
removals, full reconciliation, appointments and their SMS, bad input) with every log captured:
the root logger and every Powertools and service logger at DEBUG (the SDK's loggers keep the levels
the service gives them) and the process's stdout/stderr.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from typing import Any

import boto3
import pytest

from chalicelib.caches import reset_caches
from tests.helpers import JSON, body, raw_bytes

PEOPLE = [
    body(0),
    body(3, first_name="มานี", last_name="มีนา", phone="0898765432", birth_date="1991-12-24"),
    body(6, first_name="ปิติ", last_name="ชูใจ", phone="0861112222", birth_date="1975-03-09"),
    body(9, first_name="ชูใจ", last_name="ใจงาม", phone="0623334444", birth_date="1988-10-02"),
    body(12, first_name="วีระ", last_name="กล้าหาญ", phone="0955556666", birth_date="1969-07-17"),
]
# The card holder of PEOPLE[2]'s national ID, reclaiming it at a counter with their own details
OWNER = {**PEOPLE[2], "first_name": "บุญมี", "last_name": "ศรีสุข", "phone": "0871234567", "birth_date": "1959-04-13"}


# Left to the levels the service gives them (botocore logs whole bodies at DEBUG, so the service
# holds it at WARNING whatever the root level: with the root at DEBUG, that is tested here too).
SDK_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "moto")


def national_id_forms(nid: str) -> list[str]:
    """A Thai national ID as people and systems write it: bare, grouped 1-4-5-2-1, spaced."""
    grouped = [nid[0], nid[1:5], nid[5:10], nid[10:12], nid[12]]
    return [nid, "-".join(grouped), " ".join(grouped)]


def phone_forms(phone: str) -> list[str]:
    return [phone, f"{phone[:3]}-{phone[3:6]}-{phone[6:]}", "+66" + phone[1:], "66" + phone[1:]]


def birth_date_forms(iso: str) -> list[str]:
    d = date.fromisoformat(iso)
    be = d.year + 543  # the Thai Buddhist Era year
    return [
        iso,
        d.strftime("%Y%m%d"),
        d.strftime("%d/%m/%Y"),
        d.strftime("%d-%m-%Y"),
        d.strftime("%m/%d/%Y"),
        f"{d.day:02d}/{d.month:02d}/{be}",
        f"{be}-{d.month:02d}-{d.day:02d}",
    ]


def secrets_of(person: dict[str, Any]) -> list[str]:
    return [
        *national_id_forms(person["national_id"]),
        *phone_forms(person["phone"]),
        *birth_date_forms(person["birth_date"]),
        person["first_name"],
        person["last_name"],
    ]


@pytest.fixture
def every_log_at_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        if not name.startswith(SDK_LOGGERS):
            logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog


def run_main_flows(client: Any, queues: Any, tokens: dict[str, str]) -> set[str]:
    """Run the flows; the receipt codes their answers gave."""
    from chalicelib.services import appointments, reconcile

    codes: set[str] = set()

    def post(path: str, data: Any, token: str | None = None) -> Any:
        headers = {**JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
        answer = client.http.post(path, body=json.dumps(data, ensure_ascii=False), headers=headers)
        found = (answer.json_body or {}).get("registration_id") if isinstance(answer.json_body, dict) else None
        if found:
            codes.add(found)
        return answer

    # app (confirmed), counter (reserve), app (reserve); an employer's rows (one bad), bad input
    first = post("/v1/registrations", PEOPLE[0]).json_body
    assert first["status"] == "confirmed"
    assert post("/v1/counter/registrations", PEOPLE[1], tokens["counter"]).status_code == 201
    assert post("/v1/registrations", PEOPLE[2]).status_code == 201
    rows = [PEOPLE[3], {**PEOPLE[4], "phone": "x" + PEOPLE[4]["phone"]}]
    assert post("/v1/org/batches", {"organisation": "ACME", "rows": rows}, tokens["org"]).status_code == 202
    assert post("/v1/registrations", {**PEOPLE[4], "birth_date": "31/12/2599"}).status_code == 400
    assert post("/v1/registrations", PEOPLE[0]).status_code == 409
    client.http.post("/v1/registrations", body="{broken " + PEOPLE[4]["national_id"], headers=JSON)
    # lookup (right and wrong birth date), cancel -> promotion -> removals
    assert (
        post(
            "/v1/registrations/lookup", {"national_id": PEOPLE[1]["national_id"], "birth_date": "1991-12-24"}
        ).status_code
        == 200
    )
    post("/v1/registrations/lookup", {"national_id": PEOPLE[1]["national_id"], "birth_date": "1991-12-25"})
    assert post(f"/v1/registrations/{first['registration_id']}/cancel", {"birth_date": "1980-01-31"}).status_code == 200
    # phone verification (a wrong code, then the right one), the receipt code by SMS, a lockout
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import code_for

    vid = post("/v1/verifications", {"phone": PEOPLE[2]["phone"]}).json_body["verification_id"]
    code = code_for(vid, verification_keys())
    post(f"/v1/verifications/{vid}/confirm", {"code": "000000" if code != "000000" else "111111"})
    assert post(f"/v1/verifications/{vid}/confirm", {"code": code}).status_code == 200
    receipt = {"national_id": PEOPLE[1]["national_id"], "birth_date": "1991-12-24"}
    assert post("/v1/registrations/receipt", receipt).status_code == 202
    for day in range(1, 7):
        post("/v1/registrations/lookup", {"national_id": PEOPLE[2]["national_id"], "birth_date": f"1970-01-0{day}"})
    queues.drain()
    # a counter reclaims an ID for its card holder, and cancels for a person at the desk
    assert post("/v1/counter/reclaims", OWNER, tokens["counter"]).status_code == 200
    assert (
        post("/v1/counter/cancellations", {"national_id": PEOPLE[1]["national_id"]}, tokens["counter"]).status_code
        == 200
    )
    queues.drain()
    # reconciliation (full: it asks the registries about each person), appointments and their SMS
    reconcile.start(full=True)
    appointments.start()
    queues.drain()
    return codes


def receipt_codes(aws: dict[str, str]) -> set[str]:
    """Every receipt code the registrations table holds (the employer's rows', promoted ones' too)."""
    found: set[str] = set()
    db = boto3.client("dynamodb")
    for page in db.get_paginator("scan").paginate(TableName=aws["REGISTRATIONS_TABLE"]):
        for item in page["Items"]:
            found.update(m.decode() for m in re.findall(rb"\br_[A-Za-z0-9_-]{20,}", raw_bytes(item)))
    return found


def test_main_flows_log_no_national_id_phone_name_birth_date_or_receipt_code(
    client: Any,
    queues: Any,
    tokens: dict[str, str],
    campaign_env: Any,
    every_log_at_debug: Any,
    capfd: Any,
    stand_ins: dict[str, Any],
    aws: dict[str, str],
) -> None:
    # Given a campaign of one confirmed place and a reserve
    campaign_env(primary=1, reserve=10)
    # When the main flows run with every log captured
    answered = run_main_flows(client, queues, tokens)
    out, err = capfd.readouterr()
    logged = every_log_at_debug.text + out + err
    # Then no receipt code (a secret since v1.1) is in what they logged: neither one an answer gave
    # (the code a reclaim replaced included) nor one only stored (the employer's rows, promotions)
    codes = answered | receipt_codes(aws)
    assert len(codes) >= 5 and answered - receipt_codes(aws), codes
    for code in codes:
        assert code not in logged, code
    # And they did log, and no personal data is in what they logged, in any common format
    assert "registered" in logged and "promoted" in logged and "reconciliation finished" in logged
    assert "verification confirmed" in logged and "receipt code sent" in logged
    assert "reclaimed at a counter" in logged and "cancelled at a counter" in logged
    assert stand_ins["sms"].messages and stand_ins["mor_phrom"].state.calls["DELETE"]  # SMS and removals ran
    for person in [*PEOPLE, OWNER]:
        for secret in secrets_of(person):
            assert secret not in logged, secret


def test_no_table_holds_a_national_id_name_birth_date_phone_or_eligibility_detail_in_clear(
    client: Any,
    queues: Any,
    tokens: dict[str, str],
    campaign_env: Any,
    aws: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the main flows have run (registrations on every channel, an employer's rows, a phone
    # verified, a reclaim, removals, reconciliation, appointments and their SMS)
    campaign_env(primary=1, reserve=10)
    run_main_flows(client, queues, tokens)
    # And phones have joined the waiting room (a ticket is keyed by its phone's keyed hash)
    monkeypatch.setenv("WAITING_ROOM", "on")
    reset_caches()
    for person in PEOPLE[:2]:
        joined = client.http.post("/v1/queue", body=json.dumps({"phone": person["phone"]}), headers=JSON)
        assert joined.status_code == 201, joined.body
    # When every item of every table is read as stored (what a table export or backup shows)
    db = boto3.client("dynamodb")
    stored: dict[str, list[bytes]] = {}
    for env_name, table in aws.items():
        if env_name.endswith("_TABLE"):
            for page in db.get_paginator("scan").paginate(TableName=table):
                stored.setdefault(env_name, []).extend(raw_bytes(item) for item in page["Items"])
    # Then no national ID, name, birth date, phone or eligibility detail is in any of them, in any
    # common format (the registrations, the employer's stored rows and the phone's verification
    # hold them sealed; lookups go by keyed hashes)
    secrets = {s for p in [*PEOPLE, OWNER] for s in [*secrets_of(p), p["eligibility"]["detail"]]}
    found = {
        (env_name, secret)
        for env_name, items in stored.items()
        for secret in secrets
        if any(secret.encode("utf-8") in item for item in items)
    }
    assert not found, sorted(found)
    # And they are stored all the same: the flows left registrations, rows and a verification
    assert len(stored["REGISTRATIONS_TABLE"]) >= 4 and stored["BATCHES_TABLE"] and stored["ATTEMPTS_TABLE"]
    assert len(stored["QUEUE_TABLE"]) >= 2


def test_every_personal_field_of_a_registration_opens_as_it_was_given(client: Any, aws: dict[str, str]) -> None:
    # Given a registration made before field encryption (its fields stored in clear) and one made now
    from chalicelib.store.factory import stores

    person = PEOPLE[1]
    fresh = client.http.post("/v1/registrations", body=json.dumps(PEOPLE[0]), headers=JSON).json_body
    old = client.http.post("/v1/registrations", body=json.dumps(person), headers=JSON).json_body
    db = boto3.client("dynamodb")
    table = aws["REGISTRATIONS_TABLE"]
    key = next(
        i["registration_id"]
        for i in db.scan(TableName=table)["Items"]
        if i.get("code", {}).get("S") == old["registration_id"]
    )
    plain = {
        "national_id": person["national_id"],
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "birth_date": person["birth_date"],
        "phone": person["phone"],
        "detail": person["eligibility"]["detail"],
    }
    db.update_item(
        TableName=table,
        Key={"registration_id": key},
        UpdateExpression="SET " + ", ".join(f"{k} = :{k}" for k in plain),
        ExpressionAttributeValues={f":{k}": {"S": v} for k, v in plain.items()},
    )
    # When both are read back through the store
    codes = [fresh["registration_id"], old["registration_id"]]
    got = {r.registration_id: r for r in stores().registrations.get_many(codes)}
    # Then each has its fields as given, the old one's read as stored
    for answer, given in ((fresh, PEOPLE[0]), (old, person)):
        reg = got[answer["registration_id"]]
        assert (reg.national_id, reg.first_name, reg.last_name, reg.phone, reg.detail) == (
            given["national_id"],
            given["first_name"],
            given["last_name"],
            given["phone"],
            given["eligibility"]["detail"],
        )
        assert reg.birth_date.isoformat() == given["birth_date"]
    # And the person registered before looks their registration up with their birth date, not another
    for birth_date, status in ((person["birth_date"], 200), ("1991-12-25", 404)):
        lookup = {"national_id": person["national_id"], "birth_date": birth_date}
        assert client.http.post("/v1/registrations/lookup", body=json.dumps(lookup), headers=JSON).status_code == status


def test_a_sealed_field_copied_onto_another_persons_registration_does_not_open_there(
    client: Any, aws: dict[str, str]
) -> None:
    # Given two people's registrations, and one's sealed phone copied onto the other's item
    from cryptography.exceptions import InvalidTag

    from chalicelib.store.factory import stores

    codes = [client.http.post("/v1/registrations", body=json.dumps(p), headers=JSON).json_body for p in PEOPLE[:2]]
    db = boto3.client("dynamodb")
    table = aws["REGISTRATIONS_TABLE"]
    items = {i["code"]["S"]: i for i in db.scan(TableName=table)["Items"]}
    first, second = (items[c["registration_id"]] for c in codes)
    assert "B" in first["phone"]  # stored sealed
    db.update_item(
        TableName=table,
        Key={"registration_id": second["registration_id"]},
        UpdateExpression="SET phone = :p",
        ExpressionAttributeValues={":p": first["phone"]},
    )
    # When both are read
    # Then the first reads as it was, and the second refuses to open rather than show another's phone
    assert stores().registrations.get(codes[0]["registration_id"]).phone == PEOPLE[0]["phone"]  # type: ignore[union-attr]
    with pytest.raises(InvalidTag):
        stores().registrations.get(codes[1]["registration_id"])
