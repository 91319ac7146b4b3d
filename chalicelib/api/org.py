"""Employers: a list of employees as one batch (JSON or CSV), checked and registered row by row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Request

from chalicelib.api.errors import PayloadTooLarge
from chalicelib.api.http import json_body, query_param
from chalicelib.api.routes import Link, route
from chalicelib.domain.errors import ChannelClosed, NotFound, ValidationFailed
from chalicelib.domain.names import CSV_COLUMNS, Role

if TYPE_CHECKING:
    from chalicelib.domain.batches import BatchAccepted, BatchRequest, BatchStatus
    from chalicelib.domain.staff import Principal

org = Blueprint(__name__)

BATCH_BODY_LIMIT = 1024 * 1024


def _batch_body(request: Request) -> Any:
    """The batch as a JSON value: a JSON body as sent, a CSV body turned into the same shape."""
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "text/csv":
        return json_body(request, limit=BATCH_BODY_LIMIT)
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > BATCH_BODY_LIMIT:
        raise PayloadTooLarge()
    from chalicelib.domain.batches import MAX_ROWS, rows_from_csv

    organisation = query_param(request, "organisation")
    rows = rows_from_csv(raw)
    if organisation is None:
        raise ValidationFailed(["organisation"])
    if not 1 <= len(rows) <= MAX_ROWS:
        raise ValidationFailed(["rows"])
    return {"organisation": organisation, "rows": rows}


@route(
    org,
    "POST",
    "/v1/org/batches",
    status=202,
    body="chalicelib.domain.batches:BatchRequest",
    query="chalicelib.domain.reports:BatchQuery",
    response="chalicelib.domain.batches:BatchAccepted",
    roles=(Role.ORG,),
    audit="org.batch.submit",
    errors=(ChannelClosed,),
    idempotent=Role.ORG.value,
    links={"read": Link("org.read", {"batch_id": "$response.body#/batch_id"})},
    read_body=_batch_body,
    content_types=("application/json", "text/csv"),
    summary="Submit an employer's list; rows are registered in the background",
    description="The list may also be sent as text/csv (UTF-8, header row: "
    + ", ".join(CSV_COLUMNS)
    + ") with ?organisation=.",
)
def submit(body: BatchRequest, principal: Principal) -> BatchAccepted:
    from chalicelib.services import batches

    return batches.submit(principal, body.organisation, body.rows)


@route(
    org,
    "GET",
    "/v1/org/batches/{batch_id}",
    response="chalicelib.domain.batches:BatchStatus",
    roles=(Role.ORG,),
    audit="org.batch.read",
    errors=(NotFound,),
    summary="Progress and per-row outcomes of one of the caller's batches",
)
def read(batch_id: str, principal: Principal) -> BatchStatus:
    from chalicelib.services import batches

    return batches.status(principal, batch_id)
