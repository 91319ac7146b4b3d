"""Least-privilege IAM policies, one per Lambda function and stage, written to ``.chalice/``.

Chalice's generated policy reads only ``app.py`` and would miss every call made in ``chalicelib``,
so ``autogen_policy`` is off and each function gets the file written here: named actions on the
stage's named tables, indexes, queues and secrets. Account and region are left as ``*`` so the files
do not depend on where they are deployed; the names carry the stage. The stage's KMS key has an ID
only known once it exists, so the data keys' actions are granted on the key that carries the stage's
alias (``kms:ResourceAliases``): ``GenerateDataKey`` to the functions that seal personal fields,
``Decrypt`` to those that open them. (DynamoDB, SQS and CloudWatch Logs use the key through its key
policy, ``infra/template.yaml``: no function is granted that use.)

``python -m infra.policies`` rewrites the files; a test fails when they are out of date, and another
runs the service's flows and checks that every AWS call each function makes is allowed by its file.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHALICE_DIR = Path(__file__).resolve().parent.parent / ".chalice"
APP_NAME = "kk-vaccine-registration"
STAGES = ("dev", "prod")

READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
SCAN = ("dynamodb:Scan",)
CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
SEND = ("sqs:SendMessage", "sqs:GetQueueUrl")
# The data keys of field encryption (chalicelib/store/datakeys.py): sealing takes the period's key,
# made (GenerateDataKey) or unwrapped when another container made it (Decrypt); opening unwraps.
SEAL = ("kms:Decrypt", "kms:GenerateDataKey")
OPEN = ("kms:Decrypt",)


@dataclass(frozen=True)
class Access:
    """What one function may touch: table -> actions, queues it sends to or consumes, secrets."""

    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    send: tuple[str, ...] = ()
    consume: str | None = None
    secrets: tuple[str, ...] = ()
    data_keys: tuple[str, ...] = ()


_CORE = {"registrations": READ + WRITE, "people": READ + WRITE, "campaign": READ + WRITE}
_REGISTRY_KEYS = ("mor-phrom-api-key", "khon-kaen-phrom-api-key")

# Function name (as in app.py and .chalice/config.json) -> its access. A queue consumer may also
# send to its own dead-letter queue (poison messages go there at once).
FUNCTIONS: dict[str, Access] = {
    "api_handler": Access(
        tables={
            **_CORE,
            "registrations": READ + WRITE + SCAN,  # the admin's CSV export pages through it
            "idempotency": ("dynamodb:GetItem", *WRITE),
            "staff": READ + WRITE,
            "batches": READ + WRITE,
            # A new phone's verification is a conditional PutItem of its item.
            "attempts": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"),
            # The waiting room; a reader runs a round itself (queries) when the sequencer lags.
            "queue": READ + WRITE,
        },
        send=("promotion", "batches", "removals", "reconcile", "appointments", "sms"),
        secrets=("hmac-key",),
        data_keys=SEAL,  # registrations, reclaims, phones to verify, employers' rows
    ),
    "staff_token": Access(tables={"staff": ("dynamodb:GetItem",)}),
    "promotion_worker": Access(
        tables=_CORE,
        send=("promotion", "removals", "promotion-dlq"),
        consume="promotion",
        secrets=("hmac-key",),
        data_keys=OPEN,
    ),
    "batch_worker": Access(
        tables={**_CORE, "batches": READ + WRITE},
        send=("batches", "removals", "batches-dlq"),
        consume="batches",
        secrets=("hmac-key",),
        data_keys=SEAL,  # opens the rows, seals each registration
    ),
    "removal_worker": Access(
        tables={"registrations": READ + WRITE, "campaign": READ + WRITE},
        # The sweep continues itself through its own queue.
        send=("removals", "removals-dlq"),
        consume="removals",
        secrets=_REGISTRY_KEYS,
        data_keys=OPEN,  # the national ID the registries are asked about
    ),
    "reconcile_worker": Access(
        tables={**_CORE, "registrations": READ + WRITE + SCAN},
        send=("reconcile", "removals", "promotion", "reconcile-dlq"),
        consume="reconcile",
        secrets=("hmac-key", *_REGISTRY_KEYS),
        data_keys=OPEN,
    ),
    "appointment_worker": Access(
        # Closing a day cancels no-shows: the person's claim (people) and the place (promotion).
        tables=_CORE,
        send=("appointments", "sms", "promotion", "appointments-dlq"),
        consume="appointments",
        secrets=("hmac-key",),
        data_keys=OPEN,
    ),
    "sms_worker": Access(
        # Verification codes are a keyed hash of their ID: the worker derives them with the HMAC key.
        # A batch of verification SMS reads its phones' items at once.
        tables={
            "registrations": READ + WRITE,
            "campaign": READ + WRITE,
            "attempts": ("dynamodb:GetItem", "dynamodb:BatchGetItem"),
        },
        send=("sms-dlq",),
        consume="sms",
        secrets=("sms-api-key", "hmac-key"),
        data_keys=OPEN,  # the phones it sends to
    ),
    "sweep": Access(tables=_CORE, send=("promotion", "removals"), data_keys=OPEN),
    # The waiting room's sequencer: the line's table, and the campaign's counts (a full line stops).
    # No data key: a ticket holds the phone's keyed hash only, and the counts are no personal field.
    "queue_sequencer": Access(tables={"queue": READ + WRITE, "campaign": ("dynamodb:BatchGetItem",)}),
    "allocate_daily": Access(tables={"campaign": READ + WRITE}, send=("appointments",)),
    "close_daily": Access(send=("appointments",)),
    "reconcile_hourly": Access(
        tables={"campaign": READ + WRITE, "registrations": READ}, send=("reconcile",), data_keys=OPEN
    ),
    "reconcile_daily": Access(
        tables={"campaign": READ + WRITE, "registrations": READ}, send=("reconcile",), data_keys=OPEN
    ),
    # Reads nothing: it queues the scan's segments, which the reconcile worker runs.
    "retention_daily": Access(send=("reconcile",)),
}


def lambda_name(stage: str, function: str) -> str:
    """The name Chalice gives the function's Lambda (the API handler is the bare app-stage name)."""
    return f"{APP_NAME}-{stage}" if function == "api_handler" else f"{APP_NAME}-{stage}-{function}"


