"""The partition keys the served stack's DynamoDB calls land on, counted per key value and per second
(``LOCAL_METER=1``: part of ``local.meter``, which installs it; ``make bench`` reads it through
``GET /_local/meter``). On AWS each partition of a table or of a global secondary index takes about
1,000 write units and 3,000 read units a second, whatever the table's total: a key value that every
confirmation writes bounds the whole design. Local stack only: nothing here is deployed.

Every write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) counts on its
table's partition key value, taken or not (a write whose condition fails still spends its write
unit), and, once it succeeded, on the partition of each index whose entry it puts, moves, changes or
takes out: an index key attribute set or removed (``REMOVE`` from a sparse index is a write to the
partition the item leaves), an index key that changes (two writes: out and in), and any change of an
item in an index that projects every attribute. The tables and indexes are read from
``infra/template.yaml``, the definition the engine builds them from; what each item carries in each
index is remembered from the writes seen (the meter sees every write from the stack's start).
Reads count on the keys they name (GetItem, each key of a BatchGetItem, a Query's partition; a Scan as
``<scan>``).

Counts are kept per *pattern* (``pattern``: the key's value with its variable parts replaced, a
constant kept as it is, so a hot constant shows itself) and, within it, per value (by its hash; the
value itself is kept and reported only where the pattern is words and numbers, a shard's ``7``, never
an ID or a hash: a person's key). Per pattern: the writes, the distinct values, the busiest value's writes
and the busiest value-second. ``phase`` starts a new table (the bench counts the verification phase
apart from the burst). Memory: one small counter per distinct key value, at most ``MAX_VALUES`` per
pattern (values past it are counted in the pattern's writes only), and one entry per item in an index,
at most ``MAX_ENTRIES``: ~35 MB in all for a full-size bench's 60,000 registrations (tracemalloc).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "template.yaml"
# Distinct values tracked one by one per pattern (a person's key: one per person).
MAX_VALUES = 500_000
# Items whose index entries are remembered (a campaign's 60,000 registrations, many times over); an item
# first seen past it is not, and its later index changes go uncounted.
MAX_ENTRIES = 1_000_000
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
READS = ("GetItem", "BatchGetItem", "Query", "Scan")
_CONTEXT = "local_meter_keys"


@dataclass(frozen=True)
class Index:
    name: str
    hash: str
    range: str | None
    projects_all: bool


@dataclass(frozen=True)
class TableKeys:
    label: str
    key: tuple[str, ...]
    indexes: tuple[Index, ...]

    @cached_property
    def index_attrs(self) -> frozenset[str]:
        return frozenset(a for i in self.indexes for a in (i.hash, i.range) if a)


def _tables_of(template: dict[str, Any]) -> list[tuple[re.Pattern[str], TableKeys]]:
    found = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        name = props["TableName"]
        name = name.get("Fn::Sub", name) if isinstance(name, dict) else name
        label = str(name).rsplit("}-", 1)[-1]
        regex = re.compile("^" + re.escape(str(name)).replace(r"\$\{Stage\}", "[a-z0-9-]+") + "$")
        key = tuple(k["AttributeName"] for k in sorted(props["KeySchema"], key=lambda k: k["KeyType"]))
        indexes = []
        for gsi in props.get("GlobalSecondaryIndexes", []):
            parts = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
            projection = gsi.get("Projection", {}).get("ProjectionType", "KEYS_ONLY")
            indexes.append(Index(gsi["IndexName"], parts["HASH"], parts.get("RANGE"), projection == "ALL"))
        found.append((regex, TableKeys(label, key, tuple(indexes))))
    return found


@lru_cache(maxsize=1)
def _schemas() -> list[tuple[re.Pattern[str], TableKeys]]:
    import yaml

    return _tables_of(yaml.safe_load(TEMPLATE.read_text(encoding="utf-8")))


@lru_cache(maxsize=64)
def table_keys(name: str) -> TableKeys | None:
    """The template's key schema of the table called ``name`` on any stage (None: not the template's)."""
    return next((keys for regex, keys in _schemas() if regex.match(name)), None)


_WORD = re.compile(r"[a-z_-]+")
_HEX = re.compile(r"[0-9a-f]{16,}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _segment(part: str) -> str:
    if not part or _WORD.fullmatch(part):
        return part
    if part.isdigit():
        return "<n>"
    if _DAY.match(part):
        return "<date>" if len(part) == 10 else "<time>"
    if _HEX.fullmatch(part):
        return "<hash>"
    return "<id>"


@lru_cache(maxsize=8192)
def pattern(value: str) -> str:
    """``value`` with its variable parts replaced: ``stats#3`` -> ``stats#<n>``, ``phones#ab12…`` ->
    ``phones#<hash>``, ``p#Zx9…`` -> ``p#<id>``, ``audit#2026-12-01`` -> ``audit#<date>``; words stay
    (``gate``, ``removals``)."""
    return "#".join(_segment(p) for p in value.split("#"))


class Tally:
    """One pattern's counts: per value (by hash), and the busiest value-second."""

    __slots__ = ("count", "names", "overflow", "peak", "per_value", "second", "this_second")

    def __init__(self, named: bool) -> None:
        # The values themselves, only for a pattern of words and numbers (``stats#<n>``, a shard):
        # never for one that holds an ID or a hash (a person's key).
        self.names: dict[int, str] | None = {} if named else None
        self.count = 0
        self.overflow = 0
        self.peak = 0
        self.per_value: dict[int, int] = {}
        self.second = -1
        self.this_second: dict[int, int] = {}

    def add(self, value: str, second: int, n: int = 1) -> None:
        self.count += n
        h = hash(value)
        per_value = self.per_value
        if h in per_value:
            per_value[h] += n
        elif len(per_value) < MAX_VALUES:
            per_value[h] = n
            if self.names is not None:
                self.names[h] = value
        else:
            self.overflow += n
        if second != self.second:
            self._close_second()
            self.second = second
        self.this_second[h] = self.this_second.get(h, 0) + n

    def _close_second(self) -> None:
        if self.this_second:
            self.peak = max(self.peak, max(self.this_second.values()))
            self.this_second = {}

    def row(self) -> dict[str, Any]:
        peak = max(self.peak, max(self.this_second.values(), default=0))
        busiest = max(self.per_value, key=self.per_value.__getitem__, default=None)
        return {
            "count": self.count,
            "distinct_values": len(self.per_value) + (1 if self.overflow else 0),
            "busiest_value": self.per_value.get(busiest, 0) if busiest is not None else 0,
            # The busiest value itself where the pattern holds no ID or hash (else None).
            "busiest_key": self.names.get(busiest) if self.names is not None and busiest is not None else None,
            "peak_per_s": peak,
        }


