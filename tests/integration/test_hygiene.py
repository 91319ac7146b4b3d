"""Hygiene rules of contract v1.1 over the API: hidden characters refused, NFC names, safe CSV exports,
no-store on API answers, HSTS on pages."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.domain import rules
from chalicelib.domain.staff import Role
from chalicelib.services import appointments, staff
from tests.helpers import body

JSON = {"Content-Type": "application/json"}


def post(client: Any, path: str, data: Any, token: str | None = None) -> Any:
    headers = {**JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    return client.http.post(path, body=json.dumps(data, ensure_ascii=False), headers=headers)


def csv_rows(resp: Any) -> list[dict[str, str]]:
    assert resp.status_code == 200, resp.body
    text = resp.body.decode("utf-8") if isinstance(resp.body, bytes) else resp.body
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_name": "สมชาย\n"}, "first_name"),
        ({"last_name": "ใจ\u200bดี"}, "last_name"),
        ({"eligibility": {"basis": "house_registration", "detail": "12 ถ.หน้าเมือง\u202e"}}, "eligibility.detail"),
        ({"eligibility": {"basis": "house_registration", "detail": "12 ถ.หน้าเมือง\n"}}, "eligibility.detail"),
        ({"birth_date": "1980-01-31\n"}, "birth_date"),
    ],
)
def test_hidden_characters_and_trailing_newlines_are_a_validation_error(
    client: Any, changes: dict[str, Any], field: str
) -> None:
    # Given a registration whose one field hides a character / When sent / Then 400 naming that field
    resp = post(client, "/v1/registrations", body(1, **changes))
    assert resp.status_code == 400, resp.body
    assert resp.json_body["error"]["fields"] == [field]


def test_an_organisation_name_with_a_bidi_override_is_refused(client: Any, tokens: dict[str, str]) -> None:
    resp = post(client, "/v1/org/batches", {"organisation": "ACME \u202eoC", "rows": [body(1)]}, tokens["org"])
    assert resp.status_code == 400 and resp.json_body["error"]["fields"] == ["organisation"]


def test_a_token_label_with_hidden_characters_is_refused(aws: dict[str, str]) -> None:
    from chalicelib.domain.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        staff.issue_token(Role.COUNTER, "Counter 3\u200b")
    assert caught.value.fields == ["label"]


def test_names_are_stored_in_nfc_and_exports_neutralise_formulas(client: Any, tokens: dict[str, str]) -> None:
    # Given a name typed with a combining accent, an address and a counter label a spreadsheet would run
    counter, _ = staff.issue_token(Role.COUNTER, '=HYPERLINK("http://evil.example","Counter 3")')
    first = post(client, "/v1/registrations", body(1, first_name="Jose\u0301", last_name="O'Brien"))
    second = post(
        client,
        "/v1/counter/registrations",
        body(2, eligibility={"basis": "works_in_municipality", "detail": "-1+cmd|' /C calc'!A0"}),
        counter,
    )
    assert first.status_code == second.status_code == 201
    # When the admin exports the registrations
    rows = {
        r["registration_id"]: r
        for r in csv_rows(
            client.http.get("/v1/admin/registrations.csv", headers={"Authorization": f"Bearer {tokens['admin']}"})
        )
    }
    # Then the name is in NFC, the formulas are text, and the phone and ID read as they are
    app_row, counter_row = rows[first.json_body["registration_id"]], rows[second.json_body["registration_id"]]
    assert app_row["first_name"] == "Jos\u00e9"
    assert counter_row["detail"] == "'-1+cmd|' /C calc'!A0"
    assert counter_row["label"] == '\'=HYPERLINK("http://evil.example","Counter 3")'
    assert counter_row["phone"] == "0812345678" and counter_row["national_id"] == body(2)["national_id"]


def test_the_appointment_list_neutralises_formulas(
    client: Any, queues: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, campaign_env: Any
) -> None:
    # Given a site whose name starts as a formula would, and one person booked there
    tomorrow = rules.today_in_bangkok() + timedelta(days=1)
    monkeypatch.setenv("VACCINATION_FIRST_DAY", tomorrow.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps([{"name": "@Central Plaza", "capacity": 5}]))
    campaign_env(primary=4, reserve=1)
    assert post(client, "/v1/registrations", body(1)).status_code == 201
    appointments.start()
    queues.drain()
    # When the day's list is exported
    rows = csv_rows(
        client.http.get(
            f"/v1/admin/appointments.csv?date={tomorrow.isoformat()}",
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
    )
    # Then the site is text, and the rest reads as stored
    assert [(r["site"], r["phone"], r["date"], r["dose"], r["status"], r["given_on"]) for r in rows] == [
        ("'@Central Plaza", "0812345678", tomorrow.isoformat(), "1", "booked", "")
    ]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/health", 200),
        ("GET", "/v1/campaign", 200),
        ("GET", "/v1/registrations/r_unknown", 404),
        ("GET", "/v1/no-such-route", 404),
        ("GET", "/v1/admin/summary", 401),
        ("PUT", "/v1/health", 405),
    ],
)
def test_api_answers_are_never_cached(client: Any, method: str, path: str, status: int) -> None:
    resp = getattr(client.http, method.lower())(path, headers=JSON)
    assert resp.status_code == status
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_registration_and_a_staff_answer_are_never_cached(client: Any, tokens: dict[str, str]) -> None:
    created = post(client, "/v1/registrations", body(1))
    summary = client.http.get("/v1/admin/summary", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert created.status_code == 201 and summary.status_code == 200
    assert created.headers["Cache-Control"] == summary.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/", "/counter/", "/admin/", "/counter"])
def test_pages_carry_strict_transport_security(client: Any, path: str) -> None:
    resp = client.http.get(path)
    assert resp.status_code in (200, 308)
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(resp.headers["Strict-Transport-Security"].split(";")[0].split("=")[1]) >= 31_536_000
