"""The local stack's meter (``LOCAL_METER=1``, `make bench`) keeps one counter per kind of request,
however many it counts (issue 21, finding 16; the other per-container maps: tests/unit/test_memory_bounds.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local import keys, meter

MORE = 1_000


def test_the_meter_keeps_one_counter_per_kind_of_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meter, "_paths", {})
    answers = [
        (201, '{"status": "confirmed"}'),
        (201, '{"status": "reserve"}'),
        (409, '{"error": {"code": "registration_full"}}'),
        (409, '{"error": {"code": "already_registered"}}'),
        (400, "{}"),
        (500, "not json"),
    ]
    # Given many registrations answered in every way, and phone verifications
    for n in range(len(answers) + MORE):
        if meter.begin("POST", "/v1/registrations"):
            status, body = answers[n % len(answers)]
            meter.end({"statusCode": status, "body": body})
        if meter.begin("POST", f"/v1/verifications/v_{n}/confirm"):
            meter.end({"statusCode": 200})
    # Then the meter holds one counter per kind, whatever the number of requests
    assert set(meter._paths) == {
        "confirmed",
        "reserve",
        "refused_full",
        "repeat",
        "invalid",
        "other",
        "verification_confirm",
    }


def test_a_data_keys_calls_are_counted_apart_from_the_request_that_happened_to_make_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collections import Counter

    monkeypatch.setattr(meter, "_paths", {})
    monkeypatch.setattr(meter, "_data_keys", Counter())
    # Given a container's first registration, which takes the period's data key before its own write
    assert meter.begin("POST", "/v1/registrations")
    meter._on_call("before-call.dynamodb.GetItem", params={"body": b'{"Key": {"pk": {"S": "datakey#493912"}}}'})
    meter._on_call("before-call.kms.GenerateDataKey", params={"body": b'{"KeyId": "alias/kkreg-test-data"}'})
    meter._on_call("before-call.dynamodb.PutItem", params={"body": b'{"Item": {"pk": {"S": "datakey#493912"}}}'})
    meter._on_call("before-call.dynamodb.PutItem", params={"body": b'{"Item": {"registration_id": {"S": "p#x"}}}'})
    meter.end({"statusCode": 201, "body": '{"status": "confirmed"}'})
    # When the meter reports
    report = meter.report()
    # Then the path has its own write only, and the data key's three calls are counted as such
    assert report["paths"]["confirmed"]["by_operation"] == {"dynamodb.PutItem": 1}
    assert report["data_keys"] == {
        "aws_requests": 3,
        "dynamodb.GetItem": 1,
        "kms.GenerateDataKey": 1,
        "dynamodb.PutItem": 1,
    }


def test_the_waiting_rooms_requests_are_counted_by_kind_not_by_ticket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meter, "_paths", {})
    # Given joins, shared status reads, and reads of many tickets, some answered with an admission
    for n in range(MORE):
        for method, path, body in (
            ("POST", "/v1/queue", '{"ticket": "q_1", "status": "waiting"}'),
            ("GET", "/v1/queue", '{"status": "open", "serving": 3}'),
            ("GET", f"/v1/queue/q_{n}", '{"status": "waiting", "position": 9}'),
            ("GET", f"/v1/queue/q_{n}?x=1", '{"status": "admitted", "admission_token": "t"}'),
            ("DELETE", f"/v1/queue/q_{n}", "{}"),
        ):
            if meter.begin(method, path):
                meter.end({"statusCode": 200, "body": body})
    # Then each kind has one counter (a ticket's read that admits apart), and other methods none
    assert {k: v["requests"] for k, v in meter._paths.items()} == {
        "queue_join": MORE,
        "queue_status": MORE,
        "queue_ticket": MORE,
        "queue_admission": MORE,
    }


# -- the partition keys (local/keys.py) ----------------------------------------------------------------


def test_a_key_pattern_keeps_words_and_replaces_what_varies() -> None:
    assert keys.pattern("gate") == "gate"
    assert keys.pattern("stats#3") == "stats#<n>"
    assert keys.pattern("phones#" + "ab12" * 8) == "phones#<hash>"
    assert keys.pattern("p#Zx9-Qq_3kLmN0pQrStUvWxYz") == "p#<id>"
    assert keys.pattern("audit#2026-12-01") == "audit#<date>"
    assert keys.pattern("slot#2026-12-01#2") == "slot#<date>#<n>"
    assert keys.pattern("7") == "<n>"


@pytest.fixture
def counted(aws: dict[str, str]) -> Iterator[None]:
    """The keys of every DynamoDB call of clients made from here on, counted from zero."""
    import boto3

    from chalicelib.caches import reset_caches

    boto3.setup_default_session()
    keys.install(boto3._get_default_session().events)
    keys.reset()
    reset_caches()
    yield
    boto3.setup_default_session()
    keys.reset()
    reset_caches()


def _writes(where: str) -> dict[str, dict[str, Any]]:
    table, _, index = where.partition("/")
    rows = keys.report()["start"]["writes"]
    return {r["pattern"]: r for r in rows if r["table"] == table and r["index"] == (index or None)}


def test_a_write_counts_on_its_table_key_and_on_each_index_partition_it_enters_or_leaves(counted: None) -> None:
    from chalicelib.domain.models import REGISTRIES
    from chalicelib.store.factory import stores
    from chalicelib.store.registrations.keys import shard_of
    from tests.stores.people import person

    regs = stores().registrations
    # Given a confirmed registration (its removals pending: in both sparse indexes)
    reg, pointer = person(1)
    regs.create(reg, pointer, None)
    shard = shard_of(reg.registration_id)
    # When the same person is created again (a refused conditional put), then the sweep is done with it
    with pytest.raises(Exception):  # noqa: B017 - Taken: the store contract's, not this test's
        regs.create(reg, pointer, None)
    regs.record_removals(reg, dict.fromkeys(REGISTRIES, "removed"), None, True, {})
    # Then the table's key took all three writes (the refused one spends its write too)
    table = _writes("registrations")["p#<id>"]
    assert (table["count"], table["distinct_values"], table["busiest_value"], table["busiest_key"]) == (3, 1, 3, None)
    # And the removal index's shard took two: the entry in, and out (a REMOVE names no value)
    removal = _writes("registrations/removal-pending")["<n>"]
    assert (removal["count"], removal["busiest_key"]) == (2, shard)
    # And the appointment index's shard one: the refused put and the sweep's write do not touch it
    appointment = _writes("registrations/appointment-pending")["<n>"]
    assert (appointment["count"], appointment["busiest_key"]) == (1, shard)


def test_the_key_counts_stay_bounded_per_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a bound of 100 values a pattern
    monkeypatch.setattr(keys, "MAX_VALUES", 100)
    tally = keys.Tally(named=False)
    # When far more distinct values are counted, and one of them often
    for n in range(100 + MORE):
        tally.add(f"p#{n:020d}", second=n // 100)
    for _ in range(50):
        tally.add("p#" + "0" * 20, second=99)
    # Then the tally keeps at most the bound, still counts every write, and the busiest value stands out
    row = tally.row()
    assert len(tally.per_value) == 100
    assert row["count"] == 100 + MORE + 50
    assert row["busiest_value"] == 51
    assert row["peak_per_s"] == 50
