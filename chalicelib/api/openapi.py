"""The OpenAPI 3 document of the contract, built from the pydantic models the views validate with.

``OPERATIONS`` lists every route; a test checks it against the app's route table both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.domain.models import (
    CampaignView,
    CancelRequest,
    ErrorEnvelope,
    Health,
    LookupRequest,
    RegistrationRequest,
    RegistrationView,
)

ERROR_TEXT = {
    400: "validation_error (fields names every bad field)",
    403: "channel_closed",
    404: "not_found",
    405: "method_not_allowed",
    409: "already_registered, registration_full or request_in_progress",
    413: "payload_too_large (registration bodies over 16 KB)",
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
)

_MODELS: tuple[type[BaseModel], ...] = (
    Health,
    CampaignView,
    RegistrationRequest,
    RegistrationView,
    LookupRequest,
    CancelRequest,
    ErrorEnvelope,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(op.ok): {
            "description": "OK",
            "content": _json(_ref(op.response) if op.response else {"type": "object"}),
        }
    }
    for status in op.errors:
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": _json(_ref(ErrorEnvelope))}
    out: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags), "responses": responses}
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in _path_params(op.path)
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
        out["requestBody"] = {"required": True, "content": _json(_ref(op.body))}
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
        "components": {"schemas": schemas.get("$defs", {})},
    }
