"""Every kind of queue message delivered twice, and out of order: no double effect.

A driver that, for each queue, takes every visible message, hands them to the handler one by one
in a shuffled order and then again in the reverse order (each job is seen twice, and later jobs
before earlier ones), must leave the same end state as the ordinary driver, with the invariants
holding: nobody promoted, removed, given an appointment or sent an SMS twice, counts exact.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from local.driver import QueueDriver
from tests.fault.world import World

KINDS = {"release", "batch_chunk", "removals", "segment", "allocate", "appointment_sms"}


class TwiceShuffled(QueueDriver):
    """Delivers each message twice: the batch shuffled, then reversed (seeded, reproducible)."""

    def __init__(self, app: Any, region: str) -> None:
        super().__init__(app, region)
        self.rng = random.Random(20210706)
        self.delivered: Counter[str] = Counter()

    def poll(self, src: Any) -> int:
        import json

        from chalice.local import LambdaContext

        messages: list[dict[str, Any]] = []
        while batch := self._sqs.receive_message(
            QueueUrl=src.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages"):
            messages.extend(batch)
        if not messages:
            return 0
        order = list(messages)
        self.rng.shuffle(order)
        succeeded: set[str] = set()
        for m in order + order[::-1]:
            context = LambdaContext(function_name=src.name, memory_size=256, max_runtime_ms=30_000)
            result = self._app.handler_map[src.name]({"Records": [self._record(m, src)]}, context)
            if not result.get("batchItemFailures"):
                succeeded.add(m["MessageId"])
            self.delivered[json.loads(m["Body"])["kind"]] += 1
        for m in messages:
            if m["MessageId"] in succeeded:
                self._sqs.delete_message(QueueUrl=src.queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                self._sqs.change_message_visibility(
                    QueueUrl=src.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
        return len(messages)


def scenario(w: World) -> str:
    """Two confirmed people cancel while two wait (two releases, removals of four), an employer
    sends two rows, appointments are allocated (SMS each), and a full reconciliation runs."""
    from chalicelib.services import appointments, reconcile
    from tests.helpers import body

    w.fresh(2, 2)
    ids = [w.register(n)[1]["registration_id"] for n in range(1, 5)]
    w.cancel(ids[1])
    w.cancel(ids[0])
    w.submit_batch([body(5), body(6)])
    w.queues.drain()
    appointments.start()
    run_id = reconcile.start(full=True)
    w.queues.drain()
    return run_id


def end_state(w: World, run_id: str) -> dict[str, Any]:
    from chalicelib.services import reconcile

    regs = w.items("REGISTRATIONS_TABLE")
    run = reconcile.status(run_id)
    return {
        **w.outcome(),
        "appointments": sorted((r["national_id"], r.get("appt_date"), r.get("appt_site")) for r in regs),
        "sms": len(w.stand_ins["sms"].messages),
        "reconcile": (run.status, run.segments_done),
    }


def test_each_kind_of_message_twice_and_out_of_order_has_one_effect(world: World, app: Any) -> None:
    # Given the end state when every message is delivered once, in order
    run_id = scenario(world)
    world.check()
    expected = end_state(world, run_id)
    assert expected["sms"] == 2 and expected["reconcile"] == ("done", 8)
    # When every message is delivered twice, shuffled then reversed
    twice = TwiceShuffled(app, world.env.get("AWS_REGION") or "ap-southeast-1")
    world.queues = twice
    world.stand_ins["sms"].messages.clear()
    run_id = scenario(world)
    # Then every kind of job was delivered twice, and the end state is the same
    assert set(twice.delivered) == KINDS
    assert all(n >= 2 for n in twice.delivered.values())
    world.check()
    assert end_state(world, run_id) == expected