_lock = threading.Lock()
_phase = "start"
# phase -> (kind, where, pattern) -> tally; ``where`` is the table's label, or ``table/index``.
_tallies: dict[str, dict[tuple[str, str, str], Tally]] = {_phase: {}}
# hash of (table label, item key) -> per index of the table: (partition key value, hash of the sort key value),
# for the items in at least one index (a REMOVE names no value: the partition it leaves is known here).
_entries: dict[int, tuple[tuple[str | None, int | None], ...]] = {}
_NOWHERE: tuple[str | None, int | None] = (None, None)


def install(events: Any) -> None:
    """Count the keys of every DynamoDB call made through clients of the session whose ``events`` these are."""
    events.register("before-parameter-build.dynamodb", _before)
    events.register("after-call.dynamodb", _after)


def phase(name: str) -> None:
    """Count from now on in a new table called ``name`` (the items' index entries are kept)."""
    global _phase
    with _lock:
        _phase = name
        _tallies.setdefault(name, {})


def reset() -> None:
    """Forget every count and every index entry (a test's fresh start)."""
    global _phase
    with _lock:
        _phase = "start"
        _tallies.clear()
        _tallies[_phase] = {}
        _entries.clear()


def report() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per phase, per kind (``writes``, ``reads``): one row per table (or index) and pattern, busiest first."""
    with _lock:
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name, tallies in _tallies.items():
            kinds: dict[str, list[dict[str, Any]]] = {"writes": [], "reads": []}
            for (kind, where, pat), tally in tallies.items():
                table, _, index = where.partition("/")
                kinds[kind].append({"table": table, "index": index or None, "pattern": pat, **tally.row()})
            for rows in kinds.values():
                rows.sort(key=lambda r: (-r["busiest_value"], -r["count"], r["table"], r["pattern"]))
            out[name] = kinds
    return out


# -- what a call names --------------------------------------------------------------------------------


def _s(attr: Any) -> str:
    """A key attribute's value as text (``{"S": "x"}`` -> ``x``)."""
    if type(attr) is dict:
        for value in attr.values():
            return value if type(value) is str else str(value)
    return "?"


