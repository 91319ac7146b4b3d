"""AWS WAF at the edge (contract v1.1, "Limits at the edge"): the web ACL in the infra template, its
association with the API stage on both deployment paths, and its agreement with the local stack's rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from chalicelib.api.errors import envelope
from chalicelib.domain.errors import Overloaded
from chalicelib.domain.models import ErrorEnvelope
from local.edge import PUBLIC_POST_PREFIXES, WINDOW_SECONDS, is_public_post
from tests.conftest import REGION
from tests.helpers import deployed_rest_api
from tools import deploy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))
ACL = TEMPLATE["Resources"]["ApiWebAcl"]["Properties"]
RULES = {rule["Name"]: rule for rule in ACL["Rules"]}


def statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every statement in a rule's statement tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def test_the_web_acl_is_regional_and_allows_what_no_rule_blocks() -> None:
    assert TEMPLATE["Resources"]["ApiWebAcl"]["Type"] == "AWS::WAFv2::WebACL"
    assert ACL["Scope"] == "REGIONAL" and ACL["DefaultAction"] == {"Allow": {}}
    assert ACL["Name"] == {"Fn::Sub": "kkreg-${Stage}-api"}  # tools/deploy.py finds it by this name


def test_the_rate_rule_counts_public_posts_per_ip_in_5_minutes_with_a_generous_default() -> None:
    rule = RULES["PublicPostRateLimit"]["Statement"]["RateBasedStatement"]
    assert rule["AggregateKeyType"] == "IP" and rule["EvaluationWindowSec"] == WINDOW_SECONDS
    assert rule["Limit"] == {"Ref": "EdgeRateLimitPer5Min"}
    assert TEMPLATE["Parameters"]["EdgeRateLimitPer5Min"]["Default"] == 1000
    matches = [s["ByteMatchStatement"] for s in statements(rule["ScopeDownStatement"]) if "ByteMatchStatement" in s]
    assert {"FieldToMatch": {"Method": {}}, "PositionalConstraint": "EXACTLY", "SearchString": "POST"}.items() <= (
        matches[0].items()
    )
    # the same routes as the local stack's rule
    assert sorted(m["SearchString"] for m in matches if "UriPath" in m["FieldToMatch"]) == sorted(PUBLIC_POST_PREFIXES)


def test_the_path_prefixes_are_exactly_the_public_post_routes() -> None:
    # Given every route of the app / Then a POST without a token is counted, a staff POST never
    from app import app

    for path, methods in app.routes.items():
        for method, entry in methods.items():
            public_post = method == "POST" and entry.authorizer is None
            assert is_public_post(method, path) is public_post, (method, path)


def test_the_three_managed_rule_groups_count_and_one_rule_blocks_what_they_label() -> None:
    groups = {
        "AWSManagedRulesCommonRuleSet": "awswaf:managed:aws:core-rule-set:",
        "AWSManagedRulesKnownBadInputsRuleSet": "awswaf:managed:aws:known-bad-inputs:",
        "AWSManagedRulesAmazonIpReputationList": "awswaf:managed:aws:amazon-ip-list:",
    }
    block = [
        s["LabelMatchStatement"]["Key"] for s in statements(RULES["ManagedRuleMatch"]) if "LabelMatchStatement" in s
    ]
    for name, namespace in groups.items():
        rule = RULES[name]
        assert rule["Statement"]["ManagedRuleGroupStatement"] == {"VendorName": "AWS", "Name": name}
        # Count: a group's own block would answer AWS's bare 403 page, not the contract's envelope
        assert rule["OverrideAction"] == {"Count": {}}
        assert any(key.startswith(namespace) for key in block), name
        assert rule["Priority"] < RULES["ManagedRuleMatch"]["Priority"]
    # the IP list blocks by its own labels, not its namespace: its DDoS list is left as AWS ships it
    # (it only labels), as carriers' shared addresses may appear on it
    ip_keys = [key for key in block if key.startswith(groups["AWSManagedRulesAmazonIpReputationList"])]
    assert len(ip_keys) == 2 and not any(key.endswith((":", "AWSManagedIPDDoSList")) for key in ip_keys)


def test_every_blocked_answer_is_the_contracts_envelope() -> None:
    bodies = ACL["CustomResponseBodies"]
    blocks = [rule["Action"]["Block"] for rule in ACL["Rules"] if "Block" in rule.get("Action", {})]
    assert len(blocks) == 2
    answers = {b["CustomResponse"]["ResponseCode"]: b["CustomResponse"] for b in blocks}
    assert sorted(answers) == [403, 429]
    for code, answer in answers.items():
        body = bodies[answer["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        parsed = ErrorEnvelope.model_validate_json(body["Content"])
        assert parsed.error.code == {403: "forbidden", 429: "rate_limited"}[code]
        assert parsed.error.message and parsed.error.message_th
        assert {"Name": "Cache-Control", "Value": "no-store"} in answer["ResponseHeaders"]
    # the rate rule answers as the app does when it is overloaded, with a Retry-After
    assert json.loads(bodies["rate_limited"]["Content"]) == envelope(Overloaded())[1]
    assert int(next(h["Value"] for h in answers[429]["ResponseHeaders"] if h["Name"] == "Retry-After")) > 0


def test_the_packaged_template_associates_the_web_acl_with_the_stage() -> None:
    # Given `make package`'s merged template / Then the association names Chalice's API and its stage
    resources = deploy.merge_template("prod")["Resources"]
    association = resources["ApiWebAclAssociation"]
    assert association["Type"] == "AWS::WAFv2::WebACLAssociation"
    assert association["DependsOn"] == ["RestAPIapiStage"]
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    arn = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn.endswith("::/restapis/${RestAPI}/stages/api")
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert {s["api_gateway_stage"] for s in config["stages"].values()} == {deploy.API_STAGE}


def test_make_deploy_puts_the_web_acl_on_the_stage_and_a_second_run_changes_nothing(moto_account: None) -> None:
    # Given the infra stack's web ACL and a stage `chalice deploy` made
    waf = boto3.client("wafv2", region_name=REGION)
    visibility = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
    waf.create_web_acl(
        Name="kkreg-dev-api", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=visibility, Rules=[]
    )
    apigw = boto3.client("apigateway", region_name=REGION)
    api = deployed_rest_api(apigw)
    deployed = {"resources": [{"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api}]}
    lam = boto3.client("lambda", region_name=REGION)
    # When make deploy's last step runs, twice
    acl = deploy.web_acl_arn_of(waf, "dev")
    first = deploy.after_chalice_deploy("dev", lam, apigw, deployed, waf, acl)
    second = deploy.after_chalice_deploy("dev", lam, apigw, deployed, waf, acl)
    # Then the stage is behind the web ACL, and the second run only found it there
    stage = deploy.stage_arn(acl, REGION, api)
    assert stage == f"arn:aws:apigateway:{REGION}::/restapis/{api}/stages/api"
    assert waf.get_web_acl_for_resource(ResourceArn=stage)["WebACL"]["ARN"] == acl
    assert "web ACL kkreg-dev-api put on the API" in first
    assert "web ACL kkreg-dev-api already on the API" in second


def test_make_deploy_stops_when_the_infra_stack_has_no_web_acl(moto_account: None) -> None:
    with pytest.raises(SystemExit, match="no web ACL kkreg-dev-api"):
        deploy.web_acl_arn_of(boto3.client("wafv2", region_name=REGION), "dev")
