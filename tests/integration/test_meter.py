"""The local stack's meter (``LOCAL_METER=1``, `make bench`) keeps one counter per kind of request,
however many it counts (issue 21, finding 16; the other per-container maps: tests/unit/test_memory_bounds.py)."""

from __future__ import annotations

import pytest

from local import meter

MORE = 1_000


def test_the_meter_keeps_one_counter_per_kind_of_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meter, "_paths", {})
    answers = [
        (201, '{"status": "confirmed"}'),
        (201, '{"status": "reserve"}'),
        (409, '{"error": {"code": "registration_full"}}'),
        (409, '{"error": {"code": "already_registered"}}'),
        (400, "{}"),
        (500, "not json"),
    ]
    # Given many registrations answered in every way, and phone verifications
    for n in range(len(answers) + MORE):
        if meter.begin("POST", "/v1/registrations"):
            status, body = answers[n % len(answers)]
            meter.end({"statusCode": status, "body": body})
        if meter.begin("POST", f"/v1/verifications/v_{n}/confirm"):
            meter.end({"statusCode": 200})
    # Then the meter holds one counter per kind, whatever the number of requests
    assert set(meter._paths) == {
        "confirmed",
        "reserve",
        "refused_full",
        "repeat",
        "invalid",
        "other",
        "verification_confirm",
    }


def test_a_data_keys_calls_are_counted_apart_from_the_request_that_happened_to_make_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collections import Counter

    monkeypatch.setattr(meter, "_paths", {})
    monkeypatch.setattr(meter, "_data_keys", Counter())
    # Given a container's first registration, which takes the period's data key before its own write
    assert meter.begin("POST", "/v1/registrations")
    meter._on_call("before-call.dynamodb.GetItem", params={"body": b'{"Key": {"pk": {"S": "datakey#493912"}}}'})
    meter._on_call("before-call.kms.GenerateDataKey", params={"body": b'{"KeyId": "alias/kkreg-test-data"}'})
    meter._on_call("before-call.dynamodb.PutItem", params={"body": b'{"Item": {"pk": {"S": "datakey#493912"}}}'})
    meter._on_call("before-call.dynamodb.PutItem", params={"body": b'{"Item": {"registration_id": {"S": "p#x"}}}'})
    meter.end({"statusCode": 201, "body": '{"status": "confirmed"}'})
    # When the meter reports
    report = meter.report()
    # Then the path has its own write only, and the data key's three calls are counted as such
    assert report["paths"]["confirmed"]["by_operation"] == {"dynamodb.PutItem": 1}
    assert report["data_keys"] == {
        "aws_requests": 3,
        "dynamodb.GetItem": 1,
        "kms.GenerateDataKey": 1,
        "dynamodb.PutItem": 1,
    }
