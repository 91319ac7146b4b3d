"""SQS: the job queues that fan out background work."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import logs
from chalicelib.domain.errors import Overloaded
from chalicelib.store.codec import translated_errors


class JobQueue:
    def __init__(self, client: Any, queue_name: str) -> None:
        self._sqs = client
        self._name = queue_name
        self._url: str | None = None

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        """Enqueue one job. Raises Overloaded if SQS refuses it after botocore's retries."""
        kwargs: dict[str, Any] = {"QueueUrl": self._queue_url(), "MessageBody": _encode(body)}
        if delay_seconds:
            kwargs["DelaySeconds"] = delay_seconds
        with translated_errors():
            self._sqs.send_message(**kwargs, **_correlated())

    def send_many(self, bodies: list[dict[str, Any]]) -> None:
        """Enqueue up to 10 jobs in one call. Raises Overloaded if any is refused."""
        if not bodies:
            return
        entries = [{"Id": str(i), "MessageBody": _encode(b), **_correlated()} for i, b in enumerate(bodies)]
        with translated_errors():
            resp = self._sqs.send_message_batch(QueueUrl=self._queue_url(), Entries=entries)
        if resp.get("Failed"):
            raise Overloaded(retry_after=1)

    def _queue_url(self) -> str:
        if self._url is None:
            # Looked up once per container: the name is fixed by the infra template.
            with translated_errors():
                self._url = str(self._sqs.get_queue_url(QueueName=self._name)["QueueUrl"])
        return self._url


def _correlated() -> dict[str, Any]:
    """The request's (or job's) correlation ID as a message attribute, so the job's logs carry it too."""
    found = logs.correlation_id()
    return {"MessageAttributes": {logs.KEY: {"DataType": "String", "StringValue": found}}} if found else {}


def _encode(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
