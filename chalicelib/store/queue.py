"""The waiting room's table (``kkreg-<stage>-queue``): tickets, the positions the sequencer writes,
and the line's state.

``t#<phone key>``  a phone's ticket (the key: 96 bits of the phone's keyed hash, as in the ticket's
                   ID). ``qk``/``qs``: the ``arrivals`` index's key (``q#<second>#<shard>`` after
                   the opening, ``q#pre#<shard>`` before it) and the arrival second. Put if absent:
                   one ticket per phone, whatever the concurrency.
``b#<s>#<k>``      the positions of the tickets of arrival second s, shard k: their digests in order
                   (``ids``) from ``base`` + 1; ``b#pre#<j>`` a pre-queue bucket (``positions``).
                   A bucket is written only by a round that holds the line, over any written by an
                   earlier round (``round``); it counts once its second is committed in the state.
``state``          the line: how far it is sequenced, positions given, the pace's segments, the
                   shards in use, a round's claim. Every change is conditional on what it was computed from.

The ``arrivals`` index holds only tickets (its attributes are theirs alone): the sequencer's queries
read one key of it each, and the local engine, which walks a whole table for an index query, walks
only this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.domain.queue import QueueState, Segment
from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import Item, QueueBucket, QueueTicket

INDEX = "arrivals"
STATE = "state"
# What the state item keeps (QueueState's fields but ``exists``), with each field's default.
_DEFAULTS = {name: value for name, value in vars(QueueState()).items() if name != "exists"}


class QueueStore:
    def __init__(self, client: Any, table: str, keep_seconds: int) -> None:
        self._t = Table(client, table, ("pk",))
        self._keep = keep_seconds

    # -- the state of the line -------------------------------------------------------------------------

    def state(self) -> QueueState:
        """The line's state (strongly consistent); ``exists`` False when it was never written."""
        return state_of(self._t.get(STATE))

    def create_state(self, state: QueueState) -> QueueState:
        """Write ``state`` unless there is one already; the state as stored. Raises Overloaded."""
        try:
            self._t.put({"pk": STATE, **item_of(state)})
            return state_of({"pk": STATE, **item_of(state)})
        except ConditionFailed as failed:
            return state_of(failed.old)

    def write_state(self, changes: Mapping[str, Any], expect: Mapping[str, Any], free_at: float | None = None) -> bool:
        """Set ``changes`` (QueueState field names) if the state is as ``expect`` says (a field at its
        default may be absent) and, with ``free_at``, no round's claim runs at that time. False when
        it is not. Raises Overloaded."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets = []
        for i, (name, val) in enumerate(changes.items()):
            names[f"#c{i}"] = name
            values[f":c{i}"] = _stored(val)
            sets.append(f"#c{i} = :c{i}")
        conditions = ["attribute_exists(pk)"]
        for i, (name, val) in enumerate(expect.items()):
            names[f"#e{i}"] = name
            values[f":e{i}"] = _stored(val)
            if val == _DEFAULTS.get(name):
                conditions.append(f"(attribute_not_exists(#e{i}) OR #e{i} = :e{i})")
            else:
                conditions.append(f"#e{i} = :e{i}")
        if free_at is not None:
            values[":free"] = free_at
            conditions.append("(attribute_not_exists(claim_until) OR claim_until < :free)")
        try:
            self._t.update((STATE,), "SET " + ", ".join(sets), " AND ".join(conditions), values, names=names)
            return True
        except ConditionFailed:
            return False

    # -- tickets ----------------------------------------------------------------------------------------

    def join(self, phone_key: str, ticket: str, index_key: str, second: int, at: float) -> QueueTicket | None:
        """The phone's ticket, put if the phone has none: None when this one was put, else the
        phone's ticket as it is. Raises Overloaded (``maybe_applied``: the put may have landed)."""
        item = {"pk": _ticket_key(phone_key), "ticket": ticket, "qk": index_key, "qs": second, "at": at}
        try:
            self._t.put({**item, "expires_at": int(at) + self._keep})
            return None
        except ConditionFailed as failed:
            return ticket_of(failed.old)

    def ticket(self, phone_key: str) -> QueueTicket | None:
        found = self._t.get(_ticket_key(phone_key))
        return ticket_of(found) if found else None

    def move(self, phone_key: str, ticket: str, index_key: str, second: int, shard: int, was: int | None) -> bool:
        """A ticket its arrival second was sequenced without joins the line again at ``second``
        (once: only if it is still where the caller found it, ``was``). False when it was not."""
        condition = "ticket = :t AND " + ("attribute_not_exists(moved_to)" if was is None else "moved_to = :was")
        values: dict[str, Any] = {":t": ticket, ":k": index_key, ":s": second, ":shard": shard}
        if was is not None:
            values[":was"] = was
        try:
            self._t.update(
                (_ticket_key(phone_key),),
                "SET qk = :k, qs = :s, moved_to = :s, moved_shard = :shard",
                condition,
                values,
            )
            return True
        except ConditionFailed:
            return False

    def arrivals(self, index_keys: list[str]) -> dict[str, list[str]]:
        """The tickets under each index key (one query each, every page); keys with none are left out.
        Eventually consistent: a join that has not reached the index yet is not there."""
        found: dict[str, list[str]] = {}
        for key in index_keys:
            tickets = [str(i["ticket"]) for i in self._t.query("qk = :k", {":k": key}, index=INDEX)]
            if tickets:
                found[key] = tickets
        return found

    def count_arrivals(self, index_key: str, after: int, upto: int) -> int:
        """How many tickets arrived under ``index_key`` in the seconds (after, upto]."""
        return self._t.count(
            "qk = :k AND qs BETWEEN :a AND :b", {":k": index_key, ":a": after + 1, ":b": upto}, index=INDEX
        )

    # -- buckets ----------------------------------------------------------------------------------------

    def bucket(self, key: str) -> QueueBucket | None:
        """The bucket ``<second>#<shard>`` or ``pre#<j>`` (strongly consistent), or None."""
        found = self._t.get(_bucket_key(key))
        return bucket_of(found) if found else None

    def put_bucket(self, key: str, bucket: QueueBucket) -> bool:
        """Write a bucket over any an earlier round wrote; False if a later round wrote it already."""
        item = {
            "pk": _bucket_key(key),
            "at": bucket.at,
            "rnd": bucket.round,
            "base": bucket.base,
            "ids": bucket.ids or None,
            "positions": bucket.positions or None,
            "expires_at": int(bucket.at) + self._keep,
        }
        try:
            self._t.put(item, "attribute_not_exists(pk) OR rnd < :r", {":r": bucket.round})
            return True
        except ConditionFailed:
            return False


