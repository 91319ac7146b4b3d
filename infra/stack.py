"""Create the infra template's resources through CloudFormation and map its outputs to settings.

Used by the tests and the local stack (against moto's CloudFormation) so that both build exactly
what a deployment builds from ``infra/template.yaml``. A real deployment goes through
``tools/deploy.py`` (``make deploy``), which also updates an existing stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

TEMPLATE = Path(__file__).with_name("template.yaml")

# template output -> environment variable read by chalicelib.config
ENV_OF_OUTPUT = {
    "RegistrationsTable": "REGISTRATIONS_TABLE",
    "PeopleTable": "PEOPLE_TABLE",
    "CampaignTable": "CAMPAIGN_TABLE",
    "IdempotencyTable": "IDEMPOTENCY_TABLE",
    "StaffTable": "STAFF_TABLE",
    "BatchesTable": "BATCHES_TABLE",
    "AttemptsTable": "ATTEMPTS_TABLE",
    "QueueTable": "QUEUE_TABLE",
}


def create(stage: str, region: str) -> dict[str, str]:
    """Create the stack ``kkreg-<stage>`` and return its outputs (OutputKey -> OutputValue)."""
    cfn: Any = boto3.client("cloudformation", region_name=region)
    name = f"kkreg-{stage}"
    # moto's CloudFormation skips the alarms, the secrets and the web ACL (it has no model of them);
    # local.quiet keeps it from saying so, where the engine starts.
    cfn.create_stack(
        StackName=name,
        TemplateBody=TEMPLATE.read_text(encoding="utf-8"),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
    )
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def environment(outputs: dict[str, str], stage: str) -> dict[str, str]:
    """The environment variables that point the service at the stack's resources."""
    env = {ENV_OF_OUTPUT[k]: v for k, v in outputs.items() if k in ENV_OF_OUTPUT}
    env["KKREG_RESOURCE_PREFIX"] = f"kkreg-{stage}"
    return env
