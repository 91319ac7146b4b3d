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
from local.edge import PUBLIC_POST_PREFIXES, VERIFICATION_PATH, WINDOW_SECONDS, is_public_post, is_verification_start
from tests.conftest import REGION
from tests.helpers import body, deployed_rest_api
from tests.integration.test_public_api import post
from tools import deploy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))
ACL = TEMPLATE["Resources"]["ApiWebAcl"]["Properties"]
RULES = {rule["Name"]: rule for rule in ACL["Rules"]}
STAGES = json.loads((ROOT / "infra" / "stages.json").read_text(encoding="utf-8"))


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


def test_asking_for_an_sms_code_has_a_tighter_rule_of_its_own_evaluated_first() -> None:
    # Given the web ACL's rules / Then POSTs asking for a code are counted per IP in 5 minutes by a rule
    # of their own, before the public POST rule, against a stage setting well below that rule's
    rule = RULES["VerificationRateLimit"]
    assert rule["Priority"] < RULES["PublicPostRateLimit"]["Priority"]
    assert rule["Action"] == RULES["PublicPostRateLimit"]["Action"]  # the same 429 rate_limited
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP" and rate["EvaluationWindowSec"] == WINDOW_SECONDS
    assert rate["Limit"] == {"Ref": "VerificationRateLimitPer5Min"}
    assert TEMPLATE["Parameters"]["VerificationRateLimitPer5Min"]["Default"] == 100
    for stage, settings in STAGES.items():
        limit = int(settings["parameters"]["VerificationRateLimitPer5Min"])
        assert 10 <= limit < TEMPLATE["Parameters"]["EdgeRateLimitPer5Min"]["Default"], stage
        assert deploy.merge_template(stage)["Parameters"]["VerificationRateLimitPer5Min"]["Default"] == str(limit)
    # and it matches the one route that sends an SMS, as the local stack's rule does (not the confirmation)
    matches = [s["ByteMatchStatement"] for s in statements(rate["ScopeDownStatement"]) if "ByteMatchStatement" in s]
    assert matches[0]["SearchString"] == "POST" and "Method" in matches[0]["FieldToMatch"]
    paths = [m for m in matches if "UriPath" in m["FieldToMatch"]]
    assert {m["PositionalConstraint"] for m in paths} == {"ENDS_WITH"}
    assert sorted(m["SearchString"] for m in paths) == [VERIFICATION_PATH, VERIFICATION_PATH + "/"]


def test_the_local_verification_rule_counts_exactly_the_route_that_sends_a_code() -> None:
    from app import app

    for path, methods in app.routes.items():
        for method in methods:
            assert is_verification_start(method, path) is (method == "POST" and path == VERIFICATION_PATH)
    assert is_verification_start("post", VERIFICATION_PATH + "/?x=1")
    assert not is_verification_start("POST", VERIFICATION_PATH + "/v_1/confirm")


def test_an_hourly_sms_budget_per_stage_raises_an_alarm() -> None:
    # Given the infra template / Then an alarm adds up the stage's verification and receipt SMS per hour
    alarm = TEMPLATE["Resources"]["SmsBudgetAlarm"]["Properties"]
    assert alarm["Threshold"] == {"Ref": "SmsHourlyBudget"} and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["EvaluationPeriods"] == 1
    watched = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert set(watched) == {"VerificationSms", "ReceiptSms"}
    for stat in watched.values():
        assert (stat["Period"], stat["Stat"], stat["Metric"]["Namespace"]) == (3600, "Sum", "KhonKaenVaccine")
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": {"Ref": "AppName"}},
            {"Name": "stage", "Value": {"Ref": "Stage"}},
        ]
    [total] = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert total["Expression"] == "FILL(verification, 0) + FILL(receipt, 0)"
    # and each stage sets its budget
    for stage, settings in STAGES.items():
        assert int(settings["parameters"]["SmsHourlyBudget"]) >= 1, stage
    # the service dimension Powertools adds is the app's name, the template's AppName
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert config["environment_variables"]["POWERTOOLS_SERVICE_NAME"] == TEMPLATE["Parameters"]["AppName"]["Default"]


def test_the_sms_codes_are_counted_with_their_stage_as_the_budget_alarm_reads_them(
    client: Any, queues: Any, stand_ins: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import metrics

    sent: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(metrics, "add", lambda name, value=1, **dimensions: sent.append((name, dimensions)))
    # Given a registered person
    person = body(0)
    assert post(client, "/v1/registrations", person).status_code == 201
    # When a code and a receipt are asked for, and the SMS worker sends them
    assert post(client, "/v1/verifications", {"phone": person["phone"]}).status_code == 202
    lookup = {"national_id": person["national_id"], "birth_date": person["birth_date"]}
    assert post(client, "/v1/registrations/receipt", lookup).status_code == 202
    queues.drain()
    # Then each SMS is counted with this stage as its dimension
    counted = [(name, dims) for name, dims in sent if name in ("VerificationSms", "ReceiptSms")]
    assert sorted(counted) == [("ReceiptSms", {"stage": "test"}), ("VerificationSms", {"stage": "test"})]


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
    assert len(blocks) == 3
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
