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
import io
import itertools
import json
import pickle  # nosec B403
import re
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

from local import quiet
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
      source): ~5% of the served stack's busy time under the bench. A counter is as unique here,
      and for moto's request IDs too.
    """
    lighter_client_calls()
    moto_responses.method_names_from_class = functools.lru_cache(maxsize=None)(  # type: ignore[assignment]
        moto_responses.method_names_from_class
    )
    ids = itertools.count(1)
    moto_responses.gen_amzn_requestid_long = lambda headers=None: _request_id(next(ids), headers)  # type: ignore[assignment]
    parse = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=1024)(parse))  # type: ignore[method-assign,assignment]


def _request_id(n: int, headers: dict[str, Any] | None) -> str:
    """moto's request ID (52 characters, drawn one by one from its random source: ~3% of the engine's
    time under the bench), counted instead: unique in this engine, and the same length."""
    request_id = f"{n:052d}"
    if isinstance(headers, dict):
        headers["x-amzn-requestid"] = request_id
    return request_id


def lighter_client_calls() -> None:
    """The service side of ``_lighter_calls`` (botocore's): no signature, a fixed User-Agent, counted
    invocation IDs. For clients that only ever reach the local engine (``local.apart`` too)."""
    botocore.useragent.UserAgentString.to_string = lambda self: "kkreg-local-stack"  # type: ignore[method-assign]
    botocore.signers.RequestSigner.sign = _unsigned  # type: ignore[method-assign]
    if not isinstance(getattr(botocore.endpoint, "uuid", None), _CountedIds):
        botocore.endpoint.uuid = _CountedIds()  # type: ignore[attr-defined]


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
    """A parsed condition as moto's handler and backend use it (the tree, and the names and values
    it refers to)."""

    def __init__(self, op: Any, names_found: list[str], values_found: list[str]) -> None:
        self._op = op
        self.expr_attr_names_found = names_found
        self.expr_attr_values_found = values_found

    def parse(self) -> Any:
        return self._op


_MARK = "\x00kkreg-marker:"


class _ConditionTemplate:
    """A condition expression parsed once, whatever its names and values: moto parses each one
    twice a call (the handler checks the names and values it uses, the backend evaluates it), and
    most of the service's conditions differ between calls only in their values (``code = :code``)
    or in a name (a phone's share mark).

    The expression is parsed with a marker in place of each name and value, and the tree is kept
    pickled with each marked name and value operand left out (a persistent ID naming its
    placeholder); every call unpickles a fresh tree with its own names and values put in. A tree in
    which a marker turns up anywhere else (the parser used a name or value for more than a path
    element or an operand) is not kept: such an expression is parsed every time.
    """

    def __init__(
        self, blob: bytes, placeholders: tuple[list[str], list[str]], found: tuple[list[str], list[str]]
    ) -> None:
        self.blob = blob
        self.names, self.values = placeholders  # the expression's placeholders, all looked up by the parse
        self.names_found, self.values_found = found
        # Without placeholders every call gets the same tree: moto's operators only read the item.
        self.shared: _ParsedCondition | None = None
        if not self.names and not self.values:
            self.shared = self.bind({}, {})

    @classmethod
    def of(cls, make: Any, expr: str) -> _ConditionTemplate | None:
        from moto.dynamodb.comparisons import AttributeValue

        names = {p: _MARK + p for p in set(_NAME.findall(expr))}
        values = {p: {"S": _MARK + p} for p in set(_VALUE.findall(expr))}
        parser = make(expr, names, values)
        op = parser.parse()
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)

        def persistent_id(obj: Any) -> tuple[str, str] | None:
            if type(obj) is str and obj.startswith(_MARK):
                return ("name", obj[len(_MARK) :])
            if isinstance(obj, AttributeValue) and isinstance(obj.value, str) and obj.value.startswith(_MARK):
                return ("value", obj.value[len(_MARK) :])
            return None

        pickler.persistent_id = persistent_id  # type: ignore[method-assign]
        pickler.dump(op)
        blob = buffer.getvalue()
        if _MARK.encode() in blob:
            return None
        found = (list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
        return cls(blob, (sorted(names), sorted(values)), found)

    def fits(self, names: Any, values: Any) -> bool:
        """Whether these names and values can go in (otherwise moto parses them, and says what is wrong)."""
        return (
            (not self.names or isinstance(names, dict))
            and (not self.values or isinstance(values, dict))
            and all(isinstance(names.get(p), str) and names[p] for p in self.names)
            and all(isinstance(values.get(p), dict) and len(values[p]) == 1 for p in self.values)
        )

    def bind(self, names: dict[str, str], values: dict[str, Any]) -> _ParsedCondition:
        if self.shared is not None:
            return self.shared
        from moto.dynamodb.comparisons import AttributeValue

        def load(pid: tuple[str, str]) -> Any:
            kind, placeholder = pid
            return names[placeholder] if kind == "name" else AttributeValue(values[placeholder])

        unpickler = pickle.Unpickler(io.BytesIO(self.blob))  # noqa: S301 - this process's own bytes  # nosec B301
        unpickler.persistent_load = load  # type: ignore[method-assign]
        return _ParsedCondition(unpickler.load(), self.names_found, self.values_found)


_NAME = re.compile(r"#[A-Za-z0-9_]+")
_VALUE = re.compile(r":[A-Za-z0-9_]+")


def _conditions_parsed_once() -> None:
    """Conditions parsed once per expression (``_ConditionTemplate``). An expression moto cannot
    parse, or names and values that do not fit its placeholders, are parsed by moto every time, so
    its errors are moto's own."""
    from moto.dynamodb import comparisons, responses
    from moto.dynamodb import models as dynamodb_models

    if getattr(comparisons, "_parsed_once", False):
        return
    comparisons._parsed_once = True  # type: ignore[attr-defined]
    make = comparisons.create_condition_expression_parser
    unkept: Any = object()
    templates: dict[str, Any] = {}

    def create(expr: str | None, names: Any, values: Any) -> Any:
        if not expr or not isinstance(expr, str):
            return make(expr, names, values)
        kept = templates.get(expr)
        if kept is None:
            try:
                kept = _ConditionTemplate.of(make, expr) or unkept
            except Exception:  # noqa: BLE001 - moto's own parse (below) raises its own error
                kept = unkept
            if len(templates) >= 4096:
                templates.clear()
            templates[expr] = kept
        if kept is unkept or not kept.fits(names, values):
            return make(expr, names, values)
        return kept.bind(names or {}, values or {})

    for module in (comparisons, responses, dynamodb_models):
        module.create_condition_expression_parser = create  # type: ignore[attr-defined]


def _update_trees_copied_by_pickle() -> None:
    """moto's validator deep-copies the parsed UpdateExpression on every call (the tree has a node
    per name, value and operator, each with its parent): the biggest single cost of an UpdateItem
    (a quarter of the removal sweep's time). The trees are the parser's, kept per expression and
    never changed (``_lighter_calls``), so each is pickled once and every call unpickles its copy.

    Its first three walks check the expression alone (at most one clause of each kind, no path
    written twice, no key attribute written), whatever the item and the values: an expression that
    passed them with the same names on the same table passes them again, so they are walked once
    per expression, names and table, not once a call."""
    from moto.dynamodb.parsing import validators

    if getattr(validators.Validator, "_copies_by_pickle", False):
        return
    validators.Validator._copies_by_pickle = True  # type: ignore[attr-defined]
    # id(tree) -> (the tree, kept alive so that its id is not reused; its pickle; the names and
    # tables it passed the expression-only checks with)
    kept_trees: dict[int, tuple[Any, bytes, set[tuple[str, tuple[str, ...]]]]] = {}
    init = validators.Validator.__init__
    validate = validators.Validator.validate
    expression_only = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )

    def kept(tree: Any) -> tuple[Any, bytes, set[tuple[str, tuple[str, ...]]]]:
        found = kept_trees.get(id(tree))
        if found is None or found[0] is not tree:
            if len(kept_trees) >= 2048:
                kept_trees.clear()
            found = kept_trees[id(tree)] = (tree, pickle.dumps(tree, pickle.HIGHEST_PROTOCOL), set())
        return found

    def validator(
        self: Any,
        expression: Any,
        expression_attribute_names: Any,
        expression_attribute_values: Any,
        item: Any,
        table: Any,
    ) -> None:
        init(self, None, expression_attribute_names, expression_attribute_values, item, table)
        _, blob, passed = kept(expression)
        self.node_to_validate = pickle.loads(blob)  # noqa: S301 - bytes this process pickled itself  # nosec B301
        try:
            checks = (json.dumps(expression_attribute_names or {}, sort_keys=True), tuple(table.table_key_attrs))
        except TypeError:
            return
        if checks in passed:
            self.processors = [p for p in self.processors if not isinstance(p, expression_only)]
        else:
            self._passes = (passed, checks)

    def validated(self: Any) -> Any:
        tree = validate(self)
        passes = getattr(self, "_passes", None)
        if passes is not None:
            passes[0].add(passes[1])  # every walk passed, the expression-only ones included
        return tree

    validators.Validator.__init__ = validator  # type: ignore[method-assign]
    validators.Validator.validate = validated  # type: ignore[method-assign]


