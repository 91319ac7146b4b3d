"""``make deploy|destroy|package STAGE=dev|prod``: the infra stack and the Chalice app, in order.

Every command works in the stage's region (``region`` in ``infra/stages.json``; default
``ap-southeast-7``, Asia Pacific (Thailand): the data stays in Thailand, PDPA s.28), whatever region
the admin's shell or profile names, and says which. ``--region`` another region is refused unless
``--override-region`` says it is meant.

deploy
    1. creates or updates the CloudFormation stack ``kkreg-<stage>`` from ``infra/template.yaml``
       (parameters from ``infra/stages.json``) and waits for it;
    2. writes the stack's outputs (secret ARNs, registry and SMS URLs) into the stage's
       ``environment_variables`` in ``.chalice/config.json``;
    3. runs ``chalice deploy --stage <stage>``;
    4. does what Chalice cannot: ``ReportBatchItemFailures`` on every SQS event-source mapping, the
       API's gateway responses in the contract's error envelope (``infra/gateway_responses.py``; a
       new deployment of the stage when any changed), the API Gateway stage's throttling
       (``infra/stages.json``), and the association of the stack's AWS WAF web ACL with the API
       stage (the stage exists only now).
    Every step converges, so running it again is safe.
destroy
    ``chalice delete`` then deletes the stack (prod's tables have deletion protection: the stack
    deletion stops there until an admin turns it off, on purpose).
package
    ``chalice package --merge-template`` into ``out/<stage>/sam.json``: one template with the app,
    the infra resources, the stack's outputs as environment variables, partial batch responses,
    the gateway responses, the stage throttling and the web ACL's association, for teams that deploy
    with CloudFormation or SAM.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # runs the venv's chalice command, with fixed arguments  # nosec B404
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from infra import policies
from infra.gateway_responses import gateway_responses

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
STAGES_FILE = ROOT / "infra" / "stages.json"
CONFIG = ROOT / ".chalice" / "config.json"
CHALICE = str(Path(sys.executable).with_name("chalice"))  # the venv's command line

# Stack output -> environment variable of every function (chalicelib.config reads them).
ENV_OF_OUTPUT = {
    "HmacKeySecret": "KKREG_HMAC_KEY_SECRET",
    "MorPhromApiKeySecret": "REGISTRY_MOR_PHROM_API_KEY_SECRET",
    "KhonKaenPhromApiKeySecret": "REGISTRY_KHON_KAEN_PHROM_API_KEY_SECRET",
    "SmsApiKeySecret": "SMS_GATEWAY_API_KEY_SECRET",
    "MorPhromUrl": "REGISTRY_MOR_PHROM_URL",
    "KhonKaenPhromUrl": "REGISTRY_KHON_KAEN_PHROM_URL",
    "SmsGatewayUrl": "SMS_GATEWAY_URL",
}

# Queue consumer -> the infra template's queue resource it reads.
QUEUE_OF_FUNCTION = {
    "promotion_worker": "PromotionQueue",
    "batch_worker": "BatchQueue",
    "removal_worker": "RemovalQueue",
    "reconcile_worker": "ReconcileQueue",
    "appointment_worker": "AppointmentQueue",
    "sms_worker": "SmsQueue",
}


# Where a stage deploys unless infra/stages.json says otherwise: Asia Pacific (Thailand), so that the
# personal data stays in Thailand (PDPA s.28; docs/operations-and-deployment.md, "Where").
DEFAULT_REGION = "ap-southeast-7"


# The Lambda runtime this tool recommends, and the end of those AWS deprecates (docs/operations-and-
# deployment.md, "Which Python"). Chalice takes the runtime from the Python that runs it.
RECOMMENDED_RUNTIME = "python3.13"
RUNTIME_DEPRECATED = {"python3.11": "2027-06-30"}


def lambda_runtime() -> str:
    """The Lambda runtime ``chalice deploy``/``package`` will give every function: this interpreter's."""
    from chalice.config import Config

    return str(Config().lambda_python_version)


