"""One declaration per route: it registers the Chalice route, parses and checks the input, checks
the caller's role, records staff actions, and is the OpenAPI operation (``openapi.py`` reads it).

A view is then what it does, nothing else::

    if TYPE_CHECKING:
        from chalicelib.domain.models import LookupRequest, RegistrationView

    @route(public, "POST", "/v1/registrations/lookup", body="chalicelib.domain.models:LookupRequest",
           response="chalicelib.domain.models:RegistrationView", errors=(NotFound,),
           summary="Find a person's active (else latest) registration")
    def lookup(body: LookupRequest) -> RegistrationView:
        from chalicelib.services import lookups

        return lookups.lookup(body)

The view is called with the keyword arguments its signature names: the path parameters, ``body``
(the validated body model), ``query`` (the validated query model), ``principal`` (staff routes).
It returns its response model (sent with the declared status), or a Response (a CSV page).

A model is named by its import string, ``"module:Class"``, imported when the route first runs or
the OpenAPI document is first written (the ``TYPE_CHECKING`` imports are for the annotations only).
Views import their services the same way, inside the function. So ``import app`` (every Lambda cold
start, and Chalice's packaging) registers the routes without building a pydantic model or loading
boto3: a request loads only what its route uses.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from chalice.app import Blueprint, Request, Response

from chalicelib.api import calls, idempotency
from chalicelib.api.auth import staff_token
from chalicelib.api.errors import Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from chalicelib.api.http import api_view, json_body, parse, respond
from chalicelib.domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    Overloaded,
    RequestInProgress,
    ValidationFailed,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.domain.names import Role
    from chalicelib.domain.staff import Principal

JSON_MEDIA = "application/json"
# A model as a declaration gives it: its import string, "module:Class" (see the module's docstring),
# or the class itself.
ModelRef: TypeAlias = "type[BaseModel] | str"


@dataclass(frozen=True)
class Route:
    """What a route is: everything the app, the checks and the OpenAPI document need to know."""

    method: str  # lower case, as in an OpenAPI document
    path: str
    summary: str
    status: int
    also: tuple[int, ...]  # other success statuses of the same answer (a join again: 200, not 201)
    response_ref: ModelRef | None  # None: the answer is not JSON (``media``)
    body_ref: ModelRef | None
    query_ref: ModelRef | None
    roles: tuple[Role, ...]  # empty: public; an admin may call every staff route
    audit: str | None  # the action's name in the audit trail (staff routes)
    errors: tuple[type[DomainError], ...]  # every error the route can answer, those of the checks included
    idempotent: str | None  # the scope of Idempotency-Key (a channel name), or None
    # The service keeps the key with what it writes (a registration: the person's item) and answers
    # a retry itself; no idempotency record of its own (docs/architecture-data-path.md).
    replayed_by_service: bool
    media: str
    description: str | None
    operation_id: str
    # OpenAPI links from this route's answer to the routes that take its IDs (what a stateful test
    # client follows): name -> (operationId, {parameter: runtime expression}, request body or None).
    links: dict[str, Link]
    path_schemas: dict[str, dict[str, Any]]  # a path parameter's JSON Schema, when more than a string

    @property
    def tags(self) -> list[str]:
        return [_area(self.path, self.roles)]

    @property
    def response(self) -> type[BaseModel] | None:
        return _model(self.response_ref)

    @property
    def body(self) -> type[BaseModel] | None:
        return _model(self.body_ref)

    @property
    def query(self) -> type[BaseModel] | None:
        return _model(self.query_ref)


@dataclass(frozen=True)
class Link:
    operation_id: str
    parameters: dict[str, str]
    request_body: dict[str, str] | None = None


ROUTES: list[Route] = []


def route(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    status: int = 200,
    also: tuple[int, ...] = (),
    response: ModelRef | None = None,
    body: ModelRef | None = None,
    query: ModelRef | None = None,
    roles: tuple[Role, ...] = (),
    audit: str | None = None,
    errors: tuple[type[DomainError], ...] = (),
    idempotent: str | None = None,
    replayed_by_service: bool = False,
    media: str = JSON_MEDIA,
    description: str | None = None,
    links: dict[str, Link] | None = None,
    path_schemas: dict[str, dict[str, Any]] | None = None,
    read_body: Callable[[Request], Any] | None = None,
    content_types: tuple[str, ...] = (JSON_MEDIA,),
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Declare a route (see the module's docstring). ``read_body`` turns the request into the JSON
    value to validate when the body is not plain JSON up to 16 KB (an employer's CSV or 1 MB list).
    ``replayed_by_service``: the view takes ``fingerprint`` (of the key and the body) and its service
    answers a retry; otherwise an idempotent route keeps a record per key (Powertools' utility)."""
    if bool(roles) != bool(audit):
        raise ValueError(f"{path}: a staff route names its roles and its audit action, a public one neither")
    for ref in (response, body, query):
        if isinstance(ref, str) and ref.count(":") != 1:
            raise ValueError(f"{path}: a model is named by its import string, 'module:Class', not {ref!r}")
    implied: list[type[DomainError]] = [Overloaded]
    if body is not None or query is not None:
        implied.append(ValidationFailed)
    if body is not None:
        implied += [PayloadTooLarge, UnsupportedMediaType]
    if roles:
        implied += [Unauthorized, Forbidden]
    if idempotent:
        implied += [ValidationFailed, RequestInProgress, IdempotencyKeyReused]
    read = read_body or json_body

    def decorate(view: Callable[..., Any]) -> Callable[..., Response]:
        wants = set(inspect.signature(view).parameters)
        declared = Route(
            method=method.lower(),
            path=path,
            summary=summary,
            status=status,
            also=also,
            response_ref=response,
            body_ref=body,
            query_ref=query,
            roles=roles,
            audit=audit,
            errors=tuple(dict.fromkeys([*errors, *implied])),
            idempotent=idempotent,
            replayed_by_service=replayed_by_service,
            media=media,
            description=description,
            operation_id=f"{_area(path, roles)}.{view.__name__}",
            links=links or {},
            path_schemas=path_schemas or {},
        )

        def handle(principal: Principal | None, params: dict[str, str]) -> Response:
            request = bp.current_request
            given: dict[str, Any] = {**params, "principal": principal}
            if declared.query is not None:
                given["query"] = parse(declared.query, calls.query_of(request))
            data: Any = None
            if declared.body is not None:
                data = read(request)
                given["body"] = parse(declared.body, data)
            kwargs = {name: value for name, value in given.items() if name in wants}
            key = idempotency.key_of(request) if idempotent else None

            def action() -> dict[str, Any]:
                answer = view(**kwargs)
                if isinstance(answer, Response):
                    raise TypeError("an idempotent view answers with its model")
                return {"status": status, "body": answer.model_dump(mode="json")}

            if key is None:
                answer = view(**kwargs)
                return answer if isinstance(answer, Response) else respond(answer, status)
            scope = f"{idempotent}:{principal.token_id if principal else '-'}"
            if replayed_by_service:
                return respond(
                    calls.replayed_by_service(scope, key, data, lambda fp: view(**kwargs, fingerprint=fp)), status
                )
            outcome = idempotency.once(scope, key, data, action, bp.lambda_context)
            return respond(outcome["body"], status=outcome["status"])

        if roles:
            wrapper = calls.staff_only(bp, declared.roles, str(declared.audit), handle)
        else:

            @api_view
            def wrapper(**params: str) -> Response:
                return handle(None, params)

        functools.update_wrapper(wrapper, view)
        options: dict[str, Any] = {"methods": [method.upper()]}
        if roles:
            options["authorizer"] = staff_token
        if body is not None:
            options["content_types"] = list(content_types)
        bp.route(path, **options)(wrapper)
        ROUTES.append(declared)
        return wrapper

    return decorate


def _model(ref: ModelRef | None) -> type[BaseModel] | None:
    return _imported(ref) if isinstance(ref, str) else ref


@functools.cache
def _imported(ref: str) -> type[BaseModel]:
    """The model an import string names: ``"chalicelib.domain.models:LookupRequest"``."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _area(path: str, roles: tuple[Role, ...]) -> str:
    """public, or the staff area (counter, org, admin) the path is under."""
    return path.split("/")[2] if roles else "public"
