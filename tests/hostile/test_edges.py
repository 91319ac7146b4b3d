"""Hostile input, case by case: oversized bodies, wrong content types, Thai combining marks,
zero-width and right-to-left characters, numbers as strings and strings as numbers."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import JSON, body

BODY_ROUTES = [
    ("post", "/v1/registrations"),
    ("post", "/v1/registrations/lookup"),
    ("post", "/v1/registrations/r_x/cancel"),
    ("post", "/v1/counter/registrations"),
    ("post", "/v1/org/batches"),
    ("put", "/v1/admin/channels/app"),
]


def send(client: Any, method: str, path: str, raw: bytes | str, tokens: dict[str, str], **headers: str) -> Any:
    hdrs = {**JSON, **headers, "Authorization": f"Bearer {tokens['admin']}"}
    return getattr(client.http, method)(path, body=raw, headers=hdrs)


def error_of(resp: Any) -> dict[str, Any]:
    assert resp.status_code < 500, resp.body
    error: dict[str, Any] = json.loads(resp.body)["error"]
    assert error["code"] and error["message"] and error["message_th"]
    return error


def nothing_stored() -> None:
    from chalicelib.store.factory import stores

    regs, _ = stores().registrations.page(None, None, 100)
    counts = stores().quota.counts()
    assert (regs, counts.primary_taken, counts.reserve_active) == ([], 0, 0)


def test_an_oversized_body_is_refused_with_413_and_nothing_stored(client: Any, tokens: dict[str, str]) -> None:
    for method, path in BODY_ROUTES:
        limit = 1024 * 1024 if path == "/v1/org/batches" else 16 * 1024
        big = json.dumps({**body(1), "detail": "ก" * limit})
        resp = send(client, method, path, big, tokens)
        assert (resp.status_code, error_of(resp)["code"]) == (413, "payload_too_large"), path
        nothing_stored()


def test_a_wrong_content_type_is_refused_with_415(client: Any, tokens: dict[str, str]) -> None:
    for method, path in BODY_ROUTES:
        for content_type in (
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            resp = send(client, method, path, json.dumps(body(1)), tokens, **{"Content-Type": content_type})
            assert (resp.status_code, error_of(resp)["code"]) == (415, "unsupported_media_type"), (path, content_type)
            nothing_stored()


HIDDEN_AND_WRONG_TYPES: list[tuple[str, Any]] = [
    ("first_name", "สม\u200bชาย"),  # zero-width space
    ("first_name", "\u200dสมชาย"),  # zero-width joiner
    ("first_name", "\u202eสมชาย"),  # right-to-left override
    ("last_name", "\u2067ใจดี\u2069"),  # right-to-left isolate
    ("last_name", "ใจ\ufeffดี"),  # zero-width no-break space (BOM)
    ("first_name", "\u0e31\u0e48\u0e49"),  # Thai marks with no letter to sit on
    ("first_name", "\u0e48สมชาย"),  # a tone mark first
    ("national_id", "\ufeff1101700230708"),
    ("national_id", "1101700230708\u200b"),
    ("phone", "08\u200b12345678"),
    ("phone", "\u202e0812345678"),
    ("national_id", 1101700230708),  # numbers where strings go
    ("phone", 812345678),
    ("birth_date", 19800131),
    ("first_name", 12),
    ("consent", "true"),  # strings where booleans go
    ("consent", 1),
    ("eligibility", "house_registration"),
    ("birth_date", "1980-01-31\u200b"),
    ("birth_date", "๑๙๘๐-๐๑-๓๑"),  # Thai digits in a date
]


def test_hidden_characters_and_wrong_types_are_a_400_naming_the_field(client: Any, tokens: dict[str, str]) -> None:
    for field, value in HIDDEN_AND_WRONG_TYPES:
        data = json.dumps(body(1, **{field: value}), ensure_ascii=False)
        resp = send(client, "post", "/v1/registrations", data, tokens)
        error = error_of(resp)
        assert (resp.status_code, error["code"], error["fields"]) == (400, "validation_error", [field]), value
        nothing_stored()


def test_an_eligibility_detail_of_invisible_characters_is_blank(client: Any, tokens: dict[str, str]) -> None:
    for detail in ("\u200b\u200b", "\u202e", "\u0e48\u0e49", " \ufeff "):
        data = body(1, eligibility={"basis": "house_registration", "detail": detail})
        resp = send(client, "post", "/v1/registrations", json.dumps(data, ensure_ascii=False), tokens)
        assert (resp.status_code, error_of(resp)["fields"]) == (400, ["eligibility.detail"]), detail
        nothing_stored()


def test_real_names_with_combining_marks_are_kept_exactly(client: Any, tokens: dict[str, str]) -> None:
    from chalicelib.store.factory import stores

    names = [("ปิ่น", "เพ็ญศรี"), ("กุ้ง", "ฟ้าใส"), ("Zoë", "D'Arcy-Núñez"), ("ณัฐธิดา", "ศรีสุข")]
    for n, (first, last) in enumerate(names, start=1):
        data = body(n, first_name=first, last_name=last)
        resp = send(client, "post", "/v1/registrations", json.dumps(data, ensure_ascii=False), tokens)
        assert resp.status_code == 201, resp.body
        stored = stores().registrations.get(resp.json_body["registration_id"])
        assert stored is not None and (stored.first_name, stored.last_name) == (first, last)


NOT_JSON_OBJECTS = [
    b"\xff\xfe{}",  # not UTF-8
    b'{"national_id": "\\ud800"}',  # a lone surrogate escaped
    b"[" * 5000 + b"]" * 5000,  # nested too deep
    b"1" * 5000,  # an integer of 5,000 digits
    b"NaN",
    b'{"a": 1, "a": 2}',
    b"",
    b"null",
]


def test_bodies_that_are_not_json_objects_are_a_400(client: Any, tokens: dict[str, str]) -> None:
    for method, path in BODY_ROUTES:
        for raw in NOT_JSON_OBJECTS:
            resp = send(client, method, path, raw, tokens)
            assert (resp.status_code, error_of(resp)["code"]) == (400, "validation_error"), (path, raw[:20])
            nothing_stored()


def test_an_escaped_lone_surrogate_anywhere_is_a_400_not_a_500(client: Any, tokens: dict[str, str]) -> None:
    # Given bodies of the right shape with "\ud800" (valid JSON, not text) in a free-text spot
    row = body(1, eligibility={"basis": "house_registration", "detail": "x\ud800"})
    for method, path in BODY_ROUTES:
        data = {"organisation": "ACME", "rows": [row]} if path == "/v1/org/batches" else row
        raw = json.dumps(data)  # ASCII-escaped: the only way to write a lone surrogate
        assert "\\ud800" in raw
        resp = send(client, method, path, raw, tokens)
        assert (resp.status_code, error_of(resp)["code"]) == (400, "validation_error"), path
        nothing_stored()
    # And a surrogate pair (an emoji, escaped) is text like any other
    ok = json.dumps({"organisation": "ACME \U0001f600", "rows": [body(2)]})
    assert "\\ud83d" in ok
    assert send(client, "post", "/v1/org/batches", ok, tokens).status_code == 202