def _traversals_lighter() -> None:
    """moto's validator walks an UpdateExpression's tree ten times a call, and at every node of every
    walk builds its map of node kinds to handlers twice (``nodes_to_be_processed`` and ``process``)
    and asks the abstract base class whether it is a node: most of a walk's time. The same walk
    here, bottom up in the same order with the same hooks and handlers, takes the map once per walk
    and finds each node class's handler once per kind of walk."""
    from moto.dynamodb.parsing import ast_nodes

    traverser = ast_nodes.DepthFirstTraverser
    if getattr(traverser, "_map_once", False):
        return
    traverser._map_once = True  # type: ignore[attr-defined]
    node_class = ast_nodes.Node
    own_process, own_kinds = traverser.process, traverser.nodes_to_be_processed
    no_hook = traverser.pre_processing_of_child
    is_node: dict[type, bool] = {}
    # Per walk class, per node class: the index of its handler in the map's order (-1: none).
    handler_index: dict[type, dict[type, int]] = {}

    def traverse(self: Any, root: Any) -> Any:
        walker = type(self)
        handlers = list(self._processing_map().items())
        generic = walker.process is not own_process or walker.nodes_to_be_processed is not own_kinds
        kinds = self.nodes_to_be_processed() if generic else None
        indexes = handler_index.setdefault(walker, {})
        hook = None if walker.pre_processing_of_child is no_hook else self.pre_processing_of_child

        def handled(node: Any) -> tuple[bool, Any]:
            if generic:
                return (True, self.process(node)) if isinstance(node, kinds) else (False, node)  # type: ignore[arg-type]
            index = indexes.get(type(node))
            if index is None:
                index = indexes[type(node)] = next((i for i, (k, _) in enumerate(handlers) if isinstance(node, k)), -1)
            return (False, node) if index < 0 else (True, handlers[index][1](node))

        def walk(node: Any, child_id: int) -> Any:
            node_type = type(node)
            known = is_node.get(node_type)
            if known is None:
                known = is_node[node_type] = isinstance(node, node_class)
            if known:
                parent = node.parent
                if node.children is not None:
                    for i, child in enumerate(node.children):
                        if hook is not None:
                            hook(node, i)
                        walk(child, i)
                done, node = handled(node)
                if done:
                    node.parent = parent
                    if parent:
                        parent.children[child_id] = node
            return node

        return walk(root, -1)

    traverser.traverse = traverse  # type: ignore[method-assign]


def start() -> Any:
    """Start moto in this process (serialised, lighter calls, SQS and scans without their quadratic walks);
    returns the mock, whose ``stop()`` ends it."""
    quiet.expected_moto_gaps()
    fake_credentials()
    if not hasattr(BotocoreStubber.process_request, "__wrapped__"):
        BotocoreStubber.process_request = _serialised(BotocoreStubber.process_request)  # type: ignore[method-assign]
        _lighter_calls()
    _queues_walked_once()
    _scans_resume_at_their_key()
    _items_as_they_are()
    _conditions_parsed_once()
    _update_trees_copied_by_pickle()
    _traversals_lighter()
    mock = mock_aws()
    mock.start()
    return mock
