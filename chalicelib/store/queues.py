"""SQS: the job queues that fan out background work."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.store.codec import translated_errors


class JobQueue:
    def __init__(self, client: Any, queue_name: str) -> None:
        self._sqs = client
        self._name = queue_name
        self._url: str | None = None

    def send(self, body: dict[str, Any]) -> None:
        """Enqueue one job. Raises Overloaded if SQS refuses it after botocore's retries."""
        with translated_errors():
            if self._url is None:
                # Looked up once per container: the name is fixed by the infra template.
                self._url = str(self._sqs.get_queue_url(QueueName=self._name)["QueueUrl"])
            self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps(body, separators=(",", ":")))
