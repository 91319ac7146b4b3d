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


def test_the_waiting_rooms_requests_are_counted_by_kind_not_by_ticket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meter, "_paths", {})
    # Given joins, shared status reads, and reads of many tickets, some answered with an admission
    for n in range(MORE):
        for method, path, body in (
            ("POST", "/v1/queue", '{"ticket": "q_1", "status": "waiting"}'),
            ("GET", "/v1/queue", '{"status": "open", "serving": 3}'),
            ("GET", f"/v1/queue/q_{n}", '{"status": "waiting", "position": 9}'),
            ("GET", f"/v1/queue/q_{n}?x=1", '{"status": "admitted", "admission_token": "t"}'),
            ("DELETE", f"/v1/queue/q_{n}", "{}"),
        ):
            if meter.begin(method, path):
                meter.end({"statusCode": 200, "body": body})
    # Then each kind has one counter (a ticket's read that admits apart), and other methods none
    assert {k: v["requests"] for k, v in meter._paths.items()} == {
        "queue_join": MORE,
        "queue_status": MORE,
        "queue_ticket": MORE,
        "queue_admission": MORE,
    }
