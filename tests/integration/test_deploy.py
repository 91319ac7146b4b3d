"""The deployment path (issue 6), as far as a machine without an AWS account can check it.

- the infra template deploys (and redeploys) on moto's CloudFormation, and the service runs against
  its outputs with its keys in Secrets Manager;
- what `make deploy` does after `chalice deploy` (partial batch responses, stage throttling);
- the least-privilege policies: up to date, no wildcard actions, and enough for every AWS call each
  function makes while the service's flows run;
- `.chalice/config.json` and the template agree (timeouts vs visibility timeouts, alarms, DLQs).
"""

from __future__ import annotations

import fnmatch
import io
import json
import sys
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.client import BaseClient

from chalicelib.domain import rules
from chalicelib.store.factory import dynamo_stores, stores
from infra import policies
from tests.conftest import REGION
from tests.helpers import JSON, body, deployed_rest_api
from tools import deploy

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
TEMPLATE = yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))
ACCOUNT = "123456789012"  # moto's


def app_functions() -> set[str]:
    from app import app

    return {"api_handler", *(a.name for a in app.builtin_auth_handlers), *app.handler_map} - {
        r.view_name for routes in app.routes.values() for r in routes.values()
    }


def test_every_function_has_its_own_policy_memory_timeout_and_concurrency_in_every_stage() -> None:
    assert app_functions() == set(policies.FUNCTIONS)
    for stage in policies.STAGES:
        config = CONFIG["stages"][stage]
        assert config["autogen_policy"] is False
        for function in policies.FUNCTIONS:
            settings = config["lambda_functions"][function]
            assert settings["iam_policy_file"] == policies.policy_file(stage, function)
            assert settings["lambda_memory_size"] >= 128
            assert 1 <= settings["lambda_timeout"] <= 900
            assert settings["reserved_concurrency"] >= 1


def test_policy_files_are_up_to_date_and_name_their_actions() -> None:
    for stage in policies.STAGES:
        for function in policies.FUNCTIONS:
            path = ROOT / ".chalice" / policies.policy_file(stage, function)
            assert path.read_text(encoding="utf-8") == policies.render(stage, function), (
                f"{path.name} is stale: run `python -m infra.policies`"
            )
            for statement in json.loads(path.read_text(encoding="utf-8"))["Statement"]:
                assert statement["Effect"] == "Allow"
                assert all("*" not in action for action in statement["Action"]), statement
                if statement["Resource"] == ["*"]:
                    assert statement["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
                elif statement["Sid"] == "DataKeys":
                    # The stage's KMS key, by its alias: its ID is known only once it exists.
                    assert statement["Resource"] == ["arn:aws:kms:*:*:key/*"]
                    assert statement["Condition"] == {
                        "ForAnyValue:StringEquals": {"kms:ResourceAliases": [f"alias/kkreg-{stage}-data"]}
                    }
                    assert set(statement["Action"]) <= {"kms:Decrypt", "kms:GenerateDataKey"}
                else:
                    assert all(
                        f"kkreg-{stage}" in r or f"{policies.APP_NAME}-{stage}" in r for r in statement["Resource"]
                    )


def test_each_queue_outlives_six_of_its_consumers_timeouts_and_has_a_watched_dead_letter_queue() -> None:
    resources = TEMPLATE["Resources"]
    alarmed = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"
    }
    for function, queue in deploy.QUEUE_OF_FUNCTION.items():
        props = resources[queue]["Properties"]
        for stage in policies.STAGES:
            timeout = CONFIG["stages"][stage]["lambda_functions"][function]["lambda_timeout"]
            assert props["VisibilityTimeout"] >= 6 * timeout, (queue, stage)
        dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in alarmed, f"no alarm watches {dlq}"
        assert resources[dlq]["Properties"]["MessageRetentionPeriod"] == 1_209_600


