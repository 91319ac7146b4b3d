"""The registrations table and its one conditional write, which the parts of ``RegistrationStore``
share."""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from typing import Any, Literal

from chalicelib.domain.errors import Conflict, Overloaded
from chalicelib.domain.models import Registration
from chalicelib.store.codec import value
from chalicelib.store.fields import Fields
from chalicelib.store.registrations.codec import RegistrationCodec
from chalicelib.store.registrations.keys import SHARDS, SPREAD_INDEXES, key_of
from chalicelib.store.table import ConditionFailed, Table
from chalicelib.store.types import Item

Cursor = dict[str, Any]


class RegistrationTable:
    def __init__(self, client: Any, registrations_table: str, fields: Fields) -> None:
        self._t = Table(client, registrations_table, ("registration_id",))
        self._codec = RegistrationCodec(fields)

    @property
    def table(self) -> Table:
        return self._t

    @property
    def codec(self) -> RegistrationCodec:
        return self._codec

    def _read(self, item: Item) -> Registration:
        """The registration an item read holds. Raises Overloaded (its data key could not be had)."""
        return self._codec.registration(item)

    def _written(self, item: Item) -> Registration:
        """The registration an applied write answered. Opening its fields may need a data key this
        container has not met (a reclaim elsewhere sealed them): if that fails, the write has still
        landed, and the caller is told so (``maybe_applied``), as for a lost answer."""
        try:
            return self._codec.registration(item)
        except Overloaded as exc:
            raise Overloaded(retry_after=exc.retry_after, maybe_applied=True) from None

    def _change(
        self,
        registration_id: str,
        update: str,
        condition: str | None,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        archived: bool = False,
        returns: Literal["ALL_NEW", "NONE"] = "NONE",
    ) -> Item:
        """A conditional update of the registration with this code (and of no other: the condition
        includes the code, so the person's newer registration is never touched); the item as
        written with ``returns="ALL_NEW"``, else {} (a write not read back costs half as much on
        the engine: the sweep's). Raises Conflict."""
        key = registration_id if archived else key_of(registration_id)
        if key is None:
            raise Conflict("not a receipt code")
        cond = "code = :code" + (f" AND ({condition})" if condition else "")
        names = {k: v for k, v in ({"#s": "status"} | (names or {})).items() if k in update or k in cond}
        # Every change counts a version: a cancelled registration is replaced only as it was copied.
        update += " ADD ver :vone"
        values = {**values, ":code": registration_id, ":vone": 1}
        try:
            return self._t.update((key,), update, cond, values, names or None, returns=returns)
        except ConditionFailed as failed:
            if archived or failed.old.get("code") == registration_id:
                raise Conflict("registration changed") from None
        # The person registered again since (or that registration was withdrawn, the person's item
        # gone with it): this one lives under its code now.
        try:
            return self._t.update((registration_id,), update, cond, values, names or None, returns=returns)
        except ConditionFailed:
            raise Conflict("registration changed") from None

    def _spread_page(
        self, index: str, condition: str | None, values: dict[str, Any], limit: int, cursor: Cursor | None = None
    ) -> tuple[list[Item], Cursor | None]:
        """One page of a sharded sparse index (``keys.SPREAD_INDEXES``), in its sort order: the next
        ``limit`` entries of each shard not read to its end (a query each), merged, the first
        ``limit`` kept. ``condition`` is on the sort key. The cursor returned says where each shard
        goes on (None: every shard is read to its end); pass it back for the next page."""
        shard, sort = SPREAD_INDEXES[index]
        starts = _starts(cursor)
        where = f"{shard} = :k" + (f" AND {condition}" if condition else "")
        pages = {
            k: self._t.query_page(where, values | {":k": k}, index=index, cursor=start, limit=limit)
            for k, start in starts.items()
        }
        # Each shard's entries come in its sort order; the merge keeps that order within a shard.
        merged = heapq.merge(*([(str(e[sort]), k, n) for n, e in enumerate(p.items)] for k, p in pages.items()))
        taken = list(itertools.islice(merged, limit))
        used = Counter(k for _, k, _ in taken)
        after: dict[str, Any] = {}
        for k, page in pages.items():
            if used[k] < len(page.items):
                last = page.items[used[k] - 1] if used[k] else None
                after[k] = _entry_key(last, shard, sort) if last is not None else starts[k]
            elif page.cursor is not None:
                after[k] = page.cursor
        return [pages[k].items[n] for _, k, n in taken], ({"after": after} if after else None)

    def _items_of(self, keys: list[Item]) -> list[Registration]:
        """The registrations an index page names, in its order."""
        wanted = [str(k["registration_id"]) for k in keys]
        got = {str(i["registration_id"]): i for i in self._t.batch_get([(k,) for k in wanted])}
        return [self._read(got[k]) for k in wanted if k in got]


def _starts(cursor: Cursor | None) -> dict[str, Any]:
    """Where each shard of a spread index is read from: the start of every one, or the cursor's
    shards (those left out are read to their end). A cursor of one index partition, as paged before
    the spread, goes on in shard "1", where every registration of then was."""
    if cursor is None:
        return dict.fromkeys(SHARDS)
    if "after" not in cursor:
        return dict.fromkeys(SHARDS) | {"1": cursor}
    return {k: cursor["after"][k] for k in SHARDS if k in cursor["after"]}


def _entry_key(entry: Item, shard: str, sort: str) -> dict[str, Any]:
    """The index position just after ``entry`` (a query's ExclusiveStartKey)."""
    return {name: value(entry[name]) for name in (shard, sort, "registration_id")}


def assignments(fields: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """``fields`` as the clauses of a SET (``name = :x<n>``) and their values."""
    sets = [f"{name} = :x{n}" for n, name in enumerate(fields)]
    return sets, {f":x{n}": val for n, val in enumerate(fields.values())}
