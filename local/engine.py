"""moto in-process as the AWS engine, with every AWS call made atomic.

moto has no locking: two requests served at once can interleave inside one operation (and its
transactions copy and restore whole tables). Real DynamoDB makes each single-item write atomic;
one engine lock around every call gives the local stack the same guarantee, while requests still
interleave *between* calls as they do on AWS.
"""

from __future__ import annotations

import base64
import bisect
import functools
import itertools
import json
import threading
from typing import Any

import botocore.endpoint
import botocore.signers
import botocore.useragent
from moto import mock_aws
from moto.core import responses as moto_responses
from moto.core.botocore_stubber import BotocoreStubber
from moto.core.utils import unix_time_millis
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Queue, SQSBackend

from local.credentials import FAKE_ENV, fake_credentials

ENGINE_LOCK = threading.RLock()


def _serialised(process: Any) -> Any:
    def locked(self: BotocoreStubber, request: Any) -> Any:
        with ENGINE_LOCK:
            return process(self, request)

    locked.__wrapped__ = process  # type: ignore[attr-defined]
    return locked


def _unsigned(self: botocore.signers.RequestSigner, operation_name: str, request: Any, *args: Any, **kw: Any) -> None:
    # moto reads the account from the credential's access key: keep that part of the header.
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={FAKE_ENV['AWS_ACCESS_KEY_ID']}/20210706/{self.region_name}/"
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
    A delete walks to its message and stops (moto walked the whole queue twice per message deleted).
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

    def delete_message(self: Queue, receipt_handle: str) -> None:
        # One walk that stops at the message (received messages are the oldest: near the front),
        # not two whole walks building a list of handles per message.
        if receipt_handle in self.deleted_messages:
            return
        at = next(
            (
                i
                for i, m in enumerate(self._messages)
                if m.receipt_handle == receipt_handle or receipt_handle in m._old_receipt_handles
            ),
            None,
        )
        if at is None:
            raise ReceiptHandleIsInvalid()
        message = self._messages.pop(at)
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)

    Queue.delete_message = delete_message  # type: ignore[method-assign]


