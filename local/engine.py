"""moto in-process as the AWS engine, with every AWS call made atomic.

moto has no locking: two requests served at once can interleave inside one operation (and its
transactions copy and restore whole tables). Real DynamoDB makes each single-item write atomic;
one engine lock around every call gives the local stack the same guarantee, while requests still
interleave *between* calls as they do on AWS.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from typing import Any

import botocore.endpoint
import botocore.signers
import botocore.useragent
from moto import mock_aws
from moto.core import responses as moto_responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.utils import unix_time_millis
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.sqs.models import Queue, SQSBackend

ENGINE_LOCK = threading.RLock()
_NOTHING_REAL = "local"  # moto takes any credentials; these open no AWS account
_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": _NOTHING_REAL,
    "AWS_SESSION_TOKEN": _NOTHING_REAL,
    "AWS_DEFAULT_REGION": "ap-southeast-1",
    "AWS_REGION": "ap-southeast-1",
}


def _serialised(process: Any) -> Any:
    def locked(self: BotocoreStubber, request: Any) -> Any:
        with ENGINE_LOCK:
            return process(self, request)

    locked.__wrapped__ = process  # type: ignore[attr-defined]
    return locked


def fake_credentials() -> None:
    """Point boto3 at nothing real: fake credentials and a region, never an AWS account."""
    for key, val in _FAKE_ENV.items():
        os.environ[key] = val
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)


def _unsigned(self: botocore.signers.RequestSigner, operation_name: str, request: Any, *args: Any, **kw: Any) -> None:
    # moto reads the account from the credential's access key: keep that part of the header.
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={_FAKE_ENV['AWS_ACCESS_KEY_ID']}/20210706/{self.region_name}/"
        f"{self.signing_name}/aws4_request, SignedHeaders=host, Signature=0"
    )


def _lighter_calls() -> None:
    """Work an in-process engine need not do on every call, found by profiling the stack under load.

    Measured on one conditional UpdateItem (the commonest call of a registration): 5.7 ms -> 4.6 ms
    from the first two, and more from the last two (``make bench`` has the figures).
    - No SigV4 signature (a fixed header) and a fixed User-Agent: moto checks neither, and botocore spends ~1 ms of
      each call building them. Only ever applied with moto started: nothing here can reach AWS.
    - moto lists a response class's methods with ``inspect.getmembers`` on every call: once is enough.
    - moto parses an UpdateExpression up to three times a call: parse each distinct one once. The
      tree is shared: moto only reads it, and its validator works on a deep copy of its own.
    - botocore gives every call an invocation ID from ``uuid4()`` (16 bytes from the kernel's random
      source): ~5% of the served stack's busy time under the bench. A counter is as unique here.
    """
    botocore.useragent.UserAgentString.to_string = lambda self: "kkreg-local-stack"  # type: ignore[method-assign]
    botocore.signers.RequestSigner.sign = _unsigned  # type: ignore[method-assign]
    moto_responses.method_names_from_class = functools.lru_cache(maxsize=None)(  # type: ignore[assignment]
        moto_responses.method_names_from_class
    )
    botocore.endpoint.uuid = _CountedIds()  # type: ignore[attr-defined]
    parse = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=1024)(parse))  # type: ignore[method-assign,assignment]


class _CountedIds:
    """Stands in for the ``uuid`` module inside botocore.endpoint: unique IDs without a syscall."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def uuid4(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._next):012x}"


_sending = threading.local()


def _queues_walked_once() -> None:
    """moto's SQS walks the whole queue, reading the clock once per message, three times for every
    message sent (the queue's approximate counts) and nine times for every message received (its
    retention check reads all the queue's attributes): quadratic in the queue's depth, which grows
    while the workers lag behind a burst. Same rules here (visible: now > visible_at; delayed:
    now < delayed_until), one clock reading per walk, and the retention read from the queue itself.
    A send reads the queue's attributes only for ``ContentBasedDeduplication``: it walks nothing
    (the counts it would compute are never read; before, a send to the SMS queue 9,000 deep spent
    more time counting than the verification request's two writes).
    """
    if getattr(Queue, "_walked_once", False):
        return
    Queue._walked_once = True  # type: ignore[attr-defined]

    def counted(test: Any) -> property:
        def count(self: Queue) -> int:
            if getattr(_sending, "on", False):
                return 0  # a send reads only ContentBasedDeduplication from the attributes
            now = unix_time_millis()
            return sum(1 for m in self._messages if test(m, now))

        return property(count)

    def ready(self: Queue) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    Queue.messages = property(ready)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages = counted(  # type: ignore[method-assign,assignment]
        lambda m, now: now > m.visible_at and not now < m.delayed_until
    )
    Queue.approximate_number_of_messages_not_visible = counted(  # type: ignore[method-assign,assignment]
        lambda m, now: not now > m.visible_at
    )
    Queue.approximate_number_of_messages_delayed = counted(  # type: ignore[method-assign,assignment]
        lambda m, now: now < m.delayed_until
    )

    def retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time_millis() / 1000)

    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]

    send = SQSBackend.send_message

    def send_without_counts(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        _sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.on = False

    SQSBackend.send_message = send_without_counts  # type: ignore[method-assign]


def start() -> Any:
    """Start moto in this process (serialised, lighter calls, SQS without its quadratic walks);
    returns the mock, whose ``stop()`` ends it."""
    fake_credentials()
    if not hasattr(BotocoreStubber.process_request, "__wrapped__"):
        BotocoreStubber.process_request = _serialised(BotocoreStubber.process_request)  # type: ignore[method-assign]
        _lighter_calls()
    _queues_walked_once()
    mock = mock_aws()
    mock.start()
    return mock