def runtime_line(runtime: str) -> str:
    """What `make deploy`/`make package` say about the runtime: a warning when AWS deprecates it."""
    line = f"Lambda runtime {runtime} (Chalice takes it from the Python that runs this)"
    if runtime in RUNTIME_DEPRECATED:
        line += (
            f"; WARNING: AWS deprecates {runtime} on {RUNTIME_DEPRECATED[runtime]}:"
            f" deploy from a {RECOMMENDED_RUNTIME.removeprefix('python')} venv (`rm -rf .venv;"
            f" make deploy PYTHON={RECOMMENDED_RUNTIME}`)"
        )
    return line


def stage_settings(stage: str) -> dict[str, Any]:
    stages: dict[str, Any] = json.loads(STAGES_FILE.read_text(encoding="utf-8"))
    if stage not in stages:
        raise SystemExit(f"unknown stage {stage!r}: infra/stages.json has {', '.join(sorted(stages))}")
    return dict(stages[stage])


def stage_region(stage: str) -> str:
    """The region the stage deploys to (``region`` in ``infra/stages.json``)."""
    return str(stage_settings(stage).get("region") or DEFAULT_REGION)


def chosen_region(stage: str, requested: str | None = None, override: bool = False) -> str:
    """The stage's region, or ``requested`` when it is the stage's or ``override`` says another is
    meant. Raises SystemExit for another region without ``override``."""
    region = stage_region(stage)
    if requested is None or requested == region:
        return region
    if not override:
        raise SystemExit(
            f"refusing to use {requested} for stage {stage}: its region is {region} (infra/stages.json), where"
            " the personal data is to stay (PDPA s.28). Change the stage's region there, or add --override-region"
            " (make ... OVERRIDE_REGION=1) if you mean to move it."
        )
    return requested


def region_line(region: str, stage: str) -> str:
    """What every command says about where it works (and about a shell that names another region)."""
    import boto3

    own = stage_region(stage)
    line = f"region {region}" + (" (the stage's, infra/stages.json)" if region == own else f" (NOT the stage's {own})")
    shell = boto3.session.Session().region_name
    if shell and shell != region:
        line += f"; your shell's region {shell} is not used"
    return line


def stack_name(stage: str) -> str:
    return f"kkreg-{stage}"


def stack_parameters(stage: str) -> dict[str, str]:
    params = {"Stage": stage, "AppName": policies.APP_NAME}
    params.update({k: str(v) for k, v in stage_settings(stage).get("parameters", {}).items()})
    return params


def deploy_infra(cfn: Any, stage: str) -> dict[str, str]:
    """Create or update the stack, wait for it, and return its outputs."""
    name = stack_name(stage)
    args = {
        "StackName": name,
        "TemplateBody": TEMPLATE.read_text(encoding="utf-8"),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in stack_parameters(stage).items()],
        "Tags": [{"Key": "project", "Value": "kk-vaccine-registration"}, {"Key": "stage", "Value": stage}],
    }
    waiter_config = {"Delay": 5, "MaxAttempts": 240}
    if _stack_exists(cfn, name):
        try:
            cfn.update_stack(**args)
        except cfn.exceptions.ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
        else:
            cfn.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=waiter_config)
    else:
        cfn.create_stack(**args, EnableTerminationProtection=stage == "prod")
        cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=waiter_config)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _stack_exists(cfn: Any, name: str) -> bool:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return False
        raise
    return any(s["StackStatus"] != "DELETE_COMPLETE" for s in stacks)


