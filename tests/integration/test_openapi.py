"""The served OpenAPI document and the app's routes cannot drift apart."""

from __future__ import annotations

from typing import Any

from chalicelib.api.openapi import OPERATIONS
from chalicelib.api.pages import PAGE_ROUTES


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


def test_the_document_is_openapi_3_with_every_error_in_the_envelope(client: Any) -> None:
    doc = client.http.get("/v1/openapi.json").json_body
    assert doc["openapi"].startswith("3.")
    for op in OPERATIONS:
        responses = doc["paths"][op.path][op.method]["responses"]
        for status in op.errors:
            assert responses[str(status)]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"
            }
    refs = {"ErrorEnvelope", "RegistrationView", "CampaignView", "Health", "LookupRequest", "CancelRequest"}
    assert refs <= set(doc["components"]["schemas"])
