"""Employer batches: the request, its rows and their outcomes."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
)

from chalicelib.domain import rules
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.models import ABSENT_NOT_NULL, ErrorBody, text_field
from chalicelib.domain.names import CSV_COLUMNS as CSV_COLUMNS

MAX_ROWS = 1000
ROW_BODY_LIMIT = 16 * 1024  # a registration body's limit
# A chunk is the rows one job handles, stored as one item: DynamoDB items stop at 400 KB.
CHUNK_BYTES = 300_000
CHUNK_ROWS = 100


def _organisation(value: str) -> str:
    return rules.clean_text(value, 200)


Organisation = Annotated[
    StrictStr, AfterValidator(_organisation), text_field(200, "employer name, 1-200 characters once trimmed")
]


class BatchRequest(BaseModel):
    """``{"organisation", "rows": [registration body, ...]}``; rows are checked one by one later."""

    model_config = ConfigDict(extra="forbid")

    organisation: Organisation
    rows: list[Any] = Field(min_length=1, max_length=MAX_ROWS, description="1-1000 registration bodies")

    @field_validator("rows")
    @classmethod
    def _rows_fit(cls, rows: list[Any]) -> list[Any]:
        # One row is at most what a registration body may be.
        if any(len(json.dumps(row, ensure_ascii=False).encode("utf-8")) > ROW_BODY_LIMIT for row in rows):
            raise ValueError("a row is larger than a registration body may be")
        return rows


class BatchAccepted(BaseModel):
    batch_id: str
    row_count: int
    status: Literal["processing"] = "processing"


class RowResult(BaseModel):
    """A row carries ``registration_id`` or ``error``, never a null of the other."""

    row: int = Field(description="1-based position in the batch")
    outcome: Literal["confirmed", "reserve", "rejected"]
    registration_id: str | None = Field(default=None, json_schema_extra=ABSENT_NOT_NULL)
    error: ErrorBody | None = Field(
        default=None, description="the error object of the envelope", json_schema_extra=ABSENT_NOT_NULL
    )


class BatchStatus(BaseModel):
    # Sent without its rows' nulls (``api.http.respond`` reads this).
    omit_none: ClassVar[bool] = True

    batch_id: str
    status: Literal["processing", "done"]
    row_count: int
    processed: int
    results: list[RowResult]


class BatchMeta(BaseModel):
    batch_id: str
    owner: str
    label: str
    organisation: str
    row_count: int
    chunk_count: int
    created_at: datetime


def rows_from_csv(raw: bytes) -> list[dict[str, Any]]:
    """Rows of a CSV batch (UTF-8, with or without BOM, a header row naming ``CSV_COLUMNS``).

    Raises ValidationFailed naming the missing or unknown columns, or ``body`` for bad encoding.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(["body"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise ValidationFailed(["body"]) from None
    header = [h.removeprefix("eligibility.") for h in header]
    bad = sorted(set(CSV_COLUMNS) - set(header)) + sorted(set(header) - set(CSV_COLUMNS))
    if bad or len(set(header)) != len(header):
        raise ValidationFailed(bad or ["body"])
    rows: list[dict[str, Any]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                rows.append({"row_shape": "wrong number of cells"})  # rejected on its own, row by row
                continue
            cell = dict(zip(header, cells, strict=True))
            consent: Any = cell["consent"]
            if consent.strip().lower() == "true":
                consent = True
            rows.append(
                {
                    **{k: cell[k] for k in ("national_id", "first_name", "last_name", "birth_date", "phone")},
                    "eligibility": {"basis": cell["basis"], "detail": cell["detail"]},
                    "consent": consent,
                }
            )
    except csv.Error:
        raise ValidationFailed(["body"]) from None
    return rows


def chunked(rows: list[Any]) -> list[list[Any]]:
    """The rows in order, cut into chunks of at most ``CHUNK_ROWS`` rows and ``CHUNK_BYTES`` of JSON
    (a row bigger than that alone is a chunk of its own)."""
    chunks: list[list[Any]] = [[]]
    size = 0
    for row in rows:
        n = len(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        if chunks[-1] and (len(chunks[-1]) >= CHUNK_ROWS or size + n > CHUNK_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += n
    return chunks
