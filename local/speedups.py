"""The local engine's speed-ups: patches of private moto and botocore symbols that make each AWS call
cheaper without changing its answer. Only speed: correctness (one AWS call at a time) is the engine
lock's, in ``local.engine``, which runs with or without these.

``install()`` applies every patch, ``uninstall()`` puts back what each replaced, exactly.
``LOCAL_ENGINE_SPEEDUPS=off`` runs plain moto (``local.engine.start`` reads it on every start), and
the patches are only ever applied to the moto they were checked against (``PINNED_MOTO``): on any
other they stay off, with a warning. Each patch is a function below whose docstring says why its
answers are moto's; ``docs/testing.md`` lists them with the case of
``tests/integration/test_engine_differential.py`` (the same calls sent to plain and patched moto,
the answers compared) that covers each. Nothing here is deployed, and nothing here can reach AWS:
the patches are only applied with moto (or the engine's process) answering every call.
"""

from __future__ import annotations

import base64
import bisect
import functools
import io
import itertools
import json
import os
import pickle  # nosec B403
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# The moto release the patches were written for and checked against (the differential test); keep in
# step with requirements-dev.txt (a test checks it), after running that test on the new release.
PINNED_MOTO = "5.2.5"
SETTING = "LOCAL_ENGINE_SPEEDUPS"

_MISSING = object()
# Patch name -> what it replaced: (owner, attribute, what the owner itself held there, or _MISSING).
_applied: dict[str, list[tuple[Any, str, Any]]] = {}
_recording: list[tuple[Any, str, Any]] = []
_lock = threading.Lock()


def wanted() -> bool:
    """Whether ``LOCAL_ENGINE_SPEEDUPS`` asks for the speed-ups (``on``, the default, or ``off``).

    Raises RuntimeError on any other value (``make run`` says so and stops)."""
    value = os.environ.get(SETTING, "on").strip().lower() or "on"
    if value not in ("on", "off"):
        raise RuntimeError(f"{SETTING} is on or off, not {value!r}")
    return value == "on"


def moto_version() -> str:
    import moto

    return str(moto.__version__)


def pinned() -> bool:
    """Whether the installed moto is the one the patches were checked against."""
    return moto_version() == PINNED_MOTO


def banner(on: bool) -> str:
    """``make run``'s one line on the engine it runs."""
    if on:
        return f"engine speed-ups on (moto {moto_version()})"
    if not wanted():
        return f"engine speed-ups off: plain moto ({SETTING}=off)"
    return f"engine speed-ups off: plain moto (moto {moto_version()}; the speed-ups are checked on {PINNED_MOTO})"


def install() -> bool:
    """Apply every patch not applied yet; True when all are on.

    On a moto other than ``PINNED_MOTO`` nothing is applied (and any applied is taken off), with a
    RuntimeWarning: the private symbols patched may have changed meaning."""
    return _install(_CLIENT_PATCHES + _ENGINE_PATCHES)


def install_client() -> bool:
    """The botocore side only, for a process whose calls all go to the engine's process (``local.apart``)."""
    return _install(_CLIENT_PATCHES)


def uninstall() -> None:
    """Put back every attribute a patch replaced (or remove the ones it added), in reverse order."""
    with _lock:
        for name in reversed(list(_applied)):
            for owner, attribute, original in reversed(_applied.pop(name)):
                if original is _MISSING:
                    delattr(owner, attribute)
                else:
                    setattr(owner, attribute, original)


def installed() -> bool:
    """Whether every patch (client and engine side) is on."""
    return all(patch.__name__ in _applied for patch in _CLIENT_PATCHES + _ENGINE_PATCHES)


def applied() -> dict[str, list[tuple[Any, str]]]:
    """Each applied patch's name and the attributes it replaced (for the tests)."""
    return {name: [(owner, attribute) for owner, attribute, _ in done] for name, done in _applied.items()}


def _install(patches: list[Callable[[], None]]) -> bool:
    if not pinned():
        warnings.warn(
            f"moto {moto_version()} is not {PINNED_MOTO}, the release the engine speed-ups were checked "
            "against: they stay off (plain moto). Run tests/integration/test_engine_differential.py on it, "
            "then move local/speedups.py's PINNED_MOTO.",
            RuntimeWarning,
            stacklevel=3,
        )
        uninstall()
        return False
    with _lock:
        for patch in patches:
            if patch.__name__ in _applied:
                continue
            _recording.clear()
            try:
                patch()
            finally:
                _applied[patch.__name__] = list(_recording)
                _recording.clear()
    return True


def _replace(owner: Any, attribute: str, value: Any) -> None:
    """``setattr``, keeping what the owner itself held there (not what it inherited) for ``uninstall``."""
    _recording.append((owner, attribute, vars(owner).get(attribute, _MISSING)))
    setattr(owner, attribute, value)