def record_outputs(stage: str, outputs: dict[str, str], config_path: Path = CONFIG) -> dict[str, str]:
    """Write the outputs the functions need into the stage's environment in ``.chalice/config.json``."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    env = config["stages"][stage].setdefault("environment_variables", {})
    recorded = {ENV_OF_OUTPUT[k]: v for k, v in outputs.items() if k in ENV_OF_OUTPUT and v}
    env.update(recorded)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return recorded


API_STAGE = "api"  # .chalice/config.json's api_gateway_stage


def stage_arn(web_acl_arn: str, region: str, rest_api_id: str) -> str:
    """The API stage's ARN as AWS WAF names it (in the web ACL's partition)."""
    partition = web_acl_arn.split(":")[1]
    return f"arn:{partition}:apigateway:{region}::/restapis/{rest_api_id}/stages/{API_STAGE}"


def web_acl_arn_of(wafv2: Any, stage: str) -> str:
    """The ARN of the stack's web ACL (``kkreg-<stage>-api``), found by name. Raises SystemExit if none."""
    name, kwargs = f"{stack_name(stage)}-api", {"Scope": "REGIONAL", "Limit": 100}
    while True:
        page = wafv2.list_web_acls(**kwargs)
        for acl in page.get("WebACLs", []):
            if acl["Name"] == name:
                return str(acl["ARN"])
        if not page.get("NextMarker"):
            raise SystemExit(f"the infra stack has no web ACL {name}: deploy the infra stack first")
        kwargs["NextMarker"] = page["NextMarker"]


def associate_web_acl(wafv2: Any, web_acl_arn: str, resource_arn: str, tries: int = 6) -> bool:
    """Put the web ACL in front of the stage; False if it already was (nothing changed)."""
    current = wafv2.get_web_acl_for_resource(ResourceArn=resource_arn).get("WebACL") or {}
    if current.get("ARN") == web_acl_arn:
        return False
    for attempt in range(tries):
        try:
            wafv2.associate_web_acl(WebACLArn=web_acl_arn, ResourceArn=resource_arn)
            return True
        except wafv2.exceptions.WAFUnavailableEntityException:
            # A stage created seconds ago is not yet visible to WAF.
            if attempt == tries - 1:
                raise
            time.sleep(5)
    return True


_GATEWAY_RESPONSE_FIELDS = ("statusCode", "responseParameters", "responseTemplates")


def put_gateway_responses(apigateway: Any, rest_api_id: str) -> list[str]:
    """Put each gateway response of ``infra/gateway_responses.py`` that the API does not have yet, then
    deploy the stage so that it serves them (gateway responses, like methods, take effect only in a
    deployment). Returns the response types it changed: none on a second run."""
    have, kwargs = {}, {"restApiId": rest_api_id, "limit": 500}
    while True:
        page = apigateway.get_gateway_responses(**kwargs)
        have.update({item["responseType"]: item for item in page.get("items", [])})
        if not page.get("position"):
            break
        kwargs["position"] = page["position"]
    changed = []
    for response_type, wanted in gateway_responses().items():
        current = have.get(response_type, {})
        if any(current.get(field) != wanted.get(field) for field in _GATEWAY_RESPONSE_FIELDS):
            apigateway.put_gateway_response(restApiId=rest_api_id, responseType=response_type, **wanted)
            changed.append(response_type)
    if changed:
        apigateway.create_deployment(
            restApiId=rest_api_id, stageName=API_STAGE, description="gateway responses (make deploy)"
        )
    return changed


def after_chalice_deploy(
    stage: str,
    lambda_client: Any,
    apigateway: Any,
    deployed: dict[str, Any],
    wafv2: Any = None,
    web_acl_arn: str = "",
) -> list[str]:
    """Partial batch responses on every SQS mapping, the API's gateway responses, throttling on the API
    stage, and the stage's web ACL (when given). Returns what it did."""
    done = []
    for resource in deployed.get("resources", []):
        if resource.get("resource_type") == "sqs_event":
            mapping = lambda_client.get_event_source_mapping(UUID=resource["event_uuid"])
            if "ReportBatchItemFailures" not in mapping.get("FunctionResponseTypes", []):
                lambda_client.update_event_source_mapping(
                    UUID=resource["event_uuid"], FunctionResponseTypes=["ReportBatchItemFailures"]
                )
            done.append(f"ReportBatchItemFailures on {resource['name']}")
        elif resource.get("resource_type") == "rest_api":
            # First: AWS keeps the stage's settings through a new deployment, moto does not.
            changed = put_gateway_responses(apigateway, resource["rest_api_id"])
            done.append(
                f"gateway responses: {len(changed)} put and the stage deployed"
                if changed
                else "gateway responses: as they were"
            )
            settings = stage_settings(stage)
            apigateway.update_stage(
                restApiId=resource["rest_api_id"],
                stageName=API_STAGE,
                patchOperations=[
                    {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(settings["api_rate_limit"])},
                    {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(settings["api_burst_limit"])},
                ],
            )
            done.append(f"throttling {settings['api_rate_limit']}/s, burst {settings['api_burst_limit']} on the API")
            if wafv2 is not None and web_acl_arn:
                region = apigateway.meta.region_name
                changed = associate_web_acl(wafv2, web_acl_arn, stage_arn(web_acl_arn, region, resource["rest_api_id"]))
                done.append(f"web ACL {web_acl_arn.rsplit('/', 2)[-2]} {'put' if changed else 'already'} on the API")
    return done


