"""The local engine's lighter calls (``local/engine.py``) answer as moto does.

Conditions are parsed once per expression and each call's names and values put in; update trees
are copied by pickle and walked with the handler map taken once. Each test repeats its expression
with other names and values, so that a kept tree that carried one call's values into the next, or
a check skipped on a second call, fails it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

TABLE = "engine-check"


@pytest.fixture
def ddb(moto_account: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", region_name="ap-southeast-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client


def _put(ddb: Any, pk: str, **attrs: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, **attrs})


def _get(ddb: Any, pk: str) -> dict[str, Any]:
    return dict(ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item", {}))


def _error(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_a_kept_condition_is_evaluated_with_each_calls_own_values(ddb: Any) -> None:
    for code in ("a", "b", "c"):
        _put(ddb, code, code={"S": code}, n={"N": "0"})

    def bump(pk: str, code: str) -> None:
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": pk}},
            UpdateExpression="ADD n :one",
            ConditionExpression="code = :code",
            ExpressionAttributeValues={":one": {"N": "1"}, ":code": {"S": code}},
        )

    for _ in range(3):
        for pk in ("a", "b", "c"):
            bump(pk, pk)
            for other in {"a", "b", "c"} - {pk}:
                assert _error(lambda pk=pk, other=other: bump(pk, other)) == "ConditionalCheckFailedException"
    assert [_get(ddb, pk)["n"] for pk in ("a", "b", "c")] == [{"N": "3"}] * 3


def test_a_kept_condition_takes_each_calls_own_names(ddb: Any) -> None:
    _put(ddb, "phone")

    def mark(name: str) -> None:
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "phone"}},
            UpdateExpression="SET #h = :one ADD n :one",
            ConditionExpression="attribute_not_exists(#h) AND (attribute_not_exists(n) OR n < :limit)",
            ExpressionAttributeNames={"#h": name},
            ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "3"}},
        )

    mark("h_1")
    assert _error(lambda: mark("h_1")) == "ConditionalCheckFailedException"  # held already
    mark("h_2")
    mark("h_3")
    assert _error(lambda: mark("h_4")) == "ConditionalCheckFailedException"  # at the limit
    item = _get(ddb, "phone")
    assert item["n"] == {"N": "3"}
    assert {k for k in item if k.startswith("h_")} == {"h_1", "h_2", "h_3"}


def test_a_condition_without_placeholders_is_still_checked_on_every_call(ddb: Any) -> None:
    def create(pk: str) -> None:
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": pk}}, ConditionExpression="attribute_not_exists(pk)")

    for pk in ("x", "y"):
        create(pk)
        assert _error(lambda pk=pk: create(pk)) == "ConditionalCheckFailedException"


def test_names_and_values_that_do_not_fit_are_refused_as_moto_refuses_them(ddb: Any) -> None:
    _put(ddb, "a", code={"S": "a"})
    expression = "code = :code AND attribute_exists(#c)"

    def update(names: dict[str, str] | None, values: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values}
        if names is not None:
            kwargs["ExpressionAttributeNames"] = names
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET seen = :t",
            ConditionExpression=expression,
            **kwargs,
        )

    good = {":t": {"BOOL": True}, ":code": {"S": "a"}}
    update({"#c": "code"}, good)  # the expression's tree is kept from here on
    for _ in range(2):
        # A missing name or value: moto raises KeyError (AWS would answer ValidationException).
        with pytest.raises((ClientError, KeyError)):
            update({"#c": "code"}, {":t": {"BOOL": False}})
        with pytest.raises((ClientError, KeyError)):
            update(None, good | {":t": {"BOOL": False}})
        assert _error(lambda: update({"#c": "code"}, good | {":unused": {"S": "x"}})) == "ValidationException"
        assert _error(lambda: update({"#c": "code", "#unused": "x"}, good)) == "ValidationException"
        assert _get(ddb, "a")["seen"] == {"BOOL": True}  # nothing refused was written
    assert _error(lambda: update({"#c": "code"}, good | {":code": {"S": "b"}})) == "ConditionalCheckFailedException"


def test_an_update_expression_refused_once_is_refused_every_time(ddb: Any) -> None:
    _put(ddb, "a", a={"N": "1"})

    def update(expression: str) -> None:
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":v": {"N": "2"}, ":w": {"N": "3"}},
        )

    for _ in range(3):
        assert _error(lambda: update("SET a = :v, a = :w")) == "ValidationException"  # overlapping paths
        assert _error(lambda: update("SET pk = :v, b = :w")) == "ValidationException"  # the key
        assert _error(lambda: update("SET a = :v SET b = :w")) == "ValidationException"  # two SET clauses
        update("SET a = :v, b = :w")
    assert _get(ddb, "a")["a"] == {"N": "2"}


def test_one_update_tree_serves_many_items_each_with_its_own_values(ddb: Any) -> None:
    expression = (
        "SET tally = if_not_exists(tally, :zero) + :n, seen = list_append(if_not_exists(seen, :empty), :tag)"
        " REMOVE gone ADD calls :one"
    )
    for round_ in range(3):
        for i in range(4):
            pk = f"item-{i}"
            if round_ == 0:
                _put(ddb, pk, gone={"S": "x"})
            ddb.update_item(
                TableName=TABLE,
                Key={"pk": {"S": pk}},
                UpdateExpression=expression,
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":n": {"N": str(i)},
                    ":empty": {"L": []},
                    ":tag": {"L": [{"S": f"{pk}/{round_}"}]},
                    ":one": {"N": "1"},
                },
            )
    for i in range(4):
        item = _get(ddb, f"item-{i}")
        assert item["tally"] == {"N": str(3 * i)}
        assert item["calls"] == {"N": "3"}
        assert item["seen"] == {"L": [{"S": f"item-{i}/{r}"} for r in range(3)]}
        assert "gone" not in item


def test_a_filter_kept_for_one_scan_filters_the_next_with_its_own_value(ddb: Any) -> None:
    for i in range(6):
        _put(ddb, f"s-{i}", colour={"S": "red" if i % 2 else "blue"})

    def scan(colour: str) -> set[str]:
        page = ddb.scan(
            TableName=TABLE,
            FilterExpression="#c = :c",
            ExpressionAttributeNames={"#c": "colour"},
            ExpressionAttributeValues={":c": {"S": colour}},
        )
        return {item["pk"]["S"] for item in page["Items"]}

    for _ in range(2):
        assert scan("red") == {"s-1", "s-3", "s-5"}
        assert scan("blue") == {"s-0", "s-2", "s-4"}
        assert scan("green") == set()


def test_an_expression_that_passed_with_some_names_is_checked_again_with_others(ddb: Any) -> None:
    _put(ddb, "a")

    def update(names: dict[str, str]) -> None:
        ddb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET #a = :v, #b = :w",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":v": {"N": "1"}, ":w": {"N": "2"}},
        )

    for _ in range(2):
        update({"#a": "x", "#b": "y"})  # passes the expression-only checks: kept as passed
        assert _error(lambda: update({"#a": "x", "#b": "x"})) == "ValidationException"  # a path twice
        assert _error(lambda: update({"#a": "pk", "#b": "y"})) == "ValidationException"  # the key
    assert (_get(ddb, "a")["x"], _get(ddb, "a")["y"]) == ({"N": "1"}, {"N": "2"})
