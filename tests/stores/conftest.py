"""The store contract: each case runs against both backends of the ``Stores`` protocol.

``backend`` is parametrised over ``fake`` (the in-memory stores of ``tests/unit/fakes.py``, which
the unit suite runs on) and ``dynamo`` (``factory.stores()``: the DynamoDB stores and SQS queues,
on the moto engine, with the tables and queues of ``infra/template.yaml``). The engine and its
stack are built once for this package and emptied before each case, so a case costs a few calls.
``-k fake`` runs the fake half without moto.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.caches import reset_caches
from chalicelib.store import factory
from chalicelib.store.protocols import Stores
from tests.unit.fakes import FakeJobs, FakeStores

STAGE = "test"


class Backend:
    """One implementation of the stores: ``stores()`` gives an empty set with these capacities."""

    kind: str

    def stores(self, primary: int = 3, reserve: int = 2) -> Stores:
        raise NotImplementedError

    def messages(self, queue: str) -> list[dict[str, Any]]:
        """The bodies sent to ``stores().<queue>`` so far, handed over."""
        raise NotImplementedError


class FakeBackend(Backend):
    kind = "fake"

    def __init__(self) -> None:
        self._made: FakeStores | None = None

    def stores(self, primary: int = 3, reserve: int = 2) -> Stores:
        self._made = FakeStores.empty(primary, reserve)
        return self._made

    def messages(self, queue: str) -> list[dict[str, Any]]:
        assert self._made is not None
        jobs = getattr(self._made, queue)
        assert isinstance(jobs, FakeJobs)
        return jobs.take()


class DynamoBackend(Backend):
    kind = "dynamo"

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
        self._engine = engine
        self._monkeypatch = monkeypatch

    def stores(self, primary: int = 3, reserve: int = 2) -> Stores:
        # One quota shard, as the fake has: which shard a place comes from is not in the contract.
        for name, val in (("CAMPAIGN_PRIMARY_CAPACITY", primary), ("CAMPAIGN_RESERVE_CAPACITY", reserve)):
            self._monkeypatch.setenv(name, str(val))
        self._monkeypatch.setenv("QUOTA_SHARDS", "1")
        self._engine.empty()
        reset_caches()
        return factory.stores()

    def messages(self, queue: str) -> list[dict[str, Any]]:
        sqs = self._engine.sqs
        url = sqs.get_queue_url(QueueName=self._engine.queue_names[queue])["QueueUrl"]
        found = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for m in msgs:
                found.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return found


class Engine:
    """The moto engine with the template's tables and queues, and raw clients to empty them."""

    def __init__(self, env: dict[str, str]) -> None:
        import boto3

        from chalicelib.config import queue_name

        region = os.environ["AWS_DEFAULT_REGION"]
        self.db: Any = boto3.client("dynamodb", region_name=region)
        self.sqs: Any = boto3.client("sqs", region_name=region)
        self.tables = {v: self._key_of(v) for k, v in env.items() if k.endswith("_TABLE")}
        kinds = {"promotions": "promotion", "batch_jobs": "batches", "removal_jobs": "removals"}
        kinds |= {"reconcile_jobs": "reconcile", "appointment_jobs": "appointments", "sms_jobs": "sms"}
        self.queue_names = {attr: queue_name(kind) for attr, kind in kinds.items()}

    def _key_of(self, table: str) -> list[str]:
        return [k["AttributeName"] for k in self.db.describe_table(TableName=table)["Table"]["KeySchema"]]

    def empty(self) -> None:
        for table, key in self.tables.items():
            for page in self.db.get_paginator("scan").paginate(TableName=table):
                for item in page["Items"]:
                    self.db.delete_item(TableName=table, Key={k: item[k] for k in key})
        # The queues are not purged (SQS allows one purge a minute): only the jobs' case sends, and
        # it reads what it sent.


@pytest.fixture(scope="package")
def engine() -> Iterator[Engine]:
    from infra import stack
    from local import engine as local_engine

    with pytest.MonkeyPatch.context() as env:
        mock = local_engine.start()
        try:
            outputs = stack.environment(stack.create(STAGE, os.environ["AWS_DEFAULT_REGION"]), STAGE)
            for key, val in outputs.items():
                env.setenv(key, val)
            reset_caches()
            yield Engine(outputs)
        finally:
            mock.stop()
            reset_caches()


@pytest.fixture(params=["fake", "dynamo"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if request.param == "fake":
        yield FakeBackend()
        return
    yield DynamoBackend(request.getfixturevalue("engine"), monkeypatch)
    reset_caches()


@pytest.fixture
def stores(backend: Backend) -> Stores:
    """Empty stores of ``backend``: 3 primary places, 2 on the reserve."""
    return backend.stores()