def in_region(region: str) -> dict[str, str]:
    """The environment of a Chalice command that must work in ``region`` (not the shell's)."""
    return {**os.environ, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


def deploy(stage: str, region: str) -> int:
    import boto3

    session = boto3.session.Session(region_name=region)
    print(region_line(region, stage), flush=True)
    print(runtime_line(lambda_runtime()), flush=True)
    print(f"1/4 infra stack {stack_name(stage)} in {region}…", flush=True)
    outputs = deploy_infra(session.client("cloudformation"), stage)
    print(f"2/4 {len(record_outputs(stage, outputs))} stack outputs recorded in .chalice/config.json", flush=True)
    print(f"3/4 chalice deploy in {region}…", flush=True)
    subprocess.run(  # noqa: S603 - fixed arguments, the stage checked against infra/stages.json  # nosec B603
        [CHALICE, "deploy", "--stage", stage], cwd=ROOT, check=True, env=in_region(region)
    )
    deployed = json.loads((ROOT / ".chalice" / "deployed" / f"{stage}.json").read_text(encoding="utf-8"))
    wafv2 = session.client("wafv2")
    acl = web_acl_arn_of(wafv2, stage)
    for line in after_chalice_deploy(
        stage, session.client("lambda"), session.client("apigateway"), deployed, wafv2, acl
    ):
        print(f"4/4 {line}", flush=True)
    return 0


def destroy(stage: str, region: str) -> int:
    import boto3

    if stage == "prod" and os.environ.get("CONFIRM") != "prod":
        raise SystemExit("refusing to destroy prod: run `make destroy STAGE=prod CONFIRM=prod` if you mean it")
    print(region_line(region, stage), flush=True)
    subprocess.run(  # noqa: S603 - fixed arguments  # nosec B603
        [CHALICE, "delete", "--stage", stage], cwd=ROOT, check=True, env=in_region(region)
    )
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.delete_stack(StackName=stack_name(stage))
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_name(stage), WaiterConfig={"Delay": 5})
    print(f"deleted {stack_name(stage)} (the HMAC key secret and the KMS key are retained on purpose)")
    return 0