def _ticket_key(phone_key: str) -> str:
    return "t#" + phone_key


def _bucket_key(key: str) -> str:
    return "b#" + key


def ticket_of(item: Item) -> QueueTicket:
    moved = item.get("moved_to")
    return QueueTicket(
        ticket=str(item["ticket"]),
        moved_to=None if moved is None else int(moved),
        moved_shard=None if moved is None else int(item.get("moved_shard", 0)),
    )


def bucket_of(item: Item) -> QueueBucket:
    return QueueBucket(
        at=float(item["at"]),
        round=int(item.get("rnd", 0)),
        base=int(item.get("base", 0)),
        ids=str(item.get("ids", "")),
        positions=str(item.get("positions", "")),
    )


def _stored(val: Any) -> Any:
    """A state field as stored: segments and marks as lists of numbers (floats as DynamoDB's decimals,
    which the codec does for a plain value but not inside a list)."""
    if isinstance(val, Segment):
        return _stored([val.at, val.served, val.rate])
    if isinstance(val, tuple | list):
        return [_stored(v) for v in val]
    if isinstance(val, float):
        return Decimal(str(val))
    return val


def item_of(state: QueueState) -> Item:
    return {name: _stored(getattr(state, name)) for name in _DEFAULTS if getattr(state, name) is not None}


def state_of(item: Item) -> QueueState:
    if not item:
        return QueueState()
    known = {name: item[name] for name in _DEFAULTS if name in item}
    known["segments"] = tuple(Segment(float(a), float(s), float(r)) for a, s, r in item.get("segments", []))
    known["marks"] = tuple((int(p), int(s)) for p, s in item.get("marks", []))
    for name in ("created", "claim_until", "last_shard_change"):
        if name in known:
            known[name] = float(known[name])
    if item.get("opens_at") is not None:
        known["opens_at"] = float(item["opens_at"])
    return QueueState(exists=True, **known)
