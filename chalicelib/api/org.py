"""Employers: a list of employees as one batch (JSON or CSV), checked and registered row by row."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import idempotency
from chalicelib.api.auth import staff_token, staff_view
from chalicelib.api.errors import PayloadTooLarge
from chalicelib.api.http import REGISTRATION_BODY_LIMIT, json_body, parse, query_param, respond
from chalicelib.domain.batches import MAX_ROWS, BatchRequest, rows_from_csv
from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.staff import Principal, Role
from chalicelib.services import batches

org = Blueprint(__name__)

BATCH_BODY_LIMIT = 1024 * 1024


@org.route("/v1/org/batches", methods=["POST"], authorizer=staff_token, content_types=["application/json", "text/csv"])
@staff_view(org, "org.batch.submit", Role.ORG)
def submit(principal: Principal) -> Response:
    request = org.current_request
    data = _batch_body(request)
    body = parse(BatchRequest, data)
    if any(len(json.dumps(row, ensure_ascii=False).encode("utf-8")) > REGISTRATION_BODY_LIMIT for row in body.rows):
        raise ValidationFailed(["rows"])  # one row is at most what a registration body may be
    key = idempotency.key_of(request)

    def action() -> dict[str, Any]:
        accepted = batches.submit(principal, body.organisation, body.rows)
        return {"status": 202, "body": accepted.model_dump(mode="json")}

    if key is None:
        outcome = action()
    else:
        outcome = idempotency.once(f"org:{principal.token_id}", key, data, action, org.lambda_context)
    return respond(outcome["body"], status=outcome["status"])


@org.route("/v1/org/batches/{batch_id}", methods=["GET"], authorizer=staff_token)
@staff_view(org, "org.batch.read", Role.ORG)
def read(principal: Principal, batch_id: str) -> Response:
    # Rows carry ``registration_id`` or ``error``, never a null of the other.
    return respond(batches.status(principal, batch_id).model_dump(mode="json", exclude_none=True))


def _batch_body(request: Any) -> Any:
    """The batch as a JSON value: a JSON body as sent, a CSV body turned into the same shape."""
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "text/csv":
        return json_body(request, limit=BATCH_BODY_LIMIT)
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > BATCH_BODY_LIMIT:
        raise PayloadTooLarge()
    organisation = query_param(request, "organisation")
    rows = rows_from_csv(raw)
    if organisation is None:
        raise ValidationFailed(["organisation"])
    if not 1 <= len(rows) <= MAX_ROWS:
        raise ValidationFailed(["rows"])
    return {"organisation": organisation, "rows": rows}