def merge_template(stage: str) -> dict[str, Any]:
    """The infra template plus what Chalice's template lacks, keyed by Chalice's logical IDs."""
    template: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    for key, value in stack_parameters(stage).items():
        template["Parameters"][key]["Default"] = value
    # The functions' environment names this stage's resources: the template deploys this stage only.
    template["Parameters"]["Stage"]["Description"] = f"Leave it {stage}: the functions were packaged for it"
    env = {env: {"Ref": output} for output, env in ENV_OF_OUTPUT.items()}
    settings = stage_settings(stage)
    resources = template["Resources"]
    for function in policies.FUNCTIONS:
        logical = _logical_id(function)
        addition: dict[str, Any] = {
            "Properties": {
                "FunctionName": policies.lambda_name(stage, function),
                "Environment": {"Variables": env},
            },
            "Metadata": {"checkov": {"skip": _LAMBDA_SKIPS}},
        }
        queue = QUEUE_OF_FUNCTION.get(function)
        if queue:
            source = f"{logical}SqsEventSource"
            addition["Properties"]["Events"] = {
                source: {"Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}
            }
            # The mapping names the queue by ARN, not by reference: make the function wait for it.
            addition["DependsOn"] = [queue]
        resources[logical] = addition
    # Each function's log group is the template's (encrypted with its key), under Chalice's logical
    # ID: Chalice's own (named, for the API, after a logical ID that does not exist) merges into it.
    missing = {f"{_role_prefix(f)}LogGroup" for f in policies.FUNCTIONS} - set(resources)
    if missing:
        raise SystemExit(f"infra/template.yaml lacks the log groups {sorted(missing)}")
    resources["RestAPI"] = {
        "Properties": {
            # In the OpenAPI document rather than as AWS::ApiGateway::GatewayResponse resources: SAM
            # names the API's deployment after a hash of this document, so a change to a response
            # makes a new deployment of the stage, and the first deployment already has them. A
            # separate resource would change no hash, and SAM's deployment would not wait for it.
            "DefinitionBody": {"x-amazon-apigateway-gateway-responses": gateway_responses()},
            "TracingEnabled": True,
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": settings["api_rate_limit"],
                    "ThrottlingBurstLimit": settings["api_burst_limit"],
                }
            ],
        },
        "Metadata": {"checkov": {"skip": _API_SKIPS}},
    }
    # The web ACL in front of the stage, as `make deploy` puts it there after `chalice deploy`.
    # SAM names the stage of RestAPI's StageName "api" RestAPIapiStage.
    resources["ApiWebAclAssociation"] = {
        "Type": "AWS::WAFv2::WebACLAssociation",
        "DependsOn": [f"RestAPI{API_STAGE}Stage"],
        "Properties": {
            "ResourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/" + API_STAGE
            },
            "WebACLArn": {"Fn::GetAtt": ["ApiWebAcl", "Arn"]},
        },
    }
    return template


def _logical_id(function: str) -> str:
    return "APIHandler" if function == "api_handler" else _role_prefix(function)


def _role_prefix(function: str) -> str:
    """Chalice's prefix of a function's role and log group (``ApiHandlerRole`` for the API)."""
    return "".join(part.capitalize() for part in function.split("_"))


_LAMBDA_SKIPS = [
    {"id": "CKV_AWS_116", "comment": "Queue consumers have a DLQ on their queue; the others are never invoked async."},
    {"id": "CKV_AWS_117", "comment": "Talks only to public AWS endpoints and HTTPS registries; a VPC adds NAT cost."},
    {"id": "CKV_AWS_173", "comment": "No secret is in the environment: it holds secret ARNs and public URLs."},
]
_API_SKIPS = [
    {"id": "CKV_AWS_120", "comment": "Responses are per person and must never be served from a cache."},
    {
        "id": "CKV_AWS_76",
        "comment": "Access logs need the account-wide API Gateway logging role, which a stack should not overwrite;"
        " the API function logs every request.",
    },
]


def package(stage: str, region: str) -> int:
    out = ROOT / "out" / stage
    out.mkdir(parents=True, exist_ok=True)
    merge = out / "merge.json"
    merge.write_text(json.dumps(merge_template(stage), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(region_line(region, stage), file=sys.stderr)
    subprocess.run(  # noqa: S603 - fixed arguments  # nosec B603
        [CHALICE, "package", "--stage", stage, "--merge-template", str(merge), str(out)],
        cwd=ROOT,
        check=True,
        env=in_region(region),
    )
    print(f"wrote {out / 'sam.json'} and {out / 'deployment.zip'}; {runtime_line(lambda_runtime())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy")
    parser.add_argument("command", choices=["deploy", "destroy", "package"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", help="only the stage's own region, unless --override-region")
    parser.add_argument("--override-region", action="store_true", help="use --region even if it is not the stage's")
    args = parser.parse_args(argv)
    stage_settings(args.stage)  # an unknown stage stops here
    region = chosen_region(args.stage, args.region, args.override_region)  # so does another region, unasked
    command = {"deploy": deploy, "destroy": destroy, "package": package}[args.command]
    return command(args.stage, region)


if __name__ == "__main__":
    raise SystemExit(main())