def _item_key(keys: TableKeys, item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_s(item.get(k)) for k in keys.key)


def _before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    op = model.name
    if op in WRITES:
        context[_CONTEXT] = list(_writes_of(op, params))
    elif op in READS:
        reads = list(_reads_of(op, params))
        with _lock:
            second = int(time.monotonic())
            for where, value in reads:
                _add("reads", where, value, second)


def _after(http_response: Any, context: dict[str, Any], **_: Any) -> None:
    writes = context.pop(_CONTEXT, None)
    if not writes:
        return
    landed = http_response is not None and getattr(http_response, "status_code", 500) < 300
    with _lock:
        second = int(time.monotonic())
        for keys, item_key, change in writes:
            _add("writes", keys.label, item_key[0], second)
            if landed and keys.indexes:
                _index_writes(keys, item_key, change, second)


def _writes_of(op: str, params: dict[str, Any]) -> Iterator[tuple[TableKeys, tuple[str, ...], Any]]:
    """(table, item key, what it does to the item's index keys) for each item the write names."""
    if op == "BatchWriteItem":
        for name, requests in (params.get("RequestItems") or {}).items():
            keys = table_keys(name)
            if keys is None:
                continue
            for request in requests:
                if "PutRequest" in request:
                    yield _put(keys, request["PutRequest"]["Item"])
                elif "DeleteRequest" in request:
                    yield keys, _item_key(keys, request["DeleteRequest"]["Key"]), "delete"
        return
    if op == "TransactWriteItems":
        for entry in params.get("TransactItems") or []:
            for kind, inner in entry.items():
                if kind != "ConditionCheck":
                    yield from _writes_of(kind[0].upper() + kind[1:] + "Item", inner)
        return
    keys = table_keys(str(params.get("TableName", "")))
    if keys is None:
        return
    if op == "PutItem":
        yield _put(keys, params["Item"])
    elif op == "DeleteItem":
        yield keys, _item_key(keys, params["Key"]), "delete"
    elif op == "UpdateItem":
        yield keys, _item_key(keys, params["Key"]), _update_of(keys, params)


def _put(keys: TableKeys, item: dict[str, Any]) -> tuple[TableKeys, tuple[str, ...], Any]:
    if not keys.indexes:
        return keys, _item_key(keys, item), None
    changes = {a: _s(item[a]) if a in item else None for a in keys.index_attrs}
    state = tuple(_updated(index, _NOWHERE, changes) for index in keys.indexes)
    return keys, _item_key(keys, item), ("put", state)


# An update's clauses: the keyword at the start or after a space, followed by a space.
_CLAUSE = re.compile(r"(?:^|\s)(SET|REMOVE|ADD|DELETE)(?=\s)", re.IGNORECASE)


def _split_top(text: str) -> list[str]:
    """``text`` split at its commas outside parentheses."""
    if "(" not in text:
        return [p.strip() for p in text.split(",") if p.strip()]
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


@lru_cache(maxsize=1024)
def _actions(expression: str) -> tuple[tuple[bool, str, str], ...]:
    """An update expression's SET and REMOVE actions: (removed?, top-level name as written, operand).
    Cached: the service sends a few hundred expressions, each with values of its own."""
    actions = []
    pieces = _CLAUSE.split(expression)
    for clause, body in zip(pieces[1::2], pieces[2::2], strict=True):
        action = clause.upper()
        if action not in ("SET", "REMOVE"):
            continue
        for part in _split_top(body):
            path, _, operand = part.partition("=")
            top = re.split(r"[.\[]", path.strip(), maxsplit=1)[0]
            actions.append((action == "REMOVE", top, operand.strip()))
    return tuple(actions)


