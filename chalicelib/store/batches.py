"""Employer batches: the rows as sent (in chunks, each chunk's rows sealed as one field: they hold
every row's personal data) and each row's outcome."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from chalicelib.domain.batches import BatchMeta, RowResult
from chalicelib.store.fields import Fields
from chalicelib.store.table import ConditionFailed, Table

KEEP_SECONDS = 90 * 86400


class BatchStore:
    def __init__(self, client: Any, table: str, fields: Fields) -> None:
        self._t = Table(client, table, ("batch_id", "sk"))
        self._fields = fields

    def create(self, meta: BatchMeta, chunks: list[list[Any]]) -> None:
        """Store the rows, then the batch itself (so a batch never points at missing rows).
        Raises Conflict if the batch ID was used already, Overloaded."""
        expires = int(meta.created_at.timestamp()) + KEEP_SECONDS
        for k, rows in enumerate(chunks):
            sk = f"chunk#{k:04d}"
            sealed = self._fields.seal(f"{meta.batch_id}#{sk}", {"rows": json.dumps(rows, ensure_ascii=False)})
            self._t.overwrite(
                {
                    "batch_id": meta.batch_id,
                    "sk": sk,
                    "first_row": sum(len(c) for c in chunks[:k]) + 1,
                    "rows": sealed["rows"],
                    "expires_at": expires,
                }
            )
        self._t.put(meta.model_dump(mode="json") | {"sk": "meta", "expires_at": expires})

    def meta(self, batch_id: str) -> BatchMeta | None:
        item = self._t.get(batch_id, "meta")
        return BatchMeta.model_validate(item) if item else None

    def chunk(self, batch_id: str, k: int) -> tuple[int, list[Any]]:
        """(number of its first row, its rows)."""
        sk = f"chunk#{k:04d}"
        item = self._fields.open(f"{batch_id}#{sk}", self._t.get(batch_id, sk), ("rows",))
        return int(item["first_row"]), json.loads(item["rows"])

    def record(self, batch_id: str, result: RowResult) -> None:
        """Store a row's outcome once; a redelivered chunk does not overwrite it. It expires (TTL) as
        the batch's rows do, counted from now: a row is processed within hours of the batch."""
        item = {
            "batch_id": batch_id,
            "sk": f"row#{result.row:05d}",
            "result": result.model_dump_json(),
            "expires_at": int(time.time()) + KEEP_SECONDS,
        }
        with contextlib.suppress(ConditionFailed):
            self._t.put(item, "attribute_not_exists(sk)")

    def results(self, batch_id: str) -> dict[int, RowResult]:
        out: dict[int, RowResult] = {}
        for item in self._t.query("batch_id = :b AND begins_with(sk, :row)", {":b": batch_id, ":row": "row#"}):
            result = RowResult.model_validate_json(item["result"])
            out[result.row] = result
        return out