# --- botocore, on the service's side --------------------------------------------------------------
# botocore spends about a millisecond of each call signing it (SigV4) and building its User-Agent,
# and draws each call's invocation ID from uuid4() (16 bytes from the kernel's random source).


def fixed_user_agent() -> None:
    """moto reads no User-Agent, and these clients only ever reach moto."""
    import botocore.useragent

    _replace(botocore.useragent.UserAgentString, "to_string", lambda self: "kkreg-local-stack")


def unsigned_requests() -> None:
    """moto checks no signature: it reads only the access key (the account), which the fixed header keeps."""
    import botocore.signers

    from local.credentials import FAKE_ENV

    def sign(self: Any, operation_name: str, request: Any, *args: Any, **kw: Any) -> None:
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={FAKE_ENV['AWS_ACCESS_KEY_ID']}/20210706/{self.region_name}/"
            f"{self.signing_name}/aws4_request, SignedHeaders=host, Signature=0"
        )

    _replace(botocore.signers.RequestSigner, "sign", sign)


class _CountedIds:
    """Stands in for the ``uuid`` module inside botocore.endpoint: unique IDs without a syscall."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def uuid4(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._next):012x}"


def counted_invocation_ids() -> None:
    """An invocation ID need only be unique within the process, which a counter is."""
    import botocore.endpoint

    _replace(botocore.endpoint, "uuid", _CountedIds())


def endpoints_resolved_once() -> None:
    """A client resolves its endpoint from its service's ruleset on every call (about 15% of
    botocore's own time a call): from its builtins, which are the client's fixed settings here (its
    region, FIPS, dual-stack, endpoint URL, and the stack's one fake account), and from the call's
    context parameters (DynamoDB's table name as ``ResourceArn``). So the answer is kept per client's
    resolver, operation and the values of those parameters in the call. An operation whose context
    parameters are drawn from the call by a JMESPath (``BatchGetItem``'s table names) is resolved
    every call, as is a call whose values cannot be kept. The endpoint found is a named tuple its
    callers only read."""
    import weakref

    import botocore.regions

    resolver_class = botocore.regions.EndpointRulesetResolver
    own = resolver_class.construct_endpoint
    kept: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()

    def construct_endpoint(self: Any, operation_model: Any, call_args: Any, request_context: Any) -> Any:
        if operation_model.operation_context_parameters:
            return own(self, operation_model, call_args, request_context)
        args = call_args or {}
        key = (operation_model.name, *(args.get(p.member_name) for p in operation_model.context_parameters))
        mine = kept.get(self)
        if mine is None:
            mine = kept.setdefault(self, {})
        try:
            found = mine.get(key)
        except TypeError:  # a value that cannot be a key
            return own(self, operation_model, call_args, request_context)
        if found is None:
            found = own(self, operation_model, call_args, request_context)
            if len(mine) < 1024:
                mine[key] = found
        return found

    _replace(resolver_class, "construct_endpoint", construct_endpoint)


# --- moto's request handling ----------------------------------------------------------------------


def response_methods_listed_once() -> None:
    """A response class's methods do not change while the engine runs: moto's ``inspect.getmembers``
    of them on every call gives the same list every time."""
    from moto.core import responses

    _replace(responses, "method_names_from_class", functools.lru_cache(maxsize=None)(responses.method_names_from_class))


def routes_found_once() -> None:
    """moto's own ``BotocoreStubber.process_request``, line for line, with its two searches kept: which
    services' URL patterns a URL matches (in moto's order), and which handler of a backend's URL map
    matches it first. Each is a function of the URL alone (and of whether ISO regions are on, which
    adds to a URL map): the patterns and maps are moto's modules' own, fixed once imported, and a
    backend's map is its class's (moto reads it from the class's module). Everything that can change
    while the engine runs is still read on every call, in moto's order: the URL's AWS equivalent (the
    S3 custom endpoints), the passthrough and whitelist settings for each service matched, and the
    backend moto takes the map from (made on first use, as by moto); the handler is called, and an
    HTTPException turned into its answer, as moto does. The engine lock around moto's own is kept.

    moto tried each call's URL against every service's pattern (about 50 before DynamoDB's, 160 before
    SQS's), rebuilt the backend's URL map and matched its patterns, every call: 30-50 µs of each call."""
    import re

    from moto import settings
    from moto.core import botocore_stubber as stubber
    from moto.core.exceptions import HTTPException

    own = vars(stubber.BotocoreStubber)["process_request"]
    services_for: dict[str, tuple[str, ...]] = {}
    handlers: dict[tuple[type, str, bool], Any] = {}

    def services_matching(clean_url: str) -> tuple[str, ...]:
        found = services_for.get(clean_url)
        if found is None:
            if len(services_for) >= 4096:
                services_for.clear()
            found = services_for[clean_url] = tuple(
                service for service, pattern in stubber.backend_index.backend_url_patterns if pattern.match(clean_url)
            )
        return found

    def handler_for(backend: Any, clean_url: str) -> Any:
        key = (type(backend), clean_url, settings.enable_iso_regions())
        if key not in handlers:
            if len(handlers) >= 4096:
                handlers.clear()
            handlers[key] = next((h for url, h in backend.urls.items() if re.compile(url).match(clean_url)), None)
        return handlers[key]

    def process_request(self: Any, request: Any) -> Any:
        import moto.backends as backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.moto_api import recorder

        parsed_url, _ = stubber.get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if stubber.passthrough_url(clean_url):
            return None
        for service in services_matching(clean_url):
            if stubber.passthrough_service(service):
                return None
            if not stubber.service_whitelisted(service):
                raise stubber.ServiceNotWhitelisted(service)
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, stubber.BackendDict):
                if "us-east-1" in backend_dict[DEFAULT_ACCOUNT_ID]:
                    backend = backend_dict[DEFAULT_ACCOUNT_ID]["us-east-1"]
                else:
                    backend = backend_dict[DEFAULT_ACCOUNT_ID]["aws"]
            else:
                backend = backend_dict["global"]
            method_to_execute = handler_for(backend, clean_url)
            if method_to_execute is not None:
                normalized_request = stubber.normalize_request(request)
                try:
                    recorder._record_request(normalized_request)
                    status, headers, body = method_to_execute(
                        normalized_request, normalized_request.raw_url, normalized_request.headers
                    )
                except HTTPException as e:
                    status = e.code
                    headers = e.get_headers()
                    body = e.get_body()
                return status, headers, body
        if re.compile(r"https?://.+\.amazonaws.com/.*").match(clean_url):
            return 404, {}, "Not yet implemented"
        return None

    replacement: Any = process_request
    if hasattr(own, "__wrapped__"):  # moto's own behind the engine lock (local.engine): so is this
        from local.engine import _serialised

        replacement = _serialised(process_request)
    _replace(stubber.BotocoreStubber, "process_request", replacement)


def urls_converted_once() -> None:
    """werkzeug's ``iri_to_uri`` and ``uri_to_iri`` are functions of their string alone: each URL moto's
    request building (``EnvironBuilder``) and its ``raw_url`` (``get_current_url``) convert is
    converted once (``lru_cache``), not three times a call (25-35 µs of each call)."""
    import werkzeug.sansio.utils
    import werkzeug.test

    _replace(werkzeug.test, "iri_to_uri", functools.lru_cache(maxsize=1024)(werkzeug.test.iri_to_uri))
    _replace(werkzeug.sansio.utils, "uri_to_iri", functools.lru_cache(maxsize=1024)(werkzeug.sansio.utils.uri_to_iri))


def _request_id(n: int, headers: dict[str, Any] | None) -> str:
    request_id = f"{n:052d}"
    if isinstance(headers, dict):
        headers["x-amzn-requestid"] = request_id
    return request_id


def counted_request_ids() -> None:
    """moto's request IDs need only be unique and 52 characters long; a counter's are (moto drew each
    character from its random source)."""
    from moto.core import responses

    ids = itertools.count(1)
    _replace(responses, "gen_amzn_requestid_long", lambda headers=None: _request_id(next(ids), headers))


def update_expressions_parsed_once() -> None:
    """Parsing is a function of the expression alone, and moto only reads the tree (its validator
    works on a copy of its own): each distinct UpdateExpression is parsed once, not up to three times
    a call."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parse = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    _replace(UpdateExpressionParser, "make", classmethod(functools.lru_cache(maxsize=1024)(parse)))


# --- SQS ------------------------------------------------------------------------------------------
# moto's SQS walks the whole queue, reading the clock once per message, three times for every message
# sent (the queue's approximate counts) and nine times for every message received (its retention check
# reads all the queue's attributes): quadratic in the queue's depth, which grows while the workers lag
# behind a burst.

_sending = threading.local()


def _counted(test: Callable[[Any, float], bool]) -> property:
    from moto.core.utils import unix_time_millis

    def count(self: Any) -> int:
        if getattr(_sending, "on", False):
            return 0  # a send reads only ContentBasedDeduplication from the attributes (sends_count_nothing)
        now = unix_time_millis()
        return sum(1 for m in self._messages if test(m, now))

    return property(count)


def queue_walks_read_the_clock_once() -> None:
    """Moto's own rules (visible: now > visible_at; delayed: now < delayed_until) over the same
    messages in the same order, with one clock reading per walk rather than one per message."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    def ready(self: Queue) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    _replace(Queue, "messages", property(ready))
    _replace(
        Queue,
        "approximate_number_of_messages",
        _counted(lambda m, now: now > m.visible_at and not now < m.delayed_until),
    )
    _replace(Queue, "approximate_number_of_messages_not_visible", _counted(lambda m, now: not now > m.visible_at))
    _replace(Queue, "approximate_number_of_messages_delayed", _counted(lambda m, now: now < m.delayed_until))


def retention_read_from_the_queue() -> None:
    """The same comparison as moto's with the retention period read from the queue itself, not from
    the whole attribute map (which walks the queue three times to count it)."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import SQSBackend

    def retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > unix_time_millis() / 1000)

    _replace(SQSBackend, "is_message_valid_based_on_retention_period", retained)


def sends_count_nothing() -> None:
    """A send reads only ``ContentBasedDeduplication`` from the queue's attributes: the counts it would
    compute on the way (three walks of the queue) are never read, so they are 0 during a send."""
    from moto.sqs.models import SQSBackend

    send = SQSBackend.send_message

    def send_without_counts(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        _sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            _sending.on = False

    _replace(SQSBackend, "send_message", send_without_counts)


def deletes_stop_at_their_message() -> None:
    """Moto's delete, with one walk that stops at the message (a handle is one message's) instead of
    two whole walks; the same error for an unknown handle, the same no-op for a deleted one."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Queue

    def delete_message(self: Queue, receipt_handle: str) -> None:
        # Received messages are the oldest: near the front.
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

    _replace(Queue, "delete_message", delete_message)


# --- DynamoDB -------------------------------------------------------------------------------------


def scans_resume_at_their_key() -> None:
    """Moto's own scan (segments, filters, limits, the next key) over the same items in the same order,
    started at the page's key by bisection instead of walking to it; the sorted keys are kept only
    until a put or a delete changes the table, and only for a table keyed by a string hash key alone.

    moto sorts the whole table for every page and walks it to the page's start key: reading a table
    page by page was quadratic."""
    from moto.dynamodb.models.table import Table

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

    _replace(Table, "put_item", changed(put))
    _replace(Table, "delete_item", changed(delete))
    _replace(Table, "scan", scan_from_key)


class _IndexMaps:
    """A table's string and binary index hash keys, each to the table keys of the items that carry it,
    kept for ``queries_read_their_key``: folded in from the keys written since (``dirty``) at each
    query, rebuilt whole when that is all of them (None) or the table's items were replaced."""

    def __init__(self, items: Any) -> None:
        self.items_id = id(items)
        self.dirty: set[tuple[Any, Any]] | None = set()
        # index name -> (its hash key attribute, {(type, value): {table key, ...}}, {table key: (type, value)})
        self.maps: dict[str, tuple[str, dict[tuple[str, Any], set[tuple[Any, Any]]], dict[tuple[Any, Any], Any]]] = {}

    def touched(self, key: tuple[Any, Any], size: int) -> None:
        if self.dirty is not None:
            self.dirty.add(key)
            if len(self.dirty) > max(1024, size // 2):
                self.dirty = None  # cheaper to rebuild


def _index_value(item: Any, attribute: str) -> tuple[str, Any] | None:
    value = item.attrs.get(attribute) if item is not None else None
    return (value.type, value.value) if value is not None and value.type in ("S", "B") else None


def _in_plain_order(items: list[Any], key: Callable[[Any], tuple[Any, ...]]) -> list[Any] | None:
    """``items`` sorted (stably) by the DynamoTypes ``key`` gives, compared as plain values: a string or
    binary value as it is, a number as moto's Decimal. The same order as comparing the DynamoTypes
    (equal when type and cast value are, less by cast value), but only when each position holds one
    type among S, N and B; None otherwise (and when an attribute is missing: moto's sort raises then)."""
    from decimal import Decimal

    try:
        keys = [key(item) for item in items]
    except (KeyError, AttributeError):
        return None
    if not keys:
        return []
    kinds = [value.type for value in keys[0]]
    if any(kind not in ("S", "N", "B") for kind in kinds):
        return None
    plain: list[tuple[Any, ...]] = []
    for values in keys:
        if len(values) != len(kinds) or any(v.type != k for v, k in zip(values, kinds, strict=False)):
            return None
        plain.append(tuple(Decimal(v.value) if k == "N" else v.value for v, k in zip(values, kinds, strict=True)))
    order = sorted(range(len(items)), key=plain.__getitem__)
    return [items[i] for i in order]


def queries_read_their_key() -> None:
    """moto's own query over only the items that can match its key, in moto's order: on an index,
    those whose attributes meet every hash-key condition (moto's own test, which its walk applies
    first); on the table, those stored under the hash key. Every other step (range conditions, the
    sort, pages, limits, filters, projections) is moto's. For a string or binary index hash key the
    candidates are those the table's ``_IndexMaps`` lists under it, kept up to date by every write
    that can change an item (a put, a delete, an update, anything a transaction or a PartiQL statement
    did), and still put to moto's test.

    moto sorts the whole table for every query before walking it for the key: an index query on the
    waiting room's table (a ticket a phone) took about a second at 40,000 items, one after another
    behind the engine lock, and the sequencer queries once a second. A walk of the whole table for the
    key alone was still 40-50 ms at 60,000 items: the opening's round of the pre-queue's keys, and
    every sweep of the removal index, took that per key."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    query, put, delete = Table.query, Table.put_item, Table.delete_item
    update, transact = DynamoDBBackend.update_item, DynamoDBBackend.transact_write_items

    sorted_items = Table.sorted_items

    def in_moto_order(items: Iterable[Any]) -> list[Any]:
        listed = list(items)
        plain = _in_plain_order(listed, lambda x: (x.hash_key, x.range_key) if x.range_key else (x.hash_key,))
        if plain is not None:
            return plain
        return sorted(listed, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def sorted_in_plain_order(self: Table, hash_key_attrs: Any, range_key_attrs: Any, items: list[Any]) -> list[Any]:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        plain = _in_plain_order(items, lambda x: tuple(x.attrs[a] for a in attrs))
        if plain is None:
            return sorted_items(self, hash_key_attrs, range_key_attrs, items)  # type: ignore[no-any-return]
        items[:] = plain  # moto sorts the list it is given in place, and returns it
        return items

    def every_item(table: Table) -> Iterator[Any]:
        for stored in table.items.values():
            if table.range_key_attr:
                yield from stored.values()
            else:
                yield stored

    def stored(table: Table, key: tuple[Any, Any]) -> Any:
        found = table.items.get(key[0])
        return found.get(key[1]) if table.range_key_attr and found is not None else found

    def touched(table: Table, key: tuple[Any, Any] | None) -> None:
        maps = vars(table).get("_index_maps")
        if maps is None:
            return  # never queried by an index: nothing kept to change
        if key is None:
            maps.dirty = None
        else:
            maps.touched(key, len(table.items))

    def kept(table: Table, index_name: str, attribute: str) -> dict[tuple[str, Any], set[tuple[Any, Any]]]:
        maps = vars(table).get("_index_maps")
        if maps is None or maps.items_id != id(table.items):
            maps = table._index_maps = _IndexMaps(table.items)  # type: ignore[attr-defined]
        if maps.dirty is None:
            maps.maps.clear()
            maps.dirty = set()
        elif maps.dirty:
            for attr, by_value, of_key in maps.maps.values():
                for key in maps.dirty:
                    was, now = of_key.pop(key, None), _index_value(stored(table, key), attr)
                    if was is not None:
                        by_value[was].discard(key)
                    if now is not None:
                        by_value.setdefault(now, set()).add(key)
                        of_key[key] = now
            maps.dirty.clear()
        found = maps.maps.get(index_name)
        if found is None or found[0] != attribute:
            by_value: dict[tuple[str, Any], set[tuple[Any, Any]]] = {}
            of_key: dict[tuple[Any, Any], Any] = {}
            for item in every_item(table):
                value = _index_value(item, attribute)
                if value is not None:
                    key = (item.hash_key, item.range_key)
                    by_value.setdefault(value, set()).add(key)
                    of_key[key] = value
            found = maps.maps[index_name] = (attribute, by_value, of_key)
        return found[1]

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        item = put(self, *args, **kwargs)
        touched(self, (item.hash_key, item.range_key))
        return item

    def delete_item(self: Table, hash_value: Any, range_value: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return delete(self, hash_value, range_value, *args, **kwargs)
        finally:
            touched(self, (hash_value, range_value if self.range_key_attr else None))

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return update(self, table_name, key, *args, **kwargs)
        finally:
            try:
                table = self.get_table(table_name)  # by name or ARN, as moto found it
                at = (
                    DynamoType(key[table.hash_key_attr]),
                    DynamoType(key[table.range_key_attr]) if table.range_key_attr else None,
                )
            except Exception:  # noqa: BLE001 - whatever moto refused: every table is read again whole
                for each in list(self.tables.values()):
                    touched(each, None)
            else:
                touched(table, at)

    def everything(method: Any) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                for table in list(self.tables.values()):  # a failed transaction put back copies
                    touched(table, None)

        return write

    def by_key(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        if index_name and conditions:
            # A string or binary key is equal exactly when its type and value are (moto's __ne__
            # compares cast values, the same for these types, at a call each); numbers go to __ne__.
            exact = [(name, e.type, e.value) for name, e in conditions if e.type in ("S", "B")]
            cast = [(name, e) for name, e in conditions if e.type not in ("S", "B")]

            def meets(item: Any) -> bool:
                attrs = item.attrs
                for name, kind, raw in exact:
                    value = attrs.get(name)
                    if value is None or value.type != kind or value.value != raw:
                        return False
                for name, expected in cast:
                    value = attrs.get(name)
                    if not value or value != expected:
                        return False
                return True

            if exact:
                name, kind, raw = exact[0]
                keys = kept(self, index_name, name).get((kind, raw), ())
                candidates: Iterable[Any] = (stored(self, key) for key in keys)
            else:
                candidates = every_item(self)
            found = in_moto_order(item for item in candidates if item is not None and meets(item))
        elif not index_name and hash_key is not None:
            stored_ = self.items.get(hash_key)
            if stored_ is None:
                found = []
            elif self.range_key_attr:
                found = in_moto_order(stored_.values())
            else:
                found = [stored_]
        else:
            return query(self, hash_key, *args, **kwargs)
        self.all_items = lambda: found  # type: ignore[method-assign]
        try:  # the engine lock is held: no other call sees this table meanwhile
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    _replace(Table, "query", by_key)
    _replace(Table, "sorted_items", sorted_in_plain_order)
    _replace(Table, "put_item", put_item)
    _replace(Table, "delete_item", delete_item)
    _replace(DynamoDBBackend, "update_item", update_item)
    _replace(DynamoDBBackend, "transact_write_items", everything(transact))
    for name in ("execute_statement", "batch_execute_statement", "execute_transaction"):
        _replace(DynamoDBBackend, name, everything(getattr(DynamoDBBackend, name)))


# Operations whose answers moto builds in DynamoDB's own JSON already (items from ``to_json``).
_ITEMS_AS_THEY_ARE = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem"})


def _wire_bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON: {type(value).__name__}")


def items_written_as_they_are() -> None:
    """For the item operations moto's answer is DynamoDB's wire JSON already (binary values as bytes):
    written as it is, the same JSON comes out as from moto's serialiser, with moto's own headers.

    moto 5 serialises every answer through the API model, attribute by attribute, trying each
    possible spelling of every key: a scan page spent most of its time there."""
    from moto.core import responses

    serialise = responses.ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if (
            isinstance(self, responses.PaginatedResult)
            or not isinstance(result, dict)
            or context.operation_model.name not in _ITEMS_AS_THEY_ARE
            or context.service_model.service_name != "dynamodb"
        ):
            return serialise(self, context)
        status, headers, _ = serialise(responses.ActionResult({}), context)
        return status, headers, json.dumps(result, default=_wire_bytes)

    _replace(responses.ActionResult, "execute_result", execute_result)


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
_NAME = re.compile(r"#[A-Za-z0-9_]+")
_VALUE = re.compile(r":[A-Za-z0-9_]+")


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


def conditions_parsed_once() -> None:
    """Each call gets a fresh tree of its own expression with its own names and values put in
    (``_ConditionTemplate``); anything the template cannot hold is parsed by moto, so its errors are
    moto's own."""
    from moto.dynamodb import comparisons, responses
    from moto.dynamodb import models as dynamodb_models

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
        _replace(module, "create_condition_expression_parser", create)


def update_trees_copied_by_pickle() -> None:
    """The trees are the parser's and never change (``update_expressions_parsed_once``), so an unpickled
    copy is the deep copy moto made; the walks that check the expression alone are skipped only for
    the expression, names and table they already passed with.

    moto's validator deep-copies the parsed UpdateExpression on every call (a node per name, value and
    operator, each with its parent): the biggest single cost of an UpdateItem. Its first three walks
    check the expression alone (at most one clause of each kind, no path written twice, no key
    attribute written), whatever the item and the values."""
    from moto.dynamodb.parsing import validators

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
        self._parsed = (expression, blob)  # for ``update_values_resolved_by_plan``: another copy if it needs one
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

    _replace(validators.Validator, "__init__", validator)
    _replace(validators.Validator, "validate", validated)


def traversals_take_their_map_once() -> None:
    """The same walk, bottom up in the same order with the same hooks and handlers; only the lookups
    of the handler map (taken once per walk) and of each node class's handler (once per kind of walk)
    are kept.

    moto's validator walks an UpdateExpression's tree ten times a call, and at every node of every
    walk builds its map of node kinds to handlers twice (``nodes_to_be_processed`` and ``process``)
    and asks the abstract base class whether it is a node: most of a walk's time."""
    from moto.dynamodb.parsing import ast_nodes

    traverser = ast_nodes.DepthFirstTraverser
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

    _replace(traverser, "traverse", traverse)


# What ``update_values_resolved_by_plan`` does for an action: its kind (SET, VALUE for an ADD or a
# DELETE, REMOVE), where it is in the tree (the child indexes from the root), a SET's operands, and a
# SET's operator ("+", "-", or None for one operand) or the value an ADD or a DELETE names.
_Operand = tuple[str, Any]  # ("value", ":v") | ("path", None) | ("if_not_exists", ":v")
_Action = tuple[str, tuple[int, ...], tuple[_Operand, ...] | None, str | None]


def _plan_of(tree: Any) -> tuple[list[_Action], set[str]] | None:
    """The actions of ``tree`` (moto's parse), and every value it names, if every action is one the
    plan resolves: a path of one attribute (a name or ``#name``) set to a value, a path, an
    ``if_not_exists(path, :value)``, or two of those added or subtracted; ADD and DELETE of a value;
    REMOVE. None otherwise (nested paths, list indexes, list_append): moto's walks do those."""
    from moto.dynamodb.parsing import ast_nodes as n

    values_used: set[str] = set()
    actions: list[_Action] = []

    def one_attribute(path: Any) -> bool:
        return (
            type(path) is n.UpdateExpressionPath
            and len(path.children) == 1
            and type(path.children[0]) in (n.ExpressionAttribute, n.ExpressionAttributeName)
        )

    def operand(node: Any) -> _Operand | None:
        if type(node) is n.ExpressionAttributeValue:
            values_used.add(node.get_value_name())
            return ("value", node.get_value_name())
        if one_attribute(node):
            return ("path", None)
        if (
            type(node) is n.UpdateExpressionFunction
            and node.get_function_name() == "if_not_exists"
            and len(node.children) == 3
            and one_attribute(node.children[1])
            and type(node.children[2]) is n.ExpressionAttributeValue
        ):
            values_used.add(node.children[2].get_value_name())
            return ("if_not_exists", node.children[2].get_value_name())
        return None

    def visit(node: Any, at: tuple[int, ...]) -> bool:
        kind = type(node)
        if kind in (
            n.UpdateExpression,
            n.UpdateExpressionSetClause,
            n.UpdateExpressionRemoveClause,
            n.UpdateExpressionAddClause,
            n.UpdateExpressionDeleteClause,
            n.UpdateExpressionSetActions,
            n.UpdateExpressionRemoveActions,
            n.UpdateExpressionAddActions,
            n.UpdateExpressionDeleteActions,
        ):
            return all(visit(child, (*at, i)) for i, child in enumerate(node.children or []))
        if not node.children or not one_attribute(node.children[0]):
            return False
        if kind is n.UpdateExpressionRemoveAction and len(node.children) == 1:
            actions.append(("REMOVE", at, None, None))
            return True
        if kind in (n.UpdateExpressionAddAction, n.UpdateExpressionDeleteAction) and len(node.children) == 2:
            value = node.children[1]
            if type(value) is not n.ExpressionAttributeValue:
                return False
            values_used.add(value.get_value_name())
            actions.append(("VALUE", at, None, value.get_value_name()))
            return True
        if kind is n.UpdateExpressionSetAction and len(node.children) == 2:
            value = node.children[1]
            if type(value) is not n.UpdateExpressionValue:
                return False
            parts = value.children
            if len(parts) == 1:
                only = operand(parts[0])
                if only is None:
                    return False
                actions.append(("SET", at, (only,), None))
                return True
            if (
                len(parts) == 3
                and type(parts[1]) is n.ExpressionValueOperator
                and parts[1].get_operator() in ("+", "-")
            ):
                left, right = operand(parts[0]), operand(parts[2])
                if left is None or right is None:
                    return False
                actions.append(("SET", at, (left, right), parts[1].get_operator()))
                return True
        return False

    return (actions, values_used) if visit(tree, ()) else None


def update_values_resolved_by_plan() -> None:
    """For an UpdateExpression that passed moto's walks once (with any names: its checks of the
    expression alone), and whose actions are all of the plain kinds ``_plan_of`` knows, the tree moto's
    walks would give is made directly, with moto's own parts: the checks that depend on the names (no
    path written twice, no key attribute named) are moto's validators' own methods, called once each
    on the nodes their walks would give them; each value named is DynamoType(value); each path is
    resolved by moto's ExpressionPathResolver; ``if_not_exists``
    picks as moto's evaluator does; ``+`` and ``-`` are moto's ExecuteOperations; every SET goes
    through moto's type-mismatch and empty-key checks; the action's value is replaced where moto's
    walks replace it. Whatever moto's walks would refuse (a name or a value not given, a path read that
    does not exist, an operand of the wrong type, any check that raises) is not decided here: moto's
    walks run on a fresh copy and raise their own error, in their own order.

    After the other speed-ups moto's remaining walks of every UpdateItem's tree (a node per name,
    value, operator and action, visited by each of seven to ten walks) were 15% of the engine's time
    under the bench."""
    from moto.dynamodb.exceptions import IncorrectOperandType
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DDBTypedValue, NoneExistingPath, UpdateExpressionSetAction

    validate = validators.Validator.validate
    operations = validators.ExecuteOperations
    # id(the parser's tree) -> [the tree, kept alive so that its id is not reused; its plan or None;
    # whether it has passed moto's walks]
    plans: dict[int, list[Any]] = {}

    def entry(tree: Any) -> list[Any]:
        found = plans.get(id(tree))
        if found is None or found[0] is not tree:
            if len(plans) >= 2048:
                plans.clear()
            found = plans[id(tree)] = [tree, _plan_of(tree), False]
        return found

    def resolved(self: Any, plan: tuple[list[_Action], set[str]], tree: Any) -> Any:
        """The validated tree, or None when moto's walks must say what is wrong (``tree`` may then be
        half changed)."""
        actions, values_used = plan
        values = self.expression_attribute_values or {}
        if not values_used <= values.keys():
            return None
        names = self.expression_attribute_names
        resolver = validators.ExpressionPathResolver(names)
        keys = validators.UpdateHashRangeKeyValidator(self.table.table_key_attrs, names or {})
        validators.OverlappingPathsValidator(names).check_for_overlapping_paths(tree)
        item = self.item

        def typed(name: str) -> Any:
            return DDBTypedValue(DynamoType(values[name]))

        def read(shape: _Operand, node: Any) -> Any:
            kind, name = shape
            if kind == "value":
                return typed(name)
            path = node if kind == "path" else node.children[1]
            keys.check_for_hash_or_range_key(path)
            found = resolver.resolve_expression_path(item, path)
            if kind == "path":
                return found
            return typed(name) if isinstance(found, NoneExistingPath) else found

        replaced: list[tuple[Any, Any]] = []
        for kind, at, shape, detail in actions:
            action = tree
            for i in at:
                action = action.children[i]
            keys.check_for_hash_or_range_key(action.children[0])
            # For its check of the name alone: a path of one attribute is always creatable.
            resolver.resolve_expression_path(item, action.children[0])
            if kind == "REMOVE":
                continue
            if kind == "VALUE":
                replaced.append((action, typed(detail)))  # type: ignore[arg-type]
                continue
            parts = action.children[1].children
            operands = [read(part, parts[2 * i]) for i, part in enumerate(shape or ())]
            if any(isinstance(o, NoneExistingPath) for o in operands):
                return None
            if len(operands) == 1:
                replaced.append((action, operands[0]))
                continue
            left, right = (operations.get_dynamo_value_from_ddb_typed_value(o) for o in operands)
            try:
                value = operations.get_sum(left, right) if detail == "+" else operations.get_subtraction(left, right)
            except IncorrectOperandType:
                return None
            replaced.append((action, value))
        for action, value in replaced:
            action.children[1] = value
            value.parent = action
        sets = [action for action, _ in replaced if type(action) is UpdateExpressionSetAction]
        types = validators.TypeMismatchValidator(self.table.attr)
        for action in sets:
            types.check_for_type_mismatch(action)
        empty = validators.EmptyStringKeyValueValidator(self.table.attribute_keys)
        for action in sets:
            empty.check_for_empty_string_key_value(action)
        return tree

    def planned(self: Any) -> Any:
        parsed = getattr(self, "_parsed", None)
        if parsed is None or type(self) is not validators.UpdateExpressionValidator:
            return validate(self)
        expression, blob = parsed
        known = entry(expression)
        if known[1] is not None and known[2]:
            try:
                tree = resolved(self, known[1], self.node_to_validate)
            except Exception:  # noqa: BLE001 - moto's walks (below) raise it again, in their own order
                tree = None
            if tree is not None:
                return tree
            self.node_to_validate = pickle.loads(blob)  # noqa: S301 - bytes this process pickled itself  # nosec B301
        tree = validate(self)
        known[2] = True
        return tree

    _replace(validators.Validator, "validate", planned)


# moto's own limit in ``LimitedSizeDict.__setitem__`` (between the measured 409 and 410 KB).
_ITEM_SIZE_LIMIT = 405000


def items_sized_once() -> None:
    """An item built from a put (or a batch write) is sized once, after its last attribute: the
    same check of its total against moto's limit, raising moto's ItemSizeTooLarge.

    moto's item keeps its attributes in a dict that, on every attribute set, sizes every attribute
    already there: building an item of n attributes sized n(n+1)/2 of them (a registration has ~25),
    8% of the engine's time under the bench. A size only grows as attributes are added, so the total
    is over the limit exactly when one of moto's partial sums would have been; the half-built item
    is dropped either way. The dict stays moto's (an update's sets still size as moto does)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type

    sized_dict, typed, bytesize = dynamo_type.LimitedSizeDict, dynamo_type.DynamoType, dynamo_type.bytesize

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = sized_dict()
        total = 0
        for key, value in attrs.items():
            value = typed(value)
            total += bytesize(key) + value.size()
            dict.__setitem__(values, key, value)
        if total > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = values

    _replace(dynamo_type.Item, "__init__", __init__)


# In the order they were applied before they were split out of local/engine.py.
_CLIENT_PATCHES: list[Callable[[], None]] = [
    fixed_user_agent,
    unsigned_requests,
    counted_invocation_ids,
    endpoints_resolved_once,
]
_ENGINE_PATCHES: list[Callable[[], None]] = [
    response_methods_listed_once,
    counted_request_ids,
    update_expressions_parsed_once,
    queue_walks_read_the_clock_once,
    retention_read_from_the_queue,
    sends_count_nothing,
    deletes_stop_at_their_message,
    scans_resume_at_their_key,
    queries_read_their_key,
    items_written_as_they_are,
    conditions_parsed_once,
    update_trees_copied_by_pickle,
    traversals_take_their_map_once,
    items_sized_once,
    update_values_resolved_by_plan,
    routes_found_once,
    urls_converted_once,
]
