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
