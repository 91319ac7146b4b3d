"""One DynamoDB table, wrapped once: every store reads as the list of conditions it enforces.

Five operations, each one AWS request (or one page of one): get, put-if-absent, conditional
update, query (a page, or every page, or a count), batch get. Items go in and come out as plain Python values
(``codec``); throttling and transport failures become ``Overloaded`` (``maybe_applied`` says
whether the write may have landed), a lost condition becomes ``ConditionFailed`` carrying the item
as it was, so the caller decides without a second read.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import Conflict, Overloaded
from chalicelib.store.codec import decode, encode, is_condition_failure, translated_errors, value
from chalicelib.store.types import Item


class ConditionFailed(Conflict):
    """A conditional write lost: ``old`` is the item as it was (empty if there was none)."""

    def __init__(self, old: Item) -> None:
        super().__init__("condition failed")
        self.old = old


@dataclass(frozen=True)
class Page:
    items: list[Item]
    cursor: dict[str, Any] | None


class Table:
    def __init__(self, client: Any, name: str, key: tuple[str, ...]) -> None:
        self.client = client
        self.name = name
        self.key_names = key

    def key(self, *parts: Any) -> dict[str, Any]:
        return {name: value(part) for name, part in zip(self.key_names, parts, strict=True)}

    def get(self, *key: Any, projection: str | None = None, names: dict[str, str] | None = None) -> Item:
        """The item (strongly consistent), or ``{}``."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": self.key(*key), "ConsistentRead": True}
        if projection:
            kwargs["ProjectionExpression"] = projection
        if names:
            kwargs["ExpressionAttributeNames"] = names
        with translated_errors():
            resp = self.client.get_item(**kwargs)
        return decode(resp.get("Item") or {})

    def put(
        self, item: Mapping[str, Any], condition: str | None = None, values: Mapping[str, Any] | None = None
    ) -> None:
        """Write ``item`` if ``condition`` holds (default: no item with its key yet).

        Raises ConditionFailed with the item found, Overloaded.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Item": encode(item),
            "ConditionExpression": condition or f"attribute_not_exists({self.key_names[0]})",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            kwargs["ExpressionAttributeValues"] = {k: value(v) for k, v in values.items()}
        self._write("put_item", kwargs)

    def overwrite(self, item: Mapping[str, Any]) -> None:
        """Write ``item`` whatever is there (records of the service's own, never a decision)."""
        with translated_errors():
            self.client.put_item(TableName=self.name, Item=encode(item))

    def update(
        self,
        key: tuple[Any, ...],
        update: str,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        returns: str = "NONE",
    ) -> Item:
        """Apply ``update`` if ``condition`` holds; returns the attributes ``returns`` asks for.

        Raises ConditionFailed with the item as it was, Overloaded.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": self.key(*key),
            "UpdateExpression": update,
            "ReturnValues": returns,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if values:
            kwargs["ExpressionAttributeValues"] = {k: value(v) for k, v in values.items()}
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        resp = self._write("update_item", kwargs)
        return decode(resp.get("Attributes") or {})

    def delete(self, *key: Any, condition: str | None = None, values: Mapping[str, Any] | None = None) -> None:
        """Delete the item (if ``condition`` holds). Raises ConditionFailed with the item found, Overloaded."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": self.key(*key)}
        if condition:
            kwargs["ConditionExpression"] = condition
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if values:
            kwargs["ExpressionAttributeValues"] = {k: value(v) for k, v in values.items()}
        self._write("delete_item", kwargs)

    def query_page(
        self,
        condition: str,
        values: Mapping[str, Any],
        index: str | None = None,
        cursor: dict[str, Any] | None = None,
        limit: int | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Page:
        """One page of a query (background and admin work only: never on a request path)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {k: value(v) for k, v in values.items()},
        }
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        if limit:
            kwargs["Limit"] = limit
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        with translated_errors():
            resp = self.client.query(**kwargs)
        return Page([decode(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey"))

    def query(
        self,
        condition: str,
        values: Mapping[str, Any],
        index: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> Iterator[Item]:
        """Every item a query finds, page after page."""
        cursor: dict[str, Any] | None = None
        while True:
            page = self.query_page(condition, values, index=index, cursor=cursor, names=names)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    def count(self, condition: str, values: Mapping[str, Any], index: str | None = None) -> int:
        """How many items a query finds, page after page (``Select=COUNT``: no item comes back)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {k: value(v) for k, v in values.items()},
            "Select": "COUNT",
        }
        if index:
            kwargs["IndexName"] = index
        total = 0
        while True:
            with translated_errors():
                resp = self.client.query(**kwargs)
            total += int(resp.get("Count", 0))
            if not resp.get("LastEvaluatedKey"):
                return total
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def batch_get(self, keys: list[tuple[Any, ...]], projection: str | None = None) -> list[Item]:
        """Every item of ``keys`` that exists (strongly consistent; 100 a request, unprocessed retried)."""
        found: list[Item] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.name: {"Keys": [self.key(*k) for k in keys[start : start + 100]], "ConsistentRead": True}
            }
            if projection:
                request[self.name]["ProjectionExpression"] = projection
            for attempt in range(UNPROCESSED_ROUNDS):
                if not request:
                    break
                _pause_before(attempt)
                with translated_errors():
                    resp = self.client.batch_get_item(RequestItems=request)
                found.extend(decode(raw) for raw in resp.get("Responses", {}).get(self.name, []))
                request = resp.get("UnprocessedKeys") or {}
            if request:
                raise Overloaded(retry_after=1)
        return found

    def scan_page(self, cursor: dict[str, Any] | None, limit: int, segment: tuple[int, int] | None = None) -> Page:
        """One page of a scan (reconciliation and the admin export only)."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Limit": limit}
        if segment:
            kwargs["Segment"], kwargs["TotalSegments"] = segment
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        with translated_errors():
            resp = self.client.scan(**kwargs)
        return Page([decode(i) for i in resp.get("Items", [])], resp.get("LastEvaluatedKey"))

    def _write(self, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        with translated_errors():
            try:
                resp: dict[str, Any] = getattr(self.client, operation)(**kwargs)
            except ClientError as exc:
                if is_condition_failure(exc):
                    raise ConditionFailed(decode(exc.response.get("Item") or {})) from None
                raise
        return resp


def get_together(wanted: list[tuple[Table, tuple[Any, ...]]]) -> list[Item]:
    """Single items of one table or several in one BatchGetItem (strongly consistent): each item, or
    ``{}``, in the order asked. The tables share one client (one account, one region)."""
    if not wanted:
        return []
    request: dict[str, Any] = {}
    for table, key in wanted:
        request.setdefault(table.name, {"Keys": [], "ConsistentRead": True})["Keys"].append(table.key(*key))
    client = wanted[0][0].client
    found: dict[str, list[Item]] = {}
    for attempt in range(UNPROCESSED_ROUNDS):
        if not request:
            break
        _pause_before(attempt)
        with translated_errors():
            resp = client.batch_get_item(RequestItems=request)
        for name, raws in resp.get("Responses", {}).items():
            found.setdefault(name, []).extend(decode(raw) for raw in raws)
        request = resp.get("UnprocessedKeys") or {}
    if request:
        raise Overloaded(retry_after=1)  # throttled: the caller answers 429, never spins
    answers: list[Item] = []
    for table, key in wanted:
        match = dict(zip(table.key_names, key, strict=True))
        answers.append(next((i for i in found.get(table.name, []) if all(i.get(n) == p for n, p in match.items())), {}))
    return answers


# Keys a BatchGetItem leaves unprocessed (throttling) are asked again a few times, with a short
# jittered pause, then the request is refused as overloaded: never a loop that runs into the timeout.
UNPROCESSED_ROUNDS = 4


def _pause_before(attempt: int) -> None:
    if attempt:
        time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 - jitter, not a secret  # nosec B311
