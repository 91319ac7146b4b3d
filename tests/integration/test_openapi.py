"""The served OpenAPI document is written from the route declarations: every route, its models,
its roles and its errors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.api.errors import STATUS
from chalicelib.api.pages import PAGE_ROUTES
from chalicelib.api.routes import ROUTES


def test_every_route_is_documented_and_every_documented_path_is_a_route(client: Any, app: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    # The web pages are not API: they are left out of the document, and only they are.
    assert all(not path.startswith("/v1/") for path in PAGE_ROUTES)
    assert set(PAGE_ROUTES) <= set(app.routes)
    served = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    served -= {(path, "get") for path in PAGE_ROUTES}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented


def test_request_bodies_are_the_models_the_views_validate_with(client: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    schema = doc["components"]["schemas"]["RegistrationRequest"]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "national_id",
        "first_name",
        "last_name",
        "birth_date",
        "phone",
        "eligibility",
        "consent",
    }
    eligibility = doc["components"]["schemas"]["Eligibility"]
    assert eligibility["properties"]["basis"] == {"$ref": "#/components/schemas/Basis"}
    assert set(doc["components"]["schemas"]["Basis"]["enum"]) == {
        "house_registration",
        "works_in_municipality",
        "lives_without_house_number",
    }


def test_the_document_is_openapi_3_with_every_declared_error_in_the_envelope(client: Any) -> None:
    # Given the served document
    doc = client.http.get("/v1/openapi.json").json_body
    assert doc["openapi"].startswith("3.")
    # Then every error a route declares (or its checks imply) is a documented status in the envelope
    assert ROUTES
    for route in ROUTES:
        responses = doc["paths"][route.path][route.method]["responses"]
        for error in route.errors:
            status = next(STATUS[k] for k in error.__mro__ if k in STATUS)
            assert error.code in responses[str(status)]["description"], (route.path, error.code)
            assert responses[str(status)]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }
    refs = {"ErrorEnvelope", "RegistrationView", "CampaignView", "Health", "LookupRequest", "CancelRequest"}
    assert refs <= set(doc["components"]["schemas"])


def test_a_reused_idempotency_key_on_an_employer_batch_is_a_documented_422(client: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    responses = doc["paths"]["/v1/org/batches"]["post"]["responses"]
    assert "idempotency_key_reused" in responses["422"]["description"]
    assert "request_in_progress" in responses["409"]["description"]


def test_every_json_answer_has_a_schema_and_staff_routes_name_their_roles(client: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            if "application/json" in ok["content"] and path != "/v1/openapi.json":
                assert "$ref" in ok["content"]["application/json"]["schema"], (method, path)
            if "security" in op:
                assert "Roles: " in op["description"] and "admin" in op["description"]


def test_query_parameters_and_fields_carry_the_models_constraints(client: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    daily = doc["paths"]["/v1/admin/reports/daily"]["get"]["parameters"]
    assert daily == [
        {
            "name": "date",
            "in": "query",
            "required": True,
            "schema": daily[0]["schema"],
            "description": "YYYY-MM-DD, Asia/Bangkok",
        }
    ]
    assert daily[0]["schema"]["format"] == "date" and daily[0]["schema"]["pattern"]
    detail = doc["components"]["schemas"]["Eligibility"]["properties"]["detail"]
    assert detail["minLength"] == 1 and "{0,298}" in detail["pattern"]  # 1-300 once trimmed
    organisation = doc["components"]["schemas"]["BatchRequest"]["properties"]["organisation"]
    assert organisation["minLength"] == 1 and "{0,198}" in organisation["pattern"]
    assert not [name for name in doc["components"]["schemas"] if name.endswith("Query")]


def test_the_site_check_in_and_closing_a_day_are_documented_as_their_models(client: Any) -> None:
    # Given the served document
    doc = client.http.get("/v1/openapi.json").json_body
    schemas = doc["components"]["schemas"]
    # Then the check-in takes exactly one of its two keys (never null) and answers the dose given
    check_in = doc["paths"]["/v1/site/check-ins"]["post"]
    assert check_in["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CheckInRequest"
    }
    body = schemas["CheckInRequest"]
    assert body["oneOf"] == [{"required": ["registration_id"]}, {"required": ["national_id"]}]
    assert body["properties"]["registration_id"]["type"] == "string"
    assert body["properties"]["national_id"]["format"] == "thai-national-id"
    assert check_in["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CheckIn")
    assert check_in["description"] == "Roles: site, admin"
    for code in ("not_found", "not_confirmed", "already_done", "not_due"):
        assert code in check_in["responses"]["404" if code == "not_found" else "409"]["description"]
    # and closing a day takes a date in the path and answers 202, or 409 day_not_over
    close = doc["paths"]["/v1/admin/days/{date}/close"]["post"]
    assert close["parameters"][0]["schema"]["format"] == "date"
    assert close["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/DayClosing")
    assert "day_not_over" in close["responses"]["409"]["description"]
    # and the daily report names its doses
    assert "doses" in schemas["DailyReport"]["required"]


@pytest.mark.parametrize("body", ["RegistrationRequest", "AppRegistrationRequest", "LookupRequest", "CancelRequest"])
def test_a_birth_date_is_documented_as_a_date_with_its_pattern(client: Any, body: str) -> None:
    # Given the served document
    doc = client.http.get("/v1/openapi.json").json_body
    # When a generated client reads a body's birth date
    birth_date = doc["components"]["schemas"][body]["properties"]["birth_date"]
    # Then it is a real day written YYYY-MM-DD: "" and other text no longer fit the schema
    assert birth_date["format"] == "date"
    assert birth_date["pattern"] == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    pattern = re.compile(birth_date["pattern"])
    assert pattern.fullmatch("1980-01-31") and not pattern.fullmatch("") and not pattern.fullmatch("๑๙๘๐-01-31")


@pytest.mark.parametrize(("schema", "field"), [("Eligibility", "detail"), ("BatchRequest", "organisation")])
def test_a_text_fields_pattern_is_the_hygiene_rule(client: Any, schema: str, field: str) -> None:
    # Given a free-text field of the served document (the JSON text, as a generated client reads it)
    doc = client.http.get("/v1/openapi.json").json_body
    text = doc["components"]["schemas"][schema]["properties"][field]
    # `$` is the end of the value in ECMA-262, as JSON Schema reads a pattern: Python needs fullmatch
    pattern = re.compile(text["pattern"])
    # When hidden characters, blank text or a text too long once trimmed are matched / Then refused
    for refused in (
        "\n",
        "\u202e",
        "\u200b",
        "12 ถ.หน้าเมือง\n",
        "ACME\u202eCorp",
        "\ufeff",
        "",
        "   ",
        "\u0e31",
        "x" * 301,
    ):
        assert not pattern.fullmatch(refused), repr(refused)
    # And ordinary text, spaces around it and letters beyond the BMP are taken, as the validator takes them
    for taken in ("12/3 ม.4 ต.ในเมือง (ตรงข้ามตลาด)", "  ACME Co., Ltd. ", "\U00020000 x", "x" * 200):
        assert pattern.fullmatch(taken), repr(taken)
    assert text["format"] == "text"  # and the hooks of `make api-fuzz` still find their format


def test_the_audit_trail_is_documented_with_its_paging(client: Any) -> None:
    # Given the served document / Then the audit route takes date, limit and cursor, and answers next_cursor
    doc = client.http.get("/v1/openapi.json").json_body
    params = {p["name"]: p for p in doc["paths"]["/v1/admin/audit"]["get"]["parameters"]}
    assert set(params) == {"date", "limit", "cursor"} and params["date"]["required"]
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 1000)
    assert params["limit"]["schema"]["default"] == 500 and not params["cursor"]["required"]
    log = doc["components"]["schemas"]["AuditLog"]
    assert {"entries", "next_cursor"} <= set(log["properties"]) and "next_cursor" in log["required"]
