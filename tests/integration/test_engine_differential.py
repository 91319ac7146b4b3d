"""The engine's speed-ups (``local/speedups.py``) change no answer: the same recorded boto3 calls are
sent to plain moto (``LOCAL_ENGINE_SPEEDUPS=off``) and to moto with every speed-up, and the answers
must be equal, step by step.

Each engine runs in this process in turn (``engine.start()`` installs or uninstalls the patches as
the setting asks; ``test_engine_speedups.py`` checks that uninstalling leaves moto exactly as it was).
moto's clock is held by the test, so SQS's timestamps, visibility, delays and retention are the same
in both runs. Answers are normalised only where moto draws at random: request IDs and headers are
left out, message IDs, receipt handles and sequence numbers are numbered in the order they appear.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "ap-southeast-1"
# Drawn at random by moto: numbered by first appearance, so that the same message is the same number.
_RANDOM = frozenset({"MessageId", "ReceiptHandle", "SequenceNumber"})


class MotoClock:
    """moto's clock (``moto.core.utils.utcnow``, read by every SQS timing), moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 12, 1, 3, 0, 0)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


class Replay:
    """Sends the calls and records each answer (or error), normalised."""

    def __init__(self, clock: MotoClock) -> None:
        self.clock = clock
        self.answers: list[tuple[str, Any]] = []
        self._numbers: dict[tuple[str, str], str] = {}
        self._clients = {name: boto3.client(name, region_name=REGION) for name in ("dynamodb", "sqs")}

    def ddb(self, step: str, operation: str, **params: Any) -> dict[str, Any]:
        return self._call("dynamodb", step, operation, params)

    def sqs(self, step: str, operation: str, **params: Any) -> dict[str, Any]:
        return self._call("sqs", step, operation, params)

    def setup(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """A call whose answer is not compared (tables' descriptions carry their creation time)."""
        return dict(getattr(self._clients[service], operation)(**params))

    def raw(self, step: str, url: str, target: str | None = None, body: str = "", form: bool = False) -> None:
        """A request made by hand, sent to moto's request handling as the engine's process sends each
        call (``local.apart``): its status, headers (not the date or the request ID) and body, or what
        it raised, or None when moto answers nothing."""
        from botocore.awsrequest import AWSPreparedRequest, HTTPHeaders
        from moto.core.models import botocore_stubber

        headers = HTTPHeaders()
        if target is not None:
            headers["X-Amz-Target"] = target
        headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/x-amz-json-1.0"
        region = re.search(r"\.([a-z]{2}-[a-z]+-\d)\.", url)
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261201/{region[1] if region else REGION}/x/"
            "aws4_request, SignedHeaders=host, Signature=0"
        )
        request = AWSPreparedRequest(method="POST", url=url, headers=headers, body=body.encode(), stream_output=False)
        try:
            answered = botocore_stubber.process_request(request)
        except Exception as exc:  # moto's own refusals of a request (an unknown action, a service not allowed)
            self.answers.append((step, {"raised": type(exc).__name__}))
            return
        if answered is None:
            self.answers.append((step, None))
            return
        status, answer_headers, content = answered
        content = content.decode() if isinstance(content, bytes) else content
        kept = {k.lower(): str(v) for k, v in answer_headers.items() if k.lower() not in ("date", "x-amzn-requestid")}
        try:
            body_seen: Any = self._normal(json.loads(content))  # message IDs numbered, as in every answer
        except ValueError:
            body_seen = re.sub(r"<RequestId>[^<]*</RequestId>", "<RequestId/>", content)
        self.answers.append((step, {"status": status, "headers": kept, "body": body_seen}))

    def _call(self, service: str, step: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = dict(getattr(self._clients[service], operation)(**params))
        except ClientError as exc:
            error = {k: v for k, v in exc.response.items() if k != "ResponseMetadata"}
            self.answers.append((step, {"error": self._normal(error)}))
            return {}
        except Exception as exc:  # moto raises some errors as Python's (a missing value: KeyError)
            self.answers.append((step, {"raised": type(exc).__name__}))
            return {}
        status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode")
        self.answers.append((step, {"status": status, **self._normal(answer)}))
        return answer

    def _normal(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self._normal(v, k) for k, v in value.items() if k != "ResponseMetadata"}
        if isinstance(value, list):
            return [self._normal(v, key) for v in value]
        if key in _RANDOM and isinstance(value, str):
            return self._numbers.setdefault((key, value), f"<{key} {len(self._numbers) + 1}>")
        return value


def _replay(script: Callable[[Replay], None], speedups_on: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from local import engine, speedups

    monkeypatch.setenv("LOCAL_ENGINE_SPEEDUPS", "on" if speedups_on else "off")
    clock = MotoClock()
    monkeypatch.setattr("moto.core.utils.utcnow", clock)
    mock = engine.start()
    try:
        assert speedups.installed() is speedups_on
        replay = Replay(clock)
        script(replay)
        return replay.answers
    finally:
        mock.stop()


# --- the recorded calls ----------------------------------------------------------------------------


def _table(r: Replay, name: str, key_type: str = "S", range_key: bool = False, index: bool = False) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": key_type}]
    extra: dict[str, Any] = {}
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
    if index:
        attributes.append({"AttributeName": "colour", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": "by_colour",
                "KeySchema": [
                    {"AttributeName": "colour", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    r.setup(
        "dynamodb",
        "create_table",
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def _item(i: int) -> dict[str, Any]:
    """Every attribute type, and numbers moto must give back as written."""
    return {
        "pk": {"S": f"p{i:02d}"},
        "n": {"N": str(i)},
        "price": {"N": ["1.50", "-0", "1E+2", "123456789012345678901234567890", "0.000001"][i % 5]},
        "colour": {"S": ("red", "blue", "green")[i % 3]},
        "tags": {"SS": [f"t{i % 4}", "common"]},
        "sizes": {"NS": ["1", str(i + 2)]},
        "blob": {"B": bytes([i, 0, 255, 10])},
        "blobs": {"BS": [b"\x00", bytes([i + 1])]},
        "nested": {"M": {"list": {"L": [{"S": "a"}, {"N": str(i)}, {"BOOL": i % 2 == 0}]}, "none": {"NULL": True}}},
        "flag": {"BOOL": i % 2 == 1},
    }


def conditional_writes(r: Replay) -> None:
    _table(r, "writes")
    for i in range(4):
        r.ddb(
            f"create {i}",
            "put_item",
            TableName="writes",
            Item=_item(i),
            ConditionExpression="attribute_not_exists(pk)",
        )
    for old in ("ALL_OLD", "NONE"):
        r.ddb(
            f"create again ({old} on failure)",
            "put_item",
            TableName="writes",
            Item=_item(1),
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure=old,
        )
    r.ddb("overwrite", "put_item", TableName="writes", Item=_item(2) | {"n": {"N": "20"}}, ReturnValues="ALL_OLD")
    # The same expression with other values and names each time (a kept tree must not carry them over).
    for i in range(4):
        for colour in ("red", "blue", "green"):
            r.ddb(
                f"bump {i} if {colour}",
                "update_item",
                TableName="writes",
                Key={"pk": {"S": f"p{i:02d}"}},
                UpdateExpression="ADD n :one",
                ConditionExpression="#c = :c AND n < :cap",
                ExpressionAttributeNames={"#c": "colour"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":c": {"S": colour}, ":cap": {"N": "10"}},
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
    for mark in ("h_1", "h_1", "h_2", "h_3", "h_4"):
        r.ddb(
            f"share {mark}",
            "update_item",
            TableName="writes",
            Key={"pk": {"S": "phone"}},
            UpdateExpression="SET #h = :one ADD shares :one",
            ConditionExpression="attribute_not_exists(#h) AND (attribute_not_exists(shares) OR shares < :limit)",
            ExpressionAttributeNames={"#h": mark},
            ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "3"}},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    conditions = {
        "begins_with": ("begins_with(colour, :v)", {":v": {"S": "re"}}),
        "size": ("size(tags) > :v", {":v": {"N": "1"}}),
        "contains": ("contains(tags, :v)", {":v": {"S": "t1"}}),
        "in": ("colour IN (:v, :w)", {":v": {"S": "blue"}, ":w": {"S": "green"}}),
        "between": ("n BETWEEN :v AND :w", {":v": {"N": "2"}, ":w": {"N": "4"}}),
        "attribute_type": ("attribute_type(nested, :v)", {":v": {"S": "M"}}),
        "nested path": ("nested.#l[1] = :v", {":v": {"N": "1"}}),
        "not": ("NOT flag = :v", {":v": {"BOOL": True}}),
    }
    for name, (condition, values) in conditions.items():
        for i in range(4):
            kwargs: dict[str, Any] = {"ExpressionAttributeNames": {"#l": "list"}} if "#l" in condition else {}
            r.ddb(
                f"{name} on {i}",
                "update_item",
                TableName="writes",
                Key={"pk": {"S": f"p{i:02d}"}},
                UpdateExpression="SET checked = :t",
                ConditionExpression=condition,
                ExpressionAttributeValues={":t": {"S": name}, **values},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **kwargs,
            )
    for i in (0, 9):  # no placeholders at all: one shared tree, checked on every call
        r.ddb(
            f"exists {i}",
            "update_item",
            TableName="writes",
            Key={"pk": {"S": f"p{i:02d}"}},
            UpdateExpression="SET seen = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
    r.ddb(
        "a condition with a value not given",
        "put_item",
        TableName="writes",
        Item=_item(7),
        ConditionExpression="n = :x",
    )
    r.ddb(
        "a value not used",
        "put_item",
        TableName="writes",
        Item=_item(7),
        ConditionExpression="attribute_not_exists(pk)",
        ExpressionAttributeValues={":unused": {"S": "x"}},
    )
    r.ddb("a condition that does not parse", "put_item", TableName="writes", Item=_item(7), ConditionExpression="pk ==")
    r.ddb(
        "transaction refused",
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "writes", "Item": _item(8), "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": "writes",
                    "Key": {"pk": {"S": "p00"}},
                    "UpdateExpression": "ADD n :one",
                    "ConditionExpression": "n > :big",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":big": {"N": "100"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ],
    )
    r.ddb("after the refusal", "get_item", TableName="writes", Key={"pk": {"S": "p08"}}, ConsistentRead=True)
    for i in (0, 1, 2, 3):
        r.ddb(f"read {i}", "get_item", TableName="writes", Key={"pk": {"S": f"p{i:02d}"}}, ConsistentRead=True)
    r.ddb(
        "read them together",
        "batch_get_item",
        RequestItems={"writes": {"Keys": [{"pk": {"S": f"p{i:02d}"}} for i in (3, 1, 9, 0)], "ConsistentRead": True}},
    )


def update_expressions(r: Replay) -> None:
    _table(r, "updates")
    expression = (
        "SET tally = if_not_exists(tally, :zero) + :n, seen = list_append(if_not_exists(seen, :empty), :tag)"
        " REMOVE gone ADD calls :one"
    )
    for round_ in range(3):
        for i in range(4):
            if round_ == 0 and i < 3:  # the fourth is created by the update itself
                r.ddb(f"put {i}", "put_item", TableName="updates", Item={"pk": {"S": f"u{i}"}, "gone": {"S": "x"}})
            r.ddb(
                f"update {i} round {round_}",
                "update_item",
                TableName="updates",
                Key={"pk": {"S": f"u{i}"}},
                UpdateExpression=expression,
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":n": {"N": str(i)},
                    ":empty": {"L": []},
                    ":tag": {"L": [{"S": f"u{i}/{round_}"}]},
                    ":one": {"N": "1"},
                },
                ReturnValues=("ALL_NEW", "UPDATED_OLD", "ALL_OLD")[round_],
            )
    updates = {
        "set add": ("ADD tags :v", {":v": {"SS": ["a", "b"]}}),
        "set add again": ("ADD tags :v", {":v": {"SS": ["b", "c"]}}),
        "set delete": ("DELETE tags :v", {":v": {"SS": ["a"]}}),
        "number set": ("ADD sizes :v", {":v": {"NS": ["1", "2.50"]}}),
        "arithmetic": ("SET total = tally - :v, half = :v + :v", {":v": {"N": "0.5"}}),
        "list element": ("SET seen[0] = :v, seen[5] = :v", {":v": {"S": "first"}}),
        "list element removed": ("REMOVE seen[1]", {}),
        "map": ("SET m = :v", {":v": {"M": {"a": {"N": "1"}, "b": {"L": [{"NULL": True}]}}}}),
        "map path": ("SET m.a = m.a + :v, m.c = :v", {":v": {"N": "2"}}),
        "several clauses": ("SET x = :v REMOVE m.b ADD calls :v", {":v": {"N": "3"}}),
    }
    for name, (update, values) in updates.items():
        for i in (0, 2):
            kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
            r.ddb(
                f"{name} on {i}",
                "update_item",
                TableName="updates",
                Key={"pk": {"S": f"u{i}"}},
                UpdateExpression=update,
                ReturnValues="ALL_NEW",
                **kwargs,
            )
    # What moto refuses, refused on every call (an expression that passed once, with other names too).
    refused = {
        "overlapping paths": ("SET a = :v, a = :w", None),
        "the key": ("SET pk = :v, b = :w", None),
        "two SET clauses": ("SET a = :v SET b = :w", None),
        "does not parse": ("SET a = = :v", None),
        "passes": ("SET #a = :v, #b = :w", {"#a": "a", "#b": "b"}),
        "a path twice by name": ("SET #a = :v, #b = :w", {"#a": "a", "#b": "a"}),
        "the key by name": ("SET #a = :v, #b = :w", {"#a": "pk", "#b": "b"}),
        "an unused name": ("SET a = :v, b = :w", {"#unused": "x"}),
    }
    for _ in range(2):
        for name, (update, names) in refused.items():
            kwargs = {"ExpressionAttributeNames": names} if names else {}
            r.ddb(
                name,
                "update_item",
                TableName="updates",
                Key={"pk": {"S": "u1"}},
                UpdateExpression=update,
                ExpressionAttributeValues={":v": {"N": "2"}, ":w": {"N": "3"}},
                ReturnValues="ALL_NEW",
                **kwargs,
            )
        r.ddb(
            "an unused value",
            "update_item",
            TableName="updates",
            Key={"pk": {"S": "u1"}},
            UpdateExpression="SET a = :v",
            ExpressionAttributeValues={":v": {"N": "2"}, ":unused": {"N": "3"}},
        )
        r.ddb(
            "a missing value",
            "update_item",
            TableName="updates",
            Key={"pk": {"S": "u1"}},
            UpdateExpression="SET a = :v, b = :missing",
            ExpressionAttributeValues={":v": {"N": "2"}},
        )
        r.ddb(
            "adding to a string",
            "update_item",
            TableName="updates",
            Key={"pk": {"S": "u1"}},
            UpdateExpression="ADD gone :v",
            ExpressionAttributeValues={":v": {"N": "2"}},
        )
    r.ddb("everything", "scan", TableName="updates", ConsistentRead=True)


def _pages(r: Replay, step: str, between: Callable[[int], None] | None = None, **params: Any) -> None:
    """Every page of a scan or query, resumed at each page's LastEvaluatedKey (``between`` runs
    after each page: writes in the middle of a read)."""
    operation = "query" if "KeyConditionExpression" in params else "scan"
    start: dict[str, Any] | None = None
    for page in range(60):
        answer = r.ddb(f"{step} page {page}", operation, **params, **({"ExclusiveStartKey": start} if start else {}))
        start = answer.get("LastEvaluatedKey")
        if between is not None:
            between(page)
        if not start:
            return
    raise AssertionError(f"{step}: still paging after 60 pages")


def scans_with_resume(r: Replay) -> None:
    _table(r, "flat")
    _table(r, "keyed_by_number", key_type="N")
    _table(r, "pairs", range_key=True, index=True)
    for i in range(23):
        r.setup("dynamodb", "put_item", TableName="flat", Item=_item(i))
        r.setup("dynamodb", "put_item", TableName="keyed_by_number", Item=_item(i) | {"pk": {"N": str(i * 7 % 23)}})
        r.setup(
            "dynamodb", "put_item", TableName="pairs", Item=_item(i) | {"pk": {"S": f"p{i % 4}"}, "sk": {"N": str(i)}}
        )
    for limit in (1, 4, 7, 100):
        _pages(r, f"flat by {limit}", TableName="flat", Limit=limit)
    _pages(
        r,
        "flat filtered",
        TableName="flat",
        Limit=5,
        FilterExpression="#c = :c AND n > :n",
        ExpressionAttributeNames={"#c": "colour"},
        ExpressionAttributeValues={":c": {"S": "red"}, ":n": {"N": "2"}},
    )
    _pages(
        r,
        "flat projected",
        TableName="flat",
        Limit=6,
        ProjectionExpression="pk, #c, nested.#l[0]",
        ExpressionAttributeNames={"#c": "colour", "#l": "list"},
    )
    _pages(r, "flat counted", TableName="flat", Limit=6, Select="COUNT")
    for segment in range(3):
        _pages(r, f"flat segment {segment}", TableName="flat", Limit=3, Segment=segment, TotalSegments=3)
    for start in ("p05", "p05a", "p99", "", "a"):  # an item's key, keys between, after and before every item
        r.ddb(f"flat from {start!r}", "scan", TableName="flat", Limit=3, ExclusiveStartKey={"pk": {"S": start}})

    def writes(page: int) -> None:
        """Between pages: items come and go before and after the page's key (the kept key order must follow)."""
        if page == 0:
            r.ddb("add behind", "put_item", TableName="flat", Item=_item(1) | {"pk": {"S": "p00a"}})
            r.ddb("add ahead", "put_item", TableName="flat", Item=_item(1) | {"pk": {"S": "p09a"}})
        elif page == 1:
            r.ddb("remove ahead", "delete_item", TableName="flat", Key={"pk": {"S": "p12"}})
            r.ddb(
                "create by update",
                "update_item",
                TableName="flat",
                Key={"pk": {"S": "p13a"}},
                UpdateExpression="SET n = :n",
                ExpressionAttributeValues={":n": {"N": "1"}},
            )
        elif page == 2:
            r.ddb(
                "remove one, add one",
                "batch_write_item",
                RequestItems={
                    "flat": [
                        {"DeleteRequest": {"Key": {"pk": {"S": "p16"}}}},
                        {"PutRequest": {"Item": _item(2) | {"pk": {"S": "p17a"}}}},
                    ]
                },
            )
        elif page == 3:
            r.ddb(
                "remove one, add one together",
                "transact_write_items",
                TransactItems=[
                    {"Delete": {"TableName": "flat", "Key": {"pk": {"S": "p19"}}}},
                    {"Put": {"TableName": "flat", "Item": _item(3) | {"pk": {"S": "p20a"}}}},
                ],
            )
        elif page == 4:
            r.ddb(
                "a refused transaction",
                "transact_write_items",
                TransactItems=[
                    {"Put": {"TableName": "flat", "Item": _item(3) | {"pk": {"S": "p21a"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": "flat",
                            "Key": {"pk": {"S": "p22"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
            )

    _pages(r, "flat while written", between=writes, TableName="flat", Limit=4)
    _pages(r, "flat after the writes", TableName="flat", Limit=5)
    r.ddb("resume at a removed key", "scan", TableName="flat", Limit=3, ExclusiveStartKey={"pk": {"S": "p12"}})
    for limit in (4, 9):
        _pages(r, f"number keys by {limit}", TableName="keyed_by_number", Limit=limit)
        _pages(r, f"pairs by {limit}", TableName="pairs", Limit=limit)
        _pages(r, f"pairs' index by {limit}", TableName="pairs", IndexName="by_colour", Limit=limit)
    _pages(
        r,
        "pairs filtered",
        TableName="pairs",
        Limit=4,
        FilterExpression="contains(tags, :t)",
        ExpressionAttributeValues={":t": {"S": "t2"}},
    )


def queries(r: Replay) -> None:
    _table(r, "pairs", range_key=True, index=True)
    for i in range(30):
        r.setup(
            "dynamodb", "put_item", TableName="pairs", Item=_item(i) | {"pk": {"S": f"p{i % 3}"}, "sk": {"N": str(i)}}
        )
    for partition in ("p0", "p1", "nobody"):
        for forward in (True, False):
            _pages(
                r,
                f"{partition} {'forward' if forward else 'backward'}",
                TableName="pairs",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": partition}},
                ScanIndexForward=forward,
                Limit=3,
            )
    conditions = {
        "between": "pk = :p AND sk BETWEEN :a AND :b",
        "above": "pk = :p AND sk > :a",
        "at most": "pk = :p AND sk <= :b",
    }
    for name, condition in conditions.items():
        values = {":p": {"S": "p1"}, ":a": {"N": "4"}, ":b": {"N": "22"}}
        _pages(
            r,
            name,
            TableName="pairs",
            KeyConditionExpression=condition,
            ExpressionAttributeValues={k: v for k, v in values.items() if k in condition},
            Limit=2,
        )
    _pages(
        r,
        "filtered",
        TableName="pairs",
        KeyConditionExpression="pk = :p",
        FilterExpression="flag = :f",
        ExpressionAttributeValues={":p": {"S": "p2"}, ":f": {"BOOL": True}},
        Limit=4,
    )
    _pages(
        r,
        "counted",
        TableName="pairs",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p2"}},
        Select="COUNT",
    )
    for colour in ("red", "green"):
        for forward in (True, False):
            _pages(
                r,
                f"index {colour} {forward}",
                TableName="pairs",
                IndexName="by_colour",
                KeyConditionExpression="colour = :c AND sk >= :s",
                ExpressionAttributeValues={":c": {"S": colour}, ":s": {"N": "5"}},
                ScanIndexForward=forward,
                Limit=3,
            )
    r.ddb(
        "a key condition on no key",
        "query",
        TableName="pairs",
        KeyConditionExpression="n = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )


def sparse_index_queries(r: Replay) -> None:
    """The waiting room's shape: a table keyed by a string alone, a sparse index keyed by a slot and
    a number (only some items carry the slot), a number-keyed index with no range key; queries by the
    table's key, and writes that move items in and out of the index between pages."""
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    r.setup(
        "dynamodb",
        "create_table",
        TableName="tickets",
        KeySchema=schema,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "slot", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "arrivals",
                "KeySchema": [{"AttributeName": "slot", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "by_n",
                "KeySchema": [{"AttributeName": "n", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )
    for i in range(40):
        slot = {"slot": {"S": f"q#{i % 4}"}} if i % 5 else {}
        r.setup("dynamodb", "put_item", TableName="tickets", Item=_item(i) | {"n": {"N": str(i % 7)}} | slot)

    def move(page: int) -> None:
        r.setup(
            "dynamodb",
            "update_item",
            TableName="tickets",
            Key={"pk": {"S": f"p{page * 5:02d}"}},
            UpdateExpression="SET slot = :s",
            ExpressionAttributeValues={":s": {"S": "q#1"}},
        )
        r.setup("dynamodb", "delete_item", TableName="tickets", Key={"pk": {"S": f"p{page * 4 + 1:02d}"}})

    for slot in ("q#0", "q#1", "q#9"):
        for forward in (True, False):
            _pages(
                r,
                f"{slot} {forward}",
                TableName="tickets",
                IndexName="arrivals",
                KeyConditionExpression="slot = :s AND n >= :n",
                ExpressionAttributeValues={":s": {"S": slot}, ":n": {"N": "2"}},
                ScanIndexForward=forward,
                Limit=3,
            )
    _pages(
        r,
        "counted",
        TableName="tickets",
        IndexName="arrivals",
        KeyConditionExpression="slot = :s AND n BETWEEN :a AND :b",
        ExpressionAttributeValues={":s": {"S": "q#2"}, ":a": {"N": "1"}, ":b": {"N": "5"}},
        Select="COUNT",
    )
    _pages(
        r,
        "moved between pages",
        between=move,
        TableName="tickets",
        IndexName="arrivals",
        KeyConditionExpression="slot = :s",
        ExpressionAttributeValues={":s": {"S": "q#1"}},
        Limit=2,
    )
    _pages(
        r,
        "no range key, filtered",
        TableName="tickets",
        IndexName="by_n",
        KeyConditionExpression="n = :n",
        FilterExpression="colour <> :c",
        ExpressionAttributeValues={":n": {"N": "3"}, ":c": {"S": "red"}},
        Limit=2,
    )
    for key in ("p07", "p01", "nobody"):
        r.ddb(
            f"the table by {key}",
            "query",
            TableName="tickets",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": key}},
        )


def index_keys_kept(r: Replay) -> None:
    """The index keys ``queries_read_their_key`` keeps, after every kind of write between two queries
    of the same keys: an update moving an item to another key, one removing it from the index, one
    creating an item, one failing half way; a put replacing an item under another key, a delete, a
    batch write; a transaction that lands and one that fails (moto puts back copies of its tables);
    a range-keyed table; a string-keyed, a binary-keyed and a number-keyed index."""
    r.setup(
        "dynamodb",
        "create_table",
        TableName="kept",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "slot", "AttributeType": "S"},
            {"AttributeName": "blob", "AttributeType": "B"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_slot",
                "KeySchema": [
                    {"AttributeName": "slot", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_blob",
                "KeySchema": [{"AttributeName": "blob", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "by_n",
                "KeySchema": [{"AttributeName": "n", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    r.setup(
        "dynamodb",
        "create_table",
        TableName="other",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def key(i: int) -> dict[str, Any]:
        return {"pk": {"S": f"p{i % 3}"}, "sk": {"N": str(i)}}

    for i in range(12):
        r.setup(
            "dynamodb",
            "put_item",
            TableName="kept",
            Item=key(i) | {"slot": {"S": f"s{i % 2}"}, "blob": {"B": bytes([i % 2])}, "n": {"N": str(i % 2)}},
        )

    lookups = [("by_slot", "slot", {"S": s}) for s in ("s0", "s1", "s2")]
    lookups += [("by_blob", "blob", {"B": bytes([b])}) for b in (0, 1)] + [("by_n", "n", {"N": "1.0"})]

    def look(step: str) -> None:
        for index, attribute, value in lookups:
            label = value.get("S") or f"{attribute} {value.get('N') or value['B'][0]}"
            r.ddb(
                f"{step}: {label}",
                "query",
                TableName="kept",
                IndexName=index,
                KeyConditionExpression="#k = :v",
                ExpressionAttributeNames={"#k": attribute},
                ExpressionAttributeValues={":v": value},
            )

    look("at first")
    s2 = {":s": {"S": "s2"}}
    updates: dict[str, dict[str, Any]] = {
        "moved": {
            "Key": key(0),
            "UpdateExpression": "SET slot = :s, #b = :b",
            "ExpressionAttributeValues": s2 | {":b": {"B": bytes([1])}},
            "ExpressionAttributeNames": {"#b": "blob"},
        },
        "left": {"Key": key(1), "UpdateExpression": "REMOVE slot, #b", "ExpressionAttributeNames": {"#b": "blob"}},
        "made": {"Key": key(40), "UpdateExpression": "SET slot = :s", "ExpressionAttributeValues": {":s": {"S": "s1"}}},
        "refused": {
            "Key": key(2),
            "UpdateExpression": "SET slot = :s",
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeValues": s2,
        },
        "half done": {
            "Key": key(3),
            "UpdateExpression": "SET slot = :s, big = :big",
            "ExpressionAttributeValues": s2 | {":big": {"S": "x" * 410_000}},
        },
    }
    for step, params in updates.items():
        r.ddb(step, "update_item", TableName="kept", ReturnValues="NONE", **params)
    look("after the updates")
    r.ddb("replaced", "put_item", TableName="kept", Item=key(4) | {"slot": {"S": "s2"}, "n": {"N": "1"}})
    r.ddb("deleted", "delete_item", TableName="kept", Key=key(5))
    r.ddb(
        "batch",
        "batch_write_item",
        RequestItems={
            "kept": [
                {"PutRequest": {"Item": key(6) | {"slot": {"S": "s2"}}}},
                {"PutRequest": {"Item": key(41) | {"slot": {"S": "s0"}, "blob": {"B": bytes([0])}}}},
                {"DeleteRequest": {"Key": key(7)}},
            ]
        },
    )
    look("after the puts")
    r.ddb(
        "a transaction",
        "transact_write_items",
        TransactItems=[
            {
                "Update": {
                    "TableName": "kept",
                    "Key": key(8),
                    "UpdateExpression": "SET slot = :s",
                    "ExpressionAttributeValues": {":s": {"S": "s2"}},
                }
            },
            {"Delete": {"TableName": "kept", "Key": key(9)}},
            {"Put": {"TableName": "other", "Item": {"pk": {"S": "o1"}}}},
        ],
    )
    look("after a transaction")
    r.ddb(
        "a failed transaction",
        "transact_write_items",
        TransactItems=[
            {
                "Update": {
                    "TableName": "kept",
                    "Key": key(10),
                    "UpdateExpression": "SET slot = :s",
                    "ExpressionAttributeValues": {":s": {"S": "s2"}},
                }
            },
            {
                "Put": {
                    "TableName": "other",
                    "Item": {"pk": {"S": "o1"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ],
    )
    look("after a failed transaction")
    r.ddb(
        "after it, moved",
        "update_item",
        TableName="kept",
        Key=key(11),
        UpdateExpression="SET slot = :s",
        ExpressionAttributeValues=s2,
    )
    look("at the end")


def deletes(r: Replay) -> None:
    _table(r, "gone")
    for i in range(6):
        r.setup("dynamodb", "put_item", TableName="gone", Item=_item(i))
    r.ddb("plain", "delete_item", TableName="gone", Key={"pk": {"S": "p00"}}, ReturnValues="ALL_OLD")
    r.ddb("already gone", "delete_item", TableName="gone", Key={"pk": {"S": "p00"}}, ReturnValues="ALL_OLD")
    for colour in ("blue", "red"):
        r.ddb(
            f"if {colour}",
            "delete_item",
            TableName="gone",
            Key={"pk": {"S": "p03"}},
            ConditionExpression="colour = :c",
            ExpressionAttributeValues={":c": {"S": colour}},
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    r.ddb(
        "if it exists",
        "delete_item",
        TableName="gone",
        Key={"pk": {"S": "p77"}},
        ConditionExpression="attribute_exists(pk)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    r.ddb("what is left", "scan", TableName="gone", ConsistentRead=True)


def item_sizes(r: Replay) -> None:
    """Items of many attributes, and items on either side of moto's size limit (405,000 bytes: the
    key's name and value, then each attribute's name and value)."""
    _table(r, "sizes")
    many = {"pk": {"S": "many"}} | {f"a{i:03d}": {"S": f"value {i}"} for i in range(300)}
    r.ddb("300 attributes", "put_item", TableName="sizes", Item=many)
    r.ddb("300 attributes read", "get_item", TableName="sizes", Key={"pk": {"S": "many"}}, ConsistentRead=True)
    # "pk" + "big" is 5 bytes; "v" is 1: a value of 404,994 bytes makes 405,000, one more is over.
    for name, length in (("at the limit", 404_994), ("one byte over", 404_995)):
        r.ddb(name, "put_item", TableName="sizes", Item={"pk": {"S": "big"}, "v": {"S": "x" * length}})
        r.ddb(f"{name}: stored", "get_item", TableName="sizes", Key={"pk": {"S": "big"}}, ConsistentRead=True)
    # Over only with its last attribute (ten of 40,000 bytes, then 6,000): refused, nothing stored.
    crossing = {"pk": {"S": "late"}} | {f"b{i}": {"S": "y" * 40_000} for i in range(10)} | {"c": {"S": "z" * 6_000}}
    r.ddb("over at the last attribute", "put_item", TableName="sizes", Item=crossing)
    r.ddb("over at the last attribute: stored", "get_item", TableName="sizes", Key={"pk": {"S": "late"}})
    r.ddb(
        "a batch with an item over",
        "batch_write_item",
        RequestItems={"sizes": [{"PutRequest": {"Item": crossing | {"pk": {"S": "batch"}}}}]},
    )
    r.ddb(
        "a projection of the big item",
        "get_item",
        TableName="sizes",
        Key={"pk": {"S": "many"}},
        ProjectionExpression="a001, a299",
    )
    r.ddb("what is stored", "scan", TableName="sizes", ConsistentRead=True, ProjectionExpression="pk")


def routes(r: Replay) -> None:
    """The same URLs, targets and bodies again and again, each after others: a route kept for one URL
    must not answer another service, region, target or action, nor outlive a setting that refuses it."""
    from moto.core.config import default_user_config

    _table(r, "routes")
    r.ddb("stored", "put_item", TableName="routes", Item=_item(1))
    get = json.dumps({"TableName": "routes", "Key": {"pk": {"S": "p01"}}})
    queue = _queue(r, "routed")
    calls: list[tuple[str, str, str | None, str, bool]] = []
    for region in (REGION, "us-east-1", "eu-west-1"):
        ddb, sqs = f"https://dynamodb.{region}.amazonaws.com/", f"https://sqs.{region}.amazonaws.com/"
        calls += [
            (f"get in {region}", ddb, "DynamoDB_20120810.GetItem", get, False),
            (f"tables in {region}", ddb, "DynamoDB_20120810.ListTables", "{}", False),
            (f"get over http in {region}", ddb.replace("https", "http"), "DynamoDB_20120810.GetItem", get, False),
            (f"get on a path in {region}", ddb + "some/path", "DynamoDB_20120810.GetItem", get, False),
            (f"an unknown action in {region}", ddb, "DynamoDB_20120810.NoSuchAction", "{}", False),
            (f"no table named in {region}", ddb, "DynamoDB_20120810.GetItem", "{}", False),
            (f"a body that is not JSON in {region}", ddb, "DynamoDB_20120810.GetItem", "{", False),
            (f"another API version in {region}", ddb, "DynamoDB_20111205.ListTables", "{}", False),
            (
                f"streams in {region}",
                ddb.replace("dynamodb.", "streams.dynamodb."),
                "DynamoDBStreams_20120810.ListStreams",
                "{}",
                False,
            ),
            (f"queues in {region}", sqs, "AmazonSQS.ListQueues", "{}", False),
            (f"a queue's URL in {region}", sqs, "AmazonSQS.GetQueueUrl", json.dumps({"QueueName": "routed"}), False),
            (f"queues by query in {region}", sqs, None, "Action=ListQueues&Version=2012-11-05", True),
            (
                f"a send in {region}",
                sqs,
                "AmazonSQS.SendMessage",
                json.dumps({"QueueUrl": queue, "MessageBody": "m", "DelaySeconds": 900}),
                False,
            ),
        ]
    calls += [
        ("who am I", "https://sts.amazonaws.com/", None, "Action=GetCallerIdentity&Version=2011-06-15", True),
        ("an unknown AWS service", f"https://nosuch.{REGION}.amazonaws.com/", "NoSuch.Thing", "{}", False),
        ("not AWS", "https://example.com/", "DynamoDB_20120810.ListTables", "{}", False),
        ("DynamoDB's host elsewhere", "https://dynamodb.example.com/", "DynamoDB_20120810.ListTables", "{}", False),
    ]
    for round_ in ("first", "again"):
        for step, url, target, body, form in calls:
            r.raw(f"{step} ({round_})", url, target, body, form)
    # Settings read on every call, after the routes are known
    core: Any = default_user_config.setdefault("core", {})
    saved = dict(core)
    ddb = f"https://dynamodb.{REGION}.amazonaws.com/"
    try:
        for label, setting, value in (
            ("only SQS allowed", "service_whitelist", ["sqs"]),
            ("both allowed", "service_whitelist", ["dynamodb", "sqs"]),
            ("DynamoDB passed through", "passthrough", {"services": ["dynamodb"]}),
            ("DynamoDB's URLs passed through", "passthrough", {"urls": [r"https://dynamodb\..*"]}),
            ("SQS's URLs passed through", "passthrough", {"urls": [r"https://sqs\..*"]}),
        ):
            core.clear()
            core.update(saved, **{setting: value})
            r.raw(f"tables with {label}", ddb, "DynamoDB_20120810.ListTables", "{}")
    finally:
        core.clear()
        core.update(saved)
    r.raw("tables with the settings back", ddb, "DynamoDB_20120810.ListTables", "{}")


def _queue(r: Replay, name: str, **attributes: str) -> str:
    return str(r.setup("sqs", "create_queue", QueueName=name, Attributes=attributes)["QueueUrl"])


_COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


def sqs_counts_and_deletes(r: Replay) -> None:
    url = _queue(r, "work", VisibilityTimeout="30")

    def counts(step: str) -> None:
        r.sqs(f"counts {step}", "get_queue_attributes", QueueUrl=url, AttributeNames=_COUNTS)

    counts("empty")
    for i in range(5):
        r.sqs(f"send {i}", "send_message", QueueUrl=url, MessageBody=f"body {i}")
    r.sqs("send delayed", "send_message", QueueUrl=url, MessageBody="later", DelaySeconds=5)
    r.sqs(
        "send a batch",
        "send_message_batch",
        QueueUrl=url,
        Entries=[
            {
                "Id": "a",
                "MessageBody": "batch a",
                "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
            },
            {"Id": "b", "MessageBody": "batch b", "DelaySeconds": 2},
        ],
    )
    counts("after the sends")
    r.sqs("every attribute", "get_queue_attributes", QueueUrl=url, AttributeNames=["All"])
    first = r.sqs(
        "receive 3",
        "receive_message",
        QueueUrl=url,
        MaxNumberOfMessages=3,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    counts("3 in flight")
    handles = [m["ReceiptHandle"] for m in first.get("Messages", [])]
    r.sqs("delete one", "delete_message", QueueUrl=url, ReceiptHandle=handles[0])
    r.sqs("delete it again", "delete_message", QueueUrl=url, ReceiptHandle=handles[0])
    r.sqs("delete no message", "delete_message", QueueUrl=url, ReceiptHandle="not-a-receipt-handle")
    counts("after a delete")
    r.clock.advance(2)
    counts("at the end of the batch's delay")  # delayed while now < delayed_until: not any more
    r.clock.advance(1)
    more = r.sqs("receive the rest", "receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    counts("all in flight but the delayed one")
    r.sqs(
        "delete a batch",
        "delete_message_batch",
        QueueUrl=url,
        Entries=[
            {"Id": "old", "ReceiptHandle": handles[1]},
            *({"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(more.get("Messages", [])[:2])),
            {"Id": "bad", "ReceiptHandle": "not-a-receipt-handle"},
        ],
    )
    counts("after the batch")
    r.clock.advance(3)
    counts("the delayed one due")
    r.sqs("receive the delayed one", "receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    r.sqs("purge", "purge_queue", QueueUrl=url)
    counts("purged")


def sqs_visibility_and_retention(r: Replay) -> None:
    dead = _queue(r, "dead")
    dead_attributes = r.setup("sqs", "get_queue_attributes", QueueUrl=dead, AttributeNames=["QueueArn"])
    dead_arn = dead_attributes["Attributes"]["QueueArn"]
    url = _queue(
        r,
        "brief",
        VisibilityTimeout="10",
        MessageRetentionPeriod="60",
        RedrivePolicy=f'{{"deadLetterTargetArn": "{dead_arn}", "maxReceiveCount": "3"}}',
    )

    def counts(step: str) -> None:
        for name, queue in (("brief", url), ("dead", dead)):
            r.sqs(f"{name} counts {step}", "get_queue_attributes", QueueUrl=queue, AttributeNames=_COUNTS)

    def receive(step: str, **params: Any) -> dict[str, Any]:
        return r.sqs(step, "receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], **params)

    for i in range(3):
        r.sqs(f"send {i}", "send_message", QueueUrl=url, MessageBody=f"body {i}")
    got = receive("first receive")
    counts("in flight")
    receive("nothing visible")
    r.clock.advance(10)
    receive("at the timeout: still hidden")
    counts("at the timeout")  # visible once now > visible_at: not yet
    r.clock.advance(0.001)
    counts("visible again")
    old_handles = [m["ReceiptHandle"] for m in got.get("Messages", [])]
    got = receive("second receive", VisibilityTimeout=20)
    handles = [m["ReceiptHandle"] for m in got.get("Messages", [])]
    r.sqs("delete by a handle received before", "delete_message", QueueUrl=url, ReceiptHandle=old_handles[2])
    r.sqs("shown at once", "change_message_visibility", QueueUrl=url, ReceiptHandle=handles[0], VisibilityTimeout=0)
    r.sqs(
        "hidden longer",
        "change_message_visibility_batch",
        QueueUrl=url,
        Entries=[
            {"Id": "x", "ReceiptHandle": handles[1], "VisibilityTimeout": 40},
            {"Id": "y", "ReceiptHandle": "nope"},
        ],
    )
    r.clock.advance(0.001)
    counts("one shown again")
    receive("the one shown")
    r.clock.advance(21)
    counts("all but one visible")
    receive("third receive: to the dead-letter queue on the next")
    r.clock.advance(50)
    r.sqs("a late message", "send_message", QueueUrl=url, MessageBody="late")
    counts("before the retention ends")
    r.clock.advance(11)  # 60 s and a bit after the first three were sent
    receive("after the retention of the first three")
    counts("after the retention")
    r.sqs(
        "from the dead-letter queue", "receive_message", QueueUrl=dead, MaxNumberOfMessages=10, AttributeNames=["All"]
    )

    # Retention to the millisecond, on a queue of one message (moto stops a receive at the first
    # message past its retention: one behind it would never be reached).
    kept = _queue(r, "kept", MessageRetentionPeriod="60")
    r.sqs("send one to keep", "send_message", QueueUrl=kept, MessageBody="kept")
    for step, seconds in (("just before its retention's end", 59.999), ("at its retention's end", 0.001)):
        r.clock.advance(seconds)
        r.sqs(step, "receive_message", QueueUrl=kept, AttributeNames=["All"], VisibilityTimeout=0)
        r.sqs(f"counts {step}", "get_queue_attributes", QueueUrl=kept, AttributeNames=_COUNTS)


def sqs_fifo(r: Replay) -> None:
    url = _queue(r, "ordered.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for body, group in (("one", "g1"), ("two", "g1"), ("one", "g1"), ("three", "g2"), ("four", "g2")):
        r.sqs(f"send {body} to {group}", "send_message", QueueUrl=url, MessageBody=body, MessageGroupId=group)
    r.sqs(
        "send with an ID",
        "send_message",
        QueueUrl=url,
        MessageBody="one",
        MessageGroupId="g3",
        MessageDeduplicationId="d",
    )
    r.sqs("counts", "get_queue_attributes", QueueUrl=url, AttributeNames=_COUNTS)
    first = r.sqs("receive", "receive_message", QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])
    r.sqs(
        "receive while g1 is in flight", "receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )
    for m in first.get("Messages", []):
        r.sqs("delete", "delete_message", QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    r.clock.advance(31)
    r.sqs("receive the rest", "receive_message", QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
    r.sqs("counts at the end", "get_queue_attributes", QueueUrl=url, AttributeNames=_COUNTS)


def update_plans(r: Replay) -> None:
    """Each expression twice or more (from its second call the plan resolves it, ``update_values_resolved_by_plan``),
    on items where it succeeds and where moto refuses it only then: a value not given, a path read
    that is not there, an operand of the wrong type, an index key given the wrong type or an empty
    string, an ADD of the wrong type; with names, on a new item and with every kind of action."""
    _table(r, "plans", range_key=True, index=True)
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    r.ddb("seed", "put_item", TableName="plans", Item=key | {"n": {"N": "1"}, "colour": {"S": "red"}, "s": {"S": "x"}})
    strings = {"pk": {"S": "strings"}, "sk": {"N": "1"}}
    r.ddb("seed strings", "put_item", TableName="plans", Item=strings | {"n": {"S": "x"}, "c": {"S": "y"}})
    steps: list[tuple[str, str, dict[str, Any], dict[str, str] | None, dict[str, Any]]] = [
        # (step, expression, values, names, key)
        (
            "take",
            "SET #s = :mine ADD n :one, ps :people",
            {":mine": {"S": "m1"}, ":one": {"N": "1"}, ":people": {"SS": ["p1"]}},
            {"#s": "s_p1"},
            key,
        ),
        (
            "take again",
            "SET #s = :mine ADD n :one, ps :people",
            {":mine": {"S": "m2"}, ":one": {"N": "2"}, ":people": {"SS": ["p2", "p1"]}},
            {"#s": "s_p2"},
            key,
        ),
        (
            "take on a new item",
            "SET #s = :mine ADD n :one, ps :people",
            {":mine": {"S": "m3"}, ":one": {"N": "1"}, ":people": {"SS": ["p3"]}},
            {"#s": "s_p3"},
            {"pk": {"S": "new"}, "sk": {"N": "2"}},
        ),
        (
            "take without a value",
            "SET #s = :mine ADD n :one, ps :people",
            {":mine": {"S": "m4"}, ":one": {"N": "1"}},
            {"#s": "s_p2"},
            key,
        ),
        (
            "take adding to a string",
            "SET #s = :mine ADD n :one, ps :people",
            {":mine": {"S": "m5"}, ":one": {"N": "1"}, ":people": {"SS": ["p5"]}},
            {"#s": "s_p5"},
            strings,
        ),
        (
            "count",
            "SET c = if_not_exists(c, :zero) + :n, latest = :n",
            {":zero": {"N": "0"}, ":n": {"N": "3"}},
            None,
            key,
        ),
        (
            "count again",
            "SET c = if_not_exists(c, :zero) + :n, latest = :n",
            {":zero": {"N": "0"}, ":n": {"N": "4"}},
            None,
            key,
        ),
        (
            "count a string",
            "SET c = if_not_exists(c, :zero) + :n, latest = :n",
            {":zero": {"N": "0"}, ":n": {"S": "4"}},
            None,
            key,
        ),
        (
            "count on a string",
            "SET c = if_not_exists(c, :zero) + :n, latest = :n",
            {":zero": {"N": "0"}, ":n": {"N": "4"}},
            None,
            strings,
        ),
        ("first", "SET f = if_not_exists(f, :v)", {":v": {"S": "one"}}, None, key),
        ("first again", "SET f = if_not_exists(f, :v)", {":v": {"S": "two"}}, None, key),
        ("copy", "SET d = n, e = :v - n", {":v": {"N": "10"}}, None, key),
        ("copy again", "SET d = n, e = :v - n", {":v": {"N": "11"}}, None, key),
        (
            "copy from an item without it",
            "SET d = n, e = :v - n",
            {":v": {"N": "10"}},
            None,
            {"pk": {"S": "b"}, "sk": {"N": "1"}},
        ),
        (
            "subtract from what is not there",
            "SET e = :v - n",
            {":v": {"N": "1"}},
            None,
            {"pk": {"S": "b"}, "sk": {"N": "1"}},
        ),
        ("colour", "SET colour = :c, seen = :t", {":c": {"S": "blue"}, ":t": {"BOOL": True}}, None, key),
        ("colour again", "SET colour = :c, seen = :t", {":c": {"S": "green"}, ":t": {"BOOL": False}}, None, key),
        ("colour a number", "SET colour = :c, seen = :t", {":c": {"N": "1"}, ":t": {"BOOL": True}}, None, key),
        ("colour empty", "SET colour = :c, seen = :t", {":c": {"S": ""}, ":t": {"BOOL": True}}, None, key),
        ("colour by name", "SET #c = :c", {":c": {"S": "pink"}}, {"#c": "colour"}, key),
        ("colour by name again", "SET #c = :c", {":c": {"N": "5"}}, {"#c": "colour"}, key),
        ("leave", "REMOVE seen, f, nothing DELETE ps :gone", {":gone": {"SS": ["p1"]}}, None, key),
        ("leave again", "REMOVE seen, f, nothing DELETE ps :gone", {":gone": {"SS": ["p2", "p9"]}}, None, key),
        ("leave with a number", "REMOVE seen, f, nothing DELETE ps :gone", {":gone": {"N": "1"}}, None, key),
        (
            "mark",
            "SET rm_a = :s, tries_a = :n, counted = :t REMOVE removal_due, removal_shard",
            {":s": {"S": "done"}, ":n": {"N": "1"}, ":t": {"BOOL": True}},
            None,
            key,
        ),
        (
            "mark again",
            "SET rm_a = :s, tries_a = :n, counted = :t REMOVE removal_due, removal_shard",
            {":s": {"S": "again"}, ":n": {"N": "2"}, ":t": {"BOOL": True}},
            None,
            key,
        ),
    ]
    # One expression of names alone, again with names that break it (moto's name checks, on the plan).
    by_names = {
        "names": ({"#a": "x", "#b": "y", "#c": "z"}, "n"),
        "names again": ({"#a": "y", "#b": "x", "#c": "x"}, "m"),
        "one name twice": ({"#a": "x", "#b": "x", "#c": "z"}, "n"),
        "a key by name": ({"#a": "x", "#b": "sk", "#c": "z"}, "n"),
        "a key read": ({"#a": "x", "#b": "y", "#c": "pk"}, "n"),
        "a name not given": ({"#a": "x", "#c": "z"}, "n"),
    }
    at = next(i for i, step in enumerate(steps) if step[0] == "leave")
    steps[at:at] = [
        (step, "SET #a = :v, #b = if_not_exists(#c, :v)", {":v": {"S": v}}, names, key)
        for step, (names, v) in by_names.items()
    ]
    for step, expression, values, names, item_key in steps:
        kwargs: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        r.ddb(
            step,
            "update_item",
            TableName="plans",
            Key=item_key,
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            **kwargs,
        )
    r.ddb("all of it", "scan", TableName="plans")


SCRIPTS = [
    conditional_writes,
    update_expressions,
    update_plans,
    scans_with_resume,
    queries,
    sparse_index_queries,
    index_keys_kept,
    deletes,
    item_sizes,
    routes,
    sqs_counts_and_deletes,
    sqs_visibility_and_retention,
    sqs_fifo,
]


@pytest.fixture
def both_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[Replay], None]], tuple[Any, Any]]]:
    def run(script: Callable[[Replay], None]) -> tuple[Any, Any]:
        return _replay(script, False, monkeypatch), _replay(script, True, monkeypatch)

    yield run
    monkeypatch.undo()  # the next engine started follows the session's own setting again


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.__name__ for s in SCRIPTS])
def test_plain_and_patched_moto_answer_the_same_calls_alike(
    both_engines: Callable[[Callable[[Replay], None]], tuple[Any, Any]], script: Callable[[Replay], None]
) -> None:
    # Given the same recorded calls, When they are sent to plain moto and to moto with the speed-ups
    plain, patched = both_engines(script)
    # Then every answer is the same, step by step
    assert [step for step, _ in patched] == [step for step, _ in plain]
    for (step, expected), (_, got) in zip(plain, patched, strict=True):
        assert got == expected, f"{script.__name__}: {step!r} answered otherwise with the speed-ups"
    _assert_the_calls_reach_what_they_are_for(script.__name__, dict(plain))


def _assert_the_calls_reach_what_they_are_for(script: str, answers: dict[str, Any]) -> None:
    """The recorded calls do meet the cases they are there for (else equal answers prove little)."""
    if script == "conditional_writes":
        refused = answers["create again (ALL_OLD on failure)"]["error"]
        assert refused["Error"]["Code"] == "ConditionalCheckFailedException" and refused["Item"]["pk"] == {"S": "p01"}
        assert answers["share h_4"]["error"]["Item"]["shares"] == {"N": "3"}
    elif script == "update_expressions":
        assert answers["update 3 round 2"]["Attributes"]["tally"] == {"N": "6"}
        assert answers["overlapping paths"]["error"]["Error"]["Code"] == "ValidationException"
    elif script == "update_plans":
        assert answers["take again"]["Attributes"]["n"] == {"N": "4"}
        assert answers["count again"]["Attributes"]["c"] == {"N": "7"}
        assert answers["first again"]["Attributes"]["f"] == {"S": "one"}
        assert answers["copy again"]["Attributes"]["e"] == {"N": "7"}
        assert answers["colour again"]["Attributes"]["colour"] == {"S": "green"}
        assert "s_p3" in answers["take on a new item"]["Attributes"]
        assert answers["mark again"]["Attributes"]["tries_a"] == {"N": "2"}
        assert answers["names again"]["Attributes"]["x"] == {"S": "n"}
        for refused in (
            "take without a value",
            "take adding to a string",
            "count a string",
            "count on a string",
            "copy from an item without it",
            "subtract from what is not there",
            "colour a number",
            "one name twice",
            "a key by name",
            "a key read",
            "a name not given",
            "colour empty",
            "leave with a number",
        ):
            assert "error" in answers[refused] or "raised" in answers[refused], refused
    elif script == "scans_with_resume":
        assert "LastEvaluatedKey" in answers["flat while written page 3"]
        assert answers["flat after the writes page 0"]["ScannedCount"] == 5
    elif script == "sparse_index_queries":
        assert answers["q#1 True page 0"]["Count"] == 3 and "LastEvaluatedKey" in answers["q#1 True page 0"]
        assert answers["q#9 True page 0"]["Count"] == 0 and answers["the table by p07"]["Count"] == 1
        # p01 was deleted between the pages of "moved between pages"
        assert answers["the table by p01"]["Count"] == 0 and answers["the table by nobody"]["Count"] == 0
        assert answers["moved between pages page 1"]["Count"] > 0
        assert answers["counted page 0"]["Count"] > 0
    elif script == "index_keys_kept":
        assert answers["at first: s0"]["Count"] == 6 and answers["at first: s2"]["Count"] == 0
        assert answers["at first: n 1.0"]["Count"] == 6
        assert answers["half done"]["error"]["Error"]["Code"] == "ValidationException"
        assert answers["after the updates: s2"]["Count"] == 2 and answers["after the updates: blob 1"]["Count"] == 6
        assert answers["a failed transaction"]["error"]["Error"]["Code"] == "TransactionCanceledException"
        assert answers["at the end: s2"]["Count"] > answers["after a failed transaction: s2"]["Count"]
    elif script == "item_sizes":
        assert len(answers["300 attributes read"]["Item"]) == 301
        assert answers["at the limit: stored"]["Item"]["pk"] == {"S": "big"}
        assert answers["one byte over"]["error"]["Error"]["Code"] == "ValidationException"
        assert "Item" not in answers["over at the last attribute: stored"]
        assert answers["a batch with an item over"]["error"]["Error"]["Code"] == "ValidationException"
    elif script == "routes":
        assert answers["get in ap-southeast-1 (again)"]["status"] == 200
        assert answers["get in ap-southeast-1 (again)"]["body"]["Item"]["pk"] == {"S": "p01"}
        assert answers["get in us-east-1 (again)"]["status"] == 400
        assert "ResourceNotFound" in answers["get in us-east-1 (again)"]["body"]["__type"]
        assert "raised" in answers["an unknown action in eu-west-1 (again)"]
        assert answers["streams in us-east-1 (again)"]["body"] == {"Streams": []}
        assert answers["a send in ap-southeast-1 (again)"]["body"]["MessageId"] == "<MessageId 2>"
        assert "routed" in answers["queues by query in ap-southeast-1 (again)"]["body"]
        assert answers["an unknown AWS service (again)"]["body"] == "Not yet implemented"
        assert answers["not AWS (again)"] is None and answers["DynamoDB's host elsewhere (again)"] is None
        assert answers["tables with only SQS allowed"] == {"raised": "ServiceNotWhitelisted"}
        assert answers["tables with both allowed"]["status"] == 200
        assert answers["tables with DynamoDB passed through"] is None
        assert answers["tables with DynamoDB's URLs passed through"] is None
        assert answers["tables with SQS's URLs passed through"]["status"] == 200
        assert answers["tables with the settings back"]["status"] == 200
    elif script == "sqs_visibility_and_retention":
        assert len(answers["from the dead-letter queue"]["Messages"]) == 1
        assert answers["at the timeout: still hidden"].get("Messages") is None
        assert len(answers["just before its retention's end"]["Messages"]) == 1
        assert answers["at its retention's end"].get("Messages") is None
