"""``make run``'s AWS engine in its own process (``local/apart.py``): every call answered there,
each one atomic however many threads of the service call at once, errors as moto gives them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

CAP = 300


@pytest.fixture
def engine_apart() -> Iterator[Any]:
    from local import apart

    child = apart.start()
    try:
        yield child
    finally:
        child.stop()
    boto3.setup_default_session()


def test_calls_from_many_threads_are_each_atomic_in_the_engine_s_process(engine_apart: Any) -> None:
    ddb = boto3.client("dynamodb", region_name="ap-southeast-1")
    ddb.create_table(
        TableName="apart",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def take(_: int) -> None:
        for _ in range(40):
            try:
                ddb.update_item(
                    TableName="apart",
                    Key={"pk": {"S": "quota"}},
                    UpdateExpression="ADD used :one",
                    ConditionExpression="attribute_not_exists(used) OR used < :cap",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":cap": {"N": str(CAP)}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                outcome = "taken"
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
                assert exc.response["Item"]["used"] == {"N": str(CAP)}  # the item as it was
                outcome = "full"
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=take, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then exactly the capacity was taken, never more, and the engine holds what was answered
    assert outcomes == {"taken": CAP, "full": 12 * 40 - CAP}
    item = ddb.get_item(TableName="apart", Key={"pk": {"S": "quota"}}, ConsistentRead=True)["Item"]
    assert item["used"] == {"N": str(CAP)}


def test_the_engine_s_process_stops_with_the_stack_and_leaves_no_hook_behind(engine_apart: Any) -> None:
    from botocore.handlers import BUILTIN_HANDLERS

    boto3.client("sqs", region_name="ap-southeast-1").create_queue(QueueName="apart")
    engine_apart.stop()
    assert engine_apart.proc.poll() is not None
    assert ("before-send", engine_apart) not in BUILTIN_HANDLERS


@pytest.mark.parametrize("setting", ["on", "off"])
def test_the_engine_s_process_runs_the_speedups_as_the_setting_asks(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local import apart, speedups

    # Given LOCAL_ENGINE_SPEEDUPS, When the engine's process starts
    monkeypatch.setenv("LOCAL_ENGINE_SPEEDUPS", setting)
    child = apart.start()
    try:
        # Then it says whether it runs them, and this side's botocore patches follow suit
        assert child.speedups is (setting == "on")
        assert ("unsigned_requests" in speedups.applied()) is (setting == "on")
        # And it answers either way
        sqs = boto3.client("sqs", region_name="ap-southeast-1")
        sqs.create_queue(QueueName="apart")
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="apart")["QueueUrl"], MessageBody="x")
        attributes = sqs.get_queue_attributes(
            QueueUrl=sqs.get_queue_url(QueueName="apart")["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    finally:
        child.stop()
        boto3.setup_default_session()