def _scans_resume_at_their_key() -> None:
    """moto's Scan sorts the whole table and then walks it from the first item to the page's start
    key, comparing each item with it: every page costs the whole table, so reading a table page by
    page is quadratic (the bench's full read of 60,000 registrations: 152 s). For a table keyed by a
    string hash key alone, the sorted keys are kept until a put or a delete changes the table, and a
    page starts at its key by bisection; the scan itself (segments, filters, limits, the next key)
    is moto's own, over the same items in the same order.
    """
    if getattr(Table, "_resumes_at_key", False):
        return
    Table._resumes_at_key = True  # type: ignore[attr-defined]
    put, delete, scan = Table.put_item, Table.delete_item, Table.scan

    def changed(method: Any) -> Any:
        def write(self: Table, *args: Any, **kwargs: Any) -> Any:
            self._key_version = getattr(self, "_key_version", 0) + 1  # type: ignore[attr-defined]
            return method(self, *args, **kwargs)

        return write

    def order(self: Table) -> tuple[list[Any], list[str]] | None:
        stamp = (id(self.items), getattr(self, "_key_version", 0), len(self.items))
        cached = getattr(self, "_key_order", None)
        if cached is not None and cached[0] == stamp:
            return cached[1]  # type: ignore[no-any-return]
        keys = list(self.items)
        if any(k.type != "S" for k in keys):
            return None
        keys.sort(key=lambda k: k.value)
        found = (keys, [k.value for k in keys])
        self._key_order = (stamp, found)  # type: ignore[attr-defined]
        return found

    def scan_from_key(
        self: Table,
        filters: Any,
        limit: Any,
        exclusive_start_key: Any,
        filter_expression: Any = None,
        index_name: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        keyed = order(self) if not index_name and not self.range_key_attr else None
        start_value = (exclusive_start_key or {}).get(self.hash_key_attr, {"S": ""})
        if keyed is None or set(start_value) != {"S"}:
            return scan(self, filters, limit, exclusive_start_key, filter_expression, index_name, *args, **kwargs)
        keys, values = keyed
        first = bisect.bisect_right(values, start_value["S"]) if exclusive_start_key else 0
        items = self.items
        self.all_items = lambda: (items[k] for k in itertools.islice(keys, first, None))  # type: ignore[method-assign]
        try:  # the engine lock is held: no other call sees this table meanwhile
            return scan(self, filters, limit, None, filter_expression, index_name, *args, **kwargs)
        finally:
            del self.all_items

    Table.put_item = changed(put)  # type: ignore[method-assign]
    Table.delete_item = changed(delete)  # type: ignore[method-assign]
    Table.scan = scan_from_key  # type: ignore[method-assign]


# Operations whose answers moto builds in DynamoDB's own JSON already (items from ``to_json``).
_ITEMS_AS_THEY_ARE = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem"})


def _wire_bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON: {type(value).__name__}")


def _items_as_they_are() -> None:
    """moto 5 serialises every answer through the API model, attribute by attribute, with a picker
    that tries each possible spelling of every key: a scan page spent most of its time there. For the
    item operations moto's answer is DynamoDB's wire JSON already (binary values as bytes), so it is
    written as it is: the same JSON comes out (checked against moto's serialiser for every attribute
    type), and the headers are still moto's own.
    """
    if getattr(moto_responses.ActionResult, "_as_they_are", False):
        return
    moto_responses.ActionResult._as_they_are = True  # type: ignore[attr-defined]
    serialise = moto_responses.ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if (
            isinstance(self, moto_responses.PaginatedResult)
            or not isinstance(result, dict)
            or context.operation_model.name not in _ITEMS_AS_THEY_ARE
            or context.service_model.service_name != "dynamodb"
        ):
            return serialise(self, context)
        status, headers, _ = serialise(moto_responses.ActionResult({}), context)
        return status, headers, json.dumps(result, default=_wire_bytes)

    moto_responses.ActionResult.execute_result = execute_result  # type: ignore[method-assign]


class _ParsedCondition:
    """A condition expression parsed once: moto parses each one twice a call (the handler checks the
    names and values it uses, the backend evaluates it), and the drain's conditions repeat."""

    def __init__(self, parser: Any) -> None:
        self._op = parser.parse()
        self.expr_attr_names_found = list(parser.expr_attr_names_found)
        self.expr_attr_values_found = list(parser.expr_attr_values_found)

    def parse(self) -> Any:
        return self._op


def _conditions_parsed_once() -> None:
    """Parsed conditions kept by expression, names and values (the tree only reads the item; moto's
    operators hold no state between evaluations). Values that are not JSON (binary) are parsed
    every time, as before."""
    from moto.dynamodb import comparisons, responses
    from moto.dynamodb import models as dynamodb_models

    if getattr(comparisons, "_parsed_once", False):
        return
    comparisons._parsed_once = True  # type: ignore[attr-defined]
    make = comparisons.create_condition_expression_parser

    @functools.lru_cache(maxsize=4096)
    def parsed(expr: str | None, names: str, values: str) -> _ParsedCondition:
        return _ParsedCondition(make(expr, json.loads(names), json.loads(values)))

    def create(expr: str | None, names: Any, values: Any) -> Any:
        try:
            key = (json.dumps(names or {}, sort_keys=True), json.dumps(values or {}, sort_keys=True))
        except TypeError:
            return make(expr, names, values)
        return parsed(expr, *key)

    for module in (comparisons, responses, dynamodb_models):
        module.create_condition_expression_parser = create  # type: ignore[attr-defined]


def start() -> Any:
    """Start moto in this process (serialised, lighter calls, SQS and scans without their quadratic walks);
    returns the mock, whose ``stop()`` ends it."""
    fake_credentials()
    if not hasattr(BotocoreStubber.process_request, "__wrapped__"):
        BotocoreStubber.process_request = _serialised(BotocoreStubber.process_request)  # type: ignore[method-assign]
        _lighter_calls()
    _queues_walked_once()
    _scans_resume_at_their_key()
    _items_as_they_are()
    _conditions_parsed_once()
    mock = mock_aws()
    mock.start()
    return mock