def policy(stage: str, function: str) -> dict[str, Any]:
    access = FUNCTIONS[function]
    prefix = f"kkreg-{stage}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"arn:aws:logs:*:*:log-group:/aws/lambda/{lambda_name(stage, function)}:*"],
        },
        {
            # X-Ray accepts no narrower resource than "*" for these two actions.
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": ["*"],
        },
    ]
    by_actions: dict[tuple[str, ...], list[str]] = {}
    for table, actions in access.tables.items():
        arn = f"arn:aws:dynamodb:*:*:table/{prefix}-{table}"
        by_actions.setdefault(tuple(sorted(set(actions))), []).extend([arn, f"{arn}/index/*"])
    for n, (actions, resources) in enumerate(sorted(by_actions.items())):
        statements.append(
            {"Sid": f"Tables{n}", "Effect": "Allow", "Action": list(actions), "Resource": sorted(resources)}
        )
    if access.send:
        statements.append(
            {
                "Sid": "SendJobs",
                "Effect": "Allow",
                "Action": list(SEND),
                "Resource": [f"arn:aws:sqs:*:*:{prefix}-{q}" for q in access.send],
            }
        )
    if access.consume:
        statements.append(
            {
                "Sid": "ConsumeQueue",
                "Effect": "Allow",
                "Action": list(CONSUME),
                "Resource": [f"arn:aws:sqs:*:*:{prefix}-{access.consume}"],
            }
        )
    if access.secrets:
        statements.append(
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                # Secrets Manager appends 6 random characters to a secret's ARN.
                "Resource": [f"arn:aws:secretsmanager:*:*:secret:{prefix}/{s}-??????" for s in access.secrets],
            }
        )
    if access.data_keys:
        statements.append(
            {
                "Sid": "DataKeys",
                "Effect": "Allow",
                "Action": list(access.data_keys),
                "Resource": ["arn:aws:kms:*:*:key/*"],
                # The stage's key only: the one its alias names (infra/template.yaml, DataKeyAlias).
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [data_key_alias(stage)]}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def data_key_alias(stage: str) -> str:
    """The alias of the stage's KMS key (the template's ``DataKeyAlias``, ``KKREG_DATA_KEY``'s default)."""
    return f"alias/kkreg-{stage}-data"


def policy_file(stage: str, function: str) -> str:
    """The file name, relative to ``.chalice/``, as ``iam_policy_file`` gives it."""
    return f"policy-{stage}-{function}.json"


def render(stage: str, function: str) -> str:
    return json.dumps(policy(stage, function), indent=2) + "\n"


def main() -> int:
    for stage in STAGES:
        for function in FUNCTIONS:
            (CHALICE_DIR / policy_file(stage, function)).write_text(render(stage, function), encoding="utf-8")
    print(f"wrote {len(STAGES) * len(FUNCTIONS)} policy files to {CHALICE_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