def test_every_queue_worker_and_the_api_raise_an_alarm_when_they_fail() -> None:
    watched = {
        r["Properties"]["Dimensions"][0]["Value"]["Fn::Sub"]
        for r in TEMPLATE["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "Errors"
    }
    for function in [*deploy.QUEUE_OF_FUNCTION, "api_handler", "sweep"]:
        name = policies.lambda_name("STAGE", function).replace("kk-vaccine-registration-STAGE", "${AppName}-${Stage}")
        assert name in watched, function


def test_packaged_template_merges_the_infra_outputs_batch_failures_and_throttling() -> None:
    template = deploy.merge_template("prod")
    resources = template["Resources"]
    assert template["Parameters"]["Stage"]["Default"] == "prod"
    for function, queue in deploy.QUEUE_OF_FUNCTION.items():
        logical = deploy._logical_id(function)
        events = resources[logical]["Properties"]["Events"]
        assert events[f"{logical}SqsEventSource"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert resources[logical]["DependsOn"] == [queue]
    env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["KKREG_HMAC_KEY_SECRET"] == {"Ref": "HmacKeySecret"}
    settings = json.loads((ROOT / "infra" / "stages.json").read_text(encoding="utf-8"))["prod"]
    throttle = resources["RestAPI"]["Properties"]["MethodSettings"][0]
    assert (throttle["ThrottlingRateLimit"], throttle["ThrottlingBurstLimit"]) == (
        settings["api_rate_limit"],
        settings["api_burst_limit"],
    )


def chalice_package(stage: str, out: Path) -> dict[str, Any]:
    """The template `make package` writes (Chalice's, merged with ours), without building the code's zip
    (pip for the Lambda platform): Chalice packages in-process as its command line does."""
    from unittest import mock

    from chalice.cli.factory import CLIFactory
    from chalice.deploy.packager import LambdaDeploymentPackager

    out.mkdir(parents=True, exist_ok=True)
    code = out / "code.zip"
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "")
    merge = out / "merge.json"
    merge.write_text(json.dumps(deploy.merge_template(stage)), encoding="utf-8")
    factory = CLIFactory(project_dir=str(ROOT))
    config = factory.create_config_obj(chalice_stage_name=stage)
    with mock.patch.object(LambdaDeploymentPackager, "create_deployment_package", return_value=str(code)):
        packager = factory.create_app_packager(
            config, factory.create_package_options(), "cloudformation", "json", str(merge)
        )
        packager.package_app(config, str(out / stage), stage)
    return dict(json.loads((out / stage / "sam.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_packaged_api_is_regional_so_the_web_acls_rate_rules_see_the_clients_address(
    stage: str, tmp_path: Path
) -> None:
    # Given `make package`'s template of the stage
    template = chalice_package(stage, tmp_path)
    # Then the REST API is regional: no CloudFront in front of the regional web ACL (edge-optimized is
    # Chalice's default), and the web ACL is associated with that API's stage
    assert template["Resources"]["RestAPI"]["Properties"]["EndpointConfiguration"] == "REGIONAL"
    assert template["Resources"]["ApiWebAcl"]["Properties"]["Scope"] == "REGIONAL"
    assert "ApiWebAclAssociation" in template["Resources"]


@pytest.mark.parametrize("version", [(3, 12), (3, 13)])
def test_packaging_from_python_3_12_or_3_13_deploys_that_lambda_runtime(
    version: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the pinned Chalice run by a newer Python (it takes the runtime from the interpreter's version)
    import types

    import chalice.config

    monkeypatch.setattr(chalice.config, "sys", types.SimpleNamespace(version_info=(*version, 0, "final", 0)))
    # When it packages the stage
    functions = [
        r for r in chalice_package("prod", tmp_path)["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    # Then every function runs on that version's Lambda runtime
    assert len(functions) == len(policies.FUNCTIONS)
    assert {f["Properties"]["Runtime"] for f in functions} == {"python{}.{}".format(*version)}


def test_make_deploy_names_its_runtime_and_warns_while_it_is_a_deprecated_one() -> None:
    assert deploy.lambda_runtime() == "python{}.{}".format(*sys.version_info[:2])
    assert "WARNING: AWS deprecates python3.11 on 2027-06-30" in deploy.runtime_line("python3.11")
    assert "PYTHON=python3.13" in deploy.runtime_line("python3.11")
    assert deploy.runtime_line(deploy.RECOMMENDED_RUNTIME) == (
        "Lambda runtime python3.13 (Chalice takes it from the Python that runs this)"
    )


def test_infra_stack_deploys_redeploys_and_protects_prod_tables(moto_account: None) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    outputs = deploy.deploy_infra(cfn, "prod")
    assert deploy.deploy_infra(cfn, "prod") == outputs  # nothing to update: converges
    assert outputs["RegistrationsTable"] == "kkreg-prod-registrations"
    ddb = boto3.client("dynamodb", region_name=REGION)
    for table in ("registrations", "people", "campaign", "idempotency", "staff", "batches"):
        described = ddb.describe_table(TableName=f"kkreg-prod-{table}")["Table"]
        assert described["DeletionProtectionEnabled"] is True
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    sqs = boto3.client("sqs", region_name=REGION)
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["RemovalQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5
    key = _key_arn("alias/kkreg-prod-data")
    assert attrs["KmsMasterKeyId"] == key == outputs["DataKeyArn"]
    assert boto3.client("kms", region_name=REGION).get_key_rotation_status(KeyId=key)["KeyRotationEnabled"]


def test_recorded_outputs_reach_the_stage_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    recorded = deploy.record_outputs(
        "dev",
        {"HmacKeySecret": "arn:…:secret:kkreg-dev/hmac-key-Ab12Cd", "MorPhromUrl": "https://mp", "Other": "x"},
        config,
    )
    env = json.loads(config.read_text(encoding="utf-8"))["stages"]["dev"]["environment_variables"]
    assert recorded == {
        "KKREG_HMAC_KEY_SECRET": "arn:…:secret:kkreg-dev/hmac-key-Ab12Cd",
        "REGISTRY_MOR_PHROM_URL": "https://mp",
    }
    assert env["KKREG_HMAC_KEY_SECRET"].endswith("Ab12Cd") and env["KKREG_STAGE"] == "dev"


def test_after_chalice_deploy_turns_on_partial_batch_responses_and_throttles_the_stage(moto_account: None) -> None:
    lam = boto3.client("lambda", region_name=REGION)
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "")
    lam.create_function(
        FunctionName="w", Runtime="python3.11", Role=role, Handler="app.h", Code={"ZipFile": code.getvalue()}
    )
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="kkreg-dev-removals")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="w", BatchSize=1)["UUID"]
    apigw = boto3.client("apigateway", region_name=REGION)
    api = deployed_rest_api(apigw)
    deployed = {
        "resources": [
            {"name": "removal_worker-sqs-event-source", "resource_type": "sqs_event", "event_uuid": mapping},
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api},
        ]
    }
    for _ in range(2):  # a second run changes nothing and does not fail
        deploy.after_chalice_deploy("dev", lam, apigw, deployed)
    assert lam.get_event_source_mapping(UUID=mapping)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    settings = apigw.get_stage(restApiId=api, stageName="api")["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50, 100)


@pytest.fixture
def secrets_in_use(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Keys moved from the environment into Secrets Manager, as a deployed stage has them.

    moto's CloudFormation does not create AWS::SecretsManager::Secret, so they are put here by hand
    under the names the template gives them.
    """
    import os

    from aws_lambda_powertools.utilities import parameters

    from chalicelib.caches import reset_caches

    sm = boto3.client("secretsmanager", region_name=REGION)
    for env, name in [
        ("REGISTRY_MOR_PHROM_API_KEY", "mor-phrom-api-key"),
        ("REGISTRY_KHON_KAEN_PHROM_API_KEY", "khon-kaen-phrom-api-key"),
        ("SMS_GATEWAY_API_KEY", "sms-api-key"),
    ]:
        sm.create_secret(Name=f"kkreg-test/{name}", SecretString=os.environ[env])
        monkeypatch.delenv(env)
        monkeypatch.setenv(f"{env}_SECRET", f"kkreg-test/{name}")
    sm.create_secret(Name="kkreg-test/hmac-key", SecretString="a-deployed-key")
    monkeypatch.setenv("KKREG_HMAC_KEY_SECRET", "kkreg-test/hmac-key")
    parameters.clear_caches()
    reset_caches()
    return reset_caches


def _resources(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    if service == "dynamodb":
        tables = list(params.get("RequestItems", {})) or [params["TableName"]]
        arns = [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{t}" for t in tables]
        if "IndexName" in params:
            arns = [f"{a}/index/{params['IndexName']}" for a in arns]
        return arns
    if service == "sqs":
        name = params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[1]
        return [f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"]
    if service == "secretsmanager":
        return [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{params['SecretId']}-AbCdEf"]
    if service == "kms":
        # The key the call names by its alias: its ARN, the alias kept for the policy's condition.
        return [f"{_key_arn(params['KeyId'])}#{params['KeyId']}"]
    raise AssertionError(f"a function called {service}:{operation}, which no policy names")


def _key_arn(alias: str) -> str:
    """The ARN of the KMS key an alias names (moto's DescribeKey fails on a key CloudFormation made)."""
    target = next(
        a["TargetKeyId"]
        for a in boto3.client("kms", region_name=REGION).list_aliases()["Aliases"]
        if a["AliasName"] == alias
    )
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{target}"


# SQS's batch calls are authorised by the single-message action (there is no IAM action for them).
IAM_ACTION = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}


def _allowed(stage_policy: dict[str, Any], action: str, resource: str) -> bool:
    resource, _, alias = resource.partition("#")
    return any(
        action in statement["Action"]
        and any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"])
        and _condition_holds(statement.get("Condition"), alias)
        for statement in stage_policy["Statement"]
    )


def _condition_holds(condition: dict[str, Any] | None, alias: str) -> bool:
    """The one condition the policies use: the KMS key has one of the aliases named."""
    if condition is None:
        return True
    assert list(condition) == ["ForAnyValue:StringEquals"], condition
    return alias in condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"]


def test_every_aws_call_of_every_function_is_allowed_by_its_policy(
    client: Any,
    queues: Any,
    tokens: dict[str, str],
    app: Any,
    secrets_in_use: Any,
    monkeypatch: pytest.MonkeyPatch,
    stand_ins: dict[str, Any],
) -> None:
    from local.driver import Schedules

    today = rules.today_in_bangkok()
    tomorrow = today + timedelta(days=1)
    # Appointments from today: the flows check people in today and close days after it.
    monkeypatch.setenv("VACCINATION_FIRST_DAY", today.isoformat())
    monkeypatch.setenv("VACCINATION_SITES", json.dumps([{"name": "Hall", "capacity": 2}]))
    secrets_in_use()
    calls: list[tuple[str, str, str, dict[str, Any]]] = []
    current = ["api_handler"]  # HTTP requests run the API function (and its authorizer)
    real_call = BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append((current[0], self.meta.service_model.service_name, operation, params))
        return real_call(self, operation, params)

    def as_function(name: str, handler: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            before, current[0] = current[0], name
            # Each function runs in containers of its own: it takes the data keys it needs itself.
            dynamo_stores().data_keys.forget()
            try:
                return handler(*args, **kwargs)
            finally:
                current[0] = before

        return run

    def drain() -> None:
        current[0] = "lambda-service"
        queues.drain()
        current[0] = "api_handler"

    for name, handler in list(app.handler_map.items()):
        monkeypatch.setitem(app.handler_map, name, as_function(name, handler))
    monkeypatch.setattr(BaseClient, "_make_api_call", spy)

    admin = {"Authorization": f"Bearer {tokens['admin']}", **JSON}
    regs = [client.http.post("/v1/registrations", body=json.dumps(body(n)), headers=JSON).json_body for n in range(3)]
    assert all("registration_id" in r for r in regs), regs
    counter = {"Authorization": f"Bearer {tokens['counter']}", **JSON}
    assert client.http.post("/v1/counter/registrations", body=json.dumps(body(10)), headers=counter).status_code == 201
    org = {"Authorization": f"Bearer {tokens['org']}", **JSON}
    batch = client.http.post(
        "/v1/org/batches", body=json.dumps({"organisation": "ACME", "rows": [body(20), body(21)]}), headers=org
    )
    assert batch.status_code == 202, batch.body
    lookup = {"national_id": body(0)["national_id"], "birth_date": body(0)["birth_date"]}
    assert client.http.post("/v1/registrations/lookup", body=json.dumps(lookup), headers=JSON).status_code == 200
    cancel = json.dumps({"birth_date": body(1)["birth_date"]})
    assert (
        client.http.post(
            f"/v1/registrations/{regs[1]['registration_id']}/cancel", body=cancel, headers=JSON
        ).status_code
        == 200
    )
    # v1.1: phone verification (its SMS worker derives the code), receipt code, a lockout
    started = client.http.post("/v1/verifications", body=json.dumps({"phone": "0812345678"}), headers=JSON)
    assert started.status_code == 202, started.body
    vid = started.json_body["verification_id"]
    drain()
    assert stand_ins["sms"].messages, "the verification SMS was not sent"
    from chalicelib.config import verification_keys
    from chalicelib.domain.verification import code_for

    code = json.dumps({"code": code_for(vid, verification_keys())})
    assert client.http.post(f"/v1/verifications/{vid}/confirm", body=code, headers=JSON).status_code == 200
    assert client.http.post("/v1/registrations/receipt", body=json.dumps(lookup), headers=JSON).status_code == 202
    for day in range(1, 7):
        wrong = json.dumps({"birth_date": f"1970-01-0{day}"})
        client.http.post(f"/v1/registrations/{regs[0]['registration_id']}/cancel", body=wrong, headers=JSON)
    drain()
    for path in ("/v1/admin/reconcile?full=true", "/v1/admin/appointments/allocate"):
        assert client.http.post(path, headers=admin).status_code in (200, 202)
    drain()
    for path in (
        "/v1/admin/summary",
        "/v1/admin/registrations.csv",
        f"/v1/admin/audit?date={rules.today_in_bangkok().isoformat()}",
        f"/v1/admin/reports/daily?date={rules.today_in_bangkok().isoformat()}",
        f"/v1/admin/appointments.csv?date={tomorrow.isoformat()}",
    ):
        assert client.http.get(path, headers=admin).status_code == 200, path
    # A site checks one person in; the days are then closed: misses, rebookings, no-shows, promotion.
    site = {"Authorization": f"Bearer {tokens['site']}", **JSON}
    checked = client.http.post(
        "/v1/site/check-ins", body=json.dumps({"national_id": body(0)["national_id"]}), headers=site
    )
    assert checked.status_code == 200, checked.body
    real_today = rules.today_in_bangkok
    for days in (1, 3, 5, 7):  # each close finds the one before it rebooked (2 a day, a day later)
        monkeypatch.setattr(rules, "today_in_bangkok", lambda now=None, d=days: real_today(now) + timedelta(days=d))
        closed = (today + timedelta(days=days - 1)).isoformat()
        assert client.http.post(f"/v1/admin/days/{closed}/close", headers=admin).status_code == 202
        drain()
    assert any(r.cancel_reason == "no_show" for r in stores().registrations.page(None, None, 100)[0])
    schedules = Schedules(app, REGION)
    for name in ("sweep", "reconcile_hourly", "reconcile_daily", "allocate_daily", "close_daily"):
        schedules.fire(name)
    drain()
    # The waiting room: a join and a ticket read (the API), and one round of its sequencer's loop.
    from chalicelib.config import get_settings

    monkeypatch.setenv("WAITING_ROOM", "on")
    get_settings.cache_clear()
    joined = client.http.post("/v1/queue", body=json.dumps({"phone": "0612345678"}), headers=JSON)
    assert joined.status_code == 201, joined.body
    assert client.http.get(f"/v1/queue/{joined.json_body['ticket']}").status_code == 200
    assert client.http.get("/v1/admin/queue", headers=admin).status_code == 200
    schedules.fire("queue_sequencer")
    # Last, a year on: the retention job erases everyone (its segments run on the reconcile worker).
    monkeypatch.setattr(rules, "today_in_bangkok", lambda now=None: real_today(now) + timedelta(days=800))
    schedules.fire("retention_daily")
    drain()

    by_function: dict[str, set[str]] = {}
    denied: set[str] = set()
    for function, service, operation, params in list(calls):  # (the checks below call AWS too)
        if function == "lambda-service":
            continue  # receive/delete by the mapping: the CONSUME statement, checked below
        stage_policy = policies.policy("test", function)
        action = f"{service}:{IAM_ACTION.get(operation, operation)}"
        for resource in _resources(service, operation, params):
            if not _allowed(stage_policy, action, resource):
                denied.add(f"{function} may not {action} on {resource}")
        by_function.setdefault(function, set()).add(action)
    assert not denied, "\n".join(sorted(denied))
    # The flows reached every queue worker, every schedule, the secrets and the registries.
    assert set(policies.FUNCTIONS) - set(by_function) <= {"staff_token"}, set(policies.FUNCTIONS) - set(by_function)
    assert "secretsmanager:GetSecretValue" in by_function["removal_worker"]
    assert "secretsmanager:GetSecretValue" in by_function["api_handler"]
    assert "secretsmanager:GetSecretValue" in by_function["sms_worker"]  # the HMAC key: codes are derived
    assert "dynamodb:UpdateItem" in by_function["api_handler"] and "dynamodb:GetItem" in by_function["sms_worker"]
    # The data keys: made where personal fields are sealed first, unwrapped by every other reader (the
    # batch worker seals too, with the key the API function made this period: policies.SEAL lets it
    # make one when it is first)
    assert "kms:GenerateDataKey" in by_function["api_handler"]
    for function in ("batch_worker", "removal_worker", "promotion_worker", "sms_worker", "reconcile_worker"):
        assert "kms:Decrypt" in by_function[function], function
    assert not any(a.startswith("kms:") for a in by_function.get("staff_token", set())), by_function
    # The waiting room's sequencer opens no personal field (a ticket holds the phone's keyed hash
    # only): it makes no KMS call, and its policy grants none
    assert not any(a.startswith("kms:") for a in by_function["queue_sequencer"]), by_function
    assert not policies.FUNCTIONS["queue_sequencer"].data_keys
    for function, queue in {"removal_worker": "removals", "promotion_worker": "promotion"}.items():
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:kkreg-test-{queue}"
        for action in policies.CONSUME:
            assert _allowed(policies.policy("test", function), action, arn)


def test_the_local_driver_fires_every_schedule_the_app_declares(app: Any) -> None:
    # Given the app's schedules (sweep, reconciliation, allocation, closing the day)
    from chalice.app import ScheduledEventConfig

    from local.driver import Schedules

    declared = {src.name for src in app.event_sources if isinstance(src, ScheduledEventConfig)}
    # When the local driver reads the app as `make run` does
    schedules = Schedules(app, "ap-southeast-1")
    # Then every one of them is due at some time, as EventBridge would fire it on AWS
    assert declared == {
        "allocate_daily",
        "close_daily",
        "sweep",
        "reconcile_hourly",
        "reconcile_daily",
        "retention_daily",
        "queue_sequencer",
    }
    assert set(schedules._due) == declared


def test_the_local_driver_polls_the_removal_lists_on_two_threads_and_every_other_queue_on_one(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app's queue handlers, and no LOCAL_POLLERS
    from chalice.app import SQSEventConfig

    from local.driver import pollers_for

    monkeypatch.delenv("LOCAL_POLLERS", raising=False)
    handlers = {src.name for src in app.event_sources if isinstance(src, SQSEventConfig)}
    # Then the removal lists have two pollers (the sweep keeps up with a burst), every other queue one
    assert "removal_worker" in handlers
    assert {name: pollers_for(name) for name in handlers} == {n: 2 if n == "removal_worker" else 1 for n in handlers}
    # And LOCAL_POLLERS sets every queue's
    monkeypatch.setenv("LOCAL_POLLERS", "3")
    assert {pollers_for(name) for name in handlers} == {3}


def test_the_stages_customer_managed_key_rotates_and_encrypts_every_table_queue_and_log_group() -> None:
    resources = TEMPLATE["Resources"]
    key = resources["DataKey"]["Properties"]
    arn = {"Fn::GetAtt": ["DataKey", "Arn"]}
    # The key rotates, and is the one the functions know by its alias
    assert key["EnableKeyRotation"] is True and key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert resources["DataKeyAlias"]["Properties"]["AliasName"] == {"Fn::Sub": "alias/kkreg-${Stage}-data"}
    assert policies.data_key_alias("prod") == "alias/kkreg-prod-data"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        by_type.setdefault(resource["Type"], []).append(resource.get("Properties", {}))
    # Every table, queue and function log group is encrypted with it
    assert all(
        t["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn}
        for t in by_type["AWS::DynamoDB::Table"]
    )
    assert all(q["KmsMasterKeyId"] == arn for q in by_type["AWS::SQS::Queue"])
    names = {g["LogGroupName"]["Fn::Sub"]: g for g in by_type["AWS::Logs::LogGroup"]}
    for function in policies.FUNCTIONS:
        name = "/aws/lambda/" + policies.lambda_name("STAGE", function).replace(
            f"{policies.APP_NAME}-STAGE", "${AppName}-${Stage}"
        )
        assert names[name]["KmsKeyId"] == arn, function
        # kept as long as Chalice keeps it (it sets the retention again on every deploy)
        retention = {s: CONFIG["stages"][s]["log_retention_in_days"] for s in ("dev", "prod")}
        assert names[name]["RetentionInDays"] == {"Fn::If": ["IsProd", retention["prod"], retention["dev"]]}
    # And CloudWatch Logs of the stack's region may use it for this stage's log groups only
    logs = next(s for s in key["KeyPolicy"]["Statement"] if s["Sid"] == "FunctionLogs")
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    (groups,) = logs["Condition"]["ArnLike"].values()
    assert groups and all(":log-group:/aws/lambda/${AppName}-${Stage}" in g["Fn::Sub"] for g in groups)


def test_the_packaged_log_groups_are_the_templates_encrypted_ones(tmp_path: Path) -> None:
    # Given `make package`'s template of prod (Chalice's log groups merged into the template's)
    resources = chalice_package("prod", tmp_path)["Resources"]
    # Then each function has one log group, named after it and encrypted with the stage's key
    groups = {
        r["Properties"]["LogGroupName"]["Fn::Sub"]: r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"
    }
    assert len(groups) == len(policies.FUNCTIONS)
    assert "/aws/lambda/${AppName}-${Stage}" in groups
    assert all(g["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]} for g in groups.values())


def test_every_stage_deploys_to_thailand_and_another_region_only_when_overridden(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stages as shipped, and an admin whose shell names Singapore
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
    stages = json.loads((ROOT / "infra" / "stages.json").read_text(encoding="utf-8"))
    assert {deploy.stage_region(s) for s in stages} == {"ap-southeast-7"}
    # Then a command works in the stage's region, and says the shell's is not used
    assert deploy.chosen_region("prod") == deploy.chosen_region("prod", "ap-southeast-7") == "ap-southeast-7"
    line = deploy.region_line("ap-southeast-7", "prod")
    assert "region ap-southeast-7 (the stage's" in line and "your shell's region ap-southeast-1 is not used" in line
    # And another region is refused, before anything is done, unless the override says it is meant
    calls: list[str] = []
    monkeypatch.setattr(deploy, "deploy", lambda stage, region: calls.append(region) or 0)
    with pytest.raises(SystemExit, match="refusing to use ap-southeast-1 for stage prod: its region is ap-southeast-7"):
        deploy.main(["deploy", "--stage", "prod", "--region", "ap-southeast-1"])
    assert calls == []
    assert deploy.main(["deploy", "--stage", "prod"]) == 0
    assert deploy.main(["deploy", "--stage", "prod", "--region", "ap-southeast-1", "--override-region"]) == 0
    assert calls == ["ap-southeast-7", "ap-southeast-1"]
    assert "NOT the stage's ap-southeast-7" in deploy.region_line("ap-southeast-1", "prod")
