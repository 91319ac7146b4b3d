"""API Gateway's own answers in a deployment (contract, "Conventions"): an unknown route, a throttled
request, a refused token, an oversize body... are the contract's error envelope with the contract's
status, on both deployment paths (`make package`'s template and `make deploy`'s API calls)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from chalicelib.api.errors import InternalError, RouteNotFound, Unauthorized, envelope
from chalicelib.domain.errors import Overloaded
from chalicelib.domain.models import ErrorEnvelope
from infra import policies
from infra.gateway_responses import gateway_responses
from tests.conftest import REGION
from tests.helpers import deployed_rest_api
from tools import deploy

ROOT = Path(__file__).resolve().parents[2]
# What the contract asks of each answer API Gateway makes itself: (status, code); None keeps API
# Gateway's own 5xx status (502, 504).
EXPECTED = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),  # an unknown route
    "RESOURCE_NOT_FOUND": ("404", "not_found"),
    "INVALID_SIGNATURE": ("404", "not_found"),  # an unknown route asked with `Authorization: Bearer`
    "UNAUTHORIZED": ("401", "unauthorized"),
    "ACCESS_DENIED": ("403", "forbidden"),
    "AUTHORIZER_FAILURE": ("429", "rate_limited"),
    "AUTHORIZER_CONFIGURATION_ERROR": ("500", "internal_error"),
    "API_CONFIGURATION_ERROR": ("500", "internal_error"),
    "THROTTLED": ("429", "rate_limited"),
    "QUOTA_EXCEEDED": ("429", "rate_limited"),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large"),
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type"),
    "BAD_REQUEST_BODY": ("400", "validation_error"),
    "BAD_REQUEST_PARAMETERS": ("400", "validation_error"),
    "WAF_FILTERED": ("403", "forbidden"),
    "DEFAULT_4XX": ("404", "not_found"),
    "DEFAULT_5XX": (None, "internal_error"),
}


def packaged(stage: str) -> dict[str, Any]:
    """The gateway responses in `make package`'s merge template for ``stage``."""
    api = deploy.merge_template(stage)["Resources"]["RestAPI"]["Properties"]
    responses: dict[str, Any] = api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    return responses


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["responseTemplates"]["application/json"])
    return parsed


@pytest.mark.parametrize("stage", policies.STAGES)
def test_every_answer_of_api_gateway_is_the_envelope_with_the_contracts_status(stage: str) -> None:
    # Given `make package`'s merge template
    responses = packaged(stage)
    # Then every response type is there, each with its status, code, envelope and headers
    assert sorted(responses) == sorted(EXPECTED)
    for response_type, (status, code) in EXPECTED.items():
        response = responses[response_type]
        assert response.get("statusCode") == status, response_type
        assert set(response["responseTemplates"]) == {"application/json"}
        template = response["responseTemplates"]["application/json"]
        # API Gateway runs the template through VTL: none of its markers, so the body is sent as is
        assert "$" not in template and "#" not in template, response_type
        error = ErrorEnvelope.model_validate_json(template).error
        assert (error.code, bool(error.message), bool(error.message_th)) == (code, True, True), response_type
        assert error.fields == (["body"] if code == "validation_error" else None), response_type
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"].startswith("'application/json"), response_type
        assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'", response_type
        if status == "429":
            assert int(headers["gatewayresponse.header.Retry-After"].strip("'")) > 0
        else:
            assert "gatewayresponse.header.Retry-After" not in headers, response_type


def test_the_answers_use_the_services_own_words() -> None:
    # Given the packaged responses / Then they say what the app says for the same error
    responses = packaged("prod")
    assert body_of(responses["MISSING_AUTHENTICATION_TOKEN"]) == envelope(RouteNotFound())[1]
    assert body_of(responses["UNAUTHORIZED"]) == envelope(Unauthorized())[1]
    assert body_of(responses["THROTTLED"]) == envelope(Overloaded())[1]
    # a 5xx says nothing of what failed
    assert body_of(responses["DEFAULT_5XX"]) == envelope(InternalError())[1]
    assert body_of(responses["AUTHORIZER_FAILURE"]) == envelope(Overloaded())[1]
    assert body_of(responses["AUTHORIZER_CONFIGURATION_ERROR"]) == envelope(InternalError())[1]


def test_the_waf_answer_is_the_web_acls_own_forbidden_answer() -> None:
    # Given the web ACL's custom 403 body / Then API Gateway's WAF answer says the same
    acl = yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))["Resources"]["ApiWebAcl"]
    waf = json.loads(acl["Properties"]["CustomResponseBodies"]["forbidden"]["Content"])
    assert body_of(packaged("dev")["WAF_FILTERED"]) == waf


def _deployments(apigw: Any, api: str) -> int:
    return len(apigw.get_deployments(restApiId=api)["items"])


def _have(apigw: Any, api: str) -> dict[str, dict[str, Any]]:
    fields = ("statusCode", "responseParameters", "responseTemplates")
    return {
        item["responseType"]: {field: item[field] for field in fields if field in item}
        for item in apigw.get_gateway_responses(restApiId=api)["items"]
    }


def test_make_deploy_puts_the_answers_deploys_the_stage_and_a_second_run_changes_nothing(moto_account: None) -> None:
    # Given a stage `chalice deploy` made, with API Gateway's own answers
    apigw = boto3.client("apigateway", region_name=REGION)
    api = deployed_rest_api(apigw)
    deployed = {"resources": [{"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api}]}
    before = _deployments(apigw, api)
    # When `make deploy` does its part after `chalice deploy`
    first = deploy.after_chalice_deploy("dev", None, apigw, deployed)
    # Then the API has every answer, and a new deployment of the stage serves them
    assert _have(apigw, api) == gateway_responses() == packaged("dev")
    assert _deployments(apigw, api) == before + 1
    assert f"gateway responses: {len(EXPECTED)} put and the stage deployed" in first
    # ...and the stage keeps its throttle
    settings = apigw.get_stage(restApiId=api, stageName="api")["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50, 100)
    # When it runs again / Then nothing is put and nothing deployed
    second = deploy.after_chalice_deploy("dev", None, apigw, deployed)
    assert "gateway responses: as they were" in second
    assert _deployments(apigw, api) == before + 1


def test_make_deploy_puts_back_an_answer_changed_by_hand(moto_account: None) -> None:
    # Given a deployed stage with the answers, then one changed and one removed by hand
    apigw = boto3.client("apigateway", region_name=REGION)
    api = deployed_rest_api(apigw)
    deploy.put_gateway_responses(apigw, api)
    apigw.put_gateway_response(
        restApiId=api, responseType="THROTTLED", statusCode="429", responseTemplates={"application/json": "{}"}
    )
    apigw.delete_gateway_response(restApiId=api, responseType="MISSING_AUTHENTICATION_TOKEN")
    before = _deployments(apigw, api)
    # When `make deploy` runs / Then exactly those two are put back, and the stage deployed once
    assert sorted(deploy.put_gateway_responses(apigw, api)) == ["MISSING_AUTHENTICATION_TOKEN", "THROTTLED"]
    assert _have(apigw, api) == gateway_responses()
    assert _deployments(apigw, api) == before + 1
