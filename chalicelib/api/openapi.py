"""The OpenAPI 3.1 document of the contract, written from the route declarations (``routes.py``):
the models the views validate with and answer with, the roles and the errors each route declares."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.errors import STATUS
from chalicelib.api.idempotency import KEY_PATTERN
from chalicelib.api.routes import ROUTES, Link, Route
from chalicelib.domain.models import ErrorEnvelope
from chalicelib.domain.staff import Role

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _responses(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {"type": "string"} if route.media != "application/json" else {"type": "object"}
    if route.response is not None:
        ok = _ref(route.response)
    responses: dict[str, Any] = {
        str(status): {"description": "OK", "content": {route.media: {"schema": ok}}}
        for status in (route.status, *route.also)
    }
    if route.links:
        responses[str(route.status)]["links"] = {name: _link(link) for name, link in route.links.items()}
    codes: dict[int, list[str]] = defaultdict(list)
    for error in route.errors:
        status = next(STATUS[k] for k in error.__mro__ if k in STATUS)
        if error.code not in codes[status]:
            codes[status].append(error.code)
    for status in sorted(codes):
        responses[str(status)] = {
            "description": " or ".join(codes[status]),
            "content": {"application/json": {"schema": ENVELOPE}},
        }
    return responses


def _link(link: Link) -> dict[str, Any]:
    if not any(r.operation_id == link.operation_id for r in ROUTES):
        raise ValueError(f"a link to {link.operation_id}, which no route declares")
    out: dict[str, Any] = {"operationId": link.operation_id, "parameters": link.parameters}
    if link.request_body is not None:
        out["requestBody"] = link.request_body
    return out


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": part[1:-1],
            "in": "path",
            "required": True,
            "schema": route.path_schemas.get(part[1:-1], {"type": "string", "minLength": 1}),
        }
        for part in route.path.split("/")
        if part.startswith("{")
    ]
    if route.query is not None:
        # The query model's properties, each a parameter (the model itself is not a schema of the API).
        query = schemas[route.query.__name__]
        for name, schema in query["properties"].items():
            param = {"name": name, "in": "query", "required": name in query.get("required", []), "schema": schema}
            if "description" in schema:
                param["description"] = schema["description"]
            params.append(param)
    if route.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key and body replays the first 2xx/409 response.",
                "schema": {"type": "string", "pattern": KEY_PATTERN},
            }
        )
    return params


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": route.tags,
        "responses": _responses(route),
    }
    if params := _parameters(route, schemas):
        out["parameters"] = params
    if route.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(route.body)}}}
    described = [route.description] if route.description else []
    if route.roles:
        out["security"] = [{"bearer": []}]
        roles = dict.fromkeys([*route.roles, Role.ADMIN])
        described.append("Roles: " + ", ".join(role.value for role in roles))
    if described:
        out["description"] = " ".join(described)
    return out


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document (models rendered as JSON Schema 2020-12)."""
    models: dict[type[BaseModel], str] = {ErrorEnvelope: "serialization"}
    for route in ROUTES:
        for model, mode in ((route.body, "validation"), (route.query, "validation"), (route.response, "serialization")):
            if model is not None:
                models[model] = mode
    _, generated = models_json_schema(
        list(models.items()),  # type: ignore[arg-type]
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = generated.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route, schemas)
    for route in ROUTES:
        if route.query is not None:
            schemas.pop(route.query.__name__, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Khon Kaen City Municipality vaccine registration",
            "version": "1.2",
            "description": "Public contract of the registration API, version 1.2 (docs/API.md). Every error "
            "answers in the envelope of ErrorEnvelope; a method a path does not have answers 405 "
            "method_not_allowed with an Allow header; an unknown path 404 not_found.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
