"""Run the app's queue and schedule handlers the way Lambda would, on one machine.

Each SQS event source is polled; its messages go to the handler as a Lambda-shaped event; the
handler's ``batchItemFailures`` stay on the queue (redelivered after the visibility timeout, then
moved to the dead-letter queue by the queue's redrive policy) and the rest are deleted.
Schedules written ``rate(N unit)`` fire every N units, but the waiting room's sequencer, which on
AWS loops through its minute second by second: here it fires every second for one round (its loop
is given the time of one round), so that it never outlives the stack it runs in.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
from chalice import Chalice
from chalice.app import SQSEventConfig
from chalice.local import LambdaContext

IDLE_BACKOFF = 0.25
# The workers' threads, and the pools they start, have names that begin with this (``local.meter``).
WORKERS = "local-workers"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# A daily cron at a fixed UTC time: cron(M H * * ? *)
_DAILY_CRON = re.compile(r"^cron\((\d+) (\d+) \* \* \? \*\)$")
# Schedules fired more often here than their expression says, and the run time they are given:
# ``queue_sequencer`` does one round a second (on AWS one invocation a minute loops ~55 s).
LOCAL_TICKS = {"queue_sequencer": 1.0}
LOCAL_RUNTIME_MS = {"queue_sequencer": 5_100}


@dataclass
class _Source:
    name: str
    queue_url: str
    queue_arn: str
    batch_size: int


class QueueDriver:
    def __init__(self, app: Chalice, region: str) -> None:
        self._app = app
        self._region = region
        self._sqs: Any = boto3.client("sqs", region_name=region)
        self.sources: list[_Source] = []
        self.retry_seconds = int(os.environ.get("LOCAL_RETRY_SECONDS", "1"))
        for src in app.event_sources:
            if isinstance(src, SQSEventConfig) and src.queue:
                url = self._sqs.get_queue_url(QueueName=src.queue)["QueueUrl"]
                arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                    "QueueArn"
                ]
                self.sources.append(_Source(src.name, url, arn, src.batch_size))

    def poll_once(self) -> int:
        """One receive per queue; returns how many messages were handled.

        A handler's calls take the engine lock one at a time, as the requests' do: the removal sweep
        spends about one call per confirmation, and holding the lock for a whole batch of it (and its
        registry calls) would stall every request for seconds.
        """
        return sum(self.poll(src) for src in self.sources)

    def drain(self, max_rounds: int = 1000) -> int:
        """Handle messages until every queue reads empty (for tests)."""
        handled = 0
        for _ in range(max_rounds):
            n = self.poll_once()
            handled += n
            if n == 0:
                return handled
        return handled

    def settle(self, timeout: float = 60.0) -> None:
        """Handle messages until every queue is empty: none waiting, none in another poller's hands
        or waiting out a retry, none delayed (for tests that run beside the workers). Raises
        TimeoutError if that does not happen within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        counts.append("ApproximateNumberOfMessagesDelayed")
        pause = threading.Event()
        while time.monotonic() < deadline:
            if self.poll_once():
                continue
            left = sum(
                int(n)
                for src in self.sources
                for n in self._sqs.get_queue_attributes(QueueUrl=src.queue_url, AttributeNames=counts)[
                    "Attributes"
                ].values()
            )
            if not left:
                return
            pause.wait(0.05)  # a message in another poller's hands, or waiting out its retry
        raise TimeoutError("the queues did not settle")

    def poll(self, src: _Source) -> int:
        """One receive from one queue, its messages handled; returns how many."""
        resp = self._sqs.receive_message(
            QueueUrl=src.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = resp.get("Messages", [])
        if not messages:
            return 0
        failed: set[str] = set()
        # Up to 10 received at once, handed to the function in its own batch size.
        for start in range(0, len(messages), src.batch_size):
            batch = messages[start : start + src.batch_size]
            event = {"Records": [self._record(m, src) for m in batch]}
            context = LambdaContext(function_name=src.name, memory_size=256, max_runtime_ms=30_000)
            try:
                result = self._app.handler_map[src.name](event, context)
                failed |= {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            except Exception:  # noqa: BLE001 - as on Lambda: the whole batch is retried
                failed |= {m["MessageId"] for m in batch}
        # On Lambda a failed message waits out the queue's visibility timeout (minutes); here it is
        # retried after LOCAL_RETRY_SECONDS so that retries and dead letters show within seconds.
        for m in messages:
            if m["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=src.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=self.retry_seconds
                )
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=src.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def _record(self, m: dict[str, Any], src: _Source) -> dict[str, Any]:
        return {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            # Lambda's event spells the attributes in camel case, the SQS API in Pascal case.
            "messageAttributes": {
                name: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
                for name, value in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": src.queue_arn,
            "awsRegion": self._region,
        }


class Schedules:
    def __init__(self, app: Chalice, region: str) -> None:
        self._app = app
        self._region = region
        self._due: dict[str, tuple[float, float]] = {}
        for src in app.event_sources:
            if hasattr(src, "schedule_expression"):  # ScheduledEventConfig (app.schedule)
                expression = src.schedule_expression
                expression = expression.to_string() if hasattr(expression, "to_string") else str(expression)
                period = LOCAL_TICKS.get(src.name) or _period(expression)
                first = period if src.name in LOCAL_TICKS else _first_wait(expression, period)
                self._due[src.name] = (time.monotonic() + first, period)

    def fire_due(self) -> int:
        fired = 0
        for name, (due, period) in list(self._due.items()):
            if time.monotonic() >= due:
                self.fire(name)
                self._due[name] = (time.monotonic() + period, period)
                fired += 1
        return fired

    def fire(self, name: str) -> Any:
        event = {
            "version": "0",
            "id": f"local-{time.time_ns()}",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": self._region,
            "resources": [f"arn:aws:events:{self._region}:123456789012:rule/{name}"],
            "detail": {},
        }
        context = LambdaContext(function_name=name, memory_size=256, max_runtime_ms=LOCAL_RUNTIME_MS.get(name, 60_000))
        return self._app.handler_map[name](event, context)


def _period(expression: str) -> float:
    if _DAILY_CRON.match(expression):
        return 86400
    match = _RATE.match(expression)
    if not match:
        raise ValueError(f"the local driver only runs rate() and daily cron() schedules, not {expression!r}")
    unit = match.group(2).rstrip("s")
    return int(match.group(1)) * _UNIT_SECONDS[unit]


def _first_wait(expression: str, period: float) -> float:
    """Seconds until a schedule first fires: a period from now, or a daily cron's next UTC time."""
    match = _DAILY_CRON.match(expression)
    if not match:
        return period
    now = time.time()
    at = (int(match.group(2)) * 3600 + int(match.group(1)) * 60 - now % 86400) % 86400
    return at or 86400


# Threads polling each queue when ``LOCAL_POLLERS`` does not say: one, but two for the removal lists.
# Lambda runs several batches of one queue at once; here each poller is one at a time, and the removal
# lists (a container's confirmations, ~500 at a time, two registry calls and a write each) are the one
# queue whose work fell behind a burst with one: a full-size ``make bench`` left ~20,000 confirmations
# to settle after its last registration (110 s); with two the sweep kept up (docs/benchmarks.md).
POLLERS = {"removal_worker": 2}


def pollers_for(name: str) -> int:
    """How many threads poll the queue of the function ``name``: ``LOCAL_POLLERS`` if set, else POLLERS'."""
    setting = os.environ.get("LOCAL_POLLERS")
    return int(setting) if setting else POLLERS.get(name, 1)


class BackgroundWorkers(threading.Thread):
    """Fires the schedules, and polls each queue on threads of its own (``pollers_for``), until
    ``stop()``. Lambda polls each event source apart: a removal list that takes seconds does not
    hold up a promotion or an SMS."""

    def __init__(self, app: Chalice, region: str, idle_sleep: float = 0.05) -> None:
        super().__init__(name=WORKERS, daemon=True)
        self.queues = QueueDriver(app, region)
        self.schedules = Schedules(app, region)
        self._stop_event = threading.Event()
        self._idle = idle_sleep
        # Named after the workers: the local meter counts their calls as the background's.
        self._pollers = [
            threading.Thread(target=self._poll, args=(src,), name=f"{WORKERS}-{src.name}-{i}", daemon=True)
            for src in self.queues.sources
            for i in range(pollers_for(src.name))
        ]

    def run(self) -> None:
        for poller in self._pollers:
            poller.start()
        while not self._stop_event.is_set():
            try:
                fired = self.schedules.fire_due()
            except Exception:  # noqa: BLE001 - a failing handler must not stop the driver
                fired = 0
            if not fired:
                self._stop_event.wait(self._idle)

    def _poll(self, src: _Source) -> None:
        while not self._stop_event.is_set():
            try:
                handled = self.queues.poll(src)
            except Exception:  # noqa: BLE001 - a failing receive must not stop the poller
                handled = 0
            if not handled:
                # An empty receive costs the engine as much as a full one, and during a burst most
                # queues are empty: an empty queue is asked again a moment later.
                self._stop_event.wait(IDLE_BACKOFF)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
        for poller in self._pollers:
            if poller.is_alive():
                poller.join(timeout=10)
