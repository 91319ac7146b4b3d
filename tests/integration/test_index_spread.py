"""The sparse indexes are spread over ``INDEX_SHARDS`` partition key values (issue 23): on AWS an index
partition takes ~1,000 writes a second, and every confirmation writes ``removal-pending`` twice and
``appointment-pending`` once. Their order across the shards is the store contract's
(tests/stores/test_registrations.py); here, on the engine, the spread itself and what was written
before it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from chalicelib.store.clients import dynamodb
from chalicelib.store.factory import stores
from chalicelib.store.registrations.keys import APPOINTMENT_PENDING_INDEX, INDEX_SHARDS
from tests.stores.people import START, person

PEOPLE = 160


def _index_keys(table: str) -> list[dict[str, Any]]:
    pages = dynamodb().get_paginator("scan").paginate(TableName=table)
    return [item for page in pages for item in page["Items"]]


def test_confirmations_spread_over_every_shard_of_the_sparse_indexes(aws: dict[str, str]) -> None:
    # Given many confirmed registrations
    regs = stores().registrations
    for n in range(PEOPLE):
        reg, pointer = person(n)
        regs.create(reg, pointer, None)
    # When their index keys are read
    items = _index_keys(aws["REGISTRATIONS_TABLE"])
    # Then each index's partition key takes every shard's value, none much more than its share
    for attr in ("removal_shard", "appt_shard"):
        spread = Counter(i[attr]["S"] for i in items)
        assert set(spread) == {str(k) for k in range(INDEX_SHARDS)}, attr
        assert max(spread.values()) <= 3 * PEOPLE / INDEX_SHARDS, (attr, spread)


def test_a_registration_written_before_the_spread_is_still_read(aws: dict[str, str]) -> None:
    # Given a registration as written before the spread (every index key "1")
    regs = stores().registrations
    reg, pointer = person(1)
    regs.create(reg, pointer, None)
    table = aws["REGISTRATIONS_TABLE"]
    key = {"registration_id": {"S": _index_keys(table)[0]["registration_id"]["S"]}}
    dynamodb().update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET removal_shard = :one, appt_shard = :one",
        ExpressionAttributeValues={":one": {"S": "1"}},
    )
    # When the indexes are read
    # Then it is due for removal and waiting for an appointment
    assert [r.registration_id for r in regs.due_removals(START.replace(year=2030), 10)] == [reg.registration_id]
    assert [r.registration_id for r in regs.waiting_for_appointment(None, 10)[0]] == [reg.registration_id]


def test_an_allocation_cursor_of_before_the_spread_goes_on_where_it_stopped(aws: dict[str, str]) -> None:
    # Given three registrations waiting as written before the spread, and the cursor a page of one
    # left then (the index's own LastEvaluatedKey, in an allocation message sent before the deploy)
    regs = stores().registrations
    made = []
    for n in (1, 2, 3):
        reg, pointer = person(n)
        regs.create(reg, pointer, None)
        made.append(reg)
    table = aws["REGISTRATIONS_TABLE"]
    for item in _index_keys(table):
        dynamodb().update_item(
            TableName=table,
            Key={"registration_id": item["registration_id"]},
            UpdateExpression="SET appt_shard = :one",
            ExpressionAttributeValues={":one": {"S": "1"}},
        )
    old = dynamodb().query(
        TableName=table,
        IndexName=APPOINTMENT_PENDING_INDEX,
        KeyConditionExpression="appt_shard = :one",
        ExpressionAttributeValues={":one": {"S": "1"}},
        Limit=1,
    )
    # When allocation goes on from that cursor
    rest, cursor = regs.waiting_for_appointment(old["LastEvaluatedKey"], 10)
    # Then it reads the ones after it, and ends
    assert [r.registration_id for r in rest] == [r.registration_id for r in made[1:]]
    assert cursor is None