def _update_of(keys: TableKeys, params: dict[str, Any]) -> Any:
    """What an UpdateItem does to the index key attributes: {attribute: value set, or None: removed}."""
    if not keys.indexes:
        return None
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    wanted = keys.index_attrs
    changes: dict[str, str | None] = {}
    for removed, top, operand in _actions(str(params.get("UpdateExpression", ""))):
        attr = names.get(top, top)
        if attr not in wanted:
            continue
        if removed:
            changes[attr] = None
        else:
            changes[attr] = _s(values[operand]) if operand in values else "<expr>"
    return ("update", changes)


def _reads_of(op: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if op == "GetItem":
        keys = table_keys(str(params.get("TableName", "")))
        if keys:
            yield keys.label, _item_key(keys, params["Key"])[0]
    elif op == "BatchGetItem":
        for name, request in (params.get("RequestItems") or {}).items():
            keys = table_keys(name)
            if keys is None:
                continue
            for key in request.get("Keys", []):
                yield keys.label, _item_key(keys, key)[0]
    elif op == "Query":
        keys = table_keys(str(params.get("TableName", "")))
        if keys:
            index = next((i for i in keys.indexes if i.name == params.get("IndexName")), None)
            attr = index.hash if index else keys.key[0]
            where = f"{keys.label}/{index.name}" if index else keys.label
            yield where, _partition_named(str(params.get("KeyConditionExpression", "")), attr, params)
    elif op == "Scan":
        keys = table_keys(str(params.get("TableName", "")))
        if keys:
            yield keys.label, "<scan>"


def _partition_named(condition: str, attr: str, params: dict[str, Any]) -> str:
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for part in re.split(r"\s+AND\s+", condition, flags=re.IGNORECASE):
        left, eq, right = part.partition("=")
        if eq and names.get(left.strip(), left.strip()) == attr and right.strip() in values:
            return _s(values[right.strip()])
    return "?"


# -- counting (under the lock) -------------------------------------------------------------------------


def _add(kind: str, where: str, value: str, second: int, n: int = 1) -> None:
    tallies = _tallies[_phase]
    key = (kind, where, pattern(value))
    tally = tallies.get(key)
    if tally is None:
        tally = tallies[key] = Tally(named="<id>" not in key[2] and "<hash>" not in key[2])
    tally.add(value, second, n)


def _index_writes(keys: TableKeys, item_key: tuple[str, ...], change: Any, second: int) -> None:
    entry_key = hash((keys.label, item_key))  # the key itself is not kept: a hash is smaller
    old = _entries.get(entry_key) or (_NOWHERE,) * len(keys.indexes)
    if change == "delete":
        new = (_NOWHERE,) * len(keys.indexes)
        rewritten = False
    elif change is None:
        return
    elif change[0] == "put":
        new, rewritten = change[1], True
    else:
        changes: dict[str, str | None] = change[1]
        new = tuple(_updated(index, was, changes) for index, was in zip(keys.indexes, old, strict=True))
        rewritten = True
    for index, (was, now) in zip(keys.indexes, zip(old, new, strict=True), strict=True):
        where = f"{keys.label}/{index.name}"
        was_in, now_in = was[0] is not None and was[1] is not None, now[0] is not None and now[1] is not None
        if was_in and now_in and was[0] != now[0]:
            _add("writes", where, str(was[0]), second)  # out of one partition, into another
            _add("writes", where, str(now[0]), second)
        elif was_in and now_in and was[1] != now[1]:
            _add("writes", where, str(now[0]), second, 2)  # a new sort key: the entry out and in again
        elif was_in and now_in and rewritten and (index.projects_all or change[0] == "put"):
            _add("writes", where, str(now[0]), second)
        elif was_in and not now_in:
            _add("writes", where, str(was[0]), second)
        elif now_in and not was_in:
            _add("writes", where, str(now[0]), second)
    if any(n is not _NOWHERE and n[0] is not None for n in new):
        if entry_key in _entries or len(_entries) < MAX_ENTRIES:
            _entries[entry_key] = new
    else:
        _entries.pop(entry_key, None)


def _updated(index: Index, was: tuple[str | None, int | None], changes: dict[str, str | None]) -> Any:
    partition, sort = was
    if index.hash in changes:
        partition = changes[index.hash]
    if index.range is None:
        sort = 0
    elif index.range in changes:
        value = changes[index.range]
        sort = None if value is None else hash(value)
    if partition is None and sort is None:
        return _NOWHERE
    return (partition, sort)
