"""The OpenAPI 3 document of the contract, built from the pydantic models the views validate with.

``OPERATIONS`` lists every route; a test checks it against the app's route table both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.domain.batches import CSV_COLUMNS, BatchAccepted, BatchRequest, BatchStatus
from chalicelib.domain.doses import CheckIn, CheckInRequest, DayClosing
from chalicelib.domain.models import (
    CampaignView,
    CancelRequest,
    ErrorEnvelope,
    Health,
    LookupRequest,
    RegistrationRequest,
    RegistrationView,
)
from chalicelib.domain.staff import AuditLog, ChannelState, ChannelSwitch, Summary

ERROR_TEXT = {
    400: "validation_error (fields names every bad field)",
    401: "unauthorized: missing, unknown or revoked token",
    403: "channel_closed, or forbidden: the token's role may not do this",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_registered, registration_full or request_in_progress; on a check-in: already_done, not_due"
    " or not_confirmed; on closing a day: day_not_over",
    413: "payload_too_large (registration bodies over 16 KB, batches over 1 MB)",
    415: "unsupported_media_type",
    422: "not_eligible or idempotency_key_reused",
    429: "rate_limited (see Retry-After)",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    ok: int
    response: type[BaseModel] | None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    idempotent: bool = False
    tags: tuple[str, ...] = field(default=("public",))
    roles: tuple[str, ...] = ()
    media: str = "application/json"
    query: tuple[tuple[str, bool, str], ...] = ()
    csv_body: bool = False


OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/v1/health", "Liveness", 200, Health),
    Operation("get", "/v1/openapi.json", "This document", 200, None),
    Operation("get", "/v1/campaign", "Places left and channel states", 200, CampaignView, errors=(429,)),
    Operation(
        "post",
        "/v1/registrations",
        "Register through the app",
        201,
        RegistrationView,
        RegistrationRequest,
        (400, 403, 409, 413, 415, 422, 429),
        idempotent=True,
    ),
    Operation(
        "get", "/v1/registrations/{registration_id}", "Read a registration", 200, RegistrationView, errors=(404, 429)
    ),
    Operation(
        "post",
        "/v1/registrations/lookup",
        "Find a person's active (else latest) registration",
        200,
        RegistrationView,
        LookupRequest,
        (400, 404, 413, 415, 429),
    ),
    Operation(
        "post",
        "/v1/registrations/{registration_id}/cancel",
        "Cancel a registration (again 200 if already cancelled)",
        200,
        RegistrationView,
        CancelRequest,
        (400, 404, 413, 415, 429),
    ),
    Operation(
        "post",
        "/v1/counter/registrations",
        "Register a walk-in person at a counter (open while the app channel is closed)",
        201,
        RegistrationView,
        RegistrationRequest,
        (400, 401, 403, 409, 413, 415, 422, 429),
        idempotent=True,
        tags=("counter",),
        roles=("counter", "admin"),
    ),
    Operation(
        "post",
        "/v1/org/batches",
        "Submit an employer's list (JSON, or text/csv with ?organisation=); rows are registered in the background",
        202,
        BatchAccepted,
        BatchRequest,
        (400, 401, 403, 413, 415, 429),
        idempotent=True,
        tags=("org",),
        roles=("org", "admin"),
        query=(("organisation", False, "employer name, required with a text/csv body"),),
        csv_body=True,
    ),
    Operation(
        "get",
        "/v1/org/batches/{batch_id}",
        "Progress and per-row outcomes of one of the caller's batches",
        200,
        BatchStatus,
        errors=(401, 403, 404, 429),
        tags=("org",),
        roles=("org", "admin"),
    ),
    Operation(
        "post",
        "/v1/site/check-ins",
        "Record the person's next dose as given today (by receipt code, typed or scanned, or national ID)",
        200,
        CheckIn,
        CheckInRequest,
        (400, 401, 403, 404, 409, 413, 415, 429),
        tags=("site",),
        roles=("site", "admin"),
    ),
    Operation(
        "post",
        "/v1/admin/days/{date}/close",
        "Close a past day: its appointments still booked become missed (rebooked, or a second missed first"
        " dose cancels as a no-show); also runs every morning for the day before",
        202,
        DayClosing,
        errors=(400, 401, 403, 409, 429),
        tags=("admin",),
        roles=("admin",),
    ),
    Operation(
        "get",
        "/v1/admin/summary",
        "Places, registrations by channel and status, removals by registry",
        200,
        Summary,
        errors=(401, 403, 429),
        tags=("admin",),
        roles=("admin",),
    ),
    Operation(
        "put",
        "/v1/admin/channels/{channel}",
        "Open or close a channel (app, counter, org); seen everywhere within 5 seconds",
        200,
        ChannelState,
        ChannelSwitch,
        (400, 401, 403, 404, 415, 429),
        tags=("admin",),
        roles=("admin",),
    ),
    Operation(
        "get",
        "/v1/admin/registrations.csv",
        'Registrations as CSV (UTF-8 with BOM), 20,000 rows a page; a Link rel="next" header gives the next',
        200,
        None,
        errors=(400, 401, 403, 429),
        tags=("admin",),
        roles=("admin",),
        media="text/csv",
        query=(
            ("status", False, "confirmed, reserve or cancelled"),
            ("cursor", False, "from the previous page's Link header"),
        ),
    ),
    Operation(
        "get",
        "/v1/admin/audit",
        "Every staff action of one day (who, token label, what, outcome, when)",
        200,
        AuditLog,
        errors=(400, 401, 403, 429),
        tags=("admin",),
        roles=("admin",),
        query=(("date", True, "YYYY-MM-DD, Asia/Bangkok"),),
    ),
    Operation(
        "post",
        "/v1/admin/reconcile",
        "Start a reconciliation run now (?full=true also asks the other registries)",
        202,
        None,
        errors=(401, 403, 429),
        tags=("admin",),
        roles=("admin",),
        query=(("full", False, "true: also check every confirmed person in Mor Phrom and Khon Kaen Phrom"),),
    ),
    Operation(
        "get",
        "/v1/admin/reconcile/{run_id}",
        "Progress and findings of a reconciliation run",
        200,
        None,
        errors=(401, 403, 404, 429),
        tags=("admin",),
        roles=("admin",),
    ),
    Operation(
        "get",
        "/v1/admin/reports/daily",
        "The day's registrations, confirmations, promotions, cancellations, removals and places left",
        200,
        None,
        errors=(400, 401, 403, 429),
        tags=("admin",),
        roles=("admin",),
        query=(("date", True, "YYYY-MM-DD, Asia/Bangkok"),),
    ),
    Operation(
        "post",
        "/v1/admin/appointments/allocate",
        "Give every confirmed registration without an appointment the earliest day and site with room",
        202,
        None,
        errors=(401, 403, 429),
        tags=("admin",),
        roles=("admin",),
    ),
    Operation(
        "get",
        "/v1/admin/appointments.csv",
        "The day's list for a vaccination team (CSV, UTF-8 with BOM)",
        200,
        None,
        errors=(400, 401, 403, 429),
        tags=("admin",),
        roles=("admin",),
        media="text/csv",
        query=(("date", True, "YYYY-MM-DD"), ("site", False, "one site's name")),
    ),
)

_MODELS: tuple[type[BaseModel], ...] = (
    Health,
    CampaignView,
    RegistrationRequest,
    RegistrationView,
    LookupRequest,
    CancelRequest,
    ErrorEnvelope,
    BatchRequest,
    BatchAccepted,
    BatchStatus,
    Summary,
    ChannelSwitch,
    ChannelState,
    AuditLog,
    CheckInRequest,
    CheckIn,
    DayClosing,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation) -> dict[str, Any]:
    ok_schema: dict[str, Any] = _ref(op.response) if op.response else {"type": "object"}
    if op.media != "application/json":
        ok_schema = {"type": "string"}
    responses: dict[str, Any] = {str(op.ok): {"description": "OK", "content": {op.media: {"schema": ok_schema}}}}
    for status in op.errors:
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": _json(_ref(ErrorEnvelope))}
    out: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags), "responses": responses}
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in _path_params(op.path)
    ]
    params += [
        {"name": name, "in": "query", "required": required, "description": text, "schema": {"type": "string"}}
        for name, required, text in op.query
    ]
    if op.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key and body replays the first 2xx/409 response.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        )
    if params:
        out["parameters"] = params
    if op.body:
        content = _json(_ref(op.body))
        if op.csv_body:
            content["text/csv"] = {"schema": {"type": "string", "description": "header row: " + ", ".join(CSV_COLUMNS)}}
        out["requestBody"] = {"required": True, "content": content}
    if op.roles:
        out["security"] = [{"bearer": []}]
        out["description"] = "Roles: " + ", ".join(op.roles)
    return out


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (models rendered as JSON Schema 2020-12)."""
    _, schemas = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Request") else "serialization") for m in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Khon Kaen City Municipality vaccine registration",
            "version": "1",
            "description": "Public contract of the registration API, version 1.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
